"""One writer per run (runlock.py): a live holder keeps a second writer out and is named to it; a
holder that died, however it died, blocks no one."""

import os
import signal
import subprocess
import sys
import time

import pytest

import runlock
import util
from helpers import SCRIPTS

HOLD = """
import sys, time
sys.path.insert(0, sys.argv[1])
import runlock
with runlock.hold(sys.argv[2], "train"):
    print("held", flush=True)
    time.sleep(600)
"""


def holder(run_dir):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(SCRIPTS), str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_live_holder_is_named_and_one_that_died_blocks_no_one(tmp_path):
    run = tmp_path / "lr=1.00e-03_seed=0"
    proc = holder(run)
    try:
        with pytest.raises(runlock.RunBusy, match=rf"held by train on host \S+, pid {proc.pid}, since "):
            with runlock.hold(run, "evaluate", wait=0.5, log=lambda _: None):
                pass
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # dies holding the lock, as on a crashed job
        proc.wait()
    t0 = time.monotonic()
    with runlock.hold(run, "train", wait=5, log=lambda _: None):
        assert '"what": "train"' in (run / runlock.LOCK_NAME).read_text()
    assert time.monotonic() - t0 < 5  # at once: the kernel dropped the dead holder's lock


def test_a_file_system_without_locks_is_one_error_not_a_wait_forever(tmp_path, monkeypatch):
    import errno

    def no_locks(fd, how):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(runlock.fcntl, "lockf", no_locks)  # as on an NFS mount whose lock service is down
    run = tmp_path / "lr=1.00e-03_seed=0"
    t0 = time.monotonic()
    with pytest.raises(
        runlock.RunError, match=rf"^{run}/\.lock: cannot lock it: No locks available; one writer per run"
    ):
        with runlock.hold(run, "train", wait=None, log=lambda _: None):
            pass
    assert time.monotonic() - t0 < 2
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # the folder it would have made: not left half-made


def _is_locked(lock) -> bool:
    import fcntl

    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def test_a_folder_a_holder_creates_is_never_seen_unlocked(tmp_path):
    """Another workflow's Snakemake takes a folder that exists for a finished output (the raw data
    folder, a directory output): the folder must appear with its lock already held, so the step that
    reads it waits for the writer instead of reading half a folder."""
    for i in range(30):  # the unlocked moment it guards against is short: look many times
        folder = tmp_path / f"raw{i}"
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(SCRIPTS), str(folder)], stdout=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while not folder.exists() and time.monotonic() < deadline:
                pass  # spin: look as early as anyone could
            assert _is_locked(folder / runlock.LOCK_NAME)
            assert proc.stdout.readline().strip() == b"held"
        finally:
            proc.kill()
            proc.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"raw{i}" for i in range(30))  # no temp folder
    assert all((tmp_path / f"raw{i}").stat().st_mode & 0o777 == 0o777 & ~util.UMASK for i in range(30))  # as mkdir


def test_a_reader_waits_for_the_writer_and_touches_no_folder_of_the_user(tmp_path):
    user_data = tmp_path / "user data"
    user_data.mkdir()
    with runlock.reading(user_data):  # no lock file: the user's own folder, read as it is
        pass
    assert list(user_data.iterdir()) == []
    raw = tmp_path / "raw"
    proc = holder(raw)
    said = []
    try:
        with pytest.raises(TimeoutError):
            _read_within(raw, 1.5, said)
        assert said and said[0].startswith("raw is held by train on host ")
    finally:
        proc.kill()
        proc.wait()
    _read_within(raw, 5, said)  # the writer ended: read at once


def _read_within(folder, seconds, said):
    import threading

    done = threading.Event()

    def read():
        with runlock.reading(folder, log=said.append):
            done.set()

    threading.Thread(target=read, daemon=True).start()
    if not done.wait(seconds):
        raise TimeoutError
