"""Helpers of the interruption tests: start Snakemake in its own process group, watch the run
folders, and interrupt it while a training job is in the middle of an epoch."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import BIN, snakemake_env

STEP_DELAY = "0.1"  # seconds added to every training step: epochs last seconds, not milliseconds
STARTED: list = []  # every Snakemake started here, so that a failing test leaves none running


def start(cwd: Path, args, log: Path) -> subprocess.Popen:
    out = open(log, "w")
    proc = subprocess.Popen([str(BIN / "snakemake"), *map(str, args)], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                            env=snakemake_env(RESNET_GA_TEST_STEP_DELAY=STEP_DELAY), start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    STARTED.append(proc)
    return proc


def kill_leftovers() -> None:
    for proc in STARTED:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    STARTED.clear()


def run_states(runs_dir: Path):
    """(finished runs, runs in the middle of training: a checkpoint after epoch 1, no result yet)."""
    finished, mid = set(), set()
    for d in runs_dir.glob("lr=*"):
        if (d / "result.json").exists():
            finished.add(d.name)
        elif (d / "checkpoint.pt").exists():
            mid.add(d.name)
    return finished, mid


def wait_mid_epoch(proc, runs_dir: Path, exclude=(), need_finished=1, timeout=600):
    """Wait until a run not in `exclude` is mid-training and `need_finished` runs have finished."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"snakemake ended (rc {proc.returncode}) before it could be interrupted")
        finished, mid = run_states(runs_dir)
        mid -= set(exclude)
        if mid and len(finished) >= need_finished:
            return finished, sorted(mid)[0]
        time.sleep(0.05)
    raise AssertionError("no training job reached the middle of an epoch in time")


def trained_runs(text: str):
    """Run ids of the train jobs that a Snakemake invocation started (from its job log)."""
    return re.findall(r"rule train:\n(?:.*\n)*?\s+output: \S+/runs/(lr=[^/]+)/result\.json", text)


def kill_group(proc, sig=signal.SIGKILL):
    os.killpg(proc.pid, sig)
    proc.wait(timeout=120)
