"""The search loop, the same for every strategy (strategies/), and the search's tables: the CLI
steps the workflow's rules call, each runnable by hand.

    python scripts/search.py init --spec '<json>' --settings '<json>' --meta prepared/meta.json --repeat 0 \\
        --out search/rep0/round0/population.tsv
    python scripts/search.py propose --spec ... --settings ... --meta ... --method ga --repeat 0 --round 2 \\
        --history search/rep0/round0/fitness.tsv search/rep0/ga/round1/fitness.tsv \\
        --out search/rep0/ga/round2/population.tsv
    python scripts/search.py collect --spec ... --population .../population.tsv --results runs/*/result.json \\
        --out .../fitness.tsv
    python scripts/search.py summarize --spec ... --fitness <every fitness.tsv> --out-individuals ... \\
        --out-summary ... --out-best search/best.tsv
    python scripts/search.py plan --spec ... --settings ... --meta ... --best search/best.tsv \\
        --suggestion lr_find/suggestion.json --baseline '{"lr": "auto", ...}' --final-seeds 3 --out final/plan.tsv

A round's table holds `population` rows: the fittest distinct genomes so far (`elites` of them,
origin `elite`), then the strategy's new genomes (origin: the method's). Round 0 (origin `init`) is
drawn once per repeat and shared by every method. Every random number of repeat 0 comes from the
streams the GA always used (generation g: [seed, g]; strategies.stream_entropy), so the same config
gives the same populations whatever order jobs run in and after any interruption.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import formats
import ga
import identity
import settings
import space as spaces
import strategies
from data import read_meta
from layout import round_of, run_of
from util import ArgumentParser, DataError, exit_now, run_cli

RESULT_COLUMNS = [f.name for f in formats.RESULT_FIELDS]
NEVER_STOPPED = ("init", "elite")  # origins early stopping does not apply to


# ----------------------------------------------------------------------------- the search's settings
def spec_from_config(cfg: dict) -> dict:
    """The search's settings from the config's ga: and search: sections; ValueError naming the key."""
    g, s = cfg["ga"], cfg.get("search") or {}
    space = spaces.from_config(g.get("genes") or {})
    n = int(g["population"])
    k = int(g.get("elites") or n // 2)
    if n < 2:
        raise ValueError(f"ga.population: must be >= 2, got {n}")
    if not 1 <= k < n:
        raise ValueError(f"ga.elites: must be between 1 and population-1 ({n - 1}), got {k}")
    cx = (g.get("crossover") or {}).get("point")
    point = space.middle() if cx is None else int(cx)
    if len(space.genes) > 1 and not 0 < point < len(space.genes):
        raise ValueError(f"ga.crossover.point: must be between 1 and {len(space.genes) - 1}, got {point}")
    methods = list(s.get("methods") or ["ga"])
    unknown = [m for m in methods if m not in strategies.methods()]
    if unknown or len(set(methods)) != len(methods) or "baseline" in methods:
        known = ", ".join(strategies.methods())
        raise ValueError(f"search.methods: {', '.join(unknown or methods)}: give distinct methods of {known}")
    return {
        "space": space,
        "population": n,
        "elites": k,
        "point": point,
        "threshold": float((g.get("mutation") or {}).get("threshold", 0.3)),
        "seed": int(g.get("seed", 0)),
        "unique": bool(g.get("unique", True)),
        "rounds": int(g.get("generations", 5)),
        "early_stop": g.get("early_stop"),
        "methods": methods,
        "repeats": int(s.get("repeats", 1)),
    }


def spec_from_json(text: str) -> dict:
    """--spec of the CLIs: the config's ga: and search: sections as JSON (one error line naming the
    key, by hand too)."""
    try:
        cfg = json.loads(text)
    except ValueError as e:
        raise ValueError(f"--spec: not JSON ({e})") from None
    try:
        if not isinstance(cfg, dict) or not isinstance(cfg.get("ga"), dict):
            raise ValueError("ga: missing (give the config's ga: and search: sections)")
        return spec_from_config(cfg)
    except KeyError as e:
        raise ValueError(f"ga.{e.args[0]}: missing") from None
    except (TypeError, AttributeError) as e:  # a section or a value of another type (a list, null, text)
        raise ValueError(f"ga or search: a section or value of the wrong type ({e})") from None


def budget(spec: dict) -> int:
    """The trainings every method pays for with unique genomes: round 0, then population - elites new
    genomes per later round (30 for the report's 10, 5, 5)."""
    return spec["population"] + (spec["population"] - spec["elites"]) * (spec["rounds"] - 1)


def largest(spec: dict, name: str) -> list:
    """[the largest value gene `name` can take], or [] if it is not searched."""
    return [g.largest() for g in spec["space"].named(name)]


def smallest(spec: dict, name: str) -> list:
    """[the smallest value gene `name` can take], or [] if it is not searched."""
    return [g.smallest() for g in spec["space"].named(name)]


def used_settings(spec: dict, values: dict) -> dict:
    """Of the config's settings off their defaults (`values`), those some run of the search or the
    baseline uses: not a gene the baseline names too (every run names it), not the shortcut where no
    run's net takes one. What the workflow's search steps are given, so that changing a value no run
    uses reruns none of them."""
    names = spec["space"].names
    values = {k: v for k, v in values.items() if not (k in names and k in BASELINE_GENES)}
    return values if "arch" in names else settings.command_values(values)


def run_context(settings_values: dict, spec: dict, meta: dict, genome: dict, stop=None) -> dict:
    """The identity context of one of the search's runs (identity.py): the settings that are not
    searched, as this genome trains them (a genome's arch decides whether the shortcut counts), the
    data, and for a run early stopping may stop, its stop context."""
    values = {**settings_values, **{k: genome[k] for k in spec["space"].names}}
    return identity.context(values, named=spec["space"].names, data_id=meta["data_id"], stop=stop)


# ----------------------------------------------------------------------------- round tables
def check_genes(df, space, path) -> None:
    """Every gene column present, each value in the space and the one its row's run id spells: the
    run id is what trains, so a gene edited in a table alone would breed or retrain a genome nobody
    evaluated."""
    missing = [g for g in space.names if g not in df.columns]
    if missing:
        raise DataError(f"{path}: field {', '.join(missing)}: missing (a gene of ga.genes)")
    for i, row in enumerate(df.to_dict("records")):
        for gene in space.genes:
            try:
                ok = gene.contains(gene.parse(row[gene.name]))
            except ValueError:
                ok = False
            if not ok:
                raise DataError(
                    f"{path}: field {gene.name} (row {i + 1}): {row[gene.name]!r} is not in {gene.describe()}"
                )
        try:
            named = identity.parse_run_id(row["run"])[0]
        except ValueError as e:
            raise DataError(f"{path}: field run (row {i + 1}): {e}") from None
        genome = space.parse(row)
        key = identity.key_of(row["run"])
        if key and identity.key_of_genome(genome) != key:
            raise DataError(f"{path}: row {i + 1}: its genes are not the genome of its run {row['run']}")
        wrong = [g for g in space.names if named.get(g) != genome[g]] if not key else []
        extra = sorted(set(named) - set(space.names))
        if wrong or extra:
            raise DataError(
                f"{path}: field {(wrong or extra)[0]} (row {i + 1}): not the value its run {row['run']} trains with"
            )


_SPELLED: dict = {}  # (population table, its mtime) -> {genome key: spelling}


def spelled_genome(out: str, key: str, spec: dict) -> str:
    """The spelling of the genome a run id names by key (one too long to spell), from the search's
    population tables (every genome a search trains is in one)."""
    for path in sorted(Path(out).glob("search/rep*/**/population.tsv")):
        stamp = (str(path), path.stat().st_mtime_ns)
        if stamp not in _SPELLED:
            try:  # a table of another space (a removed repeat or method, older genes) holds none of ours
                rows = formats.read_table("population", path).to_dict("records")
                spellings = [identity.spelling(spec["space"].parse(r)) for r in rows]
            except (DataError, KeyError, ValueError):
                spellings = []
            _SPELLED[stamp] = {identity.genome_key(x): x for x in spellings}
        if key in _SPELLED[stamp]:
            return _SPELLED[stamp][key]
    raise DataError(f"{out}/search: no population table holds the genome of key {key}")


def read_round(path, spec: dict, kind: str = "population"):
    """A round's table (population or fitness), with every gene column present and in the space, and
    rows of the round its folder names."""
    df = formats.read_table(kind, path)
    check_genes(df, spec["space"], path)
    if len(df) != spec["population"]:
        raise DataError(f"{path}: {len(df)} individuals, but ga.population is {spec['population']}")
    try:
        _, method, number = round_of(path)
    except ValueError:  # a table read outside the search's layout (by hand): no folder to check against
        return df
    check_origins(df, path, method, number)
    return df


def check_origins(df, path, method: str | None, number: int) -> None:
    """Round 0 holds its initial draws; round k of a method the elites of round k-1 and the method's own
    proposals. So a table moved or copied into another method's or round's folder is refused."""
    known = strategies.methods()
    if number and method not in known:
        raise DataError(f"{path}: {method!r} is not a search method ({', '.join(known)})")
    allowed = {"init"} if number == 0 else {"elite", known[method].origin}
    for i, row in enumerate(df.to_dict("records")):
        where = f"{path}: row {i + 1}: origin {row['origin']!r}"
        if row["origin"] not in allowed:
            raise DataError(f"{where}, but this folder's round holds only {', '.join(sorted(allowed))}")
        if row["origin"] == "elite" and not str(row["parents"]).startswith(f"gen{number - 1}:"):
            raise DataError(f"{where} from {row['parents']!r}, but round {number} keeps round {number - 1}'s elites")


def rows_of(df, spec: dict, number: int) -> list[dict]:
    """A table's rows as dicts with the genes as canonical values and the round number."""
    return [{**r, **spec["space"].parse(r), "round": number} for r in df.to_dict("records")]


def population_frame(rows: list[dict], spec: dict):
    import pandas as pd

    space = spec["space"]
    out = [
        {"individual": i, "run": r["run"], **space.texts(r), "origin": r["origin"], "parents": r.get("parents", "")}
        for i, r in enumerate(rows)
    ]
    return pd.DataFrame(out, columns=["individual", "run", *space.names, "origin", "parents"])


def history_rows(paths, spec: dict, seed: int) -> list[dict]:
    """Every scored row of one search so far, from its fitness tables in round order; a run scored
    in two rounds (an elite) has the same scores in both, and every run trained at the search's seed
    (search_seed: a round kept from before repeats had their own seeds would mix two seeds' fitness
    landscapes in one search)."""
    rows, first = [], {}
    for path in paths:
        df = read_round(path, spec, "fitness")
        for i, row in enumerate(df.to_dict("records")):
            seen = first.setdefault(row["run"], (row, path))
            check_same_scores(row, seen[0], path, i, f"its row in {seen[1]}")
            if run_seed(row["run"], path, i) != seed:
                raise DataError(
                    f"{path}: field run (row {i + 1}): {row['run']} did not train at this search's seed "
                    f"{seed} (a round from before each repeat had its own seed): delete "
                    f"{Path(paths[0]).parent.parent} and run again"
                )
        rows += rows_of(df, spec, round_of(path)[2])
    return rows


def run_seed(run: str, path, i: int) -> int:
    try:
        return identity.parse_run_id(run)[1]
    except ValueError as e:
        raise DataError(f"{path}: field run (row {i + 1}): {e}") from None


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        return (a != a and b != b) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)  # NaN: a run without scores
    return a == b


