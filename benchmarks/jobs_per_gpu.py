"""Aggregate training throughput of k train steps loops sharing one GPU (k separate processes).

    python benchmarks/jobs_per_gpu.py --arch resnet20 --jobs 1 2 3 --device cuda --json out.json

Each process builds the model and data as scripts/train.py does, waits at a barrier (a file), then
runs timed steps; the aggregate is the sum of the per-process rates over the window in which all
of them ran. It answers: how many trainings per GPU (`jobs_per_gpu`) for a given model?
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from util import ArgumentParser


def worker(args) -> None:
    """One process: wait for the barrier, then time `steps` steps; print images/s as JSON."""
    import torch
    from bench import ours_pipeline, synthetic_arrays

    device = torch.device(args.device)
    data, meta = synthetic_arrays(args.images)
    run_chunk, _ = ours_pipeline(args, device, data, meta)
    run_chunk(args.warmup)
    Path(args.ready).touch()
    while not Path(args.go).exists():
        time.sleep(0.01)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    run_chunk(args.steps)
    if device.type == "cuda":
        torch.cuda.synchronize()
    print(json.dumps({"img_s": args.steps * args.batch_size / (time.perf_counter() - t0)}), flush=True)


def measure(args, k: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        go = Path(tmp) / "go"
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--go",
            str(go),
            "--arch",
            args.arch,
            "--device",
            args.device,
            "--batch-size",
            str(args.batch_size),
            "--steps",
            str(args.steps),
            "--images",
            str(args.images),
        ]
        procs = [
            subprocess.Popen([*cmd, "--ready", f"{tmp}/ready{i}"], stdout=subprocess.PIPE, text=True) for i in range(k)
        ]
        while not all(Path(f"{tmp}/ready{i}").exists() for i in range(k)):
            if any(p.poll() not in (None, 0) for p in procs):
                raise SystemExit("a worker failed")
            time.sleep(0.05)
        go.touch()
        rates = [json.loads(p.communicate()[0].strip().splitlines()[-1])["img_s"] for p in procs]
    return {"jobs": k, "per_job_img_s": rates, "aggregate_img_s": sum(rates)}


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__)
    ap.add_argument("--arch", default="resnet20")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--json")
    ap.add_argument("--worker", action="store_true", help=argparse_hidden())
    ap.add_argument("--go", help=argparse_hidden())
    ap.add_argument("--ready", help=argparse_hidden())
    args = ap.parse_args(argv)
    args.compile, args.deterministic, args.optimizer = False, False, "sgd"
    if args.worker:
        worker(args)
        return 0
    rows = [measure(args, k) for k in args.jobs]
    base = rows[0]["aggregate_img_s"]
    for r in rows:
        r["vs_one_job"] = r["aggregate_img_s"] / base
        print(
            f"{args.arch} b{args.batch_size}: {r['jobs']} job(s) per GPU -> {r['aggregate_img_s']:,.0f} img/s "
            f"aggregate ({r['vs_one_job']:.2f}x one job)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"arch": args.arch, "rows": rows, "pid": os.getpid()}, indent=1) + "\n")
    return 0


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
