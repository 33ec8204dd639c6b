"""The search space, declared once: each gene is a training setting of settings.py and a
distribution to draw it from. Torch-free (the Snakefile builds it while parsing).

    ga:
      genes:                                    # in this order (crossover cuts the list in the middle)
        lr: {low: 1.0e-6, high: 1.0e-2, log: true}       float: uniform, or log-uniform
        batch_size: {low: 64, high: 512, step: 64}        integer: uniform on the grid low, low+step, ..
        arch: {choices: [resnet20, resnet32, resnet56]}   categorical
        wd: null                                          not searched (a gene of an earlier config file)

A gene's type follows from its setting: `choices` make it categorical, otherwise a float setting is a
float gene and an integer setting an integer gene. From the space alone come: a value's canonical
form and text (floats keep 3 significant digits), the population and fitness columns (one per gene),
the run id of a genome (identity.py), what `train.py --genome` sets, each gene's draw and redraw (the
GA's mutation), Optuna's distributions (the TPE strategy) and the figures' labels.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

import identity
import settings

SIG_DIGITS = 3


def canonical_float(x: float) -> float:
    return float(f"{float(x):.{SIG_DIGITS - 1}e}")


def canonical_count(low: float, high: float, enough: int = 10**6) -> float:
    """How many canonical floats lie in [low, high] (bounds >= 0, as every float setting's): the
    mantissas of SIG_DIGITS digits in each power of ten, and 0; `enough` or more counts as endless."""
    count = 1 if low == 0 else 0
    low = max(low, 10.0**-300)
    for exp in range(math.floor(math.log10(low)), math.floor(math.log10(high)) + 1 if high > 0 else 0):
        unit = 10.0 ** (exp - SIG_DIGITS + 1)
        first = max(10 ** (SIG_DIGITS - 1), math.ceil(round(low / unit, 6)))
        last = min(10**SIG_DIGITS - 1, math.floor(round(high / unit, 6)))
        count += max(0, last - first + 1)
        if count >= enough:
            return math.inf
    return count


class Gene(NamedTuple):
    name: str  # a setting of settings.py
    kind: str  # "float", "int" or "categorical"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: int = 1
    choices: tuple = ()

    def grid_size(self) -> int:
        return (int(self.high) - int(self.low)) // self.step + 1

    def draw(self, rng):
        """One value from the gene's distribution (numpy Generator), in canonical form."""
        if self.kind == "categorical":
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.kind == "int" and not self.log:
            return int(self.low) + self.step * int(rng.integers(self.grid_size()))
        lo, hi = float(self.low), float(self.high)
        if self.kind == "int":  # log, as Optuna's IntDistribution: each integer the log-width of its rounding
            lo, hi = lo - 0.5, hi + 0.5  # interval, so the ends are not drawn half as often
        v = math.exp(rng.uniform(math.log(lo), math.log(hi))) if self.log else rng.uniform(lo, hi)
        # a float: its bounds are canonical and rounding is monotonic, so it stays inside them; an
        # integer: canonical() rounds and clamps it (a log draw reaches low - 0.5 and high + 0.5)
        return self.canonical(v)

    def canonical(self, v):
        if self.kind == "float":
            return canonical_float(v)
        if self.kind == "int":
            i = round((float(v) - self.low) / self.step)
            return int(self.low) + self.step * min(max(i, 0), self.grid_size() - 1)
        return settings.typed(self.name, v)

    def text(self, v) -> str:
        return identity.value_text(self.name, v)

    def parse(self, text):
        """A value from its text in a table or a run id."""
        return self.canonical(identity.parse_value(self.name, str(text)))

    def size(self) -> float:
        """How many distinct values the gene takes: a float's canonical ones (3 significant digits)."""
        if self.kind == "categorical":
            return len(self.choices)
        return self.grid_size() if self.kind == "int" else canonical_count(float(self.low), float(self.high))

    def smallest(self):
        return min(self.choices) if self.kind == "categorical" else self.low

    def largest(self):
        return max(self.choices) if self.kind == "categorical" else self.high  # a step divides high - low

    def contains(self, v) -> bool:
        if self.kind == "categorical":
            return v in self.choices
        return self.low <= v <= self.high and self.canonical(v) == v

    def label(self) -> str:
        return f"{self.name} (log)" if self.log else self.name

    def describe(self) -> str:
        if self.kind == "categorical":
            return f"{self.name} in {{{', '.join(self.text(c) for c in self.choices)}}}"
        scale = "log-uniform" if self.log else "uniform"
        grid = f", step {self.step}" if self.kind == "int" and self.step != 1 else ""
        return f"{self.name} {scale} {self.text(self.low)}..{self.text(self.high)}{grid}"


class Space(NamedTuple):
    genes: tuple  # of Gene, in crossover order

    @property
    def names(self) -> list[str]:
        return [g.name for g in self.genes]

    def size(self) -> float:
        """How many distinct genomes the space holds (inf where a float gene spans a million values or more)."""
        return math.prod(g.size() for g in self.genes)

    def named(self, name: str) -> list:
        """[the gene of setting `name`], or [] where it is not searched."""
        return [g for g in self.genes if g.name == name]

    def draw(self, rng) -> dict:
        return {g.name: g.draw(rng) for g in self.genes}

    def canonical(self, genome: dict) -> dict:
        return {g.name: g.canonical(genome[g.name]) for g in self.genes}

    def key(self, genome: dict) -> tuple:
        """What makes two genomes the same: their canonical values."""
        return tuple(g.canonical(genome[g.name]) for g in self.genes)

    def texts(self, genome: dict) -> dict:
        return {g.name: g.text(genome[g.name]) for g in self.genes}

    def parse(self, row: dict) -> dict:
        """A genome from a table row (its gene columns as text or numbers)."""
        return {g.name: g.parse(row[g.name]) for g in self.genes}

    def middle(self) -> int:
        """The crossover point at the middle of the gene list (the report's "middle most node")."""
        return len(self.genes) // 2

    def run_id(self, genome: dict, seed: int, ctx: dict) -> str:
        return identity.run_id(self.canonical(genome), seed, ctx)

    def label(self, genome: dict, names=None) -> str:
        """A compact label of a genome for legends: its genes (or `names`), floats with the 3 significant
        digits of their canonical form (fewer could give two genomes one label)."""
        parts = []
        for g in self.genes:
            if names is not None and g.name not in names:
                continue
            v = genome[g.name]
            parts.append(f"{g.name}={float(v):.{SIG_DIGITS}g}" if g.kind == "float" else f"{g.name}={g.text(v)}")
        return " ".join(parts)


def _gene(name: str, spec: dict) -> Gene:
    """One gene from its config entry; ValueError naming the config key for what cannot be searched."""
    key = f"ga.genes.{name}"
    s = settings.BY_NAME.get(name)
    if name not in settings.SEARCHABLE_KEYS:
        raise ValueError(f"{key}: not a setting that can be searched; settings: {', '.join(settings.SEARCHABLE_KEYS)}")
    if "choices" in spec:
        return _categorical(key, s, spec)
    if s.kind not in (int, float):
        raise ValueError(f"{key}: {name} is a {s.kind.__name__} setting: give its choices ({key}.choices)")
    if "low" not in spec or "high" not in spec:
        raise ValueError(f"{key}: give low and high (or choices)")
    low, high = spec["low"], spec["high"]
    for bound, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{key}.{bound}: must be a finite number, got {v!r}")
        error = settings.range_error(s, settings.typed(name, v))
        if error:
            raise ValueError(f"{key}.{bound}: {error.replace(settings.flag(name), name)}")
    if not low < high:
        raise ValueError(f"{key}: low ({low:g}) must be below high ({high:g})")
    log = bool(spec.get("log", False))
    if log and low <= 0:
        raise ValueError(f"{key}.low: a log-scale bound must be > 0, got {low:g}")
    if s.kind is float:
        if "step" in spec:  # it would be silently ignored: a float gene is drawn from the whole range
            raise ValueError(f"{key}.step: {name} is a float setting; step is for integer genes (a grid: choices)")
        for bound, v in (("low", low), ("high", high)):
            if canonical_float(v) != v:
                raise ValueError(f"{key}.{bound}: use at most {SIG_DIGITS} significant digits, got {v!r}")
        return Gene(name, "float", float(low), float(high), log)
    return _integer(key, name, spec, low, high, log)


def _integer(key: str, name: str, spec: dict, low, high, log: bool) -> Gene:
    step = spec.get("step", 1)
    if int(low) != low or int(high) != high:
        raise ValueError(f"{key}: {name} is an integer setting: low and high must be integers")
    if isinstance(step, bool) or not isinstance(step, int) or step < 1 or (high - low) % step:
        raise ValueError(f"{key}.step: must be a positive integer dividing high - low ({high - low}), got {step!r}")
    if log and step != 1:
        raise ValueError(f"{key}: log and step cannot be combined (for powers of two use choices: [64, 128, ...])")
    return Gene(name, "int", int(low), int(high), log, step)


def _categorical(key: str, s, spec: dict) -> Gene:
    choices = spec["choices"]
    if not isinstance(choices, list) or len(choices) < 2:
        raise ValueError(f"{key}.choices: give at least two distinct values")
    extra = [k for k in spec if k != "choices"]
    if extra:
        raise ValueError(f"{key}: choices cannot be combined with {', '.join(extra)}")
    for c in choices:
        # as the setting takes it: 10 for a float setting, 20.0 for an integer one; a boolean for a switch only
        ok = isinstance(settings.typed(s.name, c), s.kind) and (s.kind is bool or not isinstance(c, bool))
        if not ok:
            raise ValueError(f"{key}.choices: {c!r} is not a {s.kind.__name__} ({s.name}'s type)")
        error = (f"{s.name} must be one of {', '.join(s.choices)}" if s.choices and c not in s.choices else None) or (
            settings.range_error(s, settings.typed(s.name, c))
        )
        if error:
            raise ValueError(f"{key}.choices: {c!r}: {error.replace(settings.flag(s.name), s.name)}")
    typed = tuple(settings.typed(s.name, c) for c in choices)
    for i, c in enumerate(typed):  # as the setting takes them: 25 and 25.0 are one div_factor
        if c in typed[:i]:
            first = choices[typed.index(c)]
            raise ValueError(
                f"{key}.choices: {first!r} and {choices[i]!r} are one value of {s.name} ({c!r}): give distinct values"
            )
    for c in typed:
        if s.kind is float and canonical_float(c) != c:
            raise ValueError(f"{key}.choices: use at most {SIG_DIGITS} significant digits, got {c!r}")
        if not re.fullmatch(identity.VALUE, identity.value_text(s.name, c)):
            raise ValueError(f"{key}.choices: {c!r}: a choice names run folders: letters, digits, '.', '+', '-'")
    return Gene(s.name, "categorical", choices=typed)


def from_config(genes: dict) -> Space:
    """The space of `ga.genes` (entries set to null are not searched)."""
    space = Space(tuple(_gene(name, spec) for name, spec in genes.items() if spec is not None))
    if not space.genes:
        raise ValueError("ga.genes: search at least one gene")
    return space
