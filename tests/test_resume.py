"""Interrupt the workflow for real and resume it: no finished run is trained again, the run that
was cut off resumes from its last epoch checkpoint, and the results (TPE's proposals included) equal
an uninterrupted run's."""

import json
import re
import subprocess

import pytest

from helpers import (
    TARGET,
    assert_same_ga,
    copy_workflow,
    kill_group,
    script_cmd,
    snakemake,
    start,
    trained_runs,
    wait_mid_epoch,
)

pytestmark = pytest.mark.slow
TPE = "results/smoke/search/rep0/tpe/round2/population.tsv"
RANDOM = "results/smoke/search/rep0/random/round2/population.tsv"


def test_sigkill_mid_round_then_unlock_and_rerun_incomplete(smoke, tmp_path):
    work = copy_workflow(tmp_path)
    runs = work / "results" / "smoke" / "runs"
    proc = start(
        work, [TARGET, TPE, RANDOM, "--cores", "2", "--configfile", "config/smoke.yaml"], tmp_path / "first.log"
    )
    finished, cut = wait_mid_epoch(proc, runs, need_finished=2)
    kill_group(proc)  # snakemake and its training job die at once, as on a crashed node
    text = subprocess.run(
        script_cmd("status.py", "--configfile", "config/smoke.yaml"), cwd=work, capture_output=True, text=True
    ).stdout
    assert re.search(rf"in progress  {re.escape(cut)}  epoch 1/2, val top-1 [\d.]+%", text), text
    assert re.search(r"ETA \d+h\d\dm\d\ds \(\d+ runs and \d+ epochs left", text), text

    locked = snakemake(work, TARGET, "--cores", "2", "--configfile", "config/smoke.yaml", check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    snakemake(work, "--unlock", "--configfile", "config/smoke.yaml")
    p = snakemake(work, TARGET, TPE, RANDOM, "--cores", "2", "--rerun-incomplete", "--configfile", "config/smoke.yaml")
    trained = trained_runs(p.stdout + p.stderr)
    assert cut in trained and not set(trained) & finished, (cut, finished, trained)
    log = (work / "results" / "smoke" / "logs" / "train" / f"{cut}.log").read_text()
    assert "resuming from checkpoint" in log and "at epoch 1/2" in log
    assert json.loads((runs / cut / "result.json").read_text())["resumed_from_epoch"] == 1
    tables = ["search/rep0/round0", "search/rep0/ga/round1", "search/rep0/tpe/round1", "search/rep0/random/round1"]
    assert_same_ga(work, smoke, tables)
    for proposed in (TPE, RANDOM):
        assert (work / proposed).read_bytes() == (smoke["dir"] / proposed).read_bytes(), proposed


def test_failing_train_job_is_reported_with_its_log(tmp_path):
    work = copy_workflow(tmp_path)
    (work / "gpu.yaml").write_text("train:\n  device: cuda\n")  # no GPU here: every train job fails
    p = snakemake(work, TARGET, "--cores", "2", "--configfile", "config/smoke.yaml", "gpu.yaml", check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "Error in rule train" in out
    logs = list((work / "results" / "smoke" / "logs" / "train").glob("*.log"))
    assert logs and any(str(log.relative_to(work)) in out for log in logs)
    assert "no CUDA device is available" in out  # show-failed-logs prints the job's log
