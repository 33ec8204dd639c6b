"""Search strategies behind one seam, as Optuna's samplers are: a strategy proposes a round's new
genomes from the space, the search's history (every evaluated genome with its fitness), the round
number and a random stream. The search loop (scripts/search.py) around it is the same for every
strategy: round 0 is one shared initial population, then each round carries the fittest distinct
genomes so far (`ga.elites` of them) and asks the strategy for `population - elites` new ones, never
a genome already evaluated (`ga.unique`), until the GA's budget is spent.

A method is one module in this folder that defines `METHOD = Method(...)`: adding one is that module,
its line in scripts/MANIFEST (what a workflow deployed from git copies) and its name under
`search.methods`. The plan, the comparison, the figures, the status view, the
captions and the verdict read this registry (`methods()`), nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from functools import cache
from typing import NamedTuple

import numpy as np

REPEAT_TAG = 7919  # marks a repeat's streams: [seed, ..., REPEAT_TAG, r] never equals a stream of repeat 0


def stream_entropy(seed: int, repeat: int, *parts: int) -> list[int]:
    """The entropy of one random stream of a search: repeat 0 draws exactly what the GA always drew
    (generation g: [seed, g]; the random search: [seed, 0, 1]), repeat r > 0 its own streams."""
    return [int(seed), *map(int, parts)] + ([REPEAT_TAG, int(repeat)] if repeat else [])


class Round(NamedTuple):
    """What a strategy sees when it proposes round `number` (>= 1) of one search."""

    space: object  # space.Space
    spec: dict  # the search's settings (population, elites, unique, crossover point, mutation threshold, ...)
    history: list  # every evaluated row so far, round 0 first: genes, run, fitness, status, round, individual, origin
    elites: list  # the rows carried into this round (the fittest distinct genomes of the previous one)
    number: int
    seed: int
    repeat: int

    def stream(self, *parts: int) -> np.random.Generator:
        return np.random.default_rng(stream_entropy(self.seed, self.repeat, *parts))

    def int_seed(self, *parts: int) -> int:
        """An integer seed for a library's sampler, from this search's streams."""
        return int(np.random.SeedSequence(stream_entropy(self.seed, self.repeat, *parts)).generate_state(1)[0])


class Method(NamedTuple):
    name: str  # the value under search.methods, the folder of its rounds, the `method` column
    label: str  # how figures, tables and the verdict name it
    colour: str  # its colour in every figure
    origin: str  # the `origin` of its proposals in the round tables
    propose: Callable  # propose(round: Round, n: int, taken: set | None) -> n new genomes (dicts; `parents` optional)
    report_ga: bool = False  # the report's GA: the method every other one is compared with


@cache
def methods() -> dict[str, Method]:
    """Every method of this folder, by name."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        method = getattr(importlib.import_module(f"{__name__}.{info.name}"), "METHOD", None)
        if isinstance(method, Method):
            check_method(method, found, f"{__name__}.{info.name}")
            found[method.name] = method
    return found


RESERVED = ("baseline", "init", "elite")  # the plan's method without a search; round 0's and elites' origins
# the figures' colours that are no method's: the baseline, and the search figure's markers
FIGURE_COLOURS = {"baseline": "0.3", "diverged": "C3", "stopped": "C4"}


def check_method(m: Method, found: dict, module: str) -> None:
    """A method's name is a folder and a wildcard value, its origin marks its rows in the round tables
    (early stopping and the figures key on it): each its own. A mistake here is the module author's."""
    problems = []
    if not re.fullmatch(r"[a-z][a-z0-9_]*", m.name) or m.name in RESERVED:
        problems.append(f"name {m.name!r} must be lowercase letters, digits and _, not {', '.join(RESERVED)}")
    if m.name in found:
        problems.append(f"name {m.name!r} is taken by another module")
    if m.origin in RESERVED or m.origin in {o.origin for o in found.values()}:
        problems.append(f"origin {m.origin!r} is taken (by round 0, the elites or another method)")
    if m.colour in {o.colour for o in found.values()} | set(FIGURE_COLOURS.values()):
        problems.append(f"colour {m.colour!r} is taken (by another method, the baseline or a figure's markers)")
    if m.report_ga and any(o.report_ga for o in found.values()):
        problems.append("report_ga: only one method is the report's GA")
    if problems:
        raise TypeError(f"{module}: METHOD: {'; '.join(problems)}")


def report_ga(names) -> str | None:
    """The report's GA among these methods, if it runs (its generations get their own figure)."""
    return next((n for n in names if methods()[n].report_ga), None)


def reference(names) -> str:
    """The method the others are compared with: the report's GA if it runs, else the first."""
    return report_ga(names) or names[0]
