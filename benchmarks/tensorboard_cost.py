"""What TensorBoard events cost a training run (train.tensorboard): the same short CPU run with and
without them, interleaved, and the time of one epoch's events on their own; prints the ratio.

    python benchmarks/tensorboard_cost.py [--repeats 3] [--epochs 2]
"""

from __future__ import annotations

import json
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


def one_epoch_of_events(folder: Path, n: int = 200) -> float:
    """Seconds to write one epoch's scalars (the mean of n, flushed each time as train.py does)."""
    log = RunLog(folder, [])
    t = time.perf_counter()
    for i in range(n):
        log.epoch({**ROW, "epoch": i + 1})
    seconds = (time.perf_counter() - t) / n
    log.close()
    return seconds


def train(prep: Path, out: Path, epochs: int, tensorboard: Path | None) -> list[float]:
    cmd = [sys.executable, str(ROOT / "scripts" / "train.py"), "--data", str(prep), "--out", str(out)]
    cmd += ["--arch", "resnet8", "--epochs", str(epochs), "--batch-size", "100", "--val-size", "500"]
    cmd += ["--device", "cpu", "--threads", "2"]
    if tensorboard:
        cmd += ["--tensorboard", str(tensorboard)]
    subprocess.run(cmd, check=True, capture_output=True)
    lines = (out / "metrics.tsv").read_text().splitlines()
    col = lines[0].split("\t").index("seconds")
    return [float(line.split("\t")[col]) for line in lines[1:]]


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    from data import prepare, write_synthetic

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        prep = prepare(write_synthetic(tmp / "raw", 2500, 500).parent, tmp / "prep", "synthetic")
        epochs = {"off": [], "on": []}
        for i in range(args.repeats):
            for arm in ("off", "on"):
                tb = tmp / f"tb{i}" if arm == "on" else None
                epochs[arm] += train(prep, tmp / f"{arm}{i}", args.epochs, tb)
        events = one_epoch_of_events(tmp / "events")
    off, on = statistics.median(epochs["off"]), statistics.median(epochs["on"])
    print(f"epoch (median of {len(epochs['off'])}): without events {off:.3f} s, with {on:.3f} s, ratio {on / off:.3f}")
    print(f"one epoch's events alone: {1e3 * events:.3f} ms = {100 * events / off:.3f} % of an epoch")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"epoch_off_s": off, "epoch_on_s": on, "events_s": events}, indent=1) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
