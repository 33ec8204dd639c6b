"""What TensorBoard events cost a training run (train.tensorboard): the whole process wall time of the
same short CPU run with and without --tensorboard, interleaved; a run's fixed cost of them (imports,
the file, the hparams) in a fresh process; and one epoch's events on their own. Prints the ratios.

    python benchmarks/tensorboard_cost.py [--repeats 7] [--epochs 2]

The whole process is timed because metrics.tsv's `seconds` ends before the epoch's events are written.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from tensorboard_log import RunLog
from util import ArgumentParser

ROW = {"epoch": 1, "train_loss": 2.0, "val_loss": 1.9, "top1": 0.3, "top3": 0.6, "top5": 0.8, "train_top1": 0.25,
       "lr": 0.01, "momentum": 0.9}  # fmt: skip

# A fresh process that has torch (train.py imports it anyway) times what one run adds with events.
FIXED = """
import sys, time
import torch
sys.path.insert(0, sys.argv[1])
t = time.perf_counter()
from tensorboard_log import RunLog
log = RunLog(sys.argv[2], [])
log.finish({"lr": 0.01, "wd": 5e-4, "mom": 0.9, "seed": 0}, 0.3, "ok")
log.close()
print(time.perf_counter() - t)
"""


def one_epoch_of_events(folder: Path, n: int = 200) -> float:
    """Seconds to write one epoch's scalars (the mean of n, each written through as train.py does)."""
    log = RunLog(folder, [])
    t = time.perf_counter()
    for i in range(n):
        log.epoch({**ROW, "epoch": i + 1})
    seconds = (time.perf_counter() - t) / n
    log.close()
    return seconds


def fixed_cost(folder: Path) -> float:
    cmd = [sys.executable, "-c", FIXED, str(ROOT / "scripts"), str(folder)]
    return float(subprocess.run(cmd, check=True, capture_output=True).stdout)


def train(prep: Path, out: Path, epochs: int, tensorboard: Path | None) -> tuple[float, list[float]]:
    """The whole process's wall time (what a job slot pays, events included) and its epochs' `seconds`."""
    cmd = [sys.executable, str(ROOT / "scripts" / "train.py"), "--data", str(prep), "--out", str(out)]
    cmd += ["--arch", "resnet8", "--epochs", str(epochs), "--batch-size", "100", "--val-size", "500"]
    cmd += ["--device", "cpu", "--threads", "2"]
    if tensorboard:
        cmd += ["--tensorboard", str(tensorboard)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t
    if tensorboard and not any(tensorboard.glob("events.out.tfevents.*")):  # else "with" measured nothing
        raise RuntimeError(f"{tensorboard}: no events written")
    lines = (out / "metrics.tsv").read_text().splitlines()
    col = lines[0].split("\t").index("seconds")
    return wall, [float(line.split("\t")[col]) for line in lines[1:]]


def measure(args, tmp: Path) -> dict:
    from data import prepare, write_synthetic

    prep = prepare(write_synthetic(tmp / "raw", 2500, 500).parent, tmp / "prep", "synthetic")
    m = {"off": [], "on": [], "epoch": []}
    for i in range(args.repeats):  # interleaved: a slower spell of the machine hits both arms alike
        for arm in ("off", "on"):
            wall, epochs = train(prep, tmp / f"{arm}{i}", args.epochs, tmp / f"tb{i}" if arm == "on" else None)
            m[arm].append(wall)
            m["epoch"] += epochs if arm == "off" else []
    m["fixed_s"] = statistics.median(fixed_cost(tmp / f"fixed{i}") for i in range(args.repeats))
    m["events_s"] = one_epoch_of_events(tmp / "events")
    return m


def seconds(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def report(m: dict, epochs: int) -> dict:
    off, on, epoch = statistics.median(m["off"]), statistics.median(m["on"]), statistics.median(m["epoch"])
    paired = statistics.median(b - a for a, b in zip(m["off"], m["on"]))  # each repeat's pair: less noise
    fixed, events, n = m["fixed_s"], m["events_s"], len(m["off"])
    print(f"process wall time, median of {n}: without events {off:.3f} s, with {on:.3f} s, ratio {on / off:.3f}")
    print(f"  per repeat (s): without {seconds(m['off'])}; with {seconds(m['on'])}")
    print(f"  fastest (the least disturbed by other work): without {min(m['off']):.3f} s, with {min(m['on']):.3f} s, "
          f"ratio {min(m['on']) / min(m['off']):.3f}")  # fmt: skip
    print(f"  median paired difference {paired:+.3f} s = {100 * paired / off:+.2f} % of a run of {epochs} epochs")
    print(f"a run's fixed cost of events (imports, file, hparams; median of {n} fresh processes with torch loaded): "
          f"{1e3 * fixed:.1f} ms = {100 * fixed / off:.2f} % of a run")  # fmt: skip
    print(f"one epoch's events alone: {1e3 * events:.3f} ms = {100 * events / epoch:.4f} % of an epoch ({epoch:.3f} s)")
    result = {"process_off_s": off, "process_on_s": on, "paired_diff_s": paired, "fixed_s": fixed}
    result.update(fastest_off_s=min(m["off"]), fastest_on_s=min(m["on"]), events_s=events, epoch_s=epoch)
    return result


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    load = os.getloadavg()[0]  # the machine's other work: the runs' spread tells how much it mattered
    with tempfile.TemporaryDirectory() as tmp:
        result = report(measure(args, Path(tmp)), args.epochs)
    print(f"1-minute load average: {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
