"""`snakemake --profile slurm` on a live single-node SLURM cluster (tests/slurm/start-cluster.sh, which
.ci/run starts): every train job goes through sbatch with a GPU request, results equal a local run's,
and the run survives scancel of a training job, SIGTERM and SIGINT of Snakemake."""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from helpers import TARGET, assert_same_ga, copy_workflow, run_states, start, trained_runs, wait_mid_epoch

ENABLE = "RESNET_GA_SLURM_TESTS"  # .ci/run sets it; nothing is submitted without it
CLUSTER = "resnet-ga-test"  # the ClusterName tests/slurm/start-cluster.sh writes


def cluster_name() -> str | None:
    """The name of the cluster that `sinfo`/`sbatch` would talk to, if one answers."""
    if not shutil.which("scontrol"):
        return None
    p = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True)
    m = re.search(r"^ClusterName\s*=\s*(\S+)", p.stdout, flags=re.M)
    return m.group(1) if p.returncode == 0 and m else None


if os.environ.get(ENABLE) != "1":
    pytest.skip(
        f"SLURM tests run only with {ENABLE}=1 (set by .ci/run), against the test cluster of "
        "tests/slurm/start-cluster.sh",
        allow_module_level=True,
    )
if cluster_name() != CLUSTER:  # enabled: a missing or foreign cluster is a failure, never a target
    raise RuntimeError(
        f"{ENABLE}=1 but the SLURM cluster here is {cluster_name()!r}, not {CLUSTER!r} "
        "(bash tests/slurm/start-cluster.sh starts it)"
    )

ARGS = [
    TARGET,
    "--profile",
    "slurm",
    "--set-threads",
    "train=2",
    "lr_find=2",
    "evaluate=2",
    "--seconds-between-status-checks",
    "2",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--configfile",
    "config/smoke.yaml",
]
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: \S+/rule_train/([^/]+)/\d+\.log\)")


ANY_SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")  # train, lr_find, evaluate


def submissions(log_text):
    return [(int(j), run) for j, run in SUBMITTED.findall(log_text)]


def wait_for_submission(log, run, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        jobs = [j for j, r in submissions(log.read_text()) if r == run]
        if jobs:
            return jobs[-1]
        time.sleep(0.2)
    raise AssertionError(f"no SLURM job seen for {run}")


def wait_until(check, what, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting until {what}")


def sacct_tres(jobids):
    p = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-o", "JobID,AllocTRES,State", "-j", ",".join(map(str, jobids))],
        capture_output=True,
        text=True,
        check=True,
    )
    return {int(line.split("|")[0]): line.split("|")[1:] for line in p.stdout.splitlines() if line}


@pytest.fixture
def our_jobs_cancelled_after():
    """Yields the list of Snakemake logs the test writes; afterwards cancels exactly the job ids
    those logs say were submitted (never a user's other jobs)."""
    logs = []
    yield logs
    ids = sorted({j for log in logs if log.exists() for j in ANY_SUBMITTED.findall(log.read_text())})
    if ids:
        subprocess.run(["scancel", *map(str, ids)], capture_output=True)


def test_slurm_smoke_ga_survives_scancel_sigterm_and_sigint(smoke, tmp_path, our_jobs_cancelled_after):
    work = copy_workflow(tmp_path)
    runs = work / "results" / "smoke" / "runs"
    logs = [tmp_path / f"{n}.log" for n in ("a", "b", "c")]
    our_jobs_cancelled_after.extend(logs)

    # A: scancel a running training job: the plugin's retry resubmits it and it resumes
    a = start(work, ARGS, logs[0])
    _, cancelled = wait_mid_epoch(a, runs, need_finished=0)
    job = wait_for_submission(logs[0], cancelled)
    subprocess.run(["scancel", str(job)], check=True)
    wait_until(
        lambda: len([j for j, r in submissions(logs[0].read_text()) if r == cancelled]) >= 2,
        "the cancelled job is resubmitted",
    )
    train_log = work / "results/smoke/logs/train" / f"{cancelled}.log"
    wait_until(
        lambda: train_log.exists() and "resuming from checkpoint" in train_log.read_text(),
        "the resubmitted job resumes",
    )
    # ... then SIGTERM Snakemake while the resumed run trains (round 0 unfinished, so round 1 not yet
    # proposed; waiting for another run of round 0 could outlast round 0 when the resubmitted job
    # queues last): it waits for its running jobs and submits nothing new
    a.send_signal(signal.SIGTERM)
    a.wait(timeout=300)
    assert "Will exit after finishing currently running jobs" in logs[0].read_text()
    assert {r for _, r in submissions(logs[0].read_text())} <= population_runs(work, "round0")

    # B: a plain rerun, interrupted with SIGINT: its SLURM jobs are cancelled
    finished_b_start, _ = run_states(runs)
    b = start(work, ARGS, logs[1])
    finished_b, cut = wait_mid_epoch(b, runs, exclude=finished_b_start, need_finished=len(finished_b_start))
    b.send_signal(signal.SIGINT)
    b.wait(timeout=300)
    assert not (runs / cut / "result.json").exists() and (runs / cut / "checkpoint.pt").exists()

    # C: a plain rerun completes; the cut run resumes, finished runs are not trained again
    finished_c_start, _ = run_states(runs)
    c = start(work, ARGS, logs[2])
    assert c.wait(timeout=900) == 0, logs[2].read_text()[-3000:]
    text_b, text_c = logs[1].read_text(), logs[2].read_text()
    assert not set(trained_runs(text_b)) & finished_b_start
    assert cut in trained_runs(text_c) and not set(trained_runs(text_c)) & finished_c_start
    assert "resuming from checkpoint" in (work / "results/smoke/logs/train" / f"{cut}.log").read_text()
    assert_same_ga(work, smoke)

    # every training job went through sbatch and asked for one GPU
    jobs = [j for log in logs for j, _ in submissions(log.read_text())]
    tres = sacct_tres(jobs)
    assert set(tres) == set(jobs) and all("gres/gpu=1" in t for t, _ in tres.values()), tres
    distinct = {r for log in logs for _, r in submissions(log.read_text())}
    assert distinct == population_runs(work, "round0") | population_runs(work, "ga/round1")


def population_runs(work, table: str) -> set:
    path = work / f"results/smoke/search/rep0/{table}/population.tsv"
    return {line.split("\t")[1] for line in path.read_text().splitlines()[1:]}


GROUPED = [
    "--groups",
    "train=round",
    "--group-components",
    "round=64",
    "--resources",
    "gpu=1",
    "--keep-incomplete",
]  # docs/cluster.md: one queue wait per round
GROUP_SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: \S+/group_round_train/\d+\.log\)")


