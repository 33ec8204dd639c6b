"""Fixtures shared by the tests (helpers.py holds the plain functions)."""

import pytest

from helpers import SMOKE, copy_workflow, kill_leftovers, snakemake


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


@pytest.fixture(scope="session")
def smoke(tmp_path_factory):
    """The smoke GA run once, locally, from a fresh copy: the reference of the other runs."""
    work = copy_workflow(tmp_path_factory.mktemp("smoke"))
    p = snakemake(work, *SMOKE)
    return {"dir": work, "out": work / "results" / "smoke", "log": p.stdout + p.stderr}


@pytest.fixture(autouse=True)
def no_leftover_snakemake():
    """Interruption tests start Snakemake in the background: kill whatever a failed test left."""
    yield
    kill_leftovers()


def pytest_collection_modifyitems(items):
    """Every test that uses the whole smoke run is in the slow tier (pytest -m "not slow" skips it)."""
    for item in items:
        if "smoke" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
