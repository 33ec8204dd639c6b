"""scripts/status.py on a finished smoke run (the interrupted case is in test_resume.py)."""

import os
import re
import subprocess
import time

import pytest

import formats
from helpers import copy_workflow, genome_id, run_train, script_cmd


def status(work, *args):
    cmd = script_cmd("status.py", "--configfile", "config/smoke.yaml", *args)
    p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.slow
def test_status_of_a_finished_run_lists_every_round_of_every_method_and_the_best_genome(smoke):
    text = status(smoke["dir"])
    assert re.search(r"^every method, search 0, round 0: 4/4 distinct runs trained, scored$", text, flags=re.M), text
    for label in ("GA", "random search", "TPE \\(Optuna\\)"):
        for k in (1, 2):
            assert re.search(rf"^{label}, search 0, round {k}: 4/4 distinct runs trained, scored$", text, flags=re.M), (
                text
            )
    best = formats.read_table("best", smoke["out"] / "search" / "best.tsv")
    run = best.sort_values("fitness", ascending=False)["run"].iloc[0]
    assert f"best so far: {run}" in text and "finished" in text and "in progress" not in text


def test_status_survives_a_metrics_file_cut_mid_line(tmp_path, smoke):
    import shutil

    work = copy_workflow(tmp_path / "wf")
    shutil.copytree(smoke["out"] / "search", work / "results" / "smoke" / "search")
    run = formats.read_table("population", smoke["out"] / "search/rep0/round0/population.tsv")["run"][0]
    folder = work / "results" / "smoke" / "runs" / run
    folder.mkdir(parents=True)
    header, first, second = (smoke["out"] / "runs" / run / "metrics.tsv").read_text().splitlines()[:3]
    (folder / "metrics.tsv").write_text(f"{header}\n{first}\n{second[:12]}")  # a row being appended right now
    assert re.search(rf"in progress  {re.escape(run)}  epoch 1/2, val top-1", status(work)), status(work)


def test_status_counts_a_run_s_own_epochs_where_epochs_is_a_gene(tmp_path, smoke):
    """A run whose settings.json says 5 epochs (epochs searched as a gene) is at epoch 1 of 5, not of
    the config's 2."""
    import json
    import shutil

    work = copy_workflow(tmp_path / "wf")
    shutil.copytree(smoke["out"] / "search", work / "results" / "smoke" / "search")
    run = formats.read_table("population", smoke["out"] / "search/rep0/round0/population.tsv")["run"][0]
    folder = work / "results" / "smoke" / "runs" / run
    folder.mkdir(parents=True)
    settings = json.loads((smoke["out"] / "runs" / run / "settings.json").read_text())
    settings["settings"]["epochs"] = 5
    (folder / "settings.json").write_text(json.dumps(settings))
    header, first = (smoke["out"] / "runs" / run / "metrics.tsv").read_text().splitlines()[:2]
    (folder / "metrics.tsv").write_text(f"{header}\n{first}\n")
    assert re.search(rf"in progress  {re.escape(run)}  epoch 1/5, val top-1", status(work)), status(work)


def test_status_before_the_run_starts_says_so(tmp_path):
    work = copy_workflow(tmp_path)
    assert "no round yet" in status(work)


def test_elapsed_ends_at_the_verdict_once_the_search_is_finished(tmp_path):
    """A 15-minute search read 14 h later said "elapsed 14h..."; running (or running again, round 0
    rewritten after the verdict), it counts up to now."""
    work = copy_workflow(tmp_path)
    population = work / "results/smoke/search/rep0/round0/population.tsv"
    population.parent.mkdir(parents=True)
    population.write_text("individual\trun\torigin\tparents\n0\tlr=1.00e-02_seed=0\trandom\t\n")
    start = time.time() - 14 * 3600
    os.utime(population, (start, start))
    assert "elapsed 14h00m" in status(work)  # still running: no verdict
    verdict = work / "results/smoke/final/verdict.txt"
    verdict.parent.mkdir(parents=True)
    verdict.write_text("done\n")
    os.utime(verdict, (start + 917, start + 917))
    assert "elapsed 0h15m17s; finished" in status(work)
    os.utime(verdict, (start - 60, start - 60))  # a verdict older than round 0: the search runs again
    assert "elapsed 14h00m" in status(work) and "; finished" not in status(work)


def test_status_names_a_metrics_file_whose_complete_rows_break_its_format(tmp_path, smoke):
    """A complete row with a top-1 of 35 (a percentage) is a broken file, shown as that run's error
    line, not read as a run with no epoch yet; a row being appended is not one (above)."""
    import shutil

    work = copy_workflow(tmp_path / "wf")
    shutil.copytree(smoke["out"] / "search", work / "results" / "smoke" / "search")
    run = formats.read_table("population", smoke["out"] / "search/rep0/round0/population.tsv")["run"][0]
    folder = work / "results" / "smoke" / "runs" / run
    folder.mkdir(parents=True)
    header, first = (smoke["out"] / "runs" / run / "metrics.tsv").read_text().splitlines()[:2]
    cells = first.split("\t")
    cells[header.split("\t").index("top1")] = "35"
    (folder / "metrics.tsv").write_text(f"{header}\n{chr(9).join(cells)}\n")
    text = status(work)
    assert re.search(rf"{re.escape(run)}.*error: .*metrics.tsv: field top1 \(row 1\): '35' is outside", text), text


