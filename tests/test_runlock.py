"""One writer per run (runlock.py): a live holder keeps a second writer out and is named to it; a
holder that died, however it died, blocks no one."""

import os
import signal
import subprocess
import sys
import time

import pytest

import runlock
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
    with pytest.raises(runlock.RunError, match=r"\.lock: cannot lock it: No locks available; one writer per run"):
        with runlock.hold(run, "train", wait=None, log=lambda _: None):
            pass
    assert time.monotonic() - t0 < 2