def group_runs(jobid: int) -> set:
    """The trainings a group job ran: its sbatch line names them (--target-jobs 'train:run=...'); the
    plugin deletes a successful job's log."""
    p = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-o", "SubmitLine%20000", "-j", str(jobid)],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(re.findall(r"train:run=([^'\s]+)", p.stdout))


def test_grouped_rounds_wait_in_the_queue_once_per_round(smoke, tmp_path, our_jobs_cancelled_after):
    """One sbatch job per round's trainings, the tables a local run writes; round 0's group cancelled
    after its first training finished is retried without losing that training (Snakemake removes the
    outputs of every job of a failed group unless --keep-incomplete, which the grouped command gives)."""
    work = copy_workflow(tmp_path)
    runs = work / "results" / "smoke" / "runs"
    log = tmp_path / "grouped.log"
    our_jobs_cancelled_after.append(log)
    proc = start(work, [*ARGS, *GROUPED], log)
    wait_until(lambda: GROUP_SUBMITTED.findall(log.read_text()), "round 0's group job is submitted")
    wait_until(lambda: run_states(runs)[0], "a training of round 0's group finished")
    done = {r: (runs / r / "model.pt").stat().st_ino for r in run_states(runs)[0]}
    subprocess.run(["scancel", GROUP_SUBMITTED.findall(log.read_text())[0]], check=True)
    assert proc.wait(timeout=900) == 0, log.read_text()[-3000:]
    text = log.read_text()
    groups, singles = GROUP_SUBMITTED.findall(text), submissions(text)
    assert len(groups) == 3 and not singles, text[-3000:]  # round 0's, its retry, round 1's new genomes
    assert "Removing output files of failed job" not in text
    assert {r: (runs / r / "model.pt").stat().st_ino for r in done} == done  # kept, not written again
    assert_same_ga(work, smoke)
    # which trainings each group job ran: round 0's population (its retry: those not done), round 1's
    ran = [group_runs(int(j)) for j in groups]
    rows = {t: population_runs(work, t) for t in ("round0", "ga/round1")}
    assert ran[0] == rows["round0"] and len(done) < 4, (ran, done)  # cancelled mid-round
    assert rows["round0"] - set(done) <= ran[1] <= rows["round0"], ran
    assert ran[2] == rows["ga/round1"] - rows["round0"], ran
    tres = sacct_tres([int(j) for j in groups])
    assert all("gres/gpu=1" in t for t, _ in tres.values()), tres  # gpu=1: a group's trainings run in series
