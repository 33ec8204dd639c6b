"""Bad inputs and faults, wherever they are met: config keys and overrides, every file format that
passes between steps (formats.py), swapped run folders, data folders, weights, and the machine's
faults (a full disk, a read-only folder, a path through a file, a name too long).

Each case asserts a non-zero exit (or the documented behaviour), exactly one `error:` line naming the
key or the file (and the field), no Python traceback, and that every file under the finished smoke
run's outdir is byte-identical after.
"""

import contextlib
import hashlib
import json
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

import formats
import settings
from config_check import check_config, merge
from helpers import ROOT, SMOKE, copy_workflow, mounted, run_train, script_cmd, small_args, snakemake


def snapshot(folder: Path) -> dict:
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file() and p.name != ".lock"
    }


def assert_one_clean_error(p, names: str) -> None:
    out = p.stdout + p.stderr
    errors = [line for line in out.splitlines() if "error:" in line]
    assert p.returncode != 0, out[-2000:]
    assert "Traceback" not in out and 'File "' not in out, out[-2000:]
    assert len(errors) == 1 and names in errors[0], out[-2000:]


@pytest.fixture
def work(smoke, tmp_path):
    """A fresh copy of the workflow holding a copy of the finished smoke run (mtimes kept)."""
    w = copy_workflow(tmp_path / "wf")
    shutil.copytree(smoke["out"], w / "results" / "smoke")
    shutil.copytree(smoke["dir"] / ".snakemake", w / ".snakemake", ignore=shutil.ignore_patterns("locks", "incomplete"))
    return w


@pytest.fixture
def outdir(work):
    """The copy's outdir; every file under it must be byte-identical after the test (bad inputs and
    faults change nothing there; run locks and empty folders aside)."""
    out = work / "results" / "smoke"
    before = snapshot(out)
    yield out
    assert snapshot(out) == before, "a file under the outdir changed"


