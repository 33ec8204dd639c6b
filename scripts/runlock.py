"""One writer per run: a lock on the run's folder that train.py and evaluate.py hold while they
change anything in it (and data.py on the data folder it writes). Torch-free.

The lock is a POSIX record lock (fcntl.lockf) on `<run>/.lock`: NFSv3 (lockd) and NFSv4 carry such
locks between hosts, so two workflows started from two clones, or on two nodes, on one outdir never
write one run at once. The kernel (or the NFS server, when a client dies) drops the lock when the
holder ends however it ends, so a dead holder never blocks for long. The file also records who holds
it (host, pid, since, what), for the waiting process's messages; it is never deleted (deleting lock
files races with their next holder). A folder the holder creates appears with its lock already held,
and a step that reads a folder another step writes (the prepare step reading the raw data) holds a
shared lock on it, so it never reads half a folder. A mount with `nolock` or `local_lock=all` keeps locks on one
host: such a mount cannot keep two hosts apart.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from util import UMASK, RunError, naming

LOCK_NAME = ".lock"
POLL_SECONDS = 1.0
REPORT_EVERY_SECONDS = 300.0  # a waiting job says whom it waits for, then every 5 minutes


class RunBusy(RunError):
    """The run is held by another live process and we may not wait (longer)."""


def holder_text(lock: Path) -> str:
    """Who holds a lock, from what the holder wrote into it (best effort: it may be mid-write)."""
    try:
        h = json.loads(lock.read_text())
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h["since"]))
        return f"{h['what']} on host {h['host']}, pid {h['pid']}, since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (its details are being written)"


def _try_lock(fd: int, lock: Path, how: int = fcntl.LOCK_EX) -> bool:
    try:
        fcntl.lockf(fd, how | fcntl.LOCK_NB)
        return True
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EAGAIN):  # held by another process
            return False
        # ENOLCK and the like: the file system gives no locks (an NFS mount whose lock service is
        # unreachable); waiting would wait forever, writing unlocked could write one run twice
        raise RunError(f"{lock}: cannot lock it: {e.strerror}; one writer per run needs file locks here") from e


def _record_holder(fd: int, lock: Path, what: str) -> None:
    text = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time(), "what": what})
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (text + "\n").encode(), 0)
    except OSError as e:  # a full disk: the write names no file
        raise naming(lock, e) from None


def _wait(fd: int, lock: Path, how: int, wait: float | None, log) -> None:
    """Take the lock (`how`: LOCK_EX or LOCK_SH), waiting while another live process holds it."""
    start, reported = time.monotonic(), None
    while not _try_lock(fd, lock, how):
        waited = time.monotonic() - start
        if wait is not None and waited >= wait:
            raise RunBusy(f"{lock.parent}: held by {holder_text(lock)}; gave up after {waited:.0f} s")
        if reported is None or waited - reported >= REPORT_EVERY_SECONDS:
            log(f"{lock.parent.name} is held by {holder_text(lock)}; waiting for it")
            reported = waited
        time.sleep(POLL_SECONDS)


def _create_held(folder: Path) -> int | None:
    """Make a folder that does not exist yet appear with its lock already held (built under a temporary
    name, renamed into place): a step of another workflow that finds the folder finds it locked, and
    waits for the writer instead of reading half a folder. None: the folder exists (or another writer
    made it first); it is locked the ordinary way."""
    if folder.exists():
        return None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=folder.parent))  # short: the name may be long
    except OSError as e:
        raise naming(folder, e) from None
    fd = None
    try:
        os.chmod(tmp, 0o777 & ~UMASK)  # as mkdir makes it (mkdtemp's is private): others may read it
        fd = os.open(tmp / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        _try_lock(fd, folder / LOCK_NAME, fcntl.LOCK_EX)  # a fresh file: no one else can hold it
        os.rename(tmp, folder)  # atomic; fails on a folder another writer filled meanwhile
        return fd
    except BaseException as e:  # no lock (RunError), a signal: the temporary folder goes too
        if fd is not None:
            os.close(fd)
        (tmp / LOCK_NAME).unlink(missing_ok=True)
        tmp.rmdir()
        if isinstance(e, OSError) and e.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return None
        if isinstance(e, OSError):
            raise naming(folder, e) from None
        raise


@contextmanager
def hold(run_dir: str | Path, what: str, wait: float | None = None, log=print):
    """Hold the folder's lock for the duration of the block. While another live process holds it, wait
    (`wait` seconds at most; None: as long as it takes), saying whom we wait for; RunBusy after that."""
    run_dir = Path(run_dir)
    lock = run_dir / LOCK_NAME
    fd = _create_held(run_dir)
    if fd is None:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        _wait(fd, lock, fcntl.LOCK_EX, wait, log)
        _record_holder(fd, lock, what)
        yield
    finally:
        os.close(fd)  # closing the descriptor drops the lock


@contextmanager
def reading(folder: str | Path, log=print):
    """Read a folder that a step of another workflow may be writing: while its writer holds its lock,
    wait (a shared lock: readers do not wait for each other). A folder no step of ours ever wrote (the
    user's own data: no lock file) is read as it is, and nothing is created in it."""
    lock = Path(folder) / LOCK_NAME
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):  # the reader names a missing folder itself
        fd = None
    except OSError as e:
        raise naming(lock, e) from None
    if fd is None:
        yield
        return
    try:
        _wait(fd, lock, fcntl.LOCK_SH, None, log)
        yield
    finally:
        os.close(fd)
