"""The genetic algorithm: pure operators on genomes plus the CLI steps the Snakefile calls.

A genome is a dict {"lr": float, "wd": float, "mom": float}, genes in that fixed order (the
crossover point counts along it). Every gene is rounded to 3 significant digits, so a genome has
one canonical text form, and the run folder is named by it: ``lr=3.16e-03_wd=1.20e-02_mom=8.50e-01_seed=0``.

Operators, DEAP-style small pure functions of (individuals, rng) with rng a numpy Generator:
  init_population   uniform within bounds (log-uniform for log-scale genes)
  select_elites     the fittest k, ties broken by the lower individual index
  crossover         single-point: genes before `point` from parent 1, the rest from parent 2
  mutate            each gene redrawn within its bounds with probability `threshold`
  next_generation   elites first (copied exactly), then children of two distinct elites
  random_search     the control: the GA's generation 0, then uniform draws, as many as the GA trains
Generation g draws from np.random.default_rng([seed, g]) alone, so populations do not depend on
job order, reruns, or how many random numbers earlier generations consumed.

CLI (used by the workflow; runnable by hand):
  python scripts/ga.py init --spec '<ga json>' --out gen0/population.tsv
  python scripts/ga.py next --spec '<ga json>' --fitness gen0/fitness.tsv --gen 1 --out gen1/population.tsv
  python scripts/ga.py random --spec '<ga json>' --population gen0/population.tsv --out random_search/population.tsv
  python scripts/ga.py collect --population gen0/population.tsv --results runs/*/result.json --out gen0/fitness.tsv
  python scripts/ga.py best --fitness gen*/fitness.tsv --out best.tsv
  python scripts/ga.py summarize --fitness gen*/fitness.tsv --out-individuals individuals.tsv --out-summary summary.tsv
  python scripts/ga.py plan --best best.tsv --suggestion lr_find/suggestion.json \
      --baseline '{"lr": "auto", "wd": 5e-4, "mom": 0.85}' --final-seeds 3 --out final/plan.tsv
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import numpy as np

from layout import generation_of
from util import ArgumentParser, read_by_run, read_json, read_tsv, run_cli, write_tsv

GENES = ("lr", "wd", "mom")
SIG_DIGITS = 3
RANDOM_STREAM = 1  # the random search draws from default_rng([seed, 0, RANDOM_STREAM]), a stream no generation uses
MAX_TRIES = 100  # re-mutations of a child that repeats a genome before the duplicate is kept
DEFAULT_GENES = {  # the report's search space
    "lr": {"low": 1e-6, "high": 1e-2, "log": True},
    "wd": {"low": 0.0, "high": 0.1, "log": False},
    "mom": {"low": 0.1, "high": 1.5, "log": False},
}
POP_COLUMNS = ["individual", "run", "lr", "wd", "mom", "origin", "parents"]
RESULT_COLUMNS = ["fitness", "top1", "top3", "top5", "val_loss", "train_loss", "status", "epochs", "epochs_completed"]
GENE_TEXT = rf"\d\.\d{{{SIG_DIGITS - 1}}}e[+-]\d{{2,3}}"  # what fmt() writes
# The canonical run id, and nothing else: it names a folder and reaches shell commands.
RUN_PATTERN = "_".join(f"{g}={GENE_TEXT}" for g in GENES) + r"_seed=\d+"


# ----------------------------------------------------------------------------- canonical form
def fmt(x: float) -> str:
    """The canonical text of a gene value: 3 significant digits, scientific notation."""
    return f"{float(x):.{SIG_DIGITS - 1}e}"


def canonical(x: float) -> float:
    return float(fmt(x))


def canonical_genome(genome: dict) -> dict:
    return {g: canonical(genome[g]) for g in GENES}


def run_id(genome: dict, seed: int) -> str:
    return "_".join(f"{g}={fmt(genome[g])}" for g in GENES) + f"_seed={int(seed)}"


def parse_run_id(text: str) -> dict:
    if not re.fullmatch(RUN_PATTERN, text):
        raise ValueError(f"not a run id of the form lr=1.00e-03_wd=..._mom=..._seed=N: {text!r}")
    values = dict(part.split("=") for part in text.split("_"))
    return {**{g: float(values[g]) for g in GENES}, "seed": int(values["seed"])}


# ----------------------------------------------------------------------------- bounds
def check_bounds(genes: dict) -> None:
    """Raise ValueError naming the config key for bounds the GA cannot use."""
    for g in GENES:
        if g not in genes:
            raise ValueError(f"ga.genes.{g}: missing")
        b = genes[g]
        low, high = float(b["low"]), float(b["high"])
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"ga.genes.{g}: bounds must be finite numbers, got {low:g}..{high:g}")
        if low < 0:
            raise ValueError(f"ga.genes.{g}.low: must be >= 0 (lr, wd and momentum are not negative), got {low:g}")
        if not low < high:
            raise ValueError(f"ga.genes.{g}: low ({low:g}) must be below high ({high:g})")
        if b.get("log") and low <= 0:
            raise ValueError(f"ga.genes.{g}.low: a log-scale bound must be > 0, got {low:g}")
        for key, v in (("low", low), ("high", high)):
            if canonical(v) != v:
                raise ValueError(f"ga.genes.{g}.{key}: use at most {SIG_DIGITS} significant digits, got {v!r}")


def draw_gene(bounds: dict, rng: np.random.Generator) -> float:
    low, high = float(bounds["low"]), float(bounds["high"])
    if bounds.get("log"):
        v = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        v = rng.uniform(low, high)
    # bounds are canonical and rounding is monotonic, so the rounded value stays inside them
    return canonical(v)


# ----------------------------------------------------------------------------- operators
def generation_rng(seed: int, generation: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(generation)])


def init_population(genes: dict, n: int, rng: np.random.Generator, unique: bool = False, first=()) -> list[dict]:
    """n genomes: `first` (if given), then draws within the bounds; `unique` redraws one that repeats
    an earlier genome."""
    pop = [canonical_genome(g) for g in first][:n]
    while len(pop) < n:
        genome = {g: draw_gene(genes[g], rng) for g in GENES}
        if unique:
            genome = make_new(genome, {genome_key(p) for p in pop}, genes, 1.0, rng)
        pop.append(genome)
    return pop


def random_search(first: list[dict], genes: dict, n: int, rng: np.random.Generator) -> list[dict]:
    """n distinct genomes: `first` (the GA's generation 0, itself a uniform sample: the control reuses
    its trainings), then uniform draws within the bounds, each redrawn until it is new."""
    return init_population(genes, n, rng, unique=True, first=first)


def ga_budget(spec: dict) -> int:
    """The trainings a GA pays for with unique genomes: generation 0, then population - elites new
    genomes per later generation (30 for the report's 10, 5, 5)."""
    return spec["population"] + (spec["population"] - spec["elites"]) * (spec["generations"] - 1)


def select_elites(individuals: list[dict], k: int) -> list[dict]:
    """The k fittest; equal fitness goes to the lower individual index (deterministic)."""
    ranked = sorted(individuals, key=lambda ind: (-float(ind["fitness"]), int(ind["individual"])))
    return ranked[:k]


def crossover(parent1: dict, parent2: dict, point: int) -> dict:
    """Single-point crossover: genes[:point] from parent1, genes[point:] from parent2."""
    return {g: (parent1 if i < point else parent2)[g] for i, g in enumerate(GENES)}


def mutate(genome: dict, genes: dict, threshold: float, rng: np.random.Generator) -> tuple[dict, list[str]]:
    """Redraw each gene within its bounds where a uniform draw falls below `threshold`."""
    out, mutated = dict(genome), []
    for g in GENES:
        if rng.random() < threshold:
            out[g] = draw_gene(genes[g], rng)
            mutated.append(g)
    return out, mutated


def genome_key(genome: dict) -> tuple:
    """What makes two genomes the same: their canonical gene values."""
    return tuple(canonical(genome[g]) for g in GENES)


def distinct_elites(individuals: list[dict], k: int) -> list[dict]:
    """The k fittest distinct genomes (a genome held twice counts once; the first holder is kept)."""
    ranked = sorted(individuals, key=lambda ind: (-float(ind["fitness"]), int(ind["individual"])))
    kept, keys = [], set()
    for ind in ranked:
        if genome_key(ind) not in keys:
            keys.add(genome_key(ind))
            kept.append(ind)
    return kept[:k]


def make_new(child: dict, taken: set, genes: dict, threshold: float, rng, tries: int = MAX_TRIES) -> dict:
    """`child`, mutated again (same threshold, same random stream) until no genome in `taken` equals
    it; after `tries` attempts it is kept as it is, with a log line: the space is nearly exhausted."""
    for _ in range(tries):
        if genome_key(child) not in taken:
            return child
        child, _ = mutate(child, genes, threshold, rng)
        child = canonical_genome(child)
    if genome_key(child) in taken:
        print(f"note: no new genome after {tries} mutations; keeping a duplicate {genome_key(child)}", file=sys.stderr)
    return child


def next_generation(
    scored: list[dict],
    genes: dict,
    n: int,
    elites: int,
    point: int,
    threshold: float,
    rng: np.random.Generator,
    generation: int,
    seen: set | None = None,
) -> list[dict]:
    """Population of `generation` from the scored previous one: elites first, then children.

    seen=None is the report's plain GA (elites ranked with duplicates, children may repeat genomes).
    With `seen` (the keys of every genome evaluated so far), elites are distinct and every child is
    a genome never evaluated and not yet in the population (`make_new`)."""
    prev = f"gen{generation - 1}"
    chosen = select_elites(scored, elites) if seen is None else distinct_elites(scored, elites)
    pop = [{**{g: e[g] for g in GENES}, "origin": "elite", "parents": f"{prev}:{int(e['individual'])}"} for e in chosen]
    taken = None if seen is None else set(seen) | {genome_key(p) for p in pop}
    while len(pop) < n:
        i, j = rng.choice(len(chosen), size=2, replace=len(chosen) < 2)
        p1, p2 = chosen[i], chosen[j]
        child, _ = mutate(crossover(p1, p2, point), genes, threshold, rng)
        child = canonical_genome(child)
        if taken is not None:
            child = make_new(child, taken, genes, threshold, rng)
            taken.add(genome_key(child))
        parents = f"{prev}:{int(p1['individual'])},{prev}:{int(p2['individual'])}"
        pop.append({**child, "origin": "child", "parents": parents})
    return pop


# ----------------------------------------------------------------------------- files
def _pd():
    import pandas as pd  # imported on use: the Snakefile imports this module while parsing

    return pd


def population_frame(pop: list[dict], train_seed: int):
    rows = [
        {
            "individual": i,
            "run": run_id(ind, train_seed),
            **{g: fmt(ind[g]) for g in GENES},
            "origin": ind["origin"],
            "parents": ind.get("parents", ""),
        }
        for i, ind in enumerate(pop)
    ]
    return _pd().DataFrame(rows, columns=POP_COLUMNS)


# invalid: a genome the optimizer cannot take (AdamW, mom >= 1); stopped: early stopping (ga.early_stop)
STATUSES = ("ok", "diverged", "invalid", "stopped")


def check_fitness(df, population: int, path) -> None:
    """A fitness table the next generation can be drawn from: every individual 0..population-1
    once, each with its genes, a status and a fitness in [0, 1]."""
    missing = [c for c in ("individual", *GENES, "fitness", "status") if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    if sorted(df["individual"].tolist()) != list(range(population)):
        raise ValueError(f"{path}: must hold individuals 0..{population - 1} once each (ga.population)")
    if not df["status"].isin(STATUSES).all():
        raise ValueError(f"{path}: every individual needs a status ({'/'.join(STATUSES)})")
    numbers = df[[*GENES, "fitness"]].apply(_pd().to_numeric, errors="coerce")  # nan: not a number
    if not numbers["fitness"].between(0, 1).all():
        raise ValueError(f"{path}: every fitness must be a number in [0, 1]")
    if not numbers[list(GENES)].apply(lambda v: v.between(0, math.inf, inclusive="left")).all().all():
        raise ValueError(f"{path}: every gene ({', '.join(GENES)}) must be a finite number >= 0")


def population_runs(path: str | Path) -> list[str]:
    """The distinct run ids of a population file, in first-seen order."""
    return list(dict.fromkeys(read_tsv(path)["run"]))


def collect(population: str | Path, result_files):
    """Join a population with its runs' result.json (each names its run) into the fitness table."""
    df = read_tsv(population)
    by_run = read_by_run(result_files)
    missing = [r for r in dict.fromkeys(df["run"]) if r not in by_run]
    if missing:
        raise ValueError(f"{population}: no result.json given for run(s) {', '.join(missing)}")
    envs = {environment(by_run[r]) for r in df["run"]}
    if len(envs) > 1:  # fitness values from different environments may not be comparable
        described = " | ".join(", ".join(map(str, e)) for e in sorted(envs, key=str))
        print(
            f"warning: {population} mixes {len(envs)} environments (see environments.tsv): {described}", file=sys.stderr
        )
    out = df.copy()
    for c in RESULT_COLUMNS:
        out[c] = [by_run[r][c] for r in df["run"]]
    for g in GENES:  # keep the canonical text of the genes
        out[g] = [fmt(v) for v in df[g]]
    return out


ENV_KEYS = ("torch", "torchvision", "cuda", "cudnn", "device", "deterministic", "threads", "commit")


def environment(result: dict) -> tuple:
    """The environment a run's numbers came from (result.json's provenance)."""
    prov = result.get("provenance", {})
    return tuple(prov.get(k, "unknown") for k in ENV_KEYS)


def environments(result_files):
    """One row per distinct environment: its fields, how many runs it produced, one of them."""
    rows = {}
    for path in result_files:
        res = read_json(path)
        env = environment(res)
        row = rows.setdefault(env, {**dict(zip(ENV_KEYS, env)), "runs": 0, "example": res["run"]})
        row["runs"] += 1
    return _pd().DataFrame(list(rows.values()), columns=[*ENV_KEYS, "runs", "example"])


def all_individuals(fitness_tables):
    """Every generation's fitness table in one frame, with a leading `generation` column."""
    frames = [read_tsv(p).assign(generation=generation_of(p)) for p in fitness_tables]
    allf = _pd().concat(frames, ignore_index=True)
    return allf[["generation"] + [c for c in allf.columns if c != "generation"]]


def summarize(fitness_tables):
    """Per generation: size, distinct and new genomes, diverged and stopped runs, the epochs its new
    runs trained and saved by early stopping, best / median / mean fitness, best so far."""
    ind = all_individuals(fitness_tables)
    seen, rows = set(), []
    for g, df in ind.groupby("generation", sort=True):
        runs = set(df["run"])
        new = df[~df["run"].isin(seen)].drop_duplicates("run")
        stopped = new[new["status"] == "stopped"]
        rows.append(
            {
                "generation": g,
                "individuals": len(df),
                "distinct_runs": len(runs),
                "new_runs": len(runs - seen),
                "diverged": int(df["status"].isin(("diverged", "invalid")).sum()),
                "stopped": len(stopped),
                "epochs_trained": int(new["epochs_completed"].sum()),
                "epochs_saved": int((stopped["epochs"] - stopped["epochs_completed"]).sum()),
                "best": df["fitness"].max(),
                "median": df["fitness"].median(),
                "mean": df["fitness"].mean(),
            }
        )
        seen |= runs
    out = _pd().DataFrame(rows)
    out["best_so_far"] = out["best"].cummax()
    return out


def best_row(df):
    """One row: the fittest individual (ties: earliest generation if there is one, lowest index)."""
    keys = [k for k in ("fitness", "generation", "individual") if k in df.columns]
    ranked = df.sort_values(keys, ascending=[False] + [True] * (len(keys) - 1), kind="stable")
    best = ranked.head(1).copy()
    for g in GENES:
        best[g] = [fmt(v) for v in best[g]]
    return best


def best_of(fitness_tables):
    """The fittest individual over all generations."""
    return best_row(all_individuals(fitness_tables))


def plan(best_tsv, baseline: dict, suggestion: dict, train_seed: int, final_seeds: int, random_best=None):
    """The runs after the search: the baseline at the search seed (its curves sit beside the GA's),
    then GA best, baseline (and the random search's best) at fresh seeds train_seed+1 .. +final_seeds."""
    best = read_tsv(best_tsv).iloc[0]
    genomes = {
        "ga": canonical_genome({g: best[g] for g in GENES}),
        "baseline": canonical_genome(
            {
                "lr": suggestion["suggestion"] if baseline["lr"] == "auto" else baseline["lr"],
                "wd": baseline["wd"],
                "mom": baseline["mom"],
            }
        ),
    }
    rows = [
        {"method": "baseline", "stage": "search", "seed": train_seed, "run": run_id(genomes["baseline"], train_seed)}
    ]
    if random_best:
        genomes["random"] = canonical_genome({g: read_tsv(random_best).iloc[0][g] for g in GENES})
    for m in genomes:
        for s in range(train_seed + 1, train_seed + final_seeds + 1):
            rows.append({"method": m, "stage": "final", "seed": s, "run": run_id(genomes[m], s)})
    return _pd().DataFrame(rows, columns=["method", "stage", "seed", "run"])


def spec_from_json(text: str) -> dict:
    spec = json.loads(text)
    genes = {**DEFAULT_GENES, **spec.get("genes", {})}
    check_bounds(genes)
    n, k = int(spec["population"]), int(spec.get("elites") or spec["population"] // 2)
    if n < 2:
        raise ValueError(f"ga.population: must be >= 2, got {n}")
    if not 1 <= k < n:
        raise ValueError(f"ga.elites: must be between 1 and population-1 ({n - 1}), got {k}")
    cx = spec.get("crossover", {}).get("point")
    point = len(GENES) // 2 if cx is None else int(cx)
    if not 0 < point < len(GENES):
        raise ValueError(f"ga.crossover.point: must be between 1 and {len(GENES) - 1}, got {point}")
    return {
        "genes": genes,
        "population": n,
        "elites": k,
        "point": point,
        "threshold": float(spec.get("mutation", {}).get("threshold", 0.3)),
        "seed": int(spec.get("seed", 0)),
        "unique": bool(spec.get("unique", True)),
        "generations": int(spec.get("generations", 5)),
    }


def init_step(args) -> None:
    spec = spec_from_json(args.spec)
    rng = generation_rng(spec["seed"], 0)
    pop = init_population(spec["genes"], spec["population"], rng, spec["unique"])
    write_tsv(population_frame([{**ind, "origin": "init", "parents": ""} for ind in pop], args.train_seed), args.out)


def next_step(args) -> None:
    spec = spec_from_json(args.spec)
    table = read_tsv(args.fitness)
    check_fitness(table, spec["population"], args.fitness)
    scored = table.to_dict("records")
    seen = None  # ga.unique false: the report's plain GA
    if spec["unique"]:
        seen = {genome_key(r) for f in args.history for r in read_tsv(f).to_dict("records")}
        seen |= {genome_key(r) for r in scored}
    rng = generation_rng(spec["seed"], args.gen)
    s = spec
    pop = next_generation(
        scored, s["genes"], s["population"], s["elites"], s["point"], s["threshold"], rng, args.gen, seen
    )
    write_tsv(population_frame(pop, args.train_seed), args.out)


def random_step(args) -> None:
    """The random-search control's population: as many distinct genomes as the GA trains."""
    spec = spec_from_json(args.spec)
    first = read_tsv(args.population).to_dict("records")
    rng = np.random.default_rng([spec["seed"], 0, RANDOM_STREAM])
    pop = random_search(first, spec["genes"], ga_budget(spec), rng)
    origins = ["init"] * min(len(first), len(pop)) + ["random"] * (len(pop) - len(first))
    write_tsv(population_frame([{**g, "origin": o} for g, o in zip(pop, origins)], args.train_seed), args.out)


def collect_step(args) -> None:
    write_tsv(collect(args.population, args.results), args.out)


def best_step(args) -> None:
    write_tsv(best_row(read_tsv(args.fitness[0])) if args.random else best_of(args.fitness), args.out)


def environments_step(args) -> None:
    write_tsv(environments(args.results), args.out)


def summarize_step(args) -> None:
    write_tsv(all_individuals(args.fitness), args.out_individuals)
    write_tsv(summarize(args.fitness), args.out_summary)


def plan_step(args) -> None:
    suggestion = read_json(args.suggestion)
    random_best = args.random_best[0] if args.random_best else None
    table = plan(args.best, json.loads(args.baseline), suggestion, args.train_seed, args.final_seeds, random_best)
    write_tsv(table, args.out)


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(description="GA steps of the workflow (see module doc)")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def command(name, func, help):
        p = sub.add_parser(name, help=help)
        p.set_defaults(func=func)
        return p

    i = command("init", init_step, "generation 0")
    n = command("next", next_step, "generation g from generation g-1")
    for p in (i, n):
        p.add_argument("--spec", required=True, help="the config's ga: section as JSON")
        p.add_argument("--train-seed", type=int, default=0, help="training seed named in run ids")
        p.add_argument("--out", required=True)
    n.add_argument("--fitness", required=True, help="previous generation's fitness.tsv")
    n.add_argument("--history", nargs="*", default=[], help="earlier generations' fitness.tsv (ga.unique)")
    n.add_argument("--gen", type=int, required=True, help="generation to create (>= 1)")
    r = command("random", random_step, "the random-search control's genomes (generation 0 first)")
    r.add_argument("--spec", required=True, help="the config's ga: section as JSON")
    r.add_argument("--train-seed", type=int, default=0, help="training seed named in run ids")
    r.add_argument("--population", required=True, help="the GA's generation 0 population.tsv")
    r.add_argument("--out", required=True)
    c = command("collect", collect_step, "a generation's fitness table from its runs' results")
    c.add_argument("--population", required=True)
    c.add_argument("--results", nargs="+", required=True, help="the population's runs' result.json")
    c.add_argument("--out", required=True)
    b = command("best", best_step, "the fittest individual over all generations")
    b.add_argument("--fitness", nargs="+", required=True)
    b.add_argument("--random", action="store_true", help="one random-search table (no generations)")
    b.add_argument("--out", required=True)
    e = command("environments", environments_step, "the environments that produced the runs' numbers")
    e.add_argument("--results", nargs="+", required=True, help="result.json files")
    e.add_argument("--out", required=True)
    t = command("summarize", summarize_step, "all individuals in one table, and a per-generation summary")
    t.add_argument("--fitness", nargs="+", required=True)
    t.add_argument("--out-individuals", required=True)
    t.add_argument("--out-summary", required=True)
    f = command("plan", plan_step, "run ids of the baseline and of the final retraining")
    f.add_argument("--best", required=True, help="best.tsv")
    f.add_argument("--suggestion", required=True, help="the LR finder's suggestion.json")
    f.add_argument("--baseline", required=True, help="the config's baseline: section as JSON")
    f.add_argument("--train-seed", type=int, default=0)
    f.add_argument("--final-seeds", type=int, default=3)
    f.add_argument("--random-best", nargs="*", default=[], help="the random search's best.tsv (if it ran)")
    f.add_argument("--out", required=True)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
