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

from conftest import SMOKE, copy_workflow, script_cmd, snakemake


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
BAD_CONFIGS = {
    "negative train seed": ("train: {seed: -1}", "train.seed"),
    "ga seed too large": (f"ga: {{seed: {M}}}", "ga.seed"),
    "negative split seed": ("data: {split_seed: -3}", "data.split_seed"),
    "degradation seed too large": (f"degradation: {{seeds: [0, {M}]}}", "degradation.seeds.1"),
    "final seeds past 2^32-1": (f"train: {{seed: {M - 1}}}", "train.seed"),
    "negative wd bound": ("ga: {genes: {wd: {low: -0.1, high: 0.1}}}", "ga.genes.wd.low"),
    "negative momentum bound": ("ga: {genes: {mom: {low: -1.0, high: 1.5}}}", "ga.genes.mom.low"),
    "infinite lr bound": ("ga: {genes: {lr: {low: 1.0e-3, high: .inf, log: true}}}", "ga.genes.lr.high"),
    "nan div factor": ("train: {div_factor: .nan}", "train.div_factor"),
    "log bound <= 0": ("ga: {genes: {lr: {low: 0.0, high: 1.0e-2, log: true}}}", "ga.genes.lr.low"),
    "population < 2": ("ga: {population: 1}", "ga.population"),
    "generations < 1": ("ga: {generations: 0}", "ga.generations"),
    "unknown dataset": ("data: {dataset: mnist}", "data.dataset"),
    "reversed bounds": ("ga: {genes: {lr: {low: 1.0e-2, high: 1.0e-6, log: true}}}", "ga.genes.lr"),
    "too many digits in a bound": ("ga: {genes: {wd: {low: 0.0, high: 0.12345}}}", "ga.genes.wd.high"),
    "outdir is the root": ('outdir: "/"', "outdir"),
    "outdir is empty": ('outdir: ""', "outdir"),
    "outdir is dots": ('outdir: "./."', "outdir"),
    "milestone past the iterations": ("degradation: {iterations: 60, milestones: [30, 60]}", "degradation.milestones"),
    "negative max_train": ("train: {max_train: -5}", "train.max_train"),
    "elites >= population": ("ga: {population: 4, elites: 4}", "ga.elites"),
    "unknown arch": ("train: {arch: resnet51}", "train.arch"),
    "misspelt key": ("train: {epoch: 3}", "train"),
    "batch larger than the data": ("train: {batch_size: 5000}", "train.batch_size"),
    "lr_find range reversed": ("lr_find: {start_lr: 1.0, end_lr: 0.1}", "lr_find.start_lr"),
    "val_size takes all images": ("data: {val_size: 2500}", "data.val_size"),
    "AdamW with max_momentum 1": ("train: {optimizer: adamw, max_momentum: 1.0}", "train.max_momentum"),
    "AdamW with a baseline momentum above 1": ("train: {optimizer: adamw}\nbaseline: {mom: 1.2}", "baseline.mom"),
    "unknown optimizer": ("train: {optimizer: lamb}", "train.optimizer"),
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


@pytest.mark.parametrize("override, key", [("ga={generations: abc}", "ga.generations"),
                                           ("train={epochs: 0}", "train.epochs")])  # fmt: skip
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
    return ("--data", prepared, "--out", out, "--arch", "resnet8", "--epochs", 1, "--batch-size", 100,
            "--val-size", 500, "--device", "cpu", *extra)  # fmt: skip


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


@pytest.mark.parametrize("extra, flag", [(["--arch", "resnet51"], "resnet51"), (["--start-lr", 0], "--start-lr"),
                                         (["--steps", 1], "--steps")])  # fmt: skip
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
    p = run("data.py", "prepare", "--data-dir", raw, "--out", outdir / "data" / "prepared" / "synthetic",
            "--dataset", "synthetic")  # fmt: skip
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
def test_corrupt_model_weights_in_evaluate(prepared, tmp_path, outdir):
    run_dir = tmp_path / "run"
    shutil.copytree(next((outdir / "runs").iterdir()), run_dir, ignore=shutil.ignore_patterns("test*"))
    (run_dir / "model.pt").write_bytes(b"PK\x03\x04 not a zip")
    p = run("evaluate.py", "test", "--data", prepared, "--run", run_dir, "--device", "cpu")
    assert_one_clean_error(p, "model.pt: unreadable model weights")
    assert not (run_dir / "test.json").exists()


def test_model_weights_with_a_code_payload_in_evaluate(prepared, tmp_path, outdir):
    import torch

    run_dir = tmp_path / "run"
    shutil.copytree(next((outdir / "runs").iterdir()), run_dir)
    marker = tmp_path / "payload-ran"
    torch.save({"conv1.weight": Payload(marker)}, run_dir / "model.pt")
    p = run("evaluate.py", "test", "--data", prepared, "--run", run_dir, "--device", "cpu")
    assert_one_clean_error(p, "model.pt: unreadable model weights")
    assert not marker.exists()


# ----------------------------------------------------------------------------- TSVs
def ga_spec(population=4):
    return '{"population": %d, "elites": 2, "genes": {"lr": {"low": 1e-3, "high": 1e-1, "log": true}}}' % population


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
    p = run("ga.py", "next", "--spec", ga_spec(), "--fitness", bad, "--gen", 2,
            "--out", outdir / "ga" / "gen2" / "population.tsv")  # fmt: skip
    assert_one_clean_error(p, str(bad))
    assert what in p.stderr and snapshot(outdir) == before


def test_collect_with_a_missing_run_result_names_it(outdir, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(outdir / "runs", runs)
    population = outdir / "ga" / "gen0" / "population.tsv"
    gone = runs / population.read_text().splitlines()[1].split("\t")[1] / "result.json"
    gone.unlink()
    before = snapshot(outdir)
    p = run("ga.py", "collect", "--population", population, "--runs", runs, "--out", outdir / "ga" / "gen0" / "fitness.tsv")
    assert_one_clean_error(p, str(gone))
    assert snapshot(outdir) == before