def check_same_scores(row: dict, source: dict, path, i: int, what: str) -> None:
    """A fitness row's scores are its run's: a table edited by hand (a fitness of 0.95 for a 15 %
    genome) would choose the elites and the best."""
    for c in RESULT_COLUMNS:
        if not _same(row[c], source[c]):
            raise DataError(f"{path}: field {c} (row {i + 1}): {row[c]!r}, but {what} says {source[c]!r}")


# ----------------------------------------------------------------------------- the loop
def initial_population(spec: dict, repeat: int) -> list[dict]:
    """Round 0 of a repeat, shared by every method: draws from the space ([seed, 0] for repeat 0)."""
    rng = strategies.Round(spec["space"], spec, [], [], 0, spec["seed"], repeat).stream(0)
    pop = ga.init_population(spec["space"], spec["population"], rng, spec["unique"])
    return [{**g, "origin": "init", "parents": ""} for g in pop]


def elites_of(previous: list[dict], spec: dict) -> list[dict]:
    """The rows carried into the next round: the fittest distinct genomes of the previous round
    (with duplicates counted in the report's plain GA, ga.unique false)."""
    k = spec["elites"]
    return ga.distinct_elites(previous, k, spec["space"]) if spec["unique"] else ga.select_elites(previous, k)


def propose_round(spec: dict, method: str, history: list[dict], number: int, repeat: int) -> list[dict]:
    """Round `number` of `method`: the elites of the previous round (with their runs), then the
    strategy's new genomes, each never evaluated in this search (ga.unique) and not yet in the round."""
    space = spec["space"]
    elites = elites_of([r for r in history if r["round"] == number - 1], spec)
    carried = [
        {**space.canonical(e), "run": e["run"], "origin": "elite", "parents": f"gen{number - 1}:{int(e['individual'])}"}
        for e in elites
    ]
    taken = {space.key(r) for r in history} | {space.key(e) for e in elites} if spec["unique"] else None
    m = strategies.methods()[method]
    rnd = strategies.Round(space, spec, history, elites, number, spec["seed"], repeat)
    n = spec["population"] - len(carried)
    new = m.propose(rnd, n, None if taken is None else set(taken))  # its own copy: the check below needs ours
    check_proposals(new, n, taken, space, method)
    return carried + [{**space.canonical(g), "origin": m.origin, "parents": g.get("parents", "")} for g in new]


