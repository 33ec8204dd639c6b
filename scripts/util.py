"""Small helpers every step uses; imports no torch, so the GA and table steps start fast.

- atomic writes: a file is either its old or its new content, never half-written;
- TSV and JSON reading and writing, with errors that name the file;
- the command-line parser and error tail: a bad argument or bad data is one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import NoReturn


class DataError(Exception):
    """Bad or missing input: the message names the file."""


class RunError(Exception):
    """A run that cannot go on now (e.g. its checkpoint is unreadable); the message names the file."""


class Terminated(BaseException):
    """SIGTERM (a SLURM time limit, preemption, or Snakemake stopping): leave cleanly."""


UMASK = os.umask(0)  # read once (os.umask only sets it): new files get the mode open() would give them
os.umask(UMASK)


def _mkstemp(folder: Path, path: Path) -> tuple[int, str]:
    """A new file in `folder` named as the temporary file of `path` (.<name>.<random>.tmp)."""
    return tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")


# .<name>.<random>.tmp as _mkstemp names them (mkstemp's 8 characters), or .<name>.<pid>.tmp (common.smk)
_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.(?:[a-z0-9_]{8}|\d+)\.tmp")


def _text(filename) -> str:
    """An OSError's filename as text (it may be bytes, or a descriptor's number)."""
    return os.fsdecode(filename) if isinstance(filename, (str, bytes, os.PathLike)) else str(filename)


def temp_target(filename) -> str | None:
    """The file a temporary file (`_mkstemp`'s name) stands in for, or None for any other name."""
    folder, name = os.path.split(_text(filename))
    m = _TEMP_NAME.fullmatch(name)
    return os.path.join(folder, m["name"]) if m else None


def naming(path, e: OSError) -> OSError:
    """`e` as the same OSError naming `path`, the file being written: a write or fsync that fails
    (ENOSPC, EFBIG, EIO) names no file, and one on the temporary file names a random name the user
    never asked for. A file where a folder must be (mkdir's ENOTDIR, EEXIST) is named in the reason."""
    reason = e.strerror or (os.strerror(e.errno) if e.errno else str(e) or type(e).__name__)
    blocker = _file_on_the_way(Path(path)) if e.errno in (errno.ENOTDIR, errno.EEXIST) else None
    if blocker is not None:
        reason = f"{reason} ({blocker} is not a folder)"
    return OSError(e.errno, reason, str(path))


def nearest_existing(path: Path) -> Path:
    """`path` or the nearest folder above it that exists (as anything: a file, a dangling link)."""
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _file_on_the_way(path: Path) -> Path | None:
    """The nearest existing thing above `path` where it is not a folder (a file, a dangling link)."""
    found = nearest_existing(path.parent)
    return None if found.is_dir() else found


def temp_beside(path: Path) -> tuple[int, str]:
    """A new temporary file of this process's own, in path's folder (so a rename onto path is atomic),
    with the permissions a plain new file gets (mkstemp makes 0600 files): its descriptor and name.
    An OSError names `path`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _mkstemp(path.parent, path)
    except OSError as e:
        raise naming(path, e) from None
    try:
        os.fchmod(fd, 0o666 & ~UMASK)
    except BaseException as e:
        os.close(fd)
        _discard(tmp, path, e)
    return fd, tmp


def _discard(tmp: str, path: Path, e: BaseException) -> NoReturn:
    """Remove the temporary file after `e` (SIGTERM and Ctrl-C included: none is left behind), then
    raise `e`, an OSError naming `path`. A failing removal must not hide the error that got us here."""
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    if isinstance(e, OSError):
        raise naming(path, e) from None
    raise e


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write via a temp file in the same folder, fsync, then rename: never a half-written file. An
    OSError (a full disk, a read-only or vanished folder) names `path`, and leaves no temp file."""
    path = Path(path)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        _discard(tmp, path, e)


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
    """The workflow's commit (with -dirty for local changes) where its folder is a git checkout, else
    its release (VERSION, which a module read from git copies too), else "unknown". Git looks no higher
    than the workflow's folder: a deployed copy lives inside the user's own repository, whose commit
    is not the workflow's."""
    root = where.resolve().parent
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(root.parent)}
    try:
        cmd = ["git", "-C", str(where), "describe", "--always", "--dirty", "--abbrev=40", "--exclude=*"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10, env=env)
    except (OSError, subprocess.TimeoutExpired):
        p = None
    if p is not None and p.returncode == 0 and p.stdout.strip():
        return p.stdout.strip()
    try:
        return f"release {(root / 'VERSION').read_text().strip()} (git gave no commit)"
    except (OSError, UnicodeDecodeError):
        return "unknown"


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
    """argparse, but a bad argument is one line (`prog: error: ...`, exit 2), not the usage text; a
    description (a module's docstring) is its first paragraph, whole."""

    def __init__(self, *args, description=None, **kw):
        if description:
            description = " ".join(description.split("\n\n")[0].split())
        super().__init__(*args, description=description, **kw)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


EXPECTED_ERRORS = (DataError, RunError, OSError, ValueError)


def error_line(e: BaseException) -> str:
    """One line for an expected error. An OSError (ENOSPC, EROFS, EACCES, ENOTDIR, ENAMETOOLONG,
    ESTALE, ...) names its path and the system's reason."""
    if isinstance(e, OSError) and e.filename is not None:
        return f"{_where(e)}: {e.strerror or type(e).__name__}"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror  # no file to name (the writers above name theirs): the reason, not "[Errno 28] ..."
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _where(e: OSError) -> str:
    """The file an OSError is about: a temporary file (one a writer outside this module made with
    temp_beside) is named as the file it stands in for, a rename onto its target as the target."""
    first = temp_target(e.filename) or _text(e.filename)
    if e.filename2 is None:
        return first
    second = _text(e.filename2)
    return second if first == second else f"{first} -> {second}"


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
        folder = nearest_existing(path.parent)
        if not folder.is_dir():  # a file where a folder must be
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))  # naming() names the file
        fd, probe = _mkstemp(folder, path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise naming(path, e) from None


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths are one file: a link or a hard link to it too, where both exist."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one is not there (yet): the same only if they spell the same place
        return os.path.realpath(a) == os.path.realpath(b)


def check_not_an_input(outputs, inputs) -> None:
    """Fail now, before anything is written, where an output is an input or another output: the
    atomic writer would replace the file the step reads (`evaluate.py --out run/model.pt` replaced
    the weights with test.json's text), or one output with the other."""
    outputs, inputs = [Path(p) for p in outputs], [Path(p) for p in inputs]
    for i, out in enumerate(outputs):
        for other, what in [*((p, "an input") for p in inputs), *((p, "another output") for p in outputs[:i])]:
            if _same_file(out, other):
                raise DataError(f"{out}: the same file as {what} ({other}); give another output path")