def run(name, *args, cwd=None):
    return subprocess.run(script_cmd(name, *args), capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def smoke_config():
    configs = [yaml.safe_load((ROOT / "config" / n).read_text()) for n in ("config.yaml", "smoke.yaml")]
    return check_config(merge(*configs))


@pytest.fixture(scope="module")
def spec(smoke_config):
    return json.dumps({"ga": smoke_config["ga"], "search": smoke_config["search"]})


@pytest.fixture(scope="module")
def values(smoke_config):
    return json.dumps(settings.from_config(smoke_config))


# ----------------------------------------------------------------------------- config keys and overrides
BAD_CONFIGS = {  # every key's check is a unit test in test_config_check.py; these go through Snakemake
    "unknown arch": ("train: {arch: resnet51}", "train.arch"),
    "infinite lr bound": ("ga: {genes: {lr: {low: 1.0e-3, high: .inf, log: true}}}", "ga.genes.lr.high"),
    "missing data_dir": ("data: {dataset: cifar10, data_dir: /nonexistent/cifar}", "data.data_dir"),
    "a gene that is no setting": ("ga: {genes: {colour: {choices: [red, blue]}}}", "ga.genes.colour"),
    "an unknown method": ("search: {methods: [ga, bayes]}", "search.methods"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_key(work, name):
    text, key = BAD_CONFIGS[name]
    (work / "bad.yaml").write_text(text + "\n")
    before = snapshot(work / "results")
    p = snakemake(work, *SMOKE, "bad.yaml", check=False, timeout=120)
    assert_one_clean_error(p, f"config key {key}")
    assert snapshot(work / "results") == before


@pytest.mark.parametrize(
    "override, key",
    [
        ("ga={generations: abc}", "ga.generations"),
        ("train={epochs: 0}", "train.epochs"),
        ("ga={genes: {batch_size: {low: 64, high: 100, step: 64}}}", "ga.genes.batch_size.step"),
        ("search={repeats: 0}", "search.repeats"),
    ],
)
def test_bad_command_line_override(work, override, key):
    before = snapshot(work / "results")
    p = snakemake(work, *SMOKE, "--config", override, check=False, timeout=120)
    assert_one_clean_error(p, f"config key {key}")
    assert snapshot(work / "results") == before


@pytest.mark.parametrize(
    "override",
    [
        "baseline={lr: 0.01}",
        "ga={elites: null}",
        "train={compile: true}",
        "ga={generations: 5, population: 4, elites: 2}",
        "search={methods: [ga]}",
        "ga={genes: {wd: null}}",
        "lr_find={start_lr: 1e-07}",
    ],  # fmt: skip
)
def test_documented_overrides_are_taken(work, override):
    before = snapshot(work / "results")
    p = snakemake(work, *SMOKE, "-n", "--config", override, timeout=120)
    assert "error" not in (p.stdout + p.stderr).lower() and snapshot(work / "results") == before


def test_an_outdir_that_is_a_file(work):
    (work / "afile").write_text("x")
    p = snakemake(work, *SMOKE, "--config", "outdir=afile", check=False, timeout=120)
    assert_one_clean_error(p, "config key outdir: 'afile' is a file")


# ----------------------------------------------------------------------------- the files between steps
def edited(src: Path, dst: Path, edit) -> Path:
    """A copy of a step's file with one edit (tsv: on its rows as dicts; json: on the dict)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix == ".json":
        record = json.loads(src.read_text())
        edit(record)
        dst.write_text(json.dumps(record))
    else:
        lines = src.read_text().splitlines(keepends=True)
        dst.write_text(edit(lines))
    return dst


def set_cells(row, **values):
    def edit(lines):
        for column, value in values.items():
            set_cell(column, value, row)(lines)
        return "".join(lines)

    return edit


def set_cell(column, value, row=-1):
    def edit(lines):
        header = lines[0].rstrip("\n").split("\t")
        cells = lines[row].rstrip("\n").split("\t")
        cells[header.index(column)] = value
        lines[row] = "\t".join(cells) + "\n"
        return "".join(lines)

    return edit


def first_run(outdir) -> str:
    return formats.read_table("population", outdir / "search/rep0/round0/population.tsv")["run"][0]


def ok_runs(outdir) -> list[str]:
    """Round 0's runs that trained to the end, in table order."""
    fit = formats.read_table("fitness", outdir / "search/rep0/round0/fitness.tsv")
    return list(fit.query("status == 'ok'")["run"])


def result_file(outdir, tmp_path, edit):
    """A round-0 result.json edited, in a copy of the run store (collect reads the copies)."""
    runs = tmp_path / "runs"
    shutil.copytree(outdir / "runs", runs)
    path = runs / first_run(outdir) / "result.json"
    return edited(path, path, edit), runs


def collect_cmd(outdir, runs, spec):
    pop = outdir / "search/rep0/round0/population.tsv"
    results = [runs / r / "result.json" for r in dict.fromkeys(formats.read_table("population", pop)["run"])]
    return (
        "search.py",
        "collect",
        "--spec",
        spec,
        "--population",
        pop,
        "--results",
        *results,
        "--out",
        outdir / "search/rep0/round0/fitness.tsv",
    )


RESULT_EDITS = {
    "a fitness of 35 (a percentage)": (lambda r: r.update(fitness=35.0, top1=35.0), "field fitness"),
    "a NaN fitness": (lambda r: r.update(fitness=float("nan")), "field fitness: NaN"),
    "NaN scores with status ok": (lambda r: r.update(top1=float("nan")), "field top1: NaN with status 'ok'"),
    "no top3": (lambda r: r.pop("top3"), "field top3: missing"),
    "fitness other than top1": (lambda r: r.update(fitness=0.01), "field fitness: must equal top1"),
    "more epochs than asked": (lambda r: r.update(epochs_completed=9), "field epochs_completed: 9 is more than epochs"),
    "stopped early after its last epoch": (
        lambda r: r.update(status="stopped"),
        "field epochs_completed: 2 of 2 epochs with status 'stopped'",
    ),
    "fewer training images than a batch": (lambda r: r.update(n_train=7), "field n_train: 7, fewer than one batch"),
    "an unknown status": (lambda r: r.update(status="great"), "field status: 'great' is not one of"),
    "scores with status diverged": (
        lambda r: r.update(status="diverged", fitness=0.0),
        "field top1: ",  # ... with status 'diverged', which has no scores (NaN)
    ),
    "a fitness written as text": (
        lambda r: r.update(fitness="0.15", top1="0.15"),
        "field fitness: not a number: '0.15'",
    ),
    "a setting of the wrong type": (
        lambda r: r["settings"].update(threads="x"),
        "field settings.threads: not an integer",
    ),
    "an infinite setting": (
        lambda r: r["settings"].update(epochs=float("inf")),
        "field settings.epochs: not an integer",
    ),
    "a setting outside its range": (
        lambda r: r["settings"].update(epochs=0),
        "field settings.epochs: --epochs must be",
    ),
    "an architecture this version lacks": (
        lambda r: r["settings"].update(arch="resnet7"),
        "field settings.arch: 'resnet7' is not one of",
    ),
    "the record of another run (a swapped folder)": (
        lambda r: r.update(run="lr=1.00e-02_wd=0.00e+00_mom=9.00e-01_seed=0"),
        "belongs to run",
    ),
    # its own fields disagree: the record was edited, or pasted together from two runs
    "a seed not its run id's": (lambda r: r.update(seed=7), "field seed: 7, but run"),
    "named settings not its run id's": (lambda r: r.update(named={}), "field named.lr: None, but run"),
    "a gene's setting not its run id's": (lambda r: r["settings"].update(lr=0.5), "field settings.lr: 0.5, but run"),
    "epochs its settings do not train": (lambda r: r["settings"].update(epochs=5), "field epochs: 2, but its settings"),
    "validation images its settings do not carve": (
        lambda r: r["settings"].update(val_size=100),
        "field n_val: 500, but its settings validate on 100",
    ),
    "top-3 below top-1": (lambda r: r.update(top3=r["top1"] / 2), "field top3: "),
    # its environment: a list was a TypeError in collect; a number blamed environments.tsv, its writer's output
    "a device that is a list": (lambda r: r["provenance"].update(device=["cpu"]), "field provenance.device: expected"),
    "a device that is a number": (lambda r: r["provenance"].update(device=5), "field provenance.device: expected"),
    "threads that are a dict": (
        lambda r: r["provenance"].update(threads={"n": 2}),
        "field provenance.threads: expected text, a finite number or a boolean",
    ),
}


@pytest.mark.parametrize("name", sorted(RESULT_EDITS))
def test_collect_refuses_a_result_json_breaking_its_contract(outdir, tmp_path, spec, name):
    edit, what = RESULT_EDITS[name]
    path, runs = result_file(outdir, tmp_path, edit)
    before = snapshot(outdir)
    p = run(*collect_cmd(outdir, runs, spec))
    assert_one_clean_error(p, str(path))
    assert what in p.stderr and snapshot(outdir) == before


def test_environments_names_the_result_json_whose_device_is_no_name(outdir, tmp_path, spec):
    path, runs = result_file(outdir, tmp_path, lambda r: r["provenance"].update(device=5))
    results = sorted(runs.glob("*/result.json"))
    p = run("search.py", "environments", "--spec", spec, "--results", *results, "--out", outdir / "environments.tsv")
    assert_one_clean_error(p, f"{path}: field provenance.device: expected text")


def test_a_result_s_environment_in_its_provenance_is_plain_values(tmp_path, spec):
    """Without the smoke run: a result.json whose environment is not plain text, numbers or booleans is
    refused naming it and the field, by the readers of collect and environments alike."""
    record = {
        "run": "seed=0", "fitness": 0.5, "top1": 0.5, "top3": 0.7, "top5": 0.9, "val_loss": 1.0,
        "train_loss": 1.0, "status": "ok", "epochs": 1, "epochs_completed": 1, "process_seconds": 2.0,
        "settings": {}, "named": {}, "seed": 0, "n_train": 100, "n_val": 10, "seconds": 1.0,
        "provenance": {"torch": "2.14.1", "device": "cpu (x86_64)", "deterministic": True, "threads": 2},
    }  # fmt: skip
    path = tmp_path / "seed=0" / "result.json"
    path.parent.mkdir()
    out = tmp_path / "environments.tsv"
    for bad, why in [(["cpu"], "expected text"), (5, "expected text"), ({"a": 1}, "expected text")]:
        path.write_text(json.dumps({**record, "provenance": {**record["provenance"], "device": bad}}))
        p = run("search.py", "environments", "--spec", spec, "--results", path, "--out", out)
        assert_one_clean_error(p, f"{path}: field provenance.device: {why}")
    path.write_text(json.dumps({**record, "provenance": {**record["provenance"], "cudnn": [9, 1]}}))
    with pytest.raises(formats.DataError, match=r"field provenance\.cudnn: expected text, a finite number"):
        formats.read_record("result", path, run="seed=0")
    path.write_text(json.dumps(record))
    p = run("search.py", "environments", "--spec", spec, "--results", path, "--out", out)
    assert p.returncode == 0 and "cpu (x86_64)" in out.read_text(), p.stderr


def test_early_stopping_refuses_an_elite_whose_metrics_were_cut_short(prepared, outdir, tmp_path):
    """A cut elite's metrics.tsv would silently drop its bar (a child then stops, or not, wrongly). It
    is refused before anything in the child's folder changes: here a finished run that lost its
    schedule.tsv, which train.py would otherwise start training again (its result.json removed)."""
    elite_run, child_run = ok_runs(outdir)[:2]
    elite = shutil.copytree(outdir / "runs" / elite_run, tmp_path / "runs" / elite_run)
    metrics = elite / "metrics.tsv"
    metrics.write_text("".join(metrics.read_text().splitlines(keepends=True)[:2]))  # epoch 1 of 2
    child = shutil.copytree(outdir / "runs" / child_run, tmp_path / "runs" / child_run)
    (child / "schedule.tsv").unlink()
    before = snapshot(child)
    stop = ["--epochs", 2, "--stop-epoch", 1, "--stop-against", metrics]
    p = run("train.py", *small_args(prepared, child), *stop)
    assert_one_clean_error(p, str(metrics))
    assert "1 epochs, but its result.json completed 2" in p.stderr
    assert snapshot(child) == before


def test_early_stopping_passes_over_an_elite_that_trained_no_epoch(outdir, tmp_path):
    """An elite with no metrics rows (an invalid genome, AdamW with momentum >= 1, or one diverged in
    epoch 1; fitness 0 can be among the fittest half) sets no bar; the others do."""
    import argparse

    import train

    first, second = ok_runs(outdir)[:2]
    elite = shutil.copytree(outdir / "runs" / first, tmp_path / "runs" / first)
    nan = float("nan")
    scores = {k: nan for k in ("top1", "top3", "top5", "val_loss", "train_loss")}
    edited(
        elite / "result.json",
        elite / "result.json",
        lambda r: r.update(status="invalid", fitness=0.0, epochs_completed=0, **scores),
    )
    metrics = elite / "metrics.tsv"
    metrics.write_text(metrics.read_text().splitlines(keepends=True)[0])  # the header alone
    other = outdir / "runs" / second / "metrics.tsv"
    args = argparse.Namespace(stop_epoch=1, stop_margin=0.0, stop_against=[str(metrics), str(other)])
    assert train.stop_threshold(args) == formats.read_table("metrics", other)["top1"].iloc[0]


def test_a_step_schedule_s_warm_up_may_outlast_its_milestones():
    """The paper's ResNet-110 warm-up (lr/10) running past every milestone never reaches the lr: only a
    one-cycle schedule must peak at its run's lr."""
    import pandas as pd

    result = {"settings": {"batch_size": 100, "lr": 0.1, "schedule": "step", "iterations": 3}, "n_train": 300}
    formats.check_schedule_of({**result, "epochs": 1}, pd.DataFrame({"lr": [0.01, 0.001, 0.001]}), "schedule.tsv")
    onecycle = {**result, "epochs": 1, "settings": {**result["settings"], "schedule": "onecycle"}}
    with pytest.raises(formats.DataError, match="field lr: peaks at 0.01"):
        formats.check_schedule_of(onecycle, pd.DataFrame({"lr": [0.01, 0.001, 0.001]}), "schedule.tsv")


def test_collect_refuses_a_result_json_that_is_not_json(outdir, tmp_path, spec):
    path, runs = result_file(outdir, tmp_path, lambda r: None)
    path.write_text("{cut")
    before = snapshot(outdir)
    p = run(*collect_cmd(outdir, runs, spec))
    assert_one_clean_error(p, f"{path}: not valid JSON")
    assert snapshot(outdir) == before


def propose_cmd(outdir, spec, values, history):
    meta = outdir / "data/prepared/synthetic/meta.json"
    out = outdir / "search/rep0/ga/round2/population.tsv"
    return (
        "search.py",
        "propose",
        "--spec",
        spec,
        "--settings",
        values,
        "--meta",
        meta,
        "--method",
        "ga",
        "--round",
        2,
        "--history",
        *history,
        "--out",
        out,
    )


FITNESS_EDITS = {
    "a NaN fitness": (set_cell("fitness", "nan"), "field fitness (row 4): NaN"),
    "a fitness of 35": (set_cell("fitness", "35"), "field fitness (row 4): '35' is outside [0, 1]"),
    "a fitness that is text": (set_cell("fitness", "abc"), "field fitness (row 4): not a number"),
    "a line cut off": (lambda lines: "".join(lines)[:-9], "the last line is cut off"),
    "a gene outside the space": (set_cell("mom", "9.00e+00"), "field mom (row 4): '9.00e+00' is not in mom uniform"),
    "a gene that is text": (set_cell("wd", "x"), "field wd (row 4)"),
    "an empty status": (set_cell("status", ""), "field status (row 4)"),
    "a duplicated individual": (lambda lines: "".join([*lines[:-1], lines[1]]), "field individual: must run 0, 1"),
    "a missing row": (lambda lines: "".join(lines[:-1]), "3 individuals, but ga.population is 4"),
    "a missing gene column": (
        lambda lines: "".join("\t".join(c for i, c in enumerate(line.split("\t")) if i != 3) for line in lines),
        "field wd: missing",
    ),
    "a run id with shell text": (set_cell("run", "lr=1e-3;touch x_seed=0"), "field run (row 4): not a run id"),
    # in the space, but not what its run id trains: a child would be bred from a genome nobody trained
    "a gene edited apart from its run": (set_cell("lr", "1.23e-02"), "field lr (row 4): not the value its run"),
}


@pytest.mark.parametrize("name", sorted(FITNESS_EDITS))
def test_propose_refuses_a_fitness_table_breaking_its_contract(outdir, tmp_path, spec, values, name):
    edit, what = FITNESS_EDITS[name]
    src = outdir / "search/rep0/ga/round1/fitness.tsv"
    bad = edited(src, tmp_path / "search/rep0/ga/round1/fitness.tsv", edit)
    before = snapshot(outdir)
    p = run(*propose_cmd(outdir, spec, values, [outdir / "search/rep0/round0/fitness.tsv", bad]))
    assert_one_clean_error(p, str(bad))
    assert what in p.stderr, p.stderr
    assert snapshot(outdir) == before


def test_propose_refuses_a_history_out_of_order_or_of_another_method(outdir, spec, values):
    """Round 2 of the GA breeds from round 0 and its own round 1, in that order."""
    search = outdir / "search/rep0"
    for history, named in (
        ([search / "ga/round1/fitness.tsv", search / "round0/fitness.tsv"], "--history"),
        ([search / "round0/fitness.tsv", search / "random/round1/fitness.tsv"], "rep0/round0, ga/round1"),
        ([search / "round0/fitness.tsv", search / "round0/fitness.tsv"], "in that order"),
    ):
        assert_one_clean_error(run(*propose_cmd(outdir, spec, values, history)), named)


@pytest.mark.parametrize("kind", ["swapped methods", "swapped rounds", "round 0 as round 1"])
def test_a_round_table_moved_into_another_round_s_folder_is_refused(outdir, tmp_path, spec, kind):
    """Two round folders swapped by hand: the search's best would be another method's genome."""
    search = tmp_path / "search"
    shutil.copytree(outdir / "search", search)
    a, b = {
        "swapped methods": ("rep0/ga/round1", "rep0/random/round1"),
        "swapped rounds": ("rep0/ga/round1", "rep0/ga/round2"),
        "round 0 as round 1": ("rep0/round0", "rep0/tpe/round1"),
    }[kind]
    (search / a).rename(tmp_path / "x")
    (search / b).rename(search / a)
    (tmp_path / "x").rename(search / b)
    tables = sorted(search.glob("rep0/**/fitness.tsv"))
    results = sorted((outdir / "runs").glob("lr=*/result.json"))
    outs = [x for name in ("individuals", "summary", "best") for x in (f"--out-{name}", tmp_path / f"{name}.tsv")]
    p = run("search.py", "summarize", "--spec", spec, "--fitness", *tables, "--results", *results, *outs)
    assert_one_clean_error(p, "origin")
    assert not list(tmp_path.glob("*.tsv"))


def plot_cmd(outdir, spec, figure, **files):
    args = [f"--{k.replace('_', '-')}" for k in files]
    flat = [x for k, v in zip(args, files.values()) for x in (k, *(v if isinstance(v, list) else [v]))]
    return ("plots.py", figure, "--spec", spec, *flat, "--out", outdir / "plots" / f"{figure.replace('-', '_')}.png")


def curve_files(outdir, kind):
    return sorted((outdir / "runs").glob(f"*/{kind}.tsv"))


def test_the_degradation_table_refuses_a_run_without_test_errors(outdir, tmp_path, spec):
    """The table averages each depth's final test error over seeds: a seed whose metrics.tsv lacks the
    test columns would silently drop out of the mean (pandas skips NaN), so it is one error naming it."""
    runs = sorted((outdir / "runs").glob("*/metrics.tsv"))[:2]
    copies = []
    for i, m in enumerate(runs):
        dst = tmp_path / m.parent.name
        shutil.copytree(m.parent, dst)
        if i == 0:  # the first tracked the test set; the second did not
            edited(m, dst / "metrics.tsv", lambda lines: "".join(
                [lines[0].rstrip("\n") + "\ttest_top1\n", *(x.rstrip("\n") + "\t0.5\n" for x in lines[1:])]
            ))  # fmt: skip
        copies.append(dst)
    p = run(*plot_cmd(outdir, spec, "degradation-table", metrics=[c / "metrics.tsv" for c in copies],
                      results=[c / "result.json" for c in copies]))  # fmt: skip
    assert_one_clean_error(p, f"{copies[1] / 'metrics.tsv'}: field test_top1: missing")


FIGURE_BREAKS = {
    "a metrics.tsv cut mid-line": (
        "training-curves",
        "metrics",
        lambda lines: "".join(lines)[:-5],
        "the last line is cut off",
    ),
    "a top-1 above 1 in metrics.tsv": ("training-curves", "metrics", set_cell("top1", "1.5"), "field top1 (row 2)"),
    "epochs out of order in metrics.tsv": (
        "training-curves",
        "metrics",
        set_cell("epoch", "5"),
        "field epoch: must run 1, 2",
    ),
    "a negative lr in schedule.tsv": ("schedules", "schedule", set_cell("lr", "-0.1"), "field lr (row 40)"),
    "a whole epoch's line dropped from metrics.tsv": (
        "training-curves",
        "metrics",
        lambda lines: "".join(lines[:-1]),
        "1 epochs, but its result.json completed 2",
    ),
}


@pytest.mark.parametrize("name", sorted(FIGURE_BREAKS))
def test_figures_refuse_curves_breaking_their_contract(outdir, tmp_path, spec, name):
    figure, kind, edit, what = FIGURE_BREAKS[name]
    plan = formats.read_table("plan", outdir / "final/plan.tsv")
    base = plan.query("stage == 'search'")["run"].iloc[0]
    files = [f for f in curve_files(outdir, kind)]
    target = next(f for f in files if f.parent.name == base)
    bad = edited(target, tmp_path / base / f"{kind}.tsv", edit)
    files = [bad if f == target else f for f in files]
    key = "metrics" if kind == "metrics" else "schedules"
    more = {"results": sorted((outdir / "runs").glob("*/result.json"))}
    before = snapshot(outdir)
    p = run(
        *plot_cmd(
            outdir,
            spec,
            figure,
            individuals=outdir / "search/individuals.tsv",
            plan=outdir / "final/plan.tsv",
            **{key: files},
            **more,
        )
    )
    assert_one_clean_error(p, str(bad))
    assert what in p.stderr and snapshot(outdir) == before


@pytest.mark.parametrize(
    "figure, kind, what",
    [
        ("training-curves", "metrics", "in the last epoch, but its result.json says"),
        ("schedules", "schedule", "field lr: peaks at"),
    ],
)
def test_figures_refuse_another_run_s_curve_swapped_in(outdir, tmp_path, spec, figure, kind, what):
    """Two runs' metrics.tsv (or schedule.tsv) swapped by hand: the baseline would be drawn with a
    searched genome's curve. Each file is checked against its own run's result.json."""
    base = formats.read_table("plan", outdir / "final/plan.tsv").query("stage == 'search'")["run"].iloc[0]
    bad = tmp_path / base / f"{kind}.tsv"
    bad.parent.mkdir()
    shutil.copy(outdir / "runs" / ok_runs(outdir)[0] / f"{kind}.tsv", bad)
    files = [bad if f.parent.name == base else f for f in curve_files(outdir, kind)]
    key = "metrics" if kind == "metrics" else "schedules"
    results = sorted((outdir / "runs").glob("*/result.json"))
    individuals, plan = outdir / "search/individuals.tsv", outdir / "final/plan.tsv"
    p = run(*plot_cmd(outdir, spec, figure, individuals=individuals, plan=plan, **{key: files}, results=results))
    assert_one_clean_error(p, str(bad))
    assert what in p.stderr


BETTER = {"fitness": "0.954", "top1": "0.954", "top3": "0.96", "top5": "0.97"}  # in its contract, not its run's


def test_summarize_refuses_a_fitness_row_its_run_s_result_does_not_say(outdir, tmp_path, spec):
    """A 15 % genome edited to 95 % in a fitness table would be named the search's best."""
    fit = outdir / "search/rep0/round0/fitness.tsv"
    row = 1 + [r["status"] for r in formats.read_table("fitness", fit).to_dict("records")].index("ok")
    bad = edited(fit, tmp_path / "search/rep0/round0/fitness.tsv", set_cells(row, **BETTER))
    tables = [bad if t == fit else t for t in sorted((outdir / "search").glob("rep0/**/fitness.tsv"))]
    outs = [x for n in ("individuals", "summary", "best") for x in (f"--out-{n}", outdir / "search" / f"{n}.tsv")]
    results = sorted((outdir / "runs").glob("*/result.json"))
    p = run("search.py", "summarize", "--spec", spec, "--fitness", *tables, "--results", *results, *outs)
    assert_one_clean_error(p, f"{bad}: field fitness (row {row}): 0.954, but ")
    assert "result.json says" in p.stderr


def test_propose_refuses_a_round_trained_at_another_seed_than_its_search_s(outdir, spec, values):
    """A repeat's round kept from before each repeat had its own training seed (search.search_seed):
    new genomes at the new seed beside elites at the old one would mix two fitness landscapes."""
    search = outdir / "search/rep0"
    before = snapshot(outdir)
    history = [search / "round0/fitness.tsv", search / "ga/round1/fitness.tsv"]
    p = run(*propose_cmd(outdir, spec, values, history), "--train-seed", 1_000_000)
    assert_one_clean_error(p, f"{search / 'round0/fitness.tsv'}: field run (row 1): ")
    why = "did not train at this search's seed 1000000 (a round from before each repeat had its own seed)"
    assert f"{why}: delete {search} and run again" in p.stderr
    assert snapshot(outdir) == before


def test_propose_refuses_an_elite_scored_otherwise_than_in_its_first_round(outdir, tmp_path, spec, values):
    src = outdir / "search/rep0/ga/round1/fitness.tsv"
    rows = formats.read_table("fitness", src).to_dict("records")
    row = 1 + next(i for i, r in enumerate(rows) if r["origin"] == "elite" and r["status"] == "ok")
    bad = edited(src, tmp_path / "search/rep0/ga/round1/fitness.tsv", set_cells(row, **BETTER))
    p = run(*propose_cmd(outdir, spec, values, [outdir / "search/rep0/round0/fitness.tsv", bad]))
    assert_one_clean_error(p, f"{bad}: field fitness (row {row}): 0.954, but its row in ")


def verdict_cmd(outdir, spec, plan=None, tests=None, suggestion=None, meta=None, labels=None, predictions=None):
    final = formats.read_table("plan", outdir / "final/plan.tsv").query("stage == 'final'")
    tests = tests or [outdir / "runs" / r / "test.json" for r in final["run"]]
    results = sorted((outdir / "runs").glob("*/result.json"))
    outs = [
        x
        for n in ("comparison", "differences", "predictions", "verdict")
        for x in (f"--out-{n}", outdir / "final" / f"{n}.tsv")
    ]
    meta = meta or outdir / "data/prepared/synthetic/meta.json"
    suggestion = suggestion or outdir / "lr_find/suggestion.json"
    inputs = ("--plan", plan or outdir / "final/plan.tsv", "--tests", *tests, "--results", *results, "--meta", meta)
    inputs += ("--test-labels", labels or outdir / "data/prepared/synthetic/test_y.npy")
    more = (
        "--suggestion",
        suggestion,
        "--baseline",
        '{"lr": "auto"}',
        "--best-predictions",
        predictions or outdir / "final/predictions.tsv",
    )
    return ("verdict.py", "--spec", spec, *inputs, *more, *outs)


def test_verdict_refuses_a_plan_with_a_bad_stage(outdir, tmp_path, spec):
    bad = edited(outdir / "final/plan.tsv", tmp_path / "plan.tsv", set_cell("stage", "later"))
    before = snapshot(outdir)
    p = run(*verdict_cmd(outdir, spec, plan=bad))
    assert_one_clean_error(p, f"{bad}: field stage")
    assert snapshot(outdir) == before


def keep_lines(keep):
    return lambda lines: "".join(line for i, line in enumerate(lines) if keep(i, line))


PLAN_EDITS = {
    "a method's rows left out": (keep_lines(lambda i, line: not line.startswith("random")), "random, repeat 0: its"),
    "a method the config does not search": (set_cell("method", "gax"), "field method (row 9): 'gax' is not one of"),
    "a seed not its run's": (set_cell("seed", "7"), "field seed (row 9): 7, but run"),
    "the baseline with a search fitness": (set_cell("search_fitness", "0.5", row=1), "field search_fitness (row 1)"),
    "no search row": (keep_lines(lambda i, line: "\tsearch\t" not in line), "field stage: one 'search' row"),
    "a final row doubled": (lambda lines: "".join([*lines, lines[-1]]), "its final rows must be one run at each"),
    "a run id naming no setting": (
        set_cell("run", "bogus=1_seed=0"),
        "field run (row 9): run id 'bogus=1_seed=0': bogus is not a setting",
    ),
}


@pytest.mark.parametrize("name", sorted(PLAN_EDITS))
def test_verdict_refuses_a_plan_that_is_not_the_config_s(outdir, tmp_path, spec, name):
    """plan.tsv says which runs are each method's: one left out, renamed or doubled would change the
    comparison silently."""
    edit, what = PLAN_EDITS[name]
    bad = edited(outdir / "final/plan.tsv", tmp_path / "plan.tsv", edit)
    p = run(*verdict_cmd(outdir, spec, plan=bad))
    assert_one_clean_error(p, str(bad))
    assert what in p.stderr


def test_a_plan_s_run_id_that_names_no_setting_is_one_error_naming_the_plan(tmp_path, spec):
    """Without the smoke run: it was identity's ValueError, naming no file."""
    import search

    plan = tmp_path / "plan.tsv"
    plan.write_text("method\trepeat\tstage\tseed\trun\tsearch_fitness\nbaseline\t0\tsearch\t0\tbogus=1_seed=0\tnan\n")
    with pytest.raises(formats.DataError, match=rf"^{plan}: field run \(row 1\): run id 'bogus=1_seed=0': bogus is"):
        search.read_plan(plan, search.spec_from_json(spec))


def test_verdict_refuses_a_test_json_whose_seed_is_not_its_run_s(outdir, tmp_path, spec):
    final = formats.read_table("plan", outdir / "final/plan.tsv").query("stage == 'final'")["run"].tolist()
    tests = [outdir / "runs" / r / "test.json" for r in final]
    bad = edited(tests[0], tmp_path / final[0] / "test.json", lambda r: r.update(seed=9))
    p = run(*verdict_cmd(outdir, spec, tests=[bad, *tests[1:]]))
    assert_one_clean_error(p, f"{bad}: field seed: 9, but run")


@pytest.mark.parametrize(
    "edit, what",
    [
        (lambda r: r.update(steps=3), "field steps: 3, but the range test has 40 rows"),
        (
            lambda r: r.update(lr_min_loss=r["lr_min_loss"] * 2, stretch=[r["stretch"][0], r["lr_min_loss"] * 2]),
            "field lr_min_loss: ",
        ),
    ],  # fmt: skip
)
def test_the_lr_find_figure_refuses_a_suggestion_not_made_from_its_curve(outdir, tmp_path, spec, edit, what):
    bad = edited(outdir / "lr_find/suggestion.json", tmp_path / "suggestion.json", edit)
    p = run(*plot_cmd(outdir, spec, "lr-find", tsv=outdir / "lr_find/lr_find.tsv", suggestion=bad))
    assert_one_clean_error(p, f"{bad}: {what}")


def test_verdict_refuses_a_test_json_of_another_run(outdir, tmp_path, spec):
    final = formats.read_table("plan", outdir / "final/plan.tsv").query("stage == 'final'")["run"].tolist()
    tests = [outdir / "runs" / r / "test.json" for r in final]
    swapped = tmp_path / final[0] / "test.json"
    swapped.parent.mkdir()
    shutil.copy(tests[1], swapped)  # another run's scores in this run's folder
    before = snapshot(outdir)
    p = run(*verdict_cmd(outdir, spec, tests=[swapped, *tests[1:]]))
    assert_one_clean_error(p, f"{swapped}: belongs to run")
    assert snapshot(outdir) == before


def test_verdict_refuses_nan_test_scores_of_a_run_that_trained(outdir, tmp_path, spec):
    final = formats.read_table("plan", outdir / "final/plan.tsv").query("stage == 'final'")["run"].tolist()
    tests = [outdir / "runs" / r / "test.json" for r in final]
    bad = edited(tests[0], tmp_path / final[0] / "test.json", lambda r: r.update(test_top1=float("nan")))
    p = run(*verdict_cmd(outdir, spec, tests=[bad, *tests[1:]]))
    assert_one_clean_error(p, f"{bad}: field test_top1: NaN with status 'ok'")


@pytest.mark.parametrize(
    "edit, what",
    [
        (lambda r: r.update(std=[0.0, 0.0, 0.0]), "field std: must be 3 numbers"),  # every image / 0
        (lambda r: r.update(mean=["a", "b", "c"]), "field mean: must be 3 numbers"),
        (lambda r: r.update(mean=[0.5, 0.5]), "field mean: must be 3 numbers"),
        (lambda r: r.update(classes=["a", "b", "c"]), "field classes: must be 10 distinct names"),
        (lambda r: r.update(classes=["cat"] * 10), "field classes: must be 10 distinct names"),
    ],  # fmt: skip
)
def test_a_meta_json_breaking_its_contract_is_refused(outdir, tmp_path, spec, edit, what):
    bad = edited(outdir / "data/prepared/synthetic/meta.json", tmp_path / "meta.json", edit)
    before = snapshot(outdir)
    p = run(*verdict_cmd(outdir, spec, meta=bad))
    assert_one_clean_error(p, f"{bad}: {what}")
    assert snapshot(outdir) == before


def test_verdict_refuses_a_meta_json_without_classes(outdir, tmp_path, spec):
    bad = edited(outdir / "data/prepared/synthetic/meta.json", tmp_path / "meta.json", lambda r: r.pop("num_classes"))
    p = run(*verdict_cmd(outdir, spec, meta=bad))
    assert_one_clean_error(p, f"{bad}: field num_classes: missing")


@pytest.mark.parametrize(
    "labels, what",
    [
        (np.array([0, 1], dtype=object), "unreadable prepared data"),  # a pickle: never loaded
        (np.zeros(3, dtype=np.int64), "meta.json says 500 integer labels"),
        (np.full(500, 12, dtype=np.int64), "labels outside 0..9"),
    ],
)
def test_verdict_refuses_test_labels_that_are_not_the_prepared_ones(outdir, tmp_path, spec, labels, what):
    bad = tmp_path / "test_y.npy"
    np.save(bad, labels, allow_pickle=True)
    before = snapshot(outdir)
    p = run(*verdict_cmd(outdir, spec, labels=bad))
    assert_one_clean_error(p, f"{bad}: ")
    assert what in p.stderr and snapshot(outdir) == before


@pytest.mark.parametrize(
    "edit, what",
    [
        (lambda r: r.pop("suggestion"), "field suggestion: missing"),
        (lambda r: r.update(suggestion=-1.0), "field suggestion: -1.0 is outside"),
        (lambda r: r.update(valid="yes"), "field valid: expected a bool"),
        (lambda r: r.update(valid="True"), "field valid: expected a bool"),  # JSON text is not a TSV's boolean
        (lambda r: r.pop("stretch"), "field stretch: must be [from, to] lrs around the suggestion"),
        (lambda r: r.update(stretch=[str(x) for x in r["stretch"]]), "field stretch: must be [from, to]"),
        (lambda r: r.update(stretch=[r["stretch"][1], r["lr_min_loss"] * 2]), "field stretch: must be [from, to]"),
        (lambda r: r.update(suggestion=0.0), "field suggestion: an lr must be > 0"),
        (lambda r: r.update(suggestion=1e300), "field suggestion: 1e+300 is above lr_min_loss"),
        (lambda r: r.update(rule="bogus"), "field rule: 'bogus' is not one of"),
        (lambda r: r.update(rule="valley", valid=not r["valid"]), "field valid: "),
    ],  # fmt: skip
)
def test_the_plan_refuses_a_bad_suggestion(outdir, tmp_path, spec, values, edit, what):
    bad = edited(outdir / "lr_find/suggestion.json", tmp_path / "suggestion.json", edit)
    before = snapshot(outdir)
    meta = outdir / "data/prepared/synthetic/meta.json"
    baseline = '{"lr": "auto", "wd": 5e-4, "mom": 0.85}'
    args = ("--spec", spec, "--settings", values, "--meta", meta, "--best", outdir / "search/best.tsv")
    p = run("search.py", "plan", *args, "--suggestion", bad, "--baseline", baseline, "--out", outdir / "final/plan.tsv")
    assert_one_clean_error(p, str(bad))
    assert what in p.stderr and snapshot(outdir) == before


@pytest.mark.parametrize(
    "edit, what",
    [
        (set_cell("lr", "9.99e+00", row=1), "field lr (row 1): '9.99e+00' is not in lr log-uniform"),
        (set_cell("lr", "nan", row=1), "field lr (row 1): 'nan' is not in"),
        (set_cell("lr", "1.23e-02", row=1), "field lr (row 1): not the value its run"),
        (set_cell("method", "bogus", row=1), "row 1: method 'bogus', repeat 0: not a search of the config"),
        (lambda lines: "".join(lines[:-1]), "rows, but the config's searches are"),
    ],  # fmt: skip
)
def test_the_plan_refuses_a_best_table_that_names_no_searched_genome(outdir, tmp_path, spec, values, edit, what):
    """best.tsv names the genomes the final stage retrains and tests: each must be one a search of this
    config found, spelled as its run trains it."""
    bad = edited(outdir / "search/best.tsv", tmp_path / "best.tsv", edit)
    before = snapshot(outdir)
    meta = outdir / "data/prepared/synthetic/meta.json"
    baseline = '{"lr": "auto", "wd": 5e-4, "mom": 0.85}'
    args = ("--spec", spec, "--settings", values, "--meta", meta, "--best", bad)
    sug = outdir / "lr_find/suggestion.json"
    p = run("search.py", "plan", *args, "--suggestion", sug, "--baseline", baseline, "--out", outdir / "final/plan.tsv")
    assert_one_clean_error(p, str(bad))
    assert what in p.stderr and snapshot(outdir) == before


def test_the_confusion_matrix_refuses_a_label_beyond_the_classes(outdir, tmp_path, spec):
    bad = edited(outdir / "final/predictions.tsv", tmp_path / "predictions.tsv", set_cell("label", "12"))
    before = snapshot(outdir)
    p = run(
        *plot_cmd(outdir, spec, "confusion-matrix", predictions=bad, meta=outdir / "data/prepared/synthetic/meta.json")
    )
    assert_one_clean_error(p, str(bad))
    assert snapshot(outdir) == before


def test_the_confusion_matrix_refuses_predictions_of_part_of_the_test_set(outdir, tmp_path, spec):
    bad = edited(outdir / "final/predictions.tsv", tmp_path / "predictions.tsv", lambda lines: "".join(lines[:101]))
    meta = outdir / "data/prepared/synthetic/meta.json"
    p = run(*plot_cmd(outdir, spec, "confusion-matrix", predictions=bad, meta=meta))
    assert_one_clean_error(p, f"{bad}: 100 rows, but the test set has 500 images")


def swap_rows(a, b):
    """Two lines' cells swapped, all but the first (a table's index stays in order)."""

    def edit(lines):
        (ia, ra), (ib, rb) = (lines[i].split("\t", 1) for i in (a, b))
        lines[a], lines[b] = f"{ia}\t{rb}", f"{ib}\t{ra}"
        return "".join(lines)

    return edit


def test_verdict_refuses_predictions_whose_rows_are_not_the_test_set_s(outdir, tmp_path, spec):
    """Rows shifted or swapped would make the confusion matrix wrong, the top-1 the same."""
    src = outdir / "final/predictions.tsv"
    labels = formats.read_table("predictions", src)["label"].tolist()
    other = 1 + next(i for i, x in enumerate(labels) if x != labels[0])  # the line of a row of another class
    bad = edited(src, tmp_path / "predictions.tsv", swap_rows(1, other))
    before = snapshot(outdir)
    p = run(*verdict_cmd(outdir, spec, predictions=bad))
    assert_one_clean_error(p, f"{bad}: field label (row 1): does not match the test set's labels")
    assert snapshot(outdir) == before


def test_verdict_refuses_predictions_of_another_run(outdir, tmp_path, spec):
    """The confusion matrix is the reference's best: another final run's predictions (the same labels)
    get fewer right than its test.json's test_top1."""
    plan = formats.read_table("plan", outdir / "final/plan.tsv").query("stage == 'final'")
    tests = {r: json.loads((outdir / "runs" / r / "test.json").read_text())["test_top1"] for r in plan["run"]}
    best = tests[plan.query("method == 'ga' and repeat == 0")["run"].iloc[0]]
    other = next(r for r, top1 in tests.items() if top1 == top1 and abs(top1 - best) > 0.01)
    bad = shutil.copy(outdir / "runs" / other / "test_predictions.tsv", tmp_path / "predictions.tsv")
    p = run(*verdict_cmd(outdir, spec, predictions=bad))
    assert_one_clean_error(p, f"{bad}: field pred1: ")
    assert f"but its run's test_top1 is {best!r}" in p.stderr


def test_the_predictions_check_takes_the_test_labels_and_the_run_s_top1():
    """Without the smoke run: the one check both readers of predictions use."""
    import pandas as pd

    meta = {"test_size": 4, "num_classes": 3}
    p = pd.DataFrame({"index": range(4), "label": [0, 1, 2, 1], "pred1": [0, 1, 1, 1]})
    formats.check_predictions_of(meta, p, "p.tsv", np.array([0, 1, 2, 1]), 0.75)
    formats.check_predictions_of(meta, p, "p.tsv", None)  # a reader without the labels
    with pytest.raises(formats.DataError, match=r"^p.tsv: field label \(row 2\): does not match the test set's"):
        formats.check_predictions_of(meta, p, "p.tsv", np.array([0, 2, 1, 1]), 0.75)
    with pytest.raises(formats.DataError, match=r"^p.tsv: field pred1: 0.75 of its top-1 answers are right, but "):
        formats.check_predictions_of(meta, p, "p.tsv", np.array([0, 1, 2, 1]), 0.5)
    with pytest.raises(formats.DataError, match=r"^p.tsv: 4 rows, but its run's test.json has test_top1 nan"):
        formats.check_predictions_of(meta, p, "p.tsv", np.array([0, 1, 2, 1]), float("nan"))
    formats.check_predictions_of(meta, p.iloc[:0], "p.tsv", np.array([0, 1, 2, 1]), float("nan"))  # no scores


def test_the_search_space_figure_refuses_a_fitness_that_is_text(outdir, tmp_path, spec):
    bad = edited(outdir / "search/individuals.tsv", tmp_path / "individuals.tsv", set_cell("fitness", "high"))
    p = run(*plot_cmd(outdir, spec, "search-space", individuals=bad))
    assert_one_clean_error(p, f"{bad}: field fitness")


def test_init_refuses_a_meta_json_without_a_data_identity(outdir, tmp_path, spec, values):
    bad = edited(outdir / "data/prepared/synthetic/meta.json", tmp_path / "meta.json", lambda r: r.pop("data_id"))
    before = snapshot(outdir)
    p = run(
        "search.py",
        "init",
        "--spec",
        spec,
        "--settings",
        values,
        "--meta",
        bad,
        "--out",
        outdir / "search/rep0/round0/population.tsv",
    )
    assert_one_clean_error(p, f"{bad}: field data_id: missing")
    assert snapshot(outdir) == before


# ----------------------------------------------------------------------------- runs and weights
def evaluate_args(prepared, run_dir):
    files = ("--result", run_dir / "result.json", "--model", run_dir / "model.pt", "--out", run_dir / "test.json")
    return ("--data", prepared, *files, "--out-predictions", run_dir / "test_predictions.tsv", "--device", "cpu")


def test_evaluate_refuses_weights_of_another_run(prepared, outdir, tmp_path):
    runs = sorted((outdir / "runs").glob("lr=*"))
    run_dir = tmp_path / runs[0].name
    shutil.copytree(runs[0], run_dir, ignore=shutil.ignore_patterns("test*"))
    shutil.copy(runs[1] / "model.pt", run_dir / "model.pt")  # swapped by hand
    p = run("evaluate.py", *evaluate_args(outdir / "data/prepared/synthetic", run_dir))
    assert_one_clean_error(p, f"{run_dir / 'model.pt'}: the weights of run {runs[1].name!r}")
    assert not (run_dir / "test.json").exists()


def test_evaluate_refuses_a_bare_state_dict_of_another_run(prepared, outdir, tmp_path):
    """A bare state dict names no run; result.json's sha256 of model.pt still tells it is not this
    run's (it would have reported another genome's test top-1 as this one's)."""
    import torch

    runs = sorted((outdir / "runs").glob("lr=*"))
    run_dir = tmp_path / runs[0].name
    shutil.copytree(runs[0], run_dir, ignore=shutil.ignore_patterns("test*"))
    other = torch.load(runs[1] / "model.pt", weights_only=True)["state_dict"]
    torch.save(other, run_dir / "model.pt")
    p = run("evaluate.py", *evaluate_args(outdir / "data/prepared/synthetic", run_dir))
    assert_one_clean_error(p, f"{run_dir / 'model.pt'}: not the weights run {runs[0].name!r} wrote")
    assert not (run_dir / "test.json").exists()


def test_corrupt_model_weights_in_evaluate(prepared, outdir, tmp_path):
    run_dir = tmp_path / first_run(outdir)
    shutil.copytree(outdir / "runs" / run_dir.name, run_dir, ignore=shutil.ignore_patterns("test*"))
    (run_dir / "model.pt").write_bytes(b"PK\x03\x04 not a zip")
    p = run("evaluate.py", *evaluate_args(outdir / "data/prepared/synthetic", run_dir))
    assert_one_clean_error(p, "model.pt: unreadable model weights")
    assert not (run_dir / "test.json").exists()


def test_evaluate_reads_a_result_that_predates_a_setting_with_its_default(prepared, outdir, tmp_path):
    """A record written before a setting existed lacks it: the default is what that run trained with."""
    run_dir = tmp_path / first_run(outdir)
    shutil.copytree(outdir / "runs" / run_dir.name, run_dir, ignore=shutil.ignore_patterns("test*"))
    edited(run_dir / "result.json", run_dir / "result.json", lambda r: r["settings"].pop("cutout"))
    p = run("evaluate.py", *evaluate_args(outdir / "data/prepared/synthetic", run_dir))
    assert p.returncode == 0, p.stderr
    assert formats.read_record("test", run_dir / "test.json", run=run_dir.name)["status"] == "ok"


@pytest.fixture(scope="module")
def tiny_run(prepared, tmp_path_factory):
    """One epoch on 300 images, trained here: evaluate.py's inputs without the smoke run (quick tier)."""
    out = tmp_path_factory.mktemp("tiny") / "run"
    run_train(prepared, out, "--max-train", 300, "--max-val", 100, epochs=1)
    return out


def tiny_copy(tiny_run, tmp_path) -> Path:
    shutil.copytree(tiny_run, tmp_path / tiny_run.name)
    return tmp_path / tiny_run.name


def test_evaluate_refuses_prepared_data_of_another_dataset(tiny_run, tmp_path):
    """Another dataset's test set scored the run's weights on other images: 5 % top-1, and exit 0."""
    from data import prepare, write_synthetic

    write_synthetic(tmp_path / "raw", n_train=200, n_test=50, seed=1)
    other = prepare(tmp_path / "raw", tmp_path / "other", "synthetic")
    run_dir = tiny_copy(tiny_run, tmp_path)
    before = snapshot(run_dir)
    p = run("evaluate.py", *evaluate_args(other, run_dir))
    assert_one_clean_error(p, f"{run_dir / 'result.json'}: run 'run' was trained on data 'synthetic-")
    assert f"but {other / 'meta.json'} is data 'synthetic-" in p.stderr
    assert snapshot(run_dir) == before  # neither test.json nor the predictions


@pytest.mark.parametrize(
    "edit, what",
    [
        (lambda r: r.update(epochs=10**400), "field epochs: not a finite number: 10000"),
        (lambda r: r["settings"].update(epochs=10**400), "field settings.epochs: not a finite number: 10000"),
    ],
    ids=["epochs", "settings.epochs"],
)
def test_an_integer_no_float_holds_is_one_line_naming_the_field(prepared, tiny_run, tmp_path, edit, what):
    """A JSON integer of 400 digits raised OverflowError (int too large to convert to float)."""
    run_dir = tiny_copy(tiny_run, tmp_path)
    edited(run_dir / "result.json", run_dir / "result.json", edit)
    before = snapshot(run_dir)
    p = run("evaluate.py", *evaluate_args(prepared, run_dir))
    assert_one_clean_error(p, f"{run_dir / 'result.json'}: {what}")
    assert snapshot(run_dir) == before


@pytest.mark.parametrize(
    "option, target, link",
    [
        ("--out", "model.pt", False),
        ("--out-predictions", "result.json", True),
        ("--out", "test_y.npy", False),
        ("--out-predictions", "metrics.tsv", False),  # the run's other files: no output of evaluate's
        ("--out", ".lock", False),  # replaced, the lock would no longer keep out another writer
    ],
    ids=["the weights", "a link to the result", "a prepared array", "the run's curve", "the run's lock"],
)
def test_evaluate_refuses_an_output_that_is_one_of_its_inputs(prepared, tiny_run, tmp_path, option, target, link):
    """`--out run/model.pt` replaced the weights with test.json's text, and exited 0."""
    data = tmp_path / "prep"
    shutil.copytree(prepared, data)
    run_dir = tiny_copy(tiny_run, tmp_path)
    out = (data if target.endswith(".npy") else run_dir) / target
    if link:
        (tmp_path / "link").symlink_to(out)
        out = tmp_path / "link"
    args = list(evaluate_args(data, run_dir))
    args[args.index(option) + 1] = out
    before = {**snapshot(run_dir), **snapshot(data)}
    p = run("evaluate.py", *args)
    assert_one_clean_error(p, f"{out}: the same file as an input")
    assert {**snapshot(run_dir), **snapshot(data)} == before


@pytest.mark.parametrize(
    "edit, what",
    [
        (lambda lines: lines[1].replace("\n", "\t0.5\n"), "row 1 has 12 fields, the header 11"),
        (
            lambda lines: lines[1] + lines[1].replace("1\t", "2\t", 1).replace("\n", "\t0.5\n"),
            "row 2 has 12 fields, the header 11",
        ),
        (lambda lines: lines[1].rsplit("\t", 1)[0] + "\n", "row 1 has 10 fields, the header 11"),
    ],
    ids=["first row", "second row", "a field short"],
)
def test_a_row_with_another_number_of_fields_is_named_not_shifted(tiny_run, tmp_path, capsys, edit, what):
    """pandas made an extra first field the index and shifted the rest: `field epoch (row 1): not an
    integer: '0.0146...'`, which names the wrong field."""
    import util

    src = tiny_run / "metrics.tsv"
    bad = edited(src, tmp_path / "metrics.tsv", lambda lines: lines[0] + edit(lines))
    assert util.run_cli(lambda _: formats.read_table("metrics", bad), None) == 1
    assert capsys.readouterr().err == f"error: {bad}: {what}\n"


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch '{self.marker}'",))


def test_model_weights_with_a_code_payload_in_evaluate(outdir, tmp_path):
    import torch

    run_dir = tmp_path / first_run(outdir)
    shutil.copytree(outdir / "runs" / run_dir.name, run_dir, ignore=shutil.ignore_patterns("test*"))
    marker = tmp_path / "payload-ran"
    torch.save({"conv1.weight": Payload(marker)}, run_dir / "model.pt")
    p = run("evaluate.py", *evaluate_args(outdir / "data/prepared/synthetic", run_dir))
    assert_one_clean_error(p, "model.pt: unreadable model weights")
    assert not marker.exists()


def test_train_refuses_a_run_folder_holding_another_run(outdir, tmp_path):
    """Two run folders swapped by hand: the one asked for holds another run's result."""
    runs = sorted((outdir / "runs").glob("lr=*"))
    folder = tmp_path / runs[0].name
    shutil.copytree(runs[1], folder)
    args = small_args(outdir / "data/prepared/synthetic", folder)
    p = run("train.py", *args, "--epochs", 2, "--threads", 2)
    assert_one_clean_error(p, f"{folder / 'result.json'}: belongs to run {runs[1].name!r}")


# ----------------------------------------------------------------------------- command lines and data
BAD_ARGS = {
    "negative max-train": (["--max-train", -5], "--max-train"),
    "seed too large": (["--seed", 2**32], "--seed"),
    "zero lr": (["--lr", 0], "--lr"),
    "infinite wd": (["--wd", "inf"], "--wd"),
    "pct-start of 1": (["--pct-start", 1], "--pct-start"),
    "milestone past the iterations": (["--schedule", "step", "--iterations", 50, "--milestones", 100], "--milestones"),
    "genome with shell text": (["--genome", "lr=1e-3;touch x_wd=0_mom=0.9_seed=0"], "run id"),
    "negative cutout": (["--cutout", -2], "--cutout"),
    "label smoothing of 2": (["--label-smoothing", 2], "--label-smoothing"),
}


@pytest.mark.parametrize("name", sorted(BAD_ARGS))
def test_bad_train_argument(prepared, outdir, name):
    extra, flag = BAD_ARGS[name]
    before = snapshot(outdir)
    p = run("train.py", *small_args(prepared, outdir / "runs" / first_run(outdir)), "--epochs", 1, *extra)
    assert_one_clean_error(p, flag)
    assert snapshot(outdir) == before


def test_a_batch_file_with_a_code_payload_is_refused_and_never_runs(synthetic_raw, tmp_path, outdir):
    raw = tmp_path / "raw"
    shutil.copytree(synthetic_raw, raw)
    marker = tmp_path / "payload-ran"
    batch = raw / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(pickle.dumps({"data": Payload(marker), "labels": [0]}, protocol=2))
    before = snapshot(outdir)
    p = run(
        "data.py", "prepare", "--data-dir", raw, "--out", outdir / "data/prepared/synthetic", "--dataset", "synthetic"
    )
    assert_one_clean_error(p, str(batch))
    assert "refusing to load posix.system" in p.stderr and not marker.exists()
    assert snapshot(outdir) == before


def test_a_split_the_data_cannot_give_is_refused_before_any_training(synthetic_raw, outdir):
    before = snapshot(outdir)
    p = run("data.py", "prepare", "--data-dir", synthetic_raw, "--out", outdir / "data/prepared/synthetic",
            "--dataset", "synthetic", "--val-size", 2500, "--batch-size", 100)  # fmt: skip
    assert_one_clean_error(p, "config key data.val_size: 2500 leaves no training images out of 2500")
    assert snapshot(outdir) == before


def test_a_float_image_outside_0_1_in_a_folder_is_one_line(tmp_path, outdir):
    from PIL import Image

    from helpers import write_image_folder

    folder = write_image_folder(tmp_path / "images", n_train=5, n_test=2)
    bad = folder / "train" / "cat" / "zz.tif"
    Image.fromarray(np.full((8, 8), 7.5, np.float32), "F").save(bad)
    p = run("data.py", "prepare", "--data-dir", folder, "--out", tmp_path / "prep", "--dataset", "folder")
    assert_one_clean_error(p, f"{bad}: float image with values outside [0, 1]")


def test_md5_mismatch_names_the_file(synthetic_raw, tmp_path):
    p = run("data.py", "prepare", "--data-dir", synthetic_raw, "--out", tmp_path / "prep", "--dataset", "cifar10")
    assert_one_clean_error(p, "batches.meta: md5 mismatch")


# ----------------------------------------------------------------------------- faults of the machine
def test_a_full_disk_is_one_line_and_leaves_no_partial_file(outdir, tmp_path, spec):
    with mounted(tmp_path / "full", "size=16k") as full:
        with contextlib.suppress(OSError), open(full / "filler", "wb", buffering=0) as f:
            while True:  # until the disk is full
                f.write(b"x" * 512)
        out = full / "fitness.tsv"
        p = run(*collect_cmd(outdir, outdir / "runs", spec)[:-1], out)
        assert_one_clean_error(p, "No space left on device")
        assert sorted(x.name for x in full.iterdir()) == ["filler"]  # no temp file, no half a table


def test_prepare_on_a_full_disk_is_one_line_naming_the_array_not_a_bus_error(synthetic_raw, tmp_path):
    """The prepared arrays are written through memory maps: their space is reserved first, so a full
    disk is ENOSPC naming the array (a write into the map would end the process with SIGBUS)."""
    with mounted(tmp_path / "small", "size=1m") as small:  # the .lock fits, train_x.npy (7.7 MB) does not
        p = run("data.py", "prepare", "--data-dir", synthetic_raw, "--out", small / "p", "--dataset", "synthetic")
        assert_one_clean_error(p, f"{small / 'p' / 'train_x.npy'}: No space left on device")
        assert p.returncode == 1
        assert sorted(x.name for x in (small / "p").iterdir()) == [".lock"]  # no temporary array left


def test_a_read_only_output_folder_is_one_line(outdir, tmp_path, spec):
    with mounted(tmp_path / "ro", "ro,size=1m") as ro:
        p = run(*collect_cmd(outdir, outdir / "runs", spec)[:-1], ro / "fitness.tsv")
        assert_one_clean_error(p, f"{ro}")
        assert "Read-only file system" in p.stderr


def test_an_output_path_through_a_file_is_one_line(outdir, tmp_path, spec):
    (tmp_path / "afile").write_text("x")
    before = snapshot(outdir)
    p = run(*collect_cmd(outdir, outdir / "runs", spec)[:-1], tmp_path / "afile" / "fitness.tsv")
    assert_one_clean_error(p, str(tmp_path / "afile"))
    assert "Not a directory" in p.stderr or "File exists" in p.stderr
    assert snapshot(outdir) == before


def test_a_path_component_too_long_is_one_line(outdir, tmp_path, spec):
    p = run(*collect_cmd(outdir, outdir / "runs", spec)[:-1], tmp_path / ("x" * 300) / "fitness.tsv")
    assert_one_clean_error(p, "File name too long")


# ----------------------------------------------------------------------------- inside the workflow
def test_a_bad_table_found_inside_a_job_deletes_nothing_and_names_the_file(work):
    """A NaN fitness edited into round 1's table: the next round's proposal fails with one line
    naming the file and the field, and round 2's population (which existed) is kept as it was."""
    outdir = work / "results" / "smoke"  # edited here, its job's log written: compared below, logs aside
    table = outdir / "search/rep0/ga/round1/fitness.tsv"
    edited(table, table, set_cell("fitness", "nan"))  # newer than round 2: Snakemake reruns the proposal
    before = snapshot(outdir)
    p = snakemake(work, "results/smoke/search/rep0/ga/round2/population.tsv", *SMOKE, check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "Traceback" not in out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert (
        len(errors) == 1 and str(table.relative_to(work)) in errors[0] and "field fitness (row 4): NaN" in errors[0]
    ), out[-3000:]
    after = snapshot(outdir)
    assert {k: v for k, v in after.items() if "logs" not in str(k)} == {
        k: v for k, v in before.items() if "logs" not in str(k)
    }


def test_evaluate_with_an_output_through_a_file_writes_neither_output(prepared, outdir, tmp_path):
    run_dir = tmp_path / first_run(outdir)
    shutil.copytree(outdir / "runs" / run_dir.name, run_dir, ignore=shutil.ignore_patterns("test*"))
    (tmp_path / "afile").write_text("x")
    args = list(evaluate_args(outdir / "data/prepared/synthetic", run_dir))
    args[args.index("--out") + 1] = tmp_path / "afile" / "test.json"
    p = run("evaluate.py", *args)
    assert_one_clean_error(p, f"{tmp_path / 'afile' / 'test.json'}: Not a directory")
    assert not list(run_dir.glob("test*"))  # the predictions were not written first


def percent_lr(lines: list[str]) -> None:
    """The first genome's lr as a percentage, in its lr column and its run id alike."""
    lr = lines[1].split("\t")[2]
    lines[1] = lines[1].replace(lr, "35")


def no_run_column(lines: list[str]) -> None:
    lines[0] = lines[0].replace("\trun\t", "\trunx\t")


@pytest.mark.parametrize(
    "edit, what", [(percent_lr, "field lr (row 1): '35' is not in lr"), (no_run_column, "field run: missing")]
)
def test_a_bad_table_the_dag_reads_is_one_line_and_trains_nothing(work, edit, what):
    """Snakemake itself reads the round tables to know which runs to train: a table edited by hand is
    one line naming it, not an InputFunctionException with a traceback, and no run outside the
    search is trained."""
    outdir = work / "results" / "smoke"
    table = outdir / "search/rep0/round0/population.tsv"
    lines = table.read_text().splitlines()
    edit(lines)
    table.write_text("\n".join(lines) + "\n")
    before = snapshot(outdir)
    p = snakemake(work, "results/smoke/search/rep0/round0/fitness.tsv", *SMOKE, check=False)
    assert_one_clean_error(p, f"{table.relative_to(work)}: {what}")
    assert "rule train" not in p.stdout + p.stderr
    assert snapshot(outdir) == before
