"""Two workflows started at once from two clones on one outdir (two colleagues, or a forgotten tmux
pane, on one scratch folder): one workflow at a time runs jobs on an outdir (the second waits for
the first, then finds every run finished), and every run is trained exactly once."""

import hashlib
import os
import signal
import time

import pytest

import formats
from helpers import copy_workflow, start

pytestmark = pytest.mark.slow


def result_versions(runs_dir, seen: dict) -> None:
    """Record every version of every result.json seen so far, by content: a training writes its own
    timings into it, so a second training is a new version (Snakemake's touch of a kept output is not)."""
    for path in runs_dir.glob("*/result.json") if runs_dir.exists() else []:
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            continue
        seen.setdefault(path.parent.name, set()).add(hashlib.sha256(content).hexdigest())


def wait_for(condition, timeout):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def test_two_clones_on_one_outdir_train_every_run_once(smoke, tmp_path):
    """The whole smoke workflow of the GA (the final stage and the figures included) twice at once
    (random search and TPE left out: they add trainings, not writers)."""
    shared = tmp_path / "shared scratch"

    def workflow(name):
        work = copy_workflow(tmp_path / name)
        (work / "shared.yaml").write_text(f"outdir: '{shared}'\nsearch: {{methods: [ga]}}\n")
        args = ["--cores", "2", "--configfile", "config/smoke.yaml", "shared.yaml"]
        return start(work, args, tmp_path / f"{name}.log")

    procs = [workflow("a"), workflow("b")]
    # a third, cancelled while it waits for the outdir (a colleague's scancel, a closed terminal):
    # it had no job, so Snakemake restores or removes nothing of the holder's
    wait_for(lambda: (shared / ".lock").exists() and (shared / ".lock").stat().st_size, 300)
    cancelled = workflow("c")
    wait_for(lambda: "waiting for it" in (tmp_path / "c.log").read_text(), 300)
    os.killpg(cancelled.pid, signal.SIGTERM)
    assert cancelled.wait(60) != 0
    seen, deadline = {}, time.time() + 1500
    while any(p.poll() is None for p in procs) and time.time() < deadline:
        result_versions(shared / "runs", seen)
        time.sleep(0.1)
    result_versions(shared / "runs", seen)
    logs = [(tmp_path / f"{n}.log").read_text() for n in ("a", "b")]
    assert [p.returncode for p in procs] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    waited = [log for log in logs if "is held by the workflow started in" in log]
    assert len(waited) == 1  # one workflow at a time on an outdir: the second waited for the first
    search = shared / "search/rep0"
    tables = sorted(p.relative_to(search) for p in search.glob("**/*.tsv"))
    runs = {
        r for t in tables if t.name == "population.tsv" for r in formats.read_table("population", search / t)["run"]
    }
    runs |= set(formats.read_table("plan", shared / "final/plan.tsv")["run"])
    assert set(seen) == runs
    assert all(len(v) == 1 for v in seen.values()), seen  # each result.json written once: trained once
    for run in runs:
        result = formats.read_record("result", shared / "runs" / run / "result.json", run=run)
        metrics = formats.read_table("metrics", shared / "runs" / run / "metrics.tsv")
        assert len(metrics) == result["epochs_completed"] == 2 and result["resumed_from_epoch"] is None
    # the same tables as one workflow alone: round 0 and every GA round
    assert len(tables) == 2 * 3 and all(t.parts[0] in ("round0", "ga") for t in tables), tables
    for t in tables:
        assert (search / t).read_bytes() == (smoke["out"] / "search/rep0" / t).read_bytes(), t
    comparison = formats.read_table("comparison", shared / "final/comparison.tsv")
    assert list(comparison["method"]) == ["ga", "baseline"] and (shared / "plots" / "final_comparison.png").exists()