def check_proposals(new: list[dict], n: int, taken: set | None, space, method: str) -> None:
    """The seam's contract, held here rather than trusted to each strategy: exactly n genomes; under
    ga.unique a genome evaluated in this search or twice in the round is named in the step's log, as
    the built-in strategies keep one only when the space is nearly exhausted (ga.make_new), and it
    trains fewer new genomes than the budget the methods are compared on."""
    if len(new) != n:
        raise DataError(f"search method {method!r}: proposed {len(new)} genomes, {n} asked")
    if taken is not None:
        keys = [space.key(g) for g in new]
        repeated = len(keys) - len(set(keys) - taken)
        if repeated:
            print(
                f"note: search method {method!r} proposed {repeated} genome(s) evaluated in this search or twice "
                "in the round: it trains fewer new genomes than the budget the methods are compared on",
                file=sys.stderr,
            )


def name_runs(rows: list[dict], spec: dict, settings_values: dict, meta: dict, seed: int) -> list[dict]:
    """Every new row gets its run id; with early stopping on, the new genomes of a round >= 1 carry
    the stop context (the round's elites set their bar), so their ids differ from a full run's."""
    space, stop_cfg = spec["space"], spec["early_stop"]
    against = [r["run"] for r in rows if r["origin"] == "elite"]
    for r in rows:
        if "run" in r:
            continue
        stop = None
        if stop_cfg and r["origin"] not in NEVER_STOPPED:
            stop = {"epoch": stop_cfg["epoch"], "margin": stop_cfg.get("margin", 0.0), "against": against}
        r["run"] = space.run_id(r, seed, run_context(settings_values, spec, meta, r, stop))
    return rows


