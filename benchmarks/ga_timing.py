"""Summarise a finished timing run of the workflow (benchmarks/ga_timing.sh): where its wall clock
went, per job kind, and the projected wall clock of the default GA (one job at a time on one GPU).

The breakdown reads the timing hook's log (benchmarks/timing_hook: one line per Python process, with
its true start and end) and, for train jobs, result.json and metrics.tsv:
  per job kind   jobs, total and median seconds from process start to exit
  train jobs     process start -> imports done -> setup done -> epochs -> exit (teardown), and the
                 fixed cost outside the epochs against a bare `import torch` measured in the same run
  evaluate and   the work (the test set's forward passes; the range test's steps, from their logs)
  lr_find jobs   and the rest of the process (imports, data, model, writing)
  Snakemake      the time no job process was running (its own DAG work and gaps between jobs)
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import layout
from util import ArgumentParser, git_commit

DEFAULT_TRAIN_JOBS = 10 + 5 * 4 + 1 + 2 * 3  # GA 10 x 5 (5 new per generation), baseline, final 2 x 3
DEFAULT_EPOCHS = 15
KINDS = {"train.py": "train", "lr_find.py": "lr_find", "plots.py": "figure", "data.py": "data"}


def job_kind(argv: list[str]) -> str | None:
    """The kind of a process of the workflow run, from its command line; None for Snakemake itself."""
    name = Path(argv[0]).name if argv else ""
    if name in KINDS:
        return KINDS[name]
    if name == "evaluate.py":
        return "evaluate"
    if name.endswith(".py"):
        return "light"  # ga.py and the table steps
    return None


def read_hook_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, -float("inf")
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def train_parts(record: dict) -> dict | None:
    """A train job's phases from its own files: imports, setup, epochs, teardown (seconds)."""
    out = Path(record["argv"][record["argv"].index("--out") + 1])
    if not (out / "result.json").exists():
        return None
    res = json.loads((out / "result.json").read_text())
    lines = (out / "metrics.tsv").read_text().splitlines()
    col = lines[0].split("\t").index("seconds")
    epochs = sum(float(line.split("\t")[col]) for line in lines[1:])
    total = record["end"] - record["start"]
    timing = res.get("timing")
    if timing:  # recorded by train.py itself (since 0.5.0)
        return {"total": total, **timing, "epochs": epochs}
    log = Path(str(out).replace("/runs/", "/logs/train/") + ".log")
    ready = re.search(r"ready in ([\d.]+)s", log.read_text()) if log.exists() else None
    imports = res["process_seconds"] - res["seconds"]
    setup = float(ready.group(1)) if ready else float("nan")
    return {"total": total, "imports": imports, "setup": setup, "epochs": epochs}


WORK = {  # a job kind's log line with the seconds of its work, and its log's name from the command line
    "evaluate": (r"evaluated \d+ test images in ([\d.]+)s", lambda a: Path(a[a.index("--result") + 1]).parent.name),
    "lr_find": (r"range test: \d+ steps in ([\d.]+)s", lambda a: "lr_find"),
}


def work_parts(records: list[dict], outdir: Path) -> dict:
    """Per job kind of WORK, the median process, its work and the rest (seconds), from each job's log."""
    out = {}
    for kind, (pattern, name_of) in WORK.items():  # the rule is named as its kind
        parts = []
        for r in (r for r in records if job_kind(r["argv"]) == kind):
            log = Path(layout.log_file(str(outdir), kind, name_of(r["argv"])))
            found = re.search(pattern, log.read_text()) if log.exists() else None
            if found:  # a job that reused its work (a kept range test) has none: left out
                total = r["end"] - r["start"]
                parts.append({"total": total, "work": float(found.group(1)), "outside": total - float(found.group(1))})
        if parts:
            out[kind] = {k: statistics.median(p[k] for p in parts) for k in parts[0]} | {"jobs": len(parts)}
    return out


def breakdown(records: list[dict]) -> dict:
    """Per job kind: jobs and seconds; train jobs split into phases; Snakemake's own share."""
    jobs = [r for r in records if job_kind(r["argv"])]
    snakemake = max((r for r in records if job_kind(r["argv"]) is None), key=lambda r: r["end"] - r["start"])
    wall = snakemake["end"] - snakemake["start"]
    kinds = {}
    for r in jobs:
        kinds.setdefault(job_kind(r["argv"]), []).append(r["end"] - r["start"])
    per_kind = {
        k: {"jobs": len(v), "total_s": sum(v), "median_s": statistics.median(v), "max_s": max(v)}
        for k, v in kinds.items()
    }
    parts = [p for p in (train_parts(r) for r in jobs if job_kind(r["argv"]) == "train") if p]
    train = {k: statistics.median(p[k] for p in parts) for k in parts[0]} if parts else {}
    if parts:
        train["outside_epochs"] = statistics.median(p["total"] - p["epochs"] for p in parts)
    busy = union_seconds([(r["start"], r["end"]) for r in jobs])
    return {"wall_s": wall, "per_kind": per_kind, "train_median_s": train, "snakemake_only_s": wall - busy}


