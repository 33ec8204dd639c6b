"""The genetic algorithm's operators: small pure functions of (individuals, space, rng), DEAP-style,
with rng a numpy Generator. They work on any search space (space.py): a genome is a dict
{gene: canonical value}, genes in the space's order (the crossover point counts along it).

  init_population   draws from each gene's distribution
  select_elites     the fittest k, ties broken by the lower individual index (the report's plain GA)
  distinct_elites   the fittest k distinct genomes (ga.unique)
  crossover         single-point: genes before `point` from parent 1, the rest from parent 2
  mutate            each gene redrawn from its own distribution with probability `threshold`
  make_new          a child mutated again until it is a genome not yet evaluated (ga.unique)
  children          children of two distinct elites (crossover, then mutation)
The GA strategy (strategies/ga.py) puts them together; the random search draws through
init_population. Generation g draws from its own stream (search.py), so populations do not depend on
job order, reruns, or how many random numbers earlier generations consumed.
"""

from __future__ import annotations

import sys

MAX_TRIES = 100  # re-mutations of a child that repeats a genome before the duplicate is kept


def init_population(space, n: int, rng, unique: bool = False, first=()) -> list[dict]:
    """n genomes: `first` (if given), then draws from the space; `unique` redraws one that repeats an
    earlier genome."""
    pop = [space.canonical(g) for g in first][:n]
    while len(pop) < n:
        genome = space.draw(rng)
        if unique:
            genome = make_new(genome, {space.key(p) for p in pop}, space, 1.0, rng)
        pop.append(genome)
    return pop


def _ranked(individuals: list[dict]) -> list[dict]:
    return sorted(individuals, key=lambda ind: (-float(ind["fitness"]), int(ind["individual"])))


def select_elites(individuals: list[dict], k: int) -> list[dict]:
    """The k fittest; equal fitness goes to the lower individual index (deterministic)."""
    return _ranked(individuals)[:k]


def distinct_elites(individuals: list[dict], k: int, space) -> list[dict]:
    """The k fittest distinct genomes (a genome held twice counts once; the first holder is kept)."""
    kept, keys = [], set()
    for ind in _ranked(individuals):
        if space.key(ind) not in keys:
            keys.add(space.key(ind))
            kept.append(ind)
    return kept[:k]


def crossover(parent1: dict, parent2: dict, point: int, space) -> dict:
    """Single-point crossover: genes[:point] from parent1, genes[point:] from parent2."""
    return {g: (parent1 if i < point else parent2)[g] for i, g in enumerate(space.names)}


def mutate(genome: dict, space, threshold: float, rng) -> tuple[dict, list[str]]:
    """Redraw each gene from its own distribution where a uniform draw falls below `threshold`."""
    out, mutated = dict(genome), []
    for gene in space.genes:
        if rng.random() < threshold:
            out[gene.name] = gene.draw(rng)
            mutated.append(gene.name)
    return out, mutated


def make_new(child: dict, taken: set, space, threshold: float, rng, tries: int = MAX_TRIES) -> dict:
    """`child`, mutated again (same threshold, same random stream) until no genome in `taken` equals
    it; after `tries` attempts it is kept as it is, with a log line: the space is nearly exhausted."""
    for _ in range(tries):
        if space.key(child) not in taken:
            return child
        child = space.canonical(mutate(child, space, threshold, rng)[0])
    if space.key(child) in taken:
        print(f"note: no new genome after {tries} mutations; keeping a duplicate {space.key(child)}", file=sys.stderr)
    return child


def children(elites: list[dict], space, n: int, point: int, threshold: float, rng, taken: set | None, prev: str):
    """n children of two elites drawn at random (distinct where there are two or more; a single elite
    is both parents): crossover, then mutation; with `taken` (the
    keys of every genome evaluated or already chosen) each child is a new genome (make_new)."""
    out = []
    while len(out) < n:
        i, j = rng.choice(len(elites), size=2, replace=len(elites) < 2)
        p1, p2 = elites[i], elites[j]
        child = space.canonical(mutate(crossover(p1, p2, point, space), space, threshold, rng)[0])
        if taken is not None:
            child = make_new(child, taken, space, threshold, rng)
            taken.add(space.key(child))
        out.append({**child, "parents": f"{prev}:{int(p1['individual'])},{prev}:{int(p2['individual'])}"})
    return out
