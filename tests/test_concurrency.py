"""Two workflows started at once from two clones on one outdir (two colleagues, or a forgotten tmux
pane, on one scratch folder): every run is trained exactly once, by whichever job holds its lock
first (runlock.py); the other job waits and keeps the finished run."""

import hashlib
import time

import pytest

import formats
from helpers import TARGET, copy_workflow, start

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


def test_two_clones_on_one_outdir_train_every_run_once(smoke, tmp_path):
    shared = tmp_path / "shared scratch"
    target = TARGET.replace("results/smoke", str(shared))
    procs = []
    for name in ("a", "b"):
        work = copy_workflow(tmp_path / name)
        (work / "shared.yaml").write_text(f"outdir: '{shared}'\n")
        procs.append(
            start(
                work,
                [target, "--cores", "2", "--configfile", "config/smoke.yaml", "shared.yaml"],
                tmp_path / f"{name}.log",
            )
        )
    seen, deadline = {}, time.time() + 1200
    while any(p.poll() is None for p in procs) and time.time() < deadline:
        result_versions(shared / "runs", seen)
        time.sleep(0.1)
    result_versions(shared / "runs", seen)
    logs = [(tmp_path / f"{n}.log").read_text() for n in ("a", "b")]
    assert [p.returncode for p in procs] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    runs = set(formats.read_table("population", shared / "search/rep0/round0/population.tsv")["run"])
    runs |= set(formats.read_table("population", shared / "search/rep0/ga/round1/population.tsv")["run"])
    assert set(seen) == runs
    assert all(len(v) == 1 for v in seen.values()), seen  # each result.json written once: trained once
    for run in runs:
        result = formats.read_record("result", shared / "runs" / run / "result.json", run=run)
        metrics = formats.read_table("metrics", shared / "runs" / run / "metrics.tsv")
        assert len(metrics) == result["epochs_completed"] == 2 and result["resumed_from_epoch"] is None
    for t in ("search/rep0/round0", "search/rep0/ga/round1"):
        for name in ("population.tsv", "fitness.tsv"):
            assert (shared / t / name).read_bytes() == (smoke["out"] / t / name).read_bytes(), f"{t}/{name}"
