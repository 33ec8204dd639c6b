import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))
BIN = Path(sys.executable).parent  # snakemake and snakefmt live beside the interpreter
SMOKE = ["--cores", "2", "--configfile", "config/smoke.yaml"]


def script_cmd(name, *args):
    return [sys.executable, str(SCRIPTS / name), *map(str, args)]


@pytest.fixture(scope="session")
def synthetic_raw(tmp_path_factory):
    """Generated data in the official CIFAR-10 layout: 2500 train / 500 test images."""
    from data import write_synthetic

    root = tmp_path_factory.mktemp("raw")
    write_synthetic(root, n_train=2500, n_test=500, seed=0)
    return root


@pytest.fixture(scope="session")
def prepared(synthetic_raw, tmp_path_factory):
    from data import prepare

    return prepare(synthetic_raw, tmp_path_factory.mktemp("prep"), "synthetic")


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


@pytest.fixture(scope="session")
def smoke(tmp_path_factory):
    """The smoke GA run once, locally, from a fresh copy: the reference of the other runs."""
    work = copy_workflow(tmp_path_factory.mktemp("smoke"))
    t0 = time.time()
    p = snakemake(work, *SMOKE)
    return {"dir": work, "out": work / "results" / "smoke", "log": p.stdout + p.stderr, "seconds": time.time() - t0}


@pytest.fixture(autouse=True)
def no_leftover_snakemake():
    """Interruption tests start Snakemake in the background: kill whatever a failed test left."""
    yield
    from interrupt import kill_leftovers

    kill_leftovers()
