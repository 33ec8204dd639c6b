"""One GPU per training job on a multi-GPU workstation.

With `snakemake --resources gpu=N`, up to N train jobs run at once. Where SLURM (or the user) sets
CUDA_VISIBLE_DEVICES, each job already sees only its own GPU and this module does nothing. Where it
is unset and several GPUs are visible, each job takes the first GPU whose lock file it can lock
exclusively (fcntl); the lock lives as long as the process, and the kernel releases it when the
process ends, however it ends (SIGKILL included), so a crashed job never leaves a GPU blocked.

    python scripts/gpu_slots.py --gpus 4 --hold 5      # take a slot by hand, print it, hold it 5 s
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys
import tempfile
import time
from pathlib import Path

_held = []  # open lock files: closing one would release its lock


def lock_dir() -> Path:
    default = Path(tempfile.gettempdir()) / f"resnet-ga-gpu-locks-{os.getuid()}"
    return Path(os.environ.get("RESNET_GA_GPU_LOCK_DIR", default))


def acquire(n_gpus: int, directory: Path | None = None, timeout: float = 3600.0, poll: float = 0.5) -> int:
    """Lock and return the lowest free GPU index in [0, n_gpus); wait while all are taken."""
    directory = Path(directory or lock_dir())
    directory.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        for i in range(n_gpus):
            f = open(directory / f"gpu{i}.lock", "a+")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            _held.append(f)
            return i
        if time.monotonic() > deadline:
            raise TimeoutError(f"all {n_gpus} GPU slots in {directory} stayed taken for {timeout:.0f}s")
        time.sleep(poll)


def choose_cuda_device(device_count: int) -> int | None:
    """The GPU this process should use, or None to keep torch's default (cuda:0)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None or device_count <= 1:
        return None
    return acquire(device_count)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpus", type=int, required=True)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--hold", type=float, default=0.0, help="seconds to hold the slot")
    args = ap.parse_args(argv)
    print(acquire(args.gpus, args.dir), flush=True)
    time.sleep(args.hold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