def _inputs(args):
    return spec_from_json(args.spec), json.loads(args.settings), read_meta(args.meta)


def init_step(args) -> None:
    spec, values, meta = _inputs(args)
    rows = name_runs(initial_population(spec, args.repeat), spec, values, meta, args.train_seed)
    formats.write_table("population", population_frame(rows, spec), args.out)


def check_history(paths, method: str, repeat: int, number: int) -> None:
    """--history of round `number`: round 0 of the repeat, then the method's rounds 1 .. number-1, in order."""
    expected = [(repeat, None, 0)] + [(repeat, method, k) for k in range(1, number)]
    try:
        found = [round_of(p) for p in paths]
    except ValueError as e:
        raise DataError(f"--history: {e}") from None
    if found != expected:
        want = ["round0"] + [f"{method}/round{k}" for k in range(1, number)]
        raise DataError(
            f"--history {' '.join(map(str, paths))}: round {number} of {method} needs the fitness tables of "
            f"rep{repeat}/{', '.join(want)}, in that order"
        )


def propose_step(args) -> None:
    spec, values, meta = _inputs(args)
    check_history(args.history, args.method, args.repeat, args.round)
    rows = propose_round(spec, args.method, history_rows(args.history, spec, args.train_seed), args.round, args.repeat)
    formats.write_table(
        "population", population_frame(name_runs(rows, spec, values, meta, args.train_seed), spec), args.out
    )


