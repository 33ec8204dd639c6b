"""The training settings, defined once: train.py's and lr_find.py's command-line flags, their
ranges, what makes up a run's identity and the command lines the workflow's rules pass all derive
from SETTINGS. Torch-free: the Snakefile imports it while parsing.

A setting with `identity=True` can change a run's numbers: it is part of the run's identity (its
folder name, scripts/identity.py), of the checkpoint a run resumes from and of the result a finished
run is recognised by. The others (`identity=False`) say where and how a run is scheduled: they never
retrain anything.

Adding a setting: one row here (with `config=` the workflow key that sets it, its default the same
as the schema's, workflow/schemas/config.schema.yaml) and its use in the training code. At its
default it leaves every existing run's identity as it was, so a release that adds one retrains
nothing. Any setting can then be searched: name it under `ga.genes` (scripts/space.py).
"""

from __future__ import annotations

import math
import shlex
from argparse import BooleanOptionalAction
from typing import NamedTuple

from archs import ARCHS

MAX_SEED = 2**32 - 1  # numpy's and torch's seeds: 0 .. 2^32-1
MAX_LR = 1000.0  # far past any use; float32 holds every lr of its schedule (3.4e38 overflows)


class Setting(NamedTuple):
    name: str  # the flag is --name with dashes
    default: object  # its type is the flag's type; a bool is a --name/--no-name switch, a list takes several values
    help: str
    config: str = ""  # the config key that sets it for every run of the workflow ("": set per rule)
    identity: bool = True  # it can change the numbers: part of a run's identity
    low: float | None = None  # allowed range (None: unbounded)
    high: float | None = None
    open: bool = False  # the bounds themselves are excluded
    choices: tuple = ()
    optional_value: bool = False  # `--name` alone means True, `--name VALUE` gives a value
    searchable: bool = True  # can be a gene (identity settings only): not what defines the fitness or computes it

    @property
    def kind(self) -> type:
        return type(self.default)


