"""Where every file of a workflow run lives under the config's `outdir`: defined once, imported by
the rules (workflow/rules/common.smk) and by the scripts that tell runs and generations apart by
the folder a declared file sits in. Torch-free.

    <outdir>/data/prepared/<dataset>/{train_x,train_y,test_x,test_y}.npy, meta.json
    <outdir>/runs/<run id>/result.json, model.pt, metrics.tsv, schedule.tsv, test.json, ...
    <outdir>/ga/gen<g>/population.tsv, fitness.tsv          <outdir>/ga/best.tsv, ...
    <outdir>/degradation/runs/<plain|resnet><depth>_seed<seed>/result.json, metrics.tsv
    <outdir>/plots/<figure>.png                             <outdir>/logs/<rule>/<name>.log
"""

from __future__ import annotations

import re
from pathlib import Path

# The files of one training run, by role. train.py writes the first five, evaluate.py the last two.
RUN_FILES = {
    "checkpoint": "checkpoint.pt",
    "metrics": "metrics.tsv",
    "schedule": "schedule.tsv",
    "model": "model.pt",
    "result": "result.json",
    "test": "test.json",
    "predictions": "test_predictions.tsv",
}
PREPARED_FILES = ("train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy", "meta.json")
DEGRADATION_RUN = "{kind}{depth}_seed{seed}"
DEGRADATION_PATTERN = r"(plain|resnet)(\d+)_seed(\d+)"


def run_file(out: str, run: str, role: str) -> str:
    """A run's file by role (RUN_FILES); `run` may be a wildcard such as "{run}"."""
    return f"{out}/runs/{run}/{RUN_FILES[role]}"


def run_of(path) -> str:
    """The run id of a run's file: the name of the folder it sits in."""
    return Path(path).parent.name


def generation_file(out: str, g, name: str) -> str:
    """Generation g's population.tsv or fitness.tsv (name without .tsv)."""
    return f"{out}/ga/gen{g}/{name}.tsv"


def generation_of(path) -> int:
    """The generation of a generation's file (its folder is gen<g>)."""
    m = re.fullmatch(r"gen(\d+)", Path(path).parent.name)
    if not m:
        raise ValueError(f"{path}: not in a folder named gen<g>")
    return int(m.group(1))


def prepared_file(out: str, dataset: str, name: str) -> str:
    return f"{out}/data/prepared/{dataset}/{name}"


def degradation_run(kind: str, depth, seed) -> str:
    return DEGRADATION_RUN.format(kind=kind, depth=depth, seed=seed)


def degradation_file(out: str, run: str, name: str) -> str:
    """A degradation run's file (result.json, metrics.tsv); run may hold wildcards."""
    return f"{out}/degradation/runs/{run}/{name}"


def parse_degradation_run(path) -> tuple[str, int, int]:
    """(kind, depth, seed) of a degradation run's file, from its folder name."""
    m = re.fullmatch(DEGRADATION_PATTERN, Path(path).parent.name)
    if not m:
        raise ValueError(f"{path}: not in a folder named {DEGRADATION_RUN}")
    return m.group(1), int(m.group(2)), int(m.group(3))


def plot_file(out: str, name: str) -> str:
    return f"{out}/plots/{name}.png"


def log_file(out: str, rule: str, name: str) -> str:
    return f"{out}/logs/{rule}/{name}.log"