# ----------------------------------------------------------------------------- scores
def read_result(path) -> dict:
    """A run's result.json, which must name the run whose folder it sits in."""
    return formats.read_record("result", path, run=run_of(path))


def collect(population, result_files, spec: dict):
    """Join a round's table with its runs' result.json into its fitness table."""
    df = read_round(population, spec)
    by_run = {r["run"]: r for r in map(read_result, result_files)}
    missing = [r for r in dict.fromkeys(df["run"]) if r not in by_run]
    if missing:
        raise DataError(f"{population}: no result.json given for run(s) {', '.join(missing)}")
    envs = {environment(by_run[r]) for r in df["run"]}
    if len(envs) > 1:  # fitness values from different environments may not be comparable
        described = " | ".join(", ".join(map(str, e)) for e in sorted(envs, key=str))
        print(
            f"warning: {population} mixes {len(envs)} environments (see environments.tsv): {described}", file=sys.stderr
        )
    out = df.copy()
    for c in RESULT_COLUMNS:
        out[c] = [by_run[r][c] for r in df["run"]]
    return out


def environment(result: dict) -> tuple:
    """The environment a run's numbers came from (result.json's provenance)."""
    return tuple(result["provenance"].get(k, "unknown") for k in formats.ENV_KEYS)


def environments(result_files):
    """One row per distinct environment: its fields, how many runs it produced, one of them."""
    import pandas as pd

    rows = {}
    for res in map(read_result, result_files):
        row = rows.setdefault(
            environment(res), {**dict(zip(formats.ENV_KEYS, environment(res))), "runs": 0, "example": res["run"]}
        )
        row["runs"] += 1
    return pd.DataFrame(list(rows.values()), columns=[*formats.ENV_KEYS, "runs", "example"])


def collect_step(args) -> None:
    formats.write_table("fitness", collect(args.population, args.results, spec_from_json(args.spec)), args.out)


def environments_step(args) -> None:
    formats.write_table("environments", environments(args.results), args.out)


# ----------------------------------------------------------------------------- the search's tables
def searches(paths, spec: dict) -> dict:
    """{(method, repeat): its fitness tables in round order} from every fitness table given: round 0
    of a repeat belongs to each of its methods."""
    by_round = {round_of(p): p for p in paths}
    out = {}
    for m in spec["methods"]:
        for r in range(spec["repeats"]):
            tables = [by_round.get((r, None, 0))] + [by_round.get((r, m, k)) for k in range(1, spec["rounds"])]
            if all(tables):
                out[(m, r)] = tables
    return out


def all_individuals(paths, spec: dict, result_files=()):
    """Every row of every search, with method, repeat and round in front (round 0 under each method),
    and with `result_files` each run's device time (process_seconds, for the costs)."""
    import pandas as pd

    frames = []
    for (m, r), tables in searches(paths, spec).items():
        for k, path in enumerate(tables):
            frames.append(read_round(path, spec, "fitness").assign(method=m, repeat=r, round=k, table=str(path)))
    df = pd.concat(frames, ignore_index=True)
    if result_files:
        results = {res["run"]: (res, path) for path in result_files for res in [read_result(path)]}
        missing = sorted(set(df["run"]) - set(results))
        if missing:
            raise DataError(
                f"no result.json given for run(s) {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"
            )
        for row in df.to_dict("records"):
            res, path = results[row["run"]]
            check_same_scores(row, res, row["table"], int(row["individual"]), str(path))
        df["process_seconds"] = df["run"].map(lambda r: results[r][0]["process_seconds"])
    df = df.drop(columns="table")
    front = ["method", "repeat", "round"]
    return df[front + [c for c in df.columns if c not in front]]


