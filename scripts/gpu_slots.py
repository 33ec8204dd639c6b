"""GPU slots for training jobs on a multi-GPU workstation: one job per GPU, or k (`jobs_per_gpu`).

With `snakemake --resources gpu=N`, up to N train jobs run at once; with k slots per GPU, run
`--resources gpu=k*G` on G GPUs. Where SLURM (or the user) sets
CUDA_VISIBLE_DEVICES, each job already sees only its own GPU and this module does nothing. Where it
is unset and several GPUs are visible, each job takes the first GPU whose lock file it can lock
exclusively (fcntl); with k slots, slot j of GPU i is `gpu{i}-{j}.lock`, filled GPU by GPU (slot 0
of every GPU before slot 1 of any), so jobs spread out. The lock lives as long as the process,
and the kernel releases it when the process ends, however it ends (SIGKILL included), so a
crashed job never leaves a GPU blocked.

    python scripts/gpu_slots.py --gpus 4 --hold 5            # take a slot by hand, print it, hold it 5 s
    python scripts/gpu_slots.py --gpus 2 --slots 3 --hold 5  # one of 3 slots on each of 2 GPUs
"""

from __future__ import annotations

import errno
import fcntl
import math
import os
import stat
import sys
import tempfile
import time
from pathlib import Path

from util import ArgumentParser, run_cli

_held = []  # open lock descriptors: closing one would release its lock


def lock_dir() -> Path:
    """A folder only this user can write: $RESNET_GA_GPU_LOCK_DIR, else $XDG_RUNTIME_DIR (per user,
    0700, made by the login manager), else resnet-ga-gpu-locks-<uid> in the system's temp folder
    ($TMPDIR, else /tmp), made 0700 here; inside a SLURM allocation with -slurm<job id> appended."""
    if os.environ.get("RESNET_GA_GPU_LOCK_DIR"):
        return Path(os.environ["RESNET_GA_GPU_LOCK_DIR"])
    # inside a SLURM allocation GPU indices count its own GPUs: one folder per allocation
    job = f"-slurm{os.environ['SLURM_JOB_ID']}" if os.environ.get("SLURM_JOB_ID", "").isdigit() else ""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / f"resnet-ga-gpu-locks{job}"
    return Path(tempfile.gettempdir()) / f"resnet-ga-gpu-locks-{os.getuid()}{job}"


def private_dir(directory: Path) -> Path:
    """Create `directory` 0700 if absent; refuse one that another user owns or can write, or a symlink
    (in a shared /tmp anybody can create the folder first). Every failure is a PermissionError whose
    message starts with the folder and gives the reason (ENOENT, ENOTDIR, EACCES, EROFS, ...), so a
    job that cannot take a GPU slot stops with one line (run_cli here, engine.resolve_device there)."""
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise PermissionError(
            f"{directory}: cannot create the GPU lock folder ({e.strerror}); set RESNET_GA_GPU_LOCK_DIR "
            f"to a folder of this user"
        ) from None
    try:
        st = os.lstat(directory)
    except OSError as e:
        raise PermissionError(f"{directory}: cannot read the GPU lock folder ({e.strerror})") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise PermissionError(
            f"{directory}: the GPU lock folder is not a private folder of this user (a symlink, another "
            f"owner, or writable by others); remove it or set RESNET_GA_GPU_LOCK_DIR"
        )
    return directory


def _lock_file(path: Path) -> int | None:
    """An open, exclusively locked descriptor of `path`, or None if another process holds it.
    O_NOFOLLOW: a planted symlink is refused, never followed (its target is not touched)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise PermissionError(f"{path}: cannot open the GPU lock file safely ({e.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EAGAIN, errno.EACCES):  # another job holds this slot
            return None
        raise PermissionError(f"{path}: cannot lock the GPU lock file ({e.strerror})") from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as e:  # ENOSPC, EIO: give the slot back (closing releases the lock), then stop
        os.close(fd)
        raise PermissionError(f"{path}: cannot write the GPU lock file ({e.strerror})") from None
    return fd


def slot_file(gpu: int, slot: int) -> str:
    return f"gpu{gpu}.lock" if slot == 0 else f"gpu{gpu}-{slot}.lock"


def acquire(
    n_gpus: int, directory: Path | None = None, timeout: float = 3600.0, poll: float = 0.5, slots: int = 1
) -> int:
    """Lock a free slot and return its GPU index in [0, n_gpus); wait while all are taken."""
    directory = private_dir(Path(directory or lock_dir()))
    deadline = time.monotonic() + timeout
    while True:
        for j in range(slots):
            for i in range(n_gpus):
                fd = _lock_file(directory / slot_file(i, j))
                if fd is not None:
                    _held.append(fd)
                    return i
        if time.monotonic() > deadline:
            raise TimeoutError(f"all {n_gpus * slots} GPU slots in {directory} stayed taken for {timeout:.0f}s")
        time.sleep(poll)


def choose_cuda_device(device_count: int, slots: int = 1) -> int | None:
    """The GPU this process should use, or None to keep torch's default (cuda:0). Where SLURM (or the
    user) makes one GPU visible, it is that one; where several are visible to several jobs (a SLURM
    group job given K GPUs runs K trainings at once), each job locks one of them."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if device_count <= 1 or (visible is not None and len([v for v in visible.split(",") if v.strip()]) <= 1):
        return None
    return acquire(device_count, slots=slots)


def hold_slot(args) -> None:
    print(acquire(args.gpus, args.dir, slots=args.slots), flush=True)
    time.sleep(args.hold)


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__)
    ap.add_argument("--gpus", type=int, required=True)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--slots", type=int, default=1, help="jobs per GPU")
    ap.add_argument("--hold", type=float, default=0.0, help="seconds to hold the slot")
    args = ap.parse_args(argv)
    if args.gpus < 1 or args.slots < 1:  # no slot at all: acquire would wait out its whole timeout
        ap.error(f"--gpus {args.gpus} --slots {args.slots}: each must be at least 1")
    if not (math.isfinite(args.hold) and args.hold >= 0):
        ap.error(f"--hold {args.hold}: must be a number of seconds, at least 0")
    return run_cli(hold_slot, args, (OSError, ValueError))  # PermissionError, TimeoutError: OSErrors


if __name__ == "__main__":
    sys.exit(main())
