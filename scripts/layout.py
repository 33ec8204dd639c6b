"""Where every file of a workflow run lives under the config's `outdir`: defined once, imported by
the rules (workflow/rules/common.smk) and by the scripts that tell runs and rounds apart by the
folder a declared file sits in. Torch-free.

    <outdir>/data/prepared/<dataset>/{train_x,train_y,test_x,test_y}.npy, meta.json
    <outdir>/runs/<run id>/settings.json, metrics.tsv, schedule.tsv, model.pt, result.json, test.json, ...
    <outdir>/search/rep<r>/round0/population.tsv, fitness.tsv          the shared initial population
    <outdir>/search/rep<r>/<method>/round<k>/population.tsv, fitness.tsv  k >= 1
    <outdir>/search/individuals.tsv, summary.tsv, best.tsv             every repeat's and method's
    <outdir>/final/plan.tsv, comparison.tsv, differences.tsv, verdict.txt, predictions.tsv
    <outdir>/lr_find/lr_find.tsv, suggestion.json      <outdir>/lr_find/by_settings/<key>/ every test run
    <outdir>/plots/<figure>.png          <outdir>/logs/<rule>/<name>.log
    <outdir>/tensorboard/<run id>/       every run's scalars and hparams (train.tensorboard)
"""

from __future__ import annotations

import re
from pathlib import Path

# The files of one training run, by role. train.py writes the first six, evaluate.py the last two.
RUN_FILES = {
    "settings": "settings.json",
    "checkpoint": "checkpoint.pt",
    "metrics": "metrics.tsv",
    "schedule": "schedule.tsv",
    "model": "model.pt",
    "result": "result.json",
    "test": "test.json",
    "predictions": "test_predictions.tsv",
}
PREPARED_FILES = ("train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy", "meta.json")
ROUND_PATTERN = r"rep(\d+)/(?:round(0)|([a-z][a-z0-9_]*)/round([1-9]\d*))"  # a round's folder under search/


def run_file(out: str, run: str, role: str) -> str:
    """A run's file by role (RUN_FILES); `run` may be a wildcard such as "{run}"."""
    return f"{out}/runs/{run}/{RUN_FILES[role]}"


def run_of(path) -> str:
    """The run id of a run's file: the name of the folder it sits in."""
    return Path(path).parent.name


def round_dir(out: str, repeat, method: str, k) -> str:
    """A round's folder: round 0 is shared by every method of a repeat."""
    if str(k) == "0":
        return f"{out}/search/rep{repeat}/round0"
    return f"{out}/search/rep{repeat}/{method}/round{k}"


def round_file(out: str, repeat, method: str, k, name: str) -> str:
    """A round's population.tsv or fitness.tsv (name without .tsv)."""
    return f"{round_dir(out, repeat, method, k)}/{name}.tsv"


def round_of(path) -> tuple[int, str | None, int]:
    """(repeat, method or None for round 0, round) of a round's file, from its folder."""
    m = re.search(ROUND_PATTERN + r"$", Path(path).parent.as_posix())
    if not m:
        raise ValueError(f"{path}: not in a folder search/rep<r>/round0 or search/rep<r>/<method>/round<k>")
    if m.group(2) is not None:
        return int(m.group(1)), None, 0
    return int(m.group(1)), m.group(3), int(m.group(4))


def search_file(out: str, name: str) -> str:
    """The search's tables over every method and repeat: individuals, summary, best."""
    return f"{out}/search/{name}.tsv"


def final_file(out: str, name: str) -> str:
    return f"{out}/final/{name}"


def prepared_file(out: str, dataset: str, name: str) -> str:
    return f"{out}/data/prepared/{dataset}/{name}"


def plot_file(out: str, name: str) -> str:
    return f"{out}/plots/{name}.png"


def log_file(out: str, rule: str, name: str) -> str:
    return f"{out}/logs/{rule}/{name}.log"


def tensorboard_dir(out: str, run: str) -> str:
    return f"{out}/tensorboard/{run}"