def best_row(df):
    """One row: the fittest individual (ties: the earliest round, then the lowest index)."""
    return df.sort_values(["fitness", "round", "individual"], ascending=[False, True, True], kind="stable").head(1)


def summarize(ind):
    """Per method, repeat and round: size, distinct and new runs, diverged and stopped runs, epochs
    trained and saved by early stopping, best / median / mean fitness, and so far: the best fitness,
    the trainings and the device-hours spent."""
    import pandas as pd

    rows = []
    for (m, r), search in ind.groupby(["method", "repeat"], sort=False):
        seen, hours = set(), 0.0
        for k, df in search.groupby("round", sort=True):
            new = df[~df["run"].isin(seen)].drop_duplicates("run")
            stopped = new[new["status"] == "stopped"]
            seen |= set(df["run"])
            hours += new["process_seconds"].sum() / 3600
            rows.append(
                {
                    "method": m,
                    "repeat": r,
                    "round": k,
                    "individuals": len(df),
                    "distinct_runs": df["run"].nunique(),
                    "new_runs": len(new),
                    "diverged": int(df["status"].isin(formats.NO_SCORES).sum()),
                    "stopped": len(stopped),
                    "epochs_trained": int(new["epochs_completed"].sum()),
                    "epochs_saved": int((stopped["epochs"] - stopped["epochs_completed"]).sum()),
                    "best": df["fitness"].max(),
                    "median": df["fitness"].median(),
                    "mean": df["fitness"].mean(),
                    "trainings_so_far": len(seen),
                    "device_hours_so_far": hours,
                }
            )
    out = pd.DataFrame(rows)
    out["best_so_far"] = out.groupby(["method", "repeat"])["best"].cummax()
    return out


def summarize_step(args) -> None:
    """individuals.tsv, summary.tsv and best.tsv (each search's fittest individual) in one step."""
    import pandas as pd

    spec = spec_from_json(args.spec)
    ind = all_individuals(args.fitness, spec, args.results)
    formats.write_table("individuals", ind, args.out_individuals)
    formats.write_table("summary", summarize(ind), args.out_summary)
    bests = [best_row(df) for _, df in ind.groupby(["method", "repeat"], sort=False)]
    formats.write_table("best", pd.concat(bests, ignore_index=True), args.out_best)


# ----------------------------------------------------------------------------- after the search
BASELINE_GENES = ("lr", "wd", "mom")  # the baseline: section; its run id spells these whatever is searched


def baseline_genome(baseline: dict, suggestion: dict) -> dict:
    """The baseline "without GA": lr from the LR finder (baseline.lr auto) or the config, wd and mom
    from baseline:. Every other setting is the config's (in the run's context, not its name), so a
    gene added to the search leaves the baseline's run id, and its finished runs, as they were."""
    out = {}
    for name in BASELINE_GENES:
        v = suggestion["suggestion"] if name == "lr" and baseline["lr"] == "auto" else baseline[name]
        out[name] = spaces.canonical_float(v)
    return out


SEARCH_SEED_STRIDE = 1_000_000  # repeat r >= 1 searches at seed + r x this: clear of every final seed


def search_seed(seed: int, repeat: int) -> int:
    """The training seed of repeat `repeat`'s search runs: train.seed for repeat 0 (and the baseline's
    search run), seed + repeat x 1,000,000 beyond, so that each repeat searches its own draw of the
    training noise, not the same seed's fitness landscape again (config_check.check_seeds keeps the
    final seeds below the stride; adding a repeat renames no run of the others)."""
    return seed + repeat * SEARCH_SEED_STRIDE