S = Setting
SETTINGS = (
    # the network (layer design)
    S("arch", "resnet50", "architecture (archs.py)", "train.arch", choices=tuple(ARCHS)),
    S("shortcut", "A", "CIFAR resnetN shortcut option", "train.shortcut", choices=("A", "B")),
    # the report's three genes and the seed
    S("lr", 3e-3, "peak learning rate of the one-cycle schedule", "train.lr", low=0, high=MAX_LR, open=True),
    S("wd", 5e-4, "weight decay", "train.wd", low=0),
    S("mom", 0.85, "momentum (AdamW: beta1): at a run's lr peak; the LR range test's, constant", "train.mom", low=0),
    S("seed", 0, "seed of the weights, the shuffle and the augmentation", low=0, high=MAX_SEED, searchable=False),
    # the optimizer and its schedule
    S("optimizer", "sgd", "SGD or AdamW (beta1 = momentum)", "train.optimizer", choices=("sgd", "adamw")),
    S("epochs", 15, "epochs to train", "train.epochs", low=1, high=10_000),
    S("batch_size", 512, "training batch size", "train.batch_size", low=1, high=65_536),
    S("max_momentum", 0.95, "momentum at start and end", "train.max_momentum", low=0),
    S("pct_start", 0.25, "fraction of steps warming up", "train.pct_start", low=0, high=1, open=True),
    S("div_factor", 25.0, "initial lr = lr / div_factor (>= 1: lr is the peak)", "train.div_factor", low=1),
    S(
        "final_div",
        1e4,
        "final lr = initial lr / final_div (lr / final_div / div_factor <= lr)",
        "train.final_div",
        low=0,
        open=True,
    ),
    S("label_smoothing", 0.0, "label smoothing of the training loss", "train.label_smoothing", low=0, high=1),
    # the paper's step recipe (the degradation experiment's): not genes, as the search sets no milestones
    # (a step genome would train at a constant lr) and its budget is in epochs (early stopping, figures)
    S(
        "schedule",
        "onecycle",
        "onecycle (the GA's) or step (the paper's CIFAR recipe)",
        choices=("onecycle", "step"),
        searchable=False,
    ),
    S("milestones", [], "step schedule: iterations at which lr is divided by 10", searchable=False),
    S("iterations", 0, "train this many steps instead of --epochs", low=0, searchable=False),
    S("warmup_iters", 0, "step schedule: lr/10 for this many steps", low=0, searchable=False),
    # the data and its augmentation (done on the device)
    S("val_size", 5000, "validation images carved from train", "data.val_size", low=1, searchable=False),
    S("split_seed", 0, "seed of the train/validation split", "data.split_seed", low=0, high=MAX_SEED, searchable=False),
    S("max_train", 0, "cap on training images (0: all)", "train.max_train", low=0),
    S("max_val", 0, "cap on validation images (0: all)", "train.max_val", low=0, searchable=False),
    S("crop_pad", 4, "random crops from images zero-padded by this many pixels (0: no crop)", "train.crop_pad", low=0),
    S("flip", True, "random horizontal flips", "train.flip"),
    S("cutout", 0, "Cutout: zero a random square of this many pixels per image (0: off)", "train.cutout", low=0),
    S("track_test", False, "also record test loss/top-1 every epoch (the degradation experiment)", searchable=False),
    # how the numbers are computed
    S(
        "threads",
        4,
        "torch CPU threads (0: torch's default); CPU numbers depend on it",
        "train.threads",
        low=0,
        high=1024,
        searchable=False,
    ),
    S(
        "deterministic",
        True,
        "deterministic CUDA kernels (an op without one is an error)",
        "train.deterministic",
        searchable=False,
    ),
    S(
        "compile",
        False,
        "torch.compile the model (CUDA), optionally with a mode",
        "train.compile",
        optional_value=True,
        searchable=False,
    ),
    # early stopping: part of a stoppable run's identity through its stop context (identity.py)
    S("stop_epoch", 0, "early stopping: the epoch of the decision (0: never)", identity=False, low=0),
    S("stop_margin", 0.0, "early stopping: stop below the worst elite minus this", identity=False, low=-1, high=1),
    # where and how it runs: never part of a run's identity
    S("device", "auto", "where to train", "train.device", identity=False, choices=("auto", "cpu", "cuda")),
    S("eval_batch_size", 0, "evaluation batch size (0: 2x batch size)", identity=False, low=0),
    S("jobs_per_gpu", 1, "training jobs sharing one GPU (lock slots)", "jobs_per_gpu", identity=False, low=1),
    S("cache_dir", "", "torch.compile caches (Inductor, Triton) shared by every job", identity=False),
    S("tensorboard", "", "write this run's TensorBoard events into this folder ('': none)", identity=False),
)
BY_NAME = {s.name: s for s in SETTINGS}
IDENTITY_KEYS = [s.name for s in SETTINGS if s.identity]
# what a gene may search: not the seed, not what defines the validation set the fitness is measured on
# (val_size, split_seed, max_val: fitness values would stop being comparable), not how the numbers are
# computed (threads, deterministic, compile, track_test), not a list (milestones)
SEARCHABLE_KEYS = [s.name for s in SETTINGS if s.identity and s.searchable]
OPTION_KEYS = [s.name for s in SETTINGS if not s.identity and not s.name.startswith("stop_")]
# what the LR range test (lr_find.py) does not take: the schedule and the run's length (it sweeps lr
# over its own steps), the validation cap (it never validates), and options of a full run. Everything
# else (the model, the training data, the optimizer and its step) it takes, a new setting included:
# so a setting that changes the net or the step reaches the range test without a second list to edit.
NOT_IN_RANGE_TEST = (
    "lr", "epochs", "max_momentum", "pct_start", "div_factor", "final_div", "schedule", "milestones", "iterations",
    "warmup_iters", "max_val", "track_test", "compile", "stop_epoch", "stop_margin", "eval_batch_size",
    "jobs_per_gpu", "cache_dir", "tensorboard",
)  # fmt: skip
LR_FIND_KEYS = tuple(s.name for s in SETTINGS if s.name not in NOT_IN_RANGE_TEST)
# not a training recipe: the validation split and how the numbers are computed. The degradation runs
# (the paper's recipe, workflow/rules/common.smk) take these from the config and nothing else.
SPLIT_AND_ARITHMETIC_KEYS = ("val_size", "split_seed", "max_val", "threads", "deterministic", "compile")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_arguments(ap, table=SETTINGS) -> None:
    """Every setting of `table` as a flag of an argparse parser."""
    for s in table:
        kw = {"default": s.default, "help": s.help}
        if s.choices:
            kw.update(choices=s.choices, help=f"{s.help}; one of: {', '.join(s.choices)}")
        if s.optional_value:
            kw.update(nargs="?", const=True, metavar="MODE")
        elif s.kind is bool:
            kw["action"] = BooleanOptionalAction
        elif s.kind is list:
            kw.update(nargs="*", type=int)
        else:
            kw["type"] = s.kind
        ap.add_argument(flag(s.name), **kw)


def range_error(s: Setting, value) -> str | None:
    """Why `value` is outside the setting's range, or None."""
    if s.low is None or isinstance(value, (bool, list)):
        return None
    inside = s.low < value if s.open else s.low <= value
    if s.high is not None:
        inside = inside and (value < s.high if s.open else value <= s.high)
    if inside and not (isinstance(value, float) and not math.isfinite(value)):
        return None
    op, hi = ("<", ">") if s.open else ("<=", ">=")
    allowed = f"{hi} {s.low}" + (f" and {op} {s.high}" if s.high is not None else "")
    return f"{flag(s.name)} must be {allowed}, got {value}"


