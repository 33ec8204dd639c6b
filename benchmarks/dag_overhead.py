"""How long Snakemake takes to evaluate the GA's DAG, small and large.

    python benchmarks/dag_overhead.py                       # default config and 50 generations x 100
    python benchmarks/dag_overhead.py --sizes 5x10 20x50 50x100

For each size (generations x population) it copies the workflow into a temporary folder and times:
- `snakemake -n` with nothing done yet (only generation 0's checkpoint is pending: what a user sees
  before the first run);
- `snakemake -n <outdir>/ga/best.tsv` over a finished search (every population, fitness table and
  run result present, made with the real GA operators and random fitness): Snakemake then evaluates
  every generation's checkpoint and every distinct run; this is what each resume, and each
  checkpoint re-evaluation late in a long run, pays.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import ga
from util import write_tsv

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def fake_search(work: Path, generations: int, population: int) -> int:
    """Write a finished search as the workflow would have left it; returns the number of runs."""
    out = work / "results"
    prep = out / "data" / "prepared" / "cifar10"
    prep.mkdir(parents=True)
    for f in ("train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy", "meta.json"):
        (prep / f).write_text("")
    spec = ga.spec_from_json(json.dumps({"population": population, "seed": 0}))
    fitness_rng = np.random.default_rng(1)
    pop = [
        {**p, "origin": "init", "parents": ""}
        for p in ga.init_population(spec["genes"], population, ga.generation_rng(0, 0))
    ]
    runs = set()
    for g in range(generations):
        gdir = out / "ga" / f"gen{g}"
        gdir.mkdir(parents=True)
        frame = ga.population_frame(pop, 0)
        write_tsv(frame, gdir / "population.tsv")
        for rid in frame["run"]:
            rdir = out / "runs" / rid
            if rid not in runs:
                rdir.mkdir(parents=True)
                for f in ("model.pt", "metrics.tsv", "schedule.tsv"):
                    (rdir / f).write_text("")
                res = {
                    "fitness": float(fitness_rng.random()),
                    "top1": 0.0,
                    "top3": 0.0,
                    "top5": 0.0,
                    "val_loss": 1.0,
                    "train_loss": 1.0,
                    "status": "ok",
                    "run": rid,
                }
                (rdir / "result.json").write_text(json.dumps(res))
                runs.add(rid)
        fit = ga.collect(gdir / "population.tsv", sorted((out / "runs").glob("*/result.json")))
        write_tsv(fit, gdir / "fitness.tsv")
        if g + 1 < generations:
            pop = ga.next_generation(
                fit.to_dict("records"),
                spec["genes"],
                population,
                spec["elites"],
                spec["point"],
                spec["threshold"],
                ga.generation_rng(0, g + 1),
                g + 1,
            )
    return len(runs)


def timed(cmd, cwd) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["5x10", "50x100"], help="GENERATIONSxPOPULATION")
    args = ap.parse_args(argv)
    print(
        f"{'generations x population':>24} {'runs':>6} {'dry-run, fresh (s)':>19} {'dry-run, finished search (s)':>29}"
    )
    for size in args.sizes:
        generations, population = map(int, size.split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            for d in ("workflow", "scripts", "config", "envs"):
                shutil.copytree(ROOT / d, work / d)
            (work / "size.yaml").write_text(
                f"ga:\n  generations: {generations}\n  population: {population}\n  elites: {population // 2}\n"
            )
            base = [SNAKEMAKE, "-n", "--cores", "1", "--configfile", "size.yaml"]
            fresh = timed(base, work)
            n_runs = fake_search(work, generations, population)
            done = timed([SNAKEMAKE, "results/ga/best.tsv", "-n", "--cores", "1", "--configfile", "size.yaml"], work)
        print(f"{size:>24} {n_runs:>6} {fresh:>19.1f} {done:>29.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