def final_seed_range(seed: int, final_seeds: int, repeat: int) -> range:
    """The seeds that retrain repeat `repeat`'s bests: seed+1 .. seed+final_seeds for repeat 0 and the
    baseline, the next final_seeds for repeat 1, and so on. Each search is its own replicate, training
    noise included: two repeats that found one genome retrain it apart, not share one set of runs."""
    return range(seed + 1 + repeat * final_seeds, seed + 1 + (repeat + 1) * final_seeds)


def plan(spec: dict, values: dict, meta: dict, best, baseline: dict, suggestion: dict, seed: int, final_seeds: int):
    """The runs after the search: the baseline at the search seed (its curves sit beside the search's),
    then the baseline and every search's best (each method, each repeat) at fresh seeds.
    search_fitness: the best's validation fitness in the search."""
    import pandas as pd

    seeds = final_seed_range(seed, final_seeds, 0)
    base = baseline_genome(baseline, suggestion)
    base_ctx = identity.context(values, named=list(base), data_id=meta["data_id"])
    rows = [("baseline", 0, "search", seed, identity.run_id(base, seed, base_ctx), float("nan"))]
    rows += [("baseline", 0, "final", s, identity.run_id(base, s, base_ctx), float("nan")) for s in seeds]
    for _, b in best.iterrows():
        genome = spec["space"].parse(b)
        ctx = run_context(values, spec, meta, genome)
        rows += [
            (b["method"], int(b["repeat"]), "final", s, spec["space"].run_id(genome, s, ctx), b["fitness"])
            for s in final_seed_range(seed, final_seeds, int(b["repeat"]))
        ]
    return pd.DataFrame(rows, columns=["method", "repeat", "stage", "seed", "run", "search_fitness"])


def check_best(best, spec: dict, path) -> None:
    """best.tsv: one row per method and repeat of this search, its genes in the space and its run's."""
    expected = {(m, r) for m in spec["methods"] for r in range(spec["repeats"])}
    for i, row in enumerate(best.to_dict("records")):
        if (row["method"], row["repeat"]) not in expected:
            raise DataError(
                f"{path}: row {i + 1}: method {row['method']!r}, repeat {row['repeat']}: not a search of the config"
            )
    found = set(zip(best["method"], best["repeat"]))
    if found != expected or len(best) != len(expected):
        raise DataError(f"{path}: {len(best)} rows, but the config's searches are {len(expected)} (one best each)")
    check_genes(best, spec["space"], path)


def check_methods(df, spec: dict, path, baseline: bool = False) -> None:
    """Every row's method is one the config searches with (or the baseline, where a table has it)."""
    allowed = [*spec["methods"], *(["baseline"] if baseline else [])]
    for i, m in enumerate(df["method"]):
        if m not in allowed:
            raise DataError(f"{path}: field method (row {i + 1}): {m!r} is not one of {', '.join(allowed)}")


def read_plan(path, spec: dict):
    """final/plan.tsv, checked against the config's searches: the baseline's one search row, then the
    baseline and every method and repeat at its final seeds (final_seed_range), each one genome, each
    row's seed its run's; a search fitness for a method's best, none for the baseline."""
    plan = formats.read_table("plan", path)
    check_methods(plan, spec, path, baseline=True)
    rows = plan.to_dict("records")
    for i, r in enumerate(rows):
        seed = run_seed(r["run"], path, i)
        if seed != r["seed"]:
            raise DataError(f"{path}: field seed (row {i + 1}): {r['seed']}, but run {r['run']} is seed {seed}")
        if (r["method"] == "baseline") != math.isnan(r["search_fitness"]):
            raise DataError(f"{path}: field search_fitness (row {i + 1}): a method's best has one, the baseline none")
    search = [r for r in rows if r["stage"] == "search"]
    if [r["method"] for r in search] != ["baseline"]:
        raise DataError(f"{path}: field stage: one 'search' row, the baseline's, expected")
    finals: dict = {}
    for r in rows:
        if r["stage"] == "final":
            finals.setdefault((r["method"], r["repeat"]), []).append(r)
    expected = [("baseline", 0)] + [(m, k) for m in spec["methods"] for k in range(spec["repeats"])]
    base_seeds = len(finals.get(("baseline", 0), []))
    repeat0 = list(final_seed_range(search[0]["seed"], base_seeds, 0))
    for m, k in expected:
        got = finals.pop((m, k), [])
        seeds = list(final_seed_range(search[0]["seed"], base_seeds, k))
        genomes = {re.sub(r"(^|_)seed=\d+", "", r["run"]) for r in got}
        found = sorted(r["seed"] for r in got)
        if k and got and found == repeat0:  # the layout before 0.7.0
            raise DataError(
                f"{path}: {m}, repeat {k}: retrained at repeat 0's seeds (a plan of resnet-ga < 0.7.0): delete "
                "this file and run again (each repeat's best trains at its own seeds; finished runs are kept)"
            )
        if not got or found != seeds or len(genomes) > 1:
            raise DataError(f"{path}: {m}, repeat {k}: its final rows must be one run at each final seed {seeds}")
    if finals:
        m, k = next(iter(finals))
        raise DataError(f"{path}: {m}, repeat {k}: not a search of the config")
    return plan