def print_breakdown(b: dict, import_torch_s: float | None) -> None:
    print(
        f"wall clock {b['wall_s']:.1f} s; no job running (Snakemake's own work and gaps): {b['snakemake_only_s']:.1f} s"
    )
    print(f"{'job kind':<10} {'jobs':>5} {'total s':>9} {'median s':>9} {'max s':>7}")
    for kind, v in sorted(b["per_kind"].items(), key=lambda kv: -kv[1]["total_s"]):
        print(f"{kind:<10} {v['jobs']:>5} {v['total_s']:>9.1f} {v['median_s']:>9.2f} {v['max_s']:>7.2f}")
    t = b["train_median_s"]
    if t:
        phases = ", ".join(f"{k} {t[k]:.2f}" for k in ("imports", "setup", "epochs", "teardown") if k in t)
        print(
            f"train job (median s): process {t['total']:.2f} = {phases}; outside the epochs {t['outside_epochs']:.2f}"
        )
    for kind, w in b.get("work_median_s", {}).items():
        print(f"{kind} job (median s): process {w['total']:.2f} = work {w['work']:.2f}, the rest {w['outside']:.2f}")
    if t and import_torch_s:
        print(
            f"bare `import torch` (same run): {import_torch_s:.2f} s; train fixed cost - import torch = "
            f"{t['outside_epochs'] - import_torch_s:.2f} s (goal <= 1 s)"
        )


def epoch_seconds(run: Path) -> list[float]:
    lines = (run / "metrics.tsv").read_text().splitlines()
    col = lines[0].split("\t").index("seconds")
    return [float(line.split("\t")[col]) for line in lines[1:]]


def projection(outdir: Path, wall: float) -> dict:
    """The default GA's wall clock projected from this run's train jobs (one job at a time)."""
    runs = [p.parent for p in sorted(outdir.glob("**/runs/*/result.json"))]
    results = [json.loads((r / "result.json").read_text()) for r in runs]
    epochs = [epoch_seconds(r) for r in runs]
    process = [res["process_seconds"] for res in results]
    fixed = [p - sum(e) for p, e in zip(process, epochs)]
    first = [e[0] for e in epochs if e]
    later = [s for e in epochs for s in e[1:]]
    per_job = statistics.mean(fixed) + (wall - sum(process)) / len(runs)
    one_run = statistics.mean(first) + (DEFAULT_EPOCHS - 1) * statistics.mean(later or first)
    return {
        "train_jobs": len(runs),
        "job_fixed_s": statistics.mean(fixed),
        "first_epoch_s": statistics.mean(first),
        "later_epoch_s": statistics.mean(later) if later else None,
        "overhead_per_job_s": per_job,
        "projected_default_ga_s": DEFAULT_TRAIN_JOBS * (per_job + one_run),
        "device": results[0]["provenance"]["device"],
    }


def goals_missed(
    b: dict, import_torch_s: float | None, max_wall: float | None, max_fixed_over_torch: float, max_light: float = 1.0
) -> list[str]:
    """The goals --check enforces: the whole run (where a goal is given: the CPU smoke run's), a train
    job's fixed cost against a bare `import torch` of the same run, and the median light and figure
    job (issue 24: ~1 s each)."""
    missed = []
    if max_wall is not None and b["wall_s"] > max_wall:
        missed.append(f"wall clock {b['wall_s']:.1f} s > {max_wall:g} s")
    t = b["train_median_s"]
    if not t or not import_torch_s:
        missed.append("no train job's phases or no bare `import torch` measured: the fixed cost is unknown")
    elif t["outside_epochs"] - import_torch_s > max_fixed_over_torch:
        over = t["outside_epochs"] - import_torch_s
        missed.append(f"train fixed cost - import torch = {over:.2f} s > {max_fixed_over_torch:g} s")
    for kind in ("light", "figure"):
        median = b["per_kind"].get(kind, {}).get("median_s", 0.0)
        if median > max_light:
            missed.append(f"median {kind} job {median:.2f} s > {max_light:g} s")
    return missed


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__)
    ap.add_argument("--outdir", required=True, help="the timing run's outdir")
    ap.add_argument("--hook-log", required=True, help="the timing hook's log (RESNET_GA_TIMING_LOG)")
    ap.add_argument("--import-torch", type=float, help="seconds of a bare `import torch`, measured in this run")
    ap.add_argument("--json")
    ap.add_argument("--check", action="store_true", help="exit 1 when a goal is missed (CI)")
    ap.add_argument("--max-wall", type=float, help="--check: the whole run's goal (s; ga_timing.sh --dry: 180)")
    ap.add_argument("--max-fixed-over-torch", type=float, default=1.0, help="--check: fixed cost - import torch (s)")
    ap.add_argument("--max-light", type=float, default=1.0, help="--check: the median light and figure job (s)")
    args = ap.parse_args(argv)
    records = read_hook_log(Path(args.hook_log))
    b = {**breakdown(records), "work_median_s": work_parts(records, Path(args.outdir))}
    print_breakdown(b, args.import_torch)
    p = projection(Path(args.outdir), b["wall_s"])
    print(
        f"projected default GA ({DEFAULT_TRAIN_JOBS} train jobs of {DEFAULT_EPOCHS} epochs, one at a time, "
        f"{p['device']}): {p['projected_default_ga_s'] / 60:.1f} min"
    )
    if args.json:
        stamp = {"commit": git_commit(), "date": time.strftime("%Y-%m-%d")}
        record = {**b, **p, "import_torch_s": args.import_torch, **stamp}
        Path(args.json).write_text(json.dumps(record, indent=1) + "\n")
    goals = (args.max_wall, args.max_fixed_over_torch, args.max_light)
    missed = goals_missed(b, args.import_torch, *goals) if args.check else []
    for line in missed:
        print(f"error: goal missed: {line}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
