"""Summarise a finished timing run of the workflow (benchmarks/ga_timing.sh): wall clock against the
train jobs' own process times, the fixed cost of one train job, and the projected wall clock of the
default GA (one job at a time on one GPU)."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from util import ArgumentParser

DEFAULT_TRAIN_JOBS = 10 + 5 * 4 + 1 + 2 * 3  # GA 10 x 5 (5 new per generation), baseline, final 2 x 3
DEFAULT_EPOCHS = 15


def epoch_seconds(run: Path) -> list[float]:
    lines = (run / "metrics.tsv").read_text().splitlines()
    col = lines[0].split("\t").index("seconds")
    return [float(line.split("\t")[col]) for line in lines[1:]]


def summarize(outdir: Path, wall: float) -> dict:
    runs = [p.parent for p in sorted((outdir / "runs").glob("*/result.json"))]
    results = [json.loads((r / "result.json").read_text()) for r in runs]
    epochs = [epoch_seconds(r) for r in runs]
    process = [res["process_seconds"] for res in results]
    fixed = [p - sum(e) for p, e in zip(process, epochs)]
    first = [e[0] for e in epochs if e]
    later = [s for e in epochs for s in e[1:]]
    other = wall - sum(process)
    per_job = statistics.mean(fixed) + other / len(runs)
    one_run = statistics.mean(first) + (DEFAULT_EPOCHS - 1) * (
        statistics.mean(later) if later else statistics.mean(first)
    )
    return {
        "train_jobs": len(runs),
        "wall_s": wall,
        "train_process_s": sum(process),
        "job_fixed_s": statistics.mean(fixed),
        "first_epoch_s": statistics.mean(first),
        "later_epoch_s": statistics.mean(later) if later else None,
        "other_s": other,
        "overhead_per_job_s": per_job,
        "projected_default_ga_s": DEFAULT_TRAIN_JOBS * (per_job + one_run),
        "device": results[0]["provenance"]["device"] if "provenance" in results[0] else results[0]["device"],
    }


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outdir", required=True, help="the timing run's outdir")
    ap.add_argument("--start", type=float, required=True, help="epoch seconds when Snakemake started")
    ap.add_argument("--end", type=float, required=True, help="epoch seconds when it ended")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    s = summarize(Path(args.outdir), args.end - args.start)
    print(
        f"{s['train_jobs']} train jobs on {s['device']}: wall clock {s['wall_s']:.0f} s, their processes "
        f"{s['train_process_s']:.0f} s; per train job: fixed cost (import, CUDA, data, model) "
        f"{s['job_fixed_s']:.1f} s, "
        f"first epoch {s['first_epoch_s']:.1f} s, later epochs {s['later_epoch_s'] or float('nan'):.1f} s; "
        f"everything else (data, LR finder, evaluation, GA steps, Snakemake) {s['other_s']:.0f} s "
        f"= {s['overhead_per_job_s']:.1f} s of overhead per train job in all"
    )
    print(
        f"projected default GA ({DEFAULT_TRAIN_JOBS} train jobs of {DEFAULT_EPOCHS} epochs, one at a time): "
        f"{s['projected_default_ga_s'] / 60:.1f} min"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(s, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
