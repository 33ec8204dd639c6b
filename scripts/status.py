"""Where a GA run stands: per generation, the individuals trained, the runs in progress (epoch i/N,
last validation top-1), failed or diverged runs and the best genome so far; then the elapsed time
and an ETA from the measured epoch times. Read-only: safe while Snakemake runs (locally or from a
SLURM login node, on the shared file system).

    python scripts/status.py --configfile config/smoke.yaml        # the same config options as snakemake
    python scripts/status.py --watch 30                            # redraw every 30 s (Ctrl-C stops)

The ETA counts the GA's runs, the random search's (if on) and the final runs, one training job at a
time (one GPU); with several in parallel divide it.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import ga
import layout
from config_check import ConfigError, load_config
from util import ArgumentParser, read_json, read_tsv

STATES = ("done", "running", "failed", "pending")


def metric_rows(out: str, run: str) -> list[dict]:
    path = Path(layout.run_file(out, run, "metrics"))
    if not path.exists():
        return []
    try:
        return read_tsv(path).to_dict("records")
    except ValueError:  # being rewritten this very moment: no rows yet
        return []


def run_state(out: str, run: str) -> dict:
    """One run: done (with its result), running (epochs so far), failed (its log's error) or pending."""
    result = Path(layout.run_file(out, run, "result"))
    rows = metric_rows(out, run)
    state = {"run": run, "rows": rows, "epochs_done": len(rows)}
    if result.exists():
        return {**state, "state": "done", "result": read_json(result)}
    log = Path(layout.log_file(out, "train", run))
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    errors = [line for line in lines if line.startswith("error:") or "Traceback" in line]
    if errors:
        return {**state, "state": "failed", "error": errors[-1]}
    return {**state, "state": "running" if lines else "pending"}


def generations(config: dict) -> list[dict]:
    """Every generation whose population exists: its distinct runs' states, and whether it is scored."""
    out, gens = config["outdir"], []
    for g in range(config["ga"]["generations"]):
        pop = Path(layout.generation_file(out, g, "population"))
        if not pop.exists():
            break
        runs = [run_state(out, r) for r in ga.population_runs(pop)]
        scored = Path(layout.generation_file(out, g, "fitness")).exists()
        gens.append({"generation": g, "individuals": len(read_tsv(pop)), "runs": runs, "scored": scored})
    return gens


def describe_generation(gen: dict, epochs: int) -> list[str]:
    runs = gen["runs"]
    done = [r for r in runs if r["state"] == "done"]
    head = f"generation {gen['generation']}: {len(done)}/{len(runs)} distinct runs trained"
    lines = [head + (", scored" if gen["scored"] else "")]
    for r in runs:
        if r["state"] == "running":
            top1 = f", val top-1 {100 * r['rows'][-1]['top1']:.2f}%" if r["rows"] else ""
            lines.append(f"  in progress  {r['run']}  epoch {r['epochs_done']}/{epochs}{top1}")
        elif r["state"] == "failed":
            lines.append(f"  failed       {r['run']}  {r['error']}")
        elif r["state"] == "done" and r["result"]["status"] != "ok":
            res = r["result"]
            at = f"epoch {res['epochs_completed']}/{epochs}, fitness {100 * res['fitness']:.2f}%"
            lines.append(f"  {res['status']:<12} {r['run']}  {at}")
    if done:
        best = max(done, key=lambda r: r["result"]["fitness"])
        lines.append(f"  best of the generation: {best['run']}  fitness {100 * best['result']['fitness']:.2f}%")
    return lines


def later_runs(config: dict, known: set) -> tuple[list[dict], int]:
    """The random search's and the final plan's runs not among `known`: their states where their
    tables exist, else how many there will be."""
    out, ga_cfg, found, expected = config["outdir"], config["ga"], [], 0
    methods = 3 if config["random_search"] else 2  # GA best, baseline (and random search) per final seed
    tables = {"random": Path(f"{out}/random_search/population.tsv"), "plan": Path(f"{out}/final/plan.tsv")}
    if config["random_search"] and not tables["random"].exists():
        spec = ga.spec_from_json(json.dumps(ga_cfg))
        expected += ga.ga_budget(spec) - spec["population"]  # generation 0 is shared with the GA
    if not tables["plan"].exists():
        expected += 1 + methods * config["final"]["seeds"]  # the baseline's search run, then the final seeds
    for name, path in tables.items():
        if path.exists() and (name == "plan" or config["random_search"]):
            for run in dict.fromkeys(read_tsv(path)["run"]):
                if run not in known:
                    known.add(run)
                    found.append(run_state(out, run))
    return found, expected


def runs_left(config: dict, gens: list[dict]) -> tuple[int, int]:
    """(whole runs still to train, epochs still to train by the runs in progress), over the GA, the
    random search (if on) and the final runs."""
    epochs, ga_cfg = config["train"]["epochs"], config["ga"]
    states = list({r["run"]: r for g in gens for r in g["runs"]}.values())
    found, expected = later_runs(config, {r["run"] for r in states})
    states += found
    whole = expected + sum(r["state"] in ("pending", "failed") for r in states)
    partial = sum(epochs - r["epochs_done"] for r in states if r["state"] == "running")
    elites = ga_cfg.get("elites") or ga_cfg["population"] // 2
    whole += (ga_cfg["generations"] - len(gens)) * (ga_cfg["population"] - elites)  # children of later generations
    return whole, partial


def eta_seconds(config: dict, gens: list[dict], whole: int, partial: int):
    """Seconds left for `whole` runs and `partial` epochs, from the measured epoch times and per-run
    overhead; None before any epoch."""
    done = [r for g in gens for r in g["runs"] if r["rows"]]
    epoch_s = [row["seconds"] for r in done for row in r["rows"]]
    if not epoch_s:
        return None
    per_epoch = statistics.median(epoch_s)
    overheads = [r["result"]["seconds"] - sum(x["seconds"] for x in r["rows"]) for r in done if r["state"] == "done"]
    overhead = statistics.median(overheads) if overheads else 0.0
    return whole * (config["train"]["epochs"] * per_epoch + overhead) + partial * per_epoch


def hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def report(config: dict) -> str:
    out = config["outdir"]
    gens = generations(config)
    if not gens:
        return f"{out}: no generation yet (the run has not started, or outdir differs)"
    lines = [f"{out}: {len(gens)}/{config['ga']['generations']} generations started"]
    for gen in gens:
        lines += describe_generation(gen, config["train"]["epochs"])
    finished = [r for g in gens for r in g["runs"] if r["state"] == "done"]
    if finished:
        best = max(finished, key=lambda r: r["result"]["fitness"])
        lines.append(f"best so far: {best['run']}  fitness (val top-1) {100 * best['result']['fitness']:.2f}%")
    started = Path(layout.generation_file(out, 0, "population")).stat().st_mtime
    whole, partial = runs_left(config, gens)
    eta = eta_seconds(config, gens, whole, partial)
    left = f"ETA {hms(eta)}" if eta is not None else "ETA unknown (no epoch finished yet)"
    done = Path(f"{out}/final/comparison.tsv").exists()
    tail = "finished" if done else f"{left} ({whole} runs and {partial} epochs left, one job at a time)"
    lines.append(f"elapsed {hms(time.time() - started)}; {tail}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configfile", nargs="*", default=[], help="config files over config/config.yaml")
    ap.add_argument("--watch", type=float, default=0, metavar="SECONDS", help="redraw every SECONDS")
    args = ap.parse_args(argv)
    try:
        config = load_config(["config/config.yaml", *args.configfile])  # as the Snakefile's configfile
        while True:
            text = report(config)
            print(("\033[H\033[J" if args.watch else "") + text, flush=True)
            if not args.watch:
                return 0
            time.sleep(args.watch)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