def test_status_names_a_result_it_cannot_read_and_goes_on(tmp_path, smoke):
    """An OSError on a run's file (here EISDIR; EACCES and ESTALE alike) is that run's error line."""
    import shutil

    work = copy_workflow(tmp_path / "wf")
    shutil.copytree(smoke["out"] / "search", work / "results" / "smoke" / "search")
    run = formats.read_table("population", smoke["out"] / "search/rep0/round0/population.tsv")["run"][0]
    (work / "results" / "smoke" / "runs" / run / "result.json").mkdir(parents=True)
    text = status(work)
    assert re.search(rf"{re.escape(run)}.*error: .*result.json: Is a directory", text), text


def test_status_names_a_population_table_that_breaks_its_format(tmp_path, smoke):
    """Round tables are written whole: one that breaks its format is an error line, not a round that
    silently vanishes from the view (with every later round of its search)."""
    import shutil

    work = copy_workflow(tmp_path / "wf")
    shutil.copytree(smoke["out"] / "search", work / "results" / "smoke" / "search")
    table = work / "results/smoke/search/rep0/round0/population.tsv"
    lines = table.read_text().splitlines(keepends=True)
    table.write_text("".join(lines[:2] + ["x" + lines[2]] + lines[3:]))  # individual "x1"
    text = status(work)
    assert re.search(r"^every method, search 0, round 0: error: .*population.tsv: .*individual", text, re.M), text


def test_status_names_a_plan_that_breaks_its_format(tmp_path, smoke):
    """A broken plan.tsv is an error line, not "not planned yet" (which would also count its final runs
    as still to train)."""
    import shutil

    work = copy_workflow(tmp_path / "wf")
    for part in ("search", "final"):
        shutil.copytree(smoke["out"] / part, work / "results" / "smoke" / part)
    plan = work / "results/smoke/final/plan.tsv"
    plan.write_text(plan.read_text().replace("\tfinal\t", "\tlater\t", 1))
    text = status(work)
    assert re.search(r"^final runs: error: .*plan.tsv: field stage \(row 2\)", text, re.M), text


@pytest.fixture(scope="module")
def finished_run(prepared, tmp_path_factory):
    """One epoch on 300 images, trained here under its run id: a finished run without the smoke run."""
    extra = ("--max-train", 300, "--max-val", 100)
    rid = genome_id(prepared, {"lr": 0.02}, 0, *extra, epochs=1)
    out = tmp_path_factory.mktemp("runs") / rid
    run_train(prepared, out, "--genome", rid, *extra, epochs=1)
    return out


def round_of_one(finished_run, tmp_path):
    """A workflow whose round 0 is that one run, finished: (the workflow, the run's metrics.tsv)."""
    import shutil

    work = copy_workflow(tmp_path)
    population = work / "results/smoke/search/rep0/round0/population.tsv"
    population.parent.mkdir(parents=True)
    population.write_text(f"individual\trun\torigin\tparents\n0\t{finished_run.name}\trandom\t\n")
    shutil.copytree(finished_run, work / "results/smoke/runs" / finished_run.name)
    return work, work / "results/smoke/runs" / finished_run.name / "metrics.tsv"


def failed_line(run: str, why: str) -> str:
    return rf"^  failed +{re.escape(run)}  error: \S*runs/{re.escape(run)}/metrics.tsv: {re.escape(why)}$"


@pytest.mark.parametrize("cut", ["empty", "header only"])
def test_status_flags_a_finished_run_whose_metrics_are_empty(finished_run, tmp_path, cut):
    """A run with a result.json but no epoch in its metrics.tsv was shown as done, without a remark."""
    work, metrics = round_of_one(finished_run, tmp_path)
    assert re.search(r"^every method, search 0, round 0: 1/1 distinct runs trained$", status(work), re.M)
    metrics.write_text("" if cut == "empty" else metrics.read_text().splitlines(keepends=True)[0])
    text = status(work)
    assert "0/1 distinct runs trained" in text, text
    assert re.search(failed_line(finished_run.name, "0 epochs, but its result.json completed 1"), text, re.M), text


def test_status_names_a_metrics_row_with_an_extra_field(finished_run, tmp_path):
    """pandas made the extra first field the index: `field epoch (row 1): not an integer: '0.0146...'`."""
    work, metrics = round_of_one(finished_run, tmp_path)
    header, row = metrics.read_text().splitlines()
    metrics.write_text(f"{header}\n{row}\t0.5\n")
    text = status(work)
    assert re.search(failed_line(finished_run.name, "row 1 has 12 fields, the header 11"), text, re.M), text
