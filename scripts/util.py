"""Small helpers every step uses; imports no torch, so the GA and table steps start fast.

- atomic writes: a file is either its old or its new content, never half-written;
- TSV and JSON reading and writing, with errors that name the file;
- the command-line parser and error tail: a bad argument or bad data is one line on stderr.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path


class DataError(Exception):
    """Bad or missing input: the message names the file."""


class RunError(Exception):
    """A run that cannot go on now (e.g. its checkpoint is unreadable); the message names the file."""


class Terminated(BaseException):
    """SIGTERM (a SLURM time limit, preemption, or Snakemake stopping): leave cleanly."""


_UMASK = os.umask(0)
os.umask(_UMASK)


def _mkstemp(folder: Path, path: Path) -> tuple[int, str]:
    """A new file in `folder` named as the temporary file of `path` (.<name>.<random>.tmp)."""
    return tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")


def temp_beside(path: Path) -> tuple[int, str]:
    """A new temporary file of this process's own, in path's folder (so a rename onto path is atomic),
    with the permissions a plain new file gets (mkstemp makes 0600 files): its descriptor and name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _mkstemp(path.parent, path)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, tmp


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write via a temp file in the same folder, fsync, then rename: never a half-written file."""
    path = Path(path)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # SIGTERM and Ctrl-C included: no temp file is left behind
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_tsv(df, path: str | Path) -> None:
    """A pandas frame as a TSV, atomically; floats with 10 significant digits, NaN as `nan`."""
    buf = io.StringIO()
    df.to_csv(buf, sep="\t", index=False, float_format="%.10g", na_rep="nan")
    atomic_write_bytes(path, buf.getvalue().encode())


def read_tsv(path: str | Path):
    """A TSV as a pandas frame; run ids, parents and origins stay text. ValueError names the file."""
    import pandas as pd  # on use: the Snakefile imports this module while parsing

    try:
        return pd.read_csv(
            path,
            sep="\t",
            dtype={"run": str, "parents": str, "origin": str},
            keep_default_na=False,
            na_values=["nan"],
        )
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ValueError(f"{path}: unreadable TSV ({e})") from None


def read_json(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: missing or unreadable ({e})") from None


def write_json(path: str | Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1) + "\n")


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "none"


HERE = Path(__file__).resolve().parent


def git_commit(where: Path = HERE) -> str:
    """The workflow's commit (with -dirty for local changes), or "unknown" outside a git checkout."""
    try:
        cmd = ["git", "-C", str(where), "describe", "--always", "--dirty", "--abbrev=40", "--exclude=*"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else "unknown"


def exit_now(code: int) -> None:
    """End a torch process once its files are written and closed: flush the streams, run the exit
    handlers, then leave without the interpreter's teardown of torch's modules and threads, which
    took 0.65 s of every training job here (torch 2.14, 2 cores) and writes nothing."""
    import atexit

    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


def process_start_time() -> float:
    """When this process started (wall clock; Linux /proc, 10 ms resolution), so that a job's timing
    counts the interpreter's start and the imports; now, where /proc is not there."""
    import time

    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
        return time.time() - age
    except (OSError, ValueError, IndexError, AttributeError):
        return time.time()


def settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (`prog: error: ...`, exit 2), not the usage text."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


EXPECTED_ERRORS = (DataError, RunError, OSError, ValueError)


def error_line(e: BaseException) -> str:
    """One line for an expected error. An OSError (ENOSPC, EROFS, EACCES, ENOTDIR, ENAMETOOLONG,
    ESTALE, ...) names its path and the system's reason."""
    if isinstance(e, OSError) and e.filename is not None:
        where = f"{e.filename} -> {e.filename2}" if e.filename2 is not None else str(e.filename)
        return f"{where}: {e.strerror or type(e).__name__}"
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _terminate(signum, frame):
    raise Terminated()


def run_cli(fn, args, errors: tuple = EXPECTED_ERRORS) -> int:
    """fn(args) for a command line: an expected error is one line on stderr and exit status 1 (atomic
    writes leave no partial file); SIGTERM ends it with a line and status 143, as a plain SIGTERM would."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        fn(args)
    except errors as e:
        print(f"error: {error_line(e)}", file=sys.stderr, flush=True)
        return 1
    except Terminated:
        print("stopped by SIGTERM (time limit, preemption or Snakemake stopping)", file=sys.stderr, flush=True)
        return 128 + signal.SIGTERM
    return 0


def check_writable(path: Path) -> None:
    """Fail now, before any work, where `path` cannot be written: it must not be a
    folder, and the nearest folder on its way that exists must take a new file of the name the atomic
    writer uses (the writer makes the missing folders below it). A probe file is made and removed
    at once; the OSError names `path` and gives the reason (ENOTDIR, EACCES, EROFS, ENAMETOOLONG, ...)."""
    try:
        if path.is_dir():
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
        folder = path.parent
        while not folder.is_dir():
            if folder.exists() or folder.is_symlink() or folder == folder.parent:  # a file where a folder must be
                raise OSError(errno.ENOTDIR, f"{os.strerror(errno.ENOTDIR)} ({folder} is not a folder)")
            folder = folder.parent
        fd, probe = _mkstemp(folder, path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OSError(e.errno, e.strerror or os.strerror(e.errno or 0), str(path)) from None
