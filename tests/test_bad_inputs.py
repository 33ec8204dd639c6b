"""Bad inputs: config keys, data folders, checkpoints and weights, TSVs, command-line arguments.

Each case asserts a non-zero exit, exactly one `error:` line naming the key or the file, no Python
traceback, and that every file under the (finished smoke run's) outdir is byte-identical after.
"""

import hashlib
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ga
from helpers import SMOKE, copy_workflow, script_cmd, small_args, snakemake


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def assert_one_clean_error(p, names: str) -> None:
    out = p.stdout + p.stderr
    errors = [line for line in out.splitlines() if "error:" in line]
    assert p.returncode != 0, out[-2000:]
    assert "Traceback" not in out and 'File "' not in out, out[-2000:]
    assert len(errors) == 1 and names in errors[0], out[-2000:]


@pytest.fixture
def work(smoke, tmp_path):
    """A fresh copy of the workflow holding a copy of the finished smoke run."""
    w = copy_workflow(tmp_path / "wf")
    shutil.copytree(smoke["out"], w / "results" / "smoke")
    return w


# ----------------------------------------------------------------------------- config keys
M = 2**32
# every key's check is a unit test in test_config_check.py; these go through Snakemake itself
BAD_CONFIGS = {
    "unknown arch": ("train: {arch: resnet51}", "train.arch"),
    "infinite lr bound": ("ga: {genes: {lr: {low: 1.0e-3, high: .inf, log: true}}}", "ga.genes.lr.high"),
    "missing data_dir": ("data: {dataset: cifar10, data_dir: /nonexistent/cifar}", "data.data_dir"),
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
    "override, key", [("ga={generations: abc}", "ga.generations"), ("train={epochs: 0}", "train.epochs")]
)
def test_bad_command_line_override(work, override, key):
    before = snapshot(work / "results")
    p = snakemake(work, *SMOKE, "--config", override, check=False, timeout=120)
    assert_one_clean_error(p, f"config key {key}")
    assert snapshot(work / "results") == before


def test_nested_number_override_from_the_command_line_works(work):
    p = snakemake(work, *SMOKE, "-n", "--config", "ga={generations: 5, population: 4, elites: 2}")
    assert "Nothing to be done" not in p.stdout + p.stderr  # generations 3 and 4 are new
    assert "gen4" in p.stdout + p.stderr


# ----------------------------------------------------------------------------- command lines
def run(name, *args):
    return subprocess.run(script_cmd(name, *args), capture_output=True, text=True, timeout=300)


@pytest.fixture
def outdir(work):
    return work / "results" / "smoke"


def train_args(prepared, out, *extra):
    return (*small_args(prepared, out), "--epochs", 1, *extra)


BAD_ARGS = {
    "negative max-train": (["--max-train", -5], "--max-train"),
    "negative seed": (["--seed", -1], "--seed"),
    "seed too large": (["--seed", M], "--seed"),
    "zero lr": (["--lr", 0], "--lr"),
    "infinite wd": (["--wd", "inf"], "--wd"),
    "pct-start of 1": (["--pct-start", 1], "--pct-start"),
    "milestone past the iterations": (["--schedule", "step", "--iterations", 50, "--milestones", 100], "--milestones"),
    "genome with shell text": (["--genome", "lr=1e-3;touch x_wd=0_mom=0.9_seed=0"], "run id"),
}


@pytest.mark.parametrize("name", sorted(BAD_ARGS))
def test_bad_train_argument(prepared, outdir, name):
    extra, flag = BAD_ARGS[name]
    before = snapshot(outdir)
    run_dir = next((outdir / "runs").iterdir())
    p = run("train.py", *train_args(prepared, run_dir, *extra))
    assert_one_clean_error(p, flag)
    assert snapshot(outdir) == before


@pytest.mark.parametrize(
    "extra, flag",
    [(["--arch", "resnet51"], "resnet51"), (["--start-lr", 0], "--start-lr"), (["--steps", 1], "--steps")],
)
def test_bad_lr_find_argument(prepared, outdir, extra, flag):
    before = snapshot(outdir)
    p = run("lr_find.py", "--data", prepared, "--out", outdir / "lr_find", "--val-size", 500, "--device", "cpu", *extra)
    assert_one_clean_error(p, flag)
    assert snapshot(outdir) == before


# ----------------------------------------------------------------------------- data folders
class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch '{self.marker}'",))


def test_batch_file_with_a_code_payload_is_refused_and_never_runs(synthetic_raw, tmp_path, outdir):
    raw = tmp_path / "raw"
    shutil.copytree(synthetic_raw, raw)
    marker = tmp_path / "payload-ran"
    batch = raw / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(pickle.dumps({"data": Payload(marker), "labels": [0]}, protocol=2))
    before = snapshot(outdir)
    p = run(
        "data.py",
        "prepare",
        "--data-dir",
        raw,
        "--out",
        outdir / "data" / "prepared" / "synthetic",
        "--dataset",
        "synthetic",
    )
    assert_one_clean_error(p, str(batch))
    assert "refusing to load posix.system" in p.stderr and not marker.exists()
    assert snapshot(outdir) == before


def test_md5_mismatch_names_the_file(synthetic_raw, tmp_path, outdir):
    before = snapshot(outdir)
    p = run("data.py", "prepare", "--data-dir", synthetic_raw, "--out", tmp_path / "prep", "--dataset", "cifar10")
    assert_one_clean_error(p, "batches.meta: md5 mismatch")
    assert snapshot(outdir) == before