def plan_step(args) -> None:
    spec, values, meta = _inputs(args)
    best = formats.read_table("best", args.best)
    check_best(best, spec, args.best)
    suggestion = formats.read_record("suggestion", args.suggestion)
    table = plan(spec, values, meta, best, json.loads(args.baseline), suggestion, args.train_seed, args.final_seeds)
    formats.write_table("plan", table, args.out)


# ----------------------------------------------------------------------------- command line
def build_parser() -> ArgumentParser:
    ap = ArgumentParser(description="The search loop's steps (see the module doc)")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def command(name, func, help, inputs=True):
        p = sub.add_parser(name, help=help)
        p.set_defaults(func=func)
        p.add_argument("--spec", required=True, help="the config's ga: and search: sections as JSON")
        if inputs:
            p.add_argument(
                "--settings", required=True, help="the config's identity settings off their defaults as JSON"
            )
            p.add_argument("--meta", required=True, help="the prepared data's meta.json (its identity)")
            p.add_argument(
                "--train-seed", type=int, default=0, help="the training seed of this repeat's runs (search_seed)"
            )
        return p

    i = command("init", init_step, "round 0 of a repeat (shared by every method)")
    i.add_argument("--repeat", type=int, default=0)
    n = command("propose", propose_step, "round k of a method from the rounds before it")
    n.add_argument("--method", required=True)
    n.add_argument("--repeat", type=int, default=0)
    n.add_argument("--round", type=int, required=True, help="the round to propose (>= 1)")
    n.add_argument("--history", nargs="+", required=True, help="the search's fitness tables so far, round 0 first")
    c = command("collect", collect_step, "a round's fitness table from its runs' results", inputs=False)
    c.add_argument("--population", required=True)
    c.add_argument("--results", nargs="+", required=True, help="the round's runs' result.json")
    e = command("environments", environments_step, "the environments that produced the runs' numbers", inputs=False)
    e.add_argument("--results", nargs="+", required=True, help="result.json files")
    t = command("summarize", summarize_step, "every individual, a summary per round, each search's best", inputs=False)
    t.add_argument("--fitness", nargs="+", required=True)
    t.add_argument("--results", nargs="+", required=True, help="the searches' runs' result.json (their device time)")
    t.add_argument("--out-individuals", required=True)
    t.add_argument("--out-summary", required=True)
    t.add_argument("--out-best", required=True)
    f = command("plan", plan_step, "the baseline and the final retraining of every search's best")
    f.add_argument("--best", required=True, help="search/best.tsv")
    f.add_argument("--suggestion", required=True, help="the LR finder's suggestion.json")
    f.add_argument("--baseline", required=True, help="the config's baseline: section as JSON")
    f.add_argument("--final-seeds", type=int, default=3)
    for p in (i, n, c, e, f):
        p.add_argument("--out", required=True)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(args.func, args)


if __name__ == "__main__":
    exit_now(main())
