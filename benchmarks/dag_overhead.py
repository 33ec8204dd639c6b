"""How long Snakemake takes to evaluate the search's DAG, small and large.

    python benchmarks/dag_overhead.py                       # 5 rounds x 10 and 50 rounds x 100
    python benchmarks/dag_overhead.py --sizes 5x10 20x50 50x100

For each size (rounds x population, the GA alone) it copies the workflow into a temporary folder and
times:
- `snakemake -n` with nothing done yet (only round 0's checkpoint is pending: what a user sees
  before the first run);
- `snakemake -n <outdir>/search/summary.tsv` over a finished search (every round's tables and every
  run's files present, made with the real search loop and random fitness): Snakemake then evaluates
  every round's checkpoint and every distinct run; this is what each resume, and each checkpoint
  re-evaluation late in a long run, pays.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import formats
import search
import settings
from config_check import check_config, merge

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
META = {"dataset": "cifar10", "data_id": "cifar10", "classes": [str(i) for i in range(10)], "num_classes": 10,
        "image_size": 32, "train_size": 50000, "test_size": 10000, "mean": [0.5] * 3, "std": [0.25] * 3}  # fmt: skip


def scored(rows: list[dict], number: int, rng) -> list[dict]:
    """A round's rows with random results, as collect_fitness would have joined them."""
    out = []
    for i, r in enumerate(rows):
        top1 = float(rng.random())
        result = {"fitness": top1, "top1": top1, "top3": top1, "top5": top1, "val_loss": 1.0, "train_loss": 1.0}
        out.append(
            {**r, **result, "status": "ok", "epochs": 15, "epochs_completed": 15, "individual": i, "round": number}
        )
    return out


def write_round(folder: Path, rows: list[dict], spec: dict, runs: Path) -> None:
    folder.mkdir(parents=True)
    pop = search.population_frame(rows, spec)
    formats.write_table("population", pop, folder / "population.tsv")
    fit = pop.assign(**{c: [r[c] for r in rows] for c in search.RESULT_COLUMNS})
    formats.write_table("fitness", fit, folder / "fitness.tsv")
    for run in pop["run"]:
        if not (runs / run).exists():
            (runs / run).mkdir(parents=True)
            for f in ("model.pt", "metrics.tsv", "schedule.tsv", "result.json"):
                (runs / run / f).write_text("")  # present is all a dry run asks of them


def fake_search(work: Path, cfg: dict) -> int:
    """Write a finished GA search as the workflow would have left it; returns the number of runs."""
    out = work / "results"
    prep = out / "data" / "prepared" / "cifar10"
    prep.mkdir(parents=True)
    for f in ("train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"):
        (prep / f).write_text("")
    formats.write_record("meta", META, prep / "meta.json")
    spec = search.spec_from_config(cfg)
    values = settings.identity_changed(settings.from_config(cfg))
    rng, history = np.random.default_rng(1), []
    rows = search.name_runs(search.initial_population(spec, 0), spec, values, META, 0)
    for k in range(spec["rounds"]):
        rows = scored(rows, k, rng)
        write_round(out / "search" / "rep0" / ("round0" if k == 0 else f"ga/round{k}"), rows, spec, out / "runs")
        history += rows
        if k + 1 < spec["rounds"]:
            rows = search.name_runs(search.propose_round(spec, "ga", history, k + 1, 0), spec, values, META, 0)
    return len({r["run"] for r in history})


def timed(cmd, cwd) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["5x10", "50x100"], help="ROUNDSxPOPULATION")
    args = ap.parse_args(argv)
    print(f"{'rounds x population':>24} {'runs':>6} {'dry-run, fresh (s)':>19} {'dry-run, finished search (s)':>29}")
    for size in args.sizes:
        rounds, population = map(int, size.split("x"))
        override = {"ga": {"generations": rounds, "population": population, "elites": population // 2}}
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            for d in ("workflow", "scripts", "config", "envs"):
                shutil.copytree(ROOT / d, work / d)
            (work / "size.yaml").write_text(yaml.safe_dump(override))
            base = [SNAKEMAKE, "-n", "--cores", "1", "--configfile", "config/config.yaml", "size.yaml"]
            fresh = timed(base, work)
            cfg = check_config(merge(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()), override))
            n_runs = fake_search(work, cfg)
            done = timed([SNAKEMAKE, "results/search/summary.tsv", *base[1:]], work)  # the target before --configfile
        print(f"{size:>24} {n_runs:>6} {fresh:>19.1f} {done:>29.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