def value_error(s: Setting, value) -> str | None:
    """Why `value` is not a value of setting `s` (its type, choices, range), or None."""
    real = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    kind = {list: "list of integers", int: "an integer", float: "a finite number"}.get(s.kind, f"a {s.kind.__name__}")
    if s.optional_value:
        ok = isinstance(value, (bool, str))
    elif s.kind is list:
        ok = isinstance(value, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in value)
    elif s.kind is float:
        ok = real
    elif s.kind is int:
        ok = real and float(value).is_integer()
    else:
        ok = isinstance(value, s.kind)
    if not ok:
        return f"not {kind}: {value!r}"
    if s.choices and value not in s.choices:
        return f"{value!r} is not one of {', '.join(s.choices)}"
    return range_error(s, value)


def with_defaults(values: dict) -> dict:
    """Every setting: the recorded `values`, the defaults for the ones a record predates."""
    return {**{s.name: s.default for s in SETTINGS}, **values}


def typed(name: str, value):
    """`value` as the setting's type: an int where a float is expected becomes a float, a float with an
    integer value (20.0, as YAML may write it) where an int is expected an int."""
    kind = BY_NAME[name].kind
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def changed(values: dict) -> dict:
    """The settings of `values` that differ from their defaults: all a command line or a rule's params
    need to carry (the scripts take the defaults), so a release that adds a setting changes neither."""
    return {k: v for k, v in values.items() if typed(k, v) != BY_NAME[k].default}


def identity_changed(values: dict) -> dict:
    """The settings of `values` that can change a run's numbers and are off their defaults: what the
    search steps and the train jobs of a workflow are given (scripts/search.py --settings)."""
    return changed({k: v for k, v in values.items() if BY_NAME[k].identity})


def effective(values: dict) -> dict:
    """`values` with what the run cannot use at its default: the shortcut option of a net that fixes
    its own (the ImageNet ResNets' projections, the plain nets' none), so `train.shortcut: B` on the
    default resnet50 neither renames nor retrains its runs. Per run: a genome's arch decides."""
    arch = ARCHS.get(values.get("arch", BY_NAME["arch"].default))  # a config at the default arch omits it
    if arch is not None and arch.shortcut != "config" and "shortcut" in values:
        return {**values, "shortcut": BY_NAME["shortcut"].default}
    return values


def command_values(values: dict, named: dict | None = None) -> dict:
    """What a job's command line carries of the config's settings `values` (those off their defaults):
    not a setting its run id names (`named`: the id sets it), not one its net cannot use (effective).
    Changing a config value that a gene or the net overrides then changes no job's params, which
    Snakemake would rerun the job for."""
    named = named or {}
    used = effective(with_defaults({**values, **named}))
    return {k: used[k] for k in values if k not in named and typed(k, used[k]) != BY_NAME[k].default}


def fingerprint(values: dict) -> dict:
    """The settings that can change a run's numbers (a checkpoint resumes only under the same)."""
    values = effective(values)
    return {k: typed(k, values[k]) for k in IDENTITY_KEYS}


def differences(recorded: dict, requested: dict) -> list[str]:
    """The keys where a recorded fingerprint differs from the requested one. A setting the record
    lacks (written before it existed) counts as its default, so new settings retrain nothing; any
    other key it lacks (the data's identity of an older record) is not known to differ."""
    diff, recorded = [], effective(recorded)  # a record of 0.5.1 may hold a shortcut its net ignored
    for k, v in requested.items():
        old = typed(k, recorded.get(k, BY_NAME[k].default)) if k in BY_NAME else recorded.get(k, v)
        if old != v:
            diff.append(k)
    return diff


def from_config(config: dict) -> dict:
    """Every setting the workflow's config sets, by name. A row whose key the schema does not list yet
    is at its default (it can be searched as a gene before it gets a schema entry and a config line)."""
    out = {}
    for s in SETTINGS:
        if s.config:
            node = config
            for part in s.config.split("."):
                node = node.get(part, {}) if isinstance(node, dict) else {}
            out[s.name] = typed(s.name, node) if node != {} else s.default
    return out


def command_line(values: dict) -> str:
    """Flags for `values` (name -> value), shell-quoted. Switches are explicit (--x or --no-x);
    an empty value and a false optional-value flag are left out."""
    parts = []
    for name, v in values.items():
        s = BY_NAME[name]
        if s.kind is bool and not s.optional_value:
            parts.append(flag(name) if v else "--no-" + flag(name)[2:])
            continue
        if v is False or v == "" or v == []:
            continue
        parts.append(flag(name))
        if isinstance(v, list):
            parts += [shlex.quote(str(x)) for x in v]
        elif v is not True:
            parts.append(shlex.quote(str(v)))
    return " ".join(parts)