def broken_prepared(prepared, tmp_path, name, change):
    bad = tmp_path / name
    shutil.copytree(prepared, bad)
    change(bad)
    return bad


PREPARED_BREAKS = {
    "labels out of range": (lambda d: np.save(d / "train_y.npy", np.full(2500, 10, dtype=np.int64)), "train_y.npy"),
    "meta.json missing": (lambda d: (d / "meta.json").unlink(), "meta.json"),
    "meta.json garbage": (lambda d: (d / "meta.json").write_text("{"), "meta.json"),
    "images of the wrong shape": (lambda d: np.save(d / "test_x.npy", np.zeros((500, 32, 32), np.uint8)), "test_x.npy"),
}


@pytest.mark.parametrize("name", sorted(PREPARED_BREAKS))
def test_bad_prepared_folder(prepared, tmp_path, outdir, name):
    change, file = PREPARED_BREAKS[name]
    bad = broken_prepared(prepared, tmp_path, "bad", change)
    before = snapshot(outdir)
    p = run("train.py", *train_args(bad, tmp_path / "run"))
    assert_one_clean_error(p, file)
    assert snapshot(outdir) == before


# ----------------------------------------------------------------------------- weights
def evaluate_args(prepared, run_dir):
    files = ("--result", run_dir / "result.json", "--model", run_dir / "model.pt", "--out", run_dir / "test.json")
    return ("--data", prepared, *files, "--out-predictions", run_dir / "test_predictions.tsv", "--device", "cpu")


def test_corrupt_model_weights_in_evaluate(prepared, tmp_path, outdir):
    run_dir = tmp_path / "run"
    shutil.copytree(next((outdir / "runs").iterdir()), run_dir, ignore=shutil.ignore_patterns("test*"))
    (run_dir / "model.pt").write_bytes(b"PK\x03\x04 not a zip")
    p = run("evaluate.py", "test", *evaluate_args(prepared, run_dir))
    assert_one_clean_error(p, "model.pt: unreadable model weights")
    assert not (run_dir / "test.json").exists()


def test_model_weights_with_a_code_payload_in_evaluate(prepared, tmp_path, outdir):
    import torch

    run_dir = tmp_path / "run"
    shutil.copytree(next((outdir / "runs").iterdir()), run_dir)
    marker = tmp_path / "payload-ran"
    torch.save({"conv1.weight": Payload(marker)}, run_dir / "model.pt")
    p = run("evaluate.py", "test", *evaluate_args(prepared, run_dir))
    assert_one_clean_error(p, "model.pt: unreadable model weights")
    assert not marker.exists()


# ----------------------------------------------------------------------------- TSVs
def ga_spec(population=4):
    genes = '"genes": {"lr": {"low": 1e-3, "high": 1e-1, "log": true}}'
    return f'{{"population": {population}, "elites": 2, {genes}}}'


def edited_fitness(outdir, tmp_path, edit):
    rows = [line.split("\t") for line in (outdir / "ga" / "gen1" / "fitness.tsv").read_text().splitlines()]
    bad = tmp_path / "fitness.tsv"
    bad.write_text("".join("\t".join(r) + "\n" for r in edit(rows[0], rows[1:])))
    return bad


def set_cell(header, rows, column, value):
    rows[-1][header.index(column)] = value
    return [header, *rows]


FITNESS_EDITS = {
    "a missing row": (lambda h, rows: [h, *rows[:-1]], "individuals 0..3"),
    "an empty status": (lambda h, rows: set_cell(h, rows, "status", ""), "status"),
    "a fitness that is text": (lambda h, rows: set_cell(h, rows, "fitness", "abc"), "fitness"),
    "a gene that is text": (lambda h, rows: set_cell(h, rows, "wd", "x"), "gene"),
    "a duplicated individual": (lambda h, rows: [h, *rows[:-1], rows[0]], "individuals 0..3"),
}


@pytest.mark.parametrize("name", sorted(FITNESS_EDITS))
def test_next_generation_refuses_an_incomplete_fitness_table(outdir, tmp_path, name):
    edit, what = FITNESS_EDITS[name]
    bad = edited_fitness(outdir, tmp_path, edit)
    before = snapshot(outdir)
    p = run(
        "ga.py",
        "next",
        "--spec",
        ga_spec(),
        "--fitness",
        bad,
        "--gen",
        2,
        "--out",
        outdir / "ga" / "gen2" / "population.tsv",
    )
    assert_one_clean_error(p, str(bad))
    assert what in p.stderr and snapshot(outdir) == before


def test_collect_with_a_missing_run_result_names_it(outdir, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(outdir / "runs", runs)
    population = outdir / "ga" / "gen0" / "population.tsv"
    gone = runs / population.read_text().splitlines()[1].split("\t")[1] / "result.json"
    gone.unlink()
    before = snapshot(outdir)
    results = [runs / run / "result.json" for run in ga.population_runs(population)]
    p = run(
        "ga.py",
        "collect",
        "--population",
        population,
        "--results",
        *results,
        "--out",
        outdir / "ga" / "gen0" / "fitness.tsv",
    )
    assert_one_clean_error(p, str(gone))
    assert snapshot(outdir) == before
