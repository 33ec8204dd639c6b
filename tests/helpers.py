"""What several test files share: paths, running the scripts and Snakemake, and interrupting a
workflow run for real (Snakemake in its own process group, watched through the run folders)."""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
BIN = Path(sys.executable).parent  # snakemake and snakefmt live beside the interpreter
SMOKE = ["--cores", "2", "--configfile", "config/smoke.yaml"]
TARGET = "results/smoke/search/rep0/ga/round1/fitness.tsv"  # two GA rounds: enough to cut one in the middle
TIMING = ["seconds", "images_per_s"]  # wall-clock columns: the only ones that may differ between runs
STEP_DELAY = "0.1"  # seconds added to every training step: epochs last seconds, not milliseconds
STARTED: list = []  # every Snakemake started here, so that a failing test leaves none running


def script_cmd(name, *args):
    return [sys.executable, str(SCRIPTS / name), *map(str, args)]


def copy_workflow(dest: Path) -> Path:
    """A fresh copy of the workflow (as a clean clone has it) to run Snakemake in."""
    for d in ("workflow", "scripts", "config", "envs", "slurm"):
        shutil.copytree(ROOT / d, dest / d, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def snakemake_env(**extra):
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra}  # rules call `python`


def snakemake(cwd, *args, check=True, timeout=900, env=None):
    cmd = [str(BIN / "snakemake"), *map(str, args)]
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env or snakemake_env())
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}")
    return p


def small_args(prepared, out, arch="resnet8"):
    """The flags of a small CPU run on the generated data: train.py and lr_find.py take them."""
    return ["--data", prepared, "--out", out, "--arch", arch, "--batch-size", 100, "--val-size", 500, "--device", "cpu"]


def train_cmd(prepared, out, *extra, arch="resnet8", epochs=2):
    return script_cmd("train.py", *small_args(prepared, out, arch), "--epochs", epochs, "--threads", 1, *extra)


def lr_find_cmd(prepared, out, steps, *extra):
    return script_cmd("lr_find.py", *small_args(prepared, out), "--steps", steps, *extra)


def genome_id(prepared, named: dict, seed: int, *extra, arch="resnet8", epochs=2) -> str:
    """The run id train.py expects for these named settings under the flags of train_cmd(..., *extra)."""
    import shlex

    import identity
    import train
    from data import read_meta

    cmd = train_cmd(prepared, "x", *extra, arch=arch, epochs=epochs)[2:]
    args = train.parse_args(
        [*map(str, cmd), *shlex.split(" ".join(f"--{k.replace('_', '-')} {v}" for k, v in named.items()))]
    )
    ctx = identity.context(vars(args), named=list(named), data_id=read_meta(prepared)["data_id"])
    return identity.run_id(named, seed, ctx)


def run_train(*args, **kw):
    p = subprocess.run(train_cmd(*args, **kw), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def round_tables(out: Path, methods=("ga", "random", "tpe"), rounds=3) -> list[str]:
    """The round tables of a finished smoke search, relative to its outdir."""
    rels = ["search/rep0/round0"] + [f"search/rep0/{m}/round{k}" for m in methods for k in range(1, rounds)]
    return [f"{r}/{name}.tsv" for r in rels for name in ("population", "fitness")]


def assert_same_ga(work, smoke, tables=("search/rep0/round0", "search/rep0/ga/round1")):
    for t in tables:
        for name in ("population.tsv", "fitness.tsv"):
            a = (smoke["out"] / t / name).read_bytes()
            assert (work / "results" / "smoke" / t / name).read_bytes() == a, f"{t}/{name}"


def start(cwd: Path, args, log: Path) -> subprocess.Popen:
    out = open(log, "w")
    proc = subprocess.Popen(
        [str(BIN / "snakemake"), *map(str, args)],
        cwd=cwd,
        stdout=out,
        stderr=subprocess.STDOUT,
        env=snakemake_env(RESNET_GA_TEST_STEP_DELAY=STEP_DELAY),
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
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
    for d in runs_dir.iterdir() if runs_dir.exists() else []:
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
    return re.findall(r"rule train:\n(?:.*\n)*?\s+output: \S+/runs/([^/\s]+)/result\.json", text)


def kill_group(proc, sig=signal.SIGKILL):
    os.killpg(proc.pid, sig)
    proc.wait(timeout=120)


def write_image_folder(root: Path, classes=("cat", "dog", "zebra"), n_train=100, n_test=20, size=40) -> Path:
    """A user's image folder (torchvision's ImageFolder layout): train/<class>/*.png and
    test/<class>/*.png, learnable generated images of size x size pixels."""
    import numpy as np
    from PIL import Image

    from data import make_synthetic

    k = len(classes)
    tx, ty, vx, vy = make_synthetic(n_train * k, n_test * k, seed=1, num_classes=k)
    for split, x, y in (("train", tx, ty), ("test", vx, vy)):
        for i, (row, label) in enumerate(zip(x, y)):
            folder = root / split / classes[label]
            folder.mkdir(parents=True, exist_ok=True)
            image = Image.fromarray(np.ascontiguousarray(row.reshape(3, 32, 32).transpose(1, 2, 0)))
            image.resize((size, size), Image.Resampling.BILINEAR).save(folder / f"{i:05d}.png")
    return root


@contextlib.contextmanager
def mounted(folder: Path, options: str):
    """A tmpfs of our own on `folder` (root only; skipped where the machine does not allow it)."""
    import pytest

    folder.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {p.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def run_python(code: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter with scripts/ importable (what it imports is what is measured)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
