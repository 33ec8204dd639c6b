"""Every file that passes between the workflow's steps, defined once: its fields, their types and
ranges. Every writer checks what it writes and every reader what it reads, so a file that breaks
its contract (a fitness of 35 or NaN, a cut line, a missing field, a run's file in another run's
folder) stops the step with one line naming the file and the field, and nothing downstream is made
of it. Torch-free.

    read_table(name, path)            a TSV as a checked pandas frame
    write_table(name, frame, path)    check, then write atomically
    read_record(name, path, run=...)  a JSON file as a checked dict (and, for a run's files, that it
                                      names the run whose folder it sits in)
    write_record(name, record, path)
A field's NaN is allowed only where the format says: for a run's scores, only with a status that has
no scores (a diverged or invalid run).
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import re
from pathlib import Path
from typing import NamedTuple

import identity
import settings
from identity import RUN_PATTERN
from util import DataError, atomic_write_bytes

SUGGESTION_RULES = ("valley", "minimum/10")  # the LR finder's rule, and its fallback (valid false)
NO_SCORES = ("diverged", "invalid")  # statuses whose scores are NaN (fitness 0)
STATUSES = ("ok", "stopped", *NO_SCORES)  # stopped: early stopping (fitness: the last validation top-1)


class Field(NamedTuple):
    name: str
    kind: str  # int, float, text, bool, run, list, dict, any
    low: float | None = None
    high: float | None = None
    nan: str = "never"  # never | no_scores (NaN iff the row's status has no scores) | allowed
    choices: tuple = ()
    required: bool = True


F = Field
UNIT = {"low": 0.0, "high": 1.0}
SCORES = [F(k, "float", nan="no_scores", **UNIT) for k in ("top1", "top3", "top5")]
LOSSES = [F(k, "float", low=0.0, nan="no_scores") for k in ("val_loss", "train_loss")]
RESULT_FIELDS = [
    F("fitness", "float", **UNIT),
    *SCORES,
    *LOSSES,
    F("status", "text", choices=STATUSES),
    F("epochs", "int", low=1),
    F("epochs_completed", "int", low=0),
]  # no timing: a round's fitness table is the same file whatever machine or job order made it
COMPARED = ("test_top1", "test_top3", "test_top5", "test_loss", "val_top1")  # the final comparison's metrics
ROW_KEYS = [F("individual", "int", low=0), F("run", "run")]
ROUND_TAIL = [F("origin", "text"), F("parents", "text", nan="allowed")]

FORMATS = {
    # a training run's files (train.py writes them; evaluate.py the test files)
    "result": [
        F("run", "text"),  # a run id in the workflow; any folder name by hand (readers check it is the folder's)
        *RESULT_FIELDS,
        F("process_seconds", "float", low=0.0),
        F("settings", "dict"),
        F("named", "dict"),
        F("seed", "int", low=0),
        F("n_train", "int", low=1),
        F("n_val", "int", low=1),
        F("seconds", "float", low=0.0),
        F("provenance", "dict"),
        F("model_sha256", "text", required=False),  # model.pt's bytes (since 0.5.2): evaluate checks them
    ],
    "test": [
        F("run", "text"),
        F("status", "text", choices=STATUSES),
        F("seed", "int", low=0),
        *[F(f"test_{k}", "float", nan="no_scores", **UNIT) for k in ("top1", "top3", "top5")],
        F("test_loss", "float", low=0.0, nan="no_scores"),
        F("val_top1", "float", nan="no_scores", **UNIT),
        F("provenance", "dict"),
    ],
    "metrics": [
        F("epoch", "int", low=1),
        F("lr", "float", low=0.0),
        F("momentum", "float", low=0.0),
        F("train_loss", "float", low=0.0),
        F("val_loss", "float", low=0.0),
        *[F(k, "float", **UNIT) for k in ("top1", "top3", "top5")],
        F("seconds", "float", low=0.0),
        F("images_per_s", "float", low=0.0),
        F("train_top1", "float", **UNIT),
        F("test_loss", "float", low=0.0, required=False),
        F("test_top1", "float", required=False, **UNIT),
    ],
    "schedule": [
        F("step", "int", low=0),
        F("epoch", "float", low=0.0),
        F("lr", "float", low=0.0),
        F("momentum", "float", low=0.0),
    ],
    "predictions": [
        F("index", "int", low=0),
        F("label", "int", low=0),
        *[F(f"pred{i}", "int", low=0, required=i == 1) for i in range(1, 6)],  # as many as classes, up to 5
    ],
    # the search (scripts/search.py); gene columns sit between `run` and `origin` (checked by the space)
    "population": [*ROW_KEYS, *ROUND_TAIL],
    "fitness": [*ROW_KEYS, *ROUND_TAIL, *RESULT_FIELDS],
    "best": [
        F("method", "text"),
        F("repeat", "int", low=0),
        F("round", "int", low=0),
        *ROW_KEYS,
        *ROUND_TAIL,
        *RESULT_FIELDS,
    ],
    "individuals": [
        F("method", "text"),
        F("repeat", "int", low=0),
        F("round", "int", low=0),
        *ROW_KEYS,
        *ROUND_TAIL,
        *RESULT_FIELDS,
        F("process_seconds", "float", low=0.0),
    ],
    "summary": [
        F("method", "text"),
        F("repeat", "int", low=0),
        F("round", "int", low=0),
        F("individuals", "int", low=1),
        F("distinct_runs", "int", low=1),
        F("new_runs", "int", low=0),
        F("diverged", "int", low=0),
        F("stopped", "int", low=0),
        F("epochs_trained", "int", low=0),
        F("epochs_saved", "int", low=0),
        F("best", "float", **UNIT),
        F("median", "float", **UNIT),
        F("mean", "float", **UNIT),
        F("best_so_far", "float", **UNIT),
        F("trainings_so_far", "int", low=1),
        F("device_hours_so_far", "float", low=0.0),
    ],
    "environments": [F("device", "text"), F("runs", "int", low=1), F("example", "run")],
    "plan": [
        F("method", "text"),
        F("repeat", "int", low=0),
        F("stage", "text", choices=("search", "final")),
        F("seed", "int", low=0),
        F("run", "run"),
        F("search_fitness", "float", nan="allowed", **UNIT),
    ],
    "comparison": [
        F("method", "text"),
        F("label", "text"),
        F("repeats", "int", low=1),
        F("seeds", "int", low=1),
        *[
            F(f"{k}_{s}", "float", nan="allowed", low=0.0, high=1.0 if k != "test_loss" else None)
            for k in COMPARED
            for s in ("mean", "std")
        ],
        F("test_top1_ci_low", "float", nan="allowed", **UNIT),
        F("test_top1_ci_high", "float", nan="allowed", **UNIT),
        F("ci_basis", "text", choices=("repeats", "seeds")),
        F("search_fitness_mean", "float", nan="allowed", **UNIT),
        F("failed", "bool"),
        # why: a final run without scores (diverged, invalid), at or below chance, or trained at the lr
        # of an LR range test that failed
        F("failure", "text", choices=("", "no_scores", "chance", "lr_find")),
    ],
    "differences": [
        F("method", "text"),
        F("against", "text"),
        F("diff", "float", low=-1.0, high=1.0),
        F("ci_low", "float", nan="allowed"),
        F("ci_high", "float", nan="allowed"),
        F("basis", "text", choices=("repeats", "seeds")),  # the replicated unit of the method's side
        F("distinguishable", "bool"),  # only over repeats: the interval excludes 0
    ],
    "degradation": [
        F("depth", "int", low=1),
        F("plain_test_error", "float", nan="allowed"),
        F("resnet_test_error", "float", nan="allowed"),
        F("seeds", "int", low=1),
    ],
    "lr_find": [F("step", "int", low=0), F("lr", "float", low=0.0), F("loss", "float"), F("smoothed_loss", "float")],
    "suggestion": [
        F("suggestion", "float", low=0.0),
        F("lr_min_loss", "float", low=0.0, required=False),
        F("rule", "text", choices=SUGGESTION_RULES),
        F("valid", "bool"),
        F("reason", "text"),
        F("steps", "int", low=1),  # the range test's rows (lr_find.tsv)
        F("stretch", "list", required=False),  # [from, to]: the falling stretch of a valid suggestion
    ],
    "run_settings": [F("run", "text"), F("settings", "dict")],  # a run's settings.json, written first
    "meta": [
        F("dataset", "text"),
        F("data_id", "text"),
        F("classes", "list"),
        F("num_classes", "int", low=1),
        F("image_size", "int", low=1),
        F("train_size", "int", low=1),
        F("test_size", "int", low=1),
        F("mean", "list"),
        F("std", "list"),
    ],
}
RUN_FILE_FORMATS = ("result", "test", "run_settings")  # records that name the run whose folder holds them
# a result's provenance fields that tell its environment (environments.tsv, a round's mixed-environment warning)
ENV_KEYS = ("torch", "torchvision", "cuda", "cudnn", "device", "deterministic", "threads", "commit")


def _bad(path, field, why, row=None) -> DataError:
    where = f" (row {row + 1})" if row is not None else ""
    return DataError(f"{path}: field {field}{where}: {why}")


def _number(v) -> float | None:
    """v as a float (NaN and inf included), or None if it is not a number at all."""
    if isinstance(v, bool) or not isinstance(v, (numbers.Real, str)):  # numpy's numbers are Real too
        return None
    try:
        return float(v)
    except ValueError:
        return None
    except OverflowError:  # a JSON integer of 309+ digits: no float holds it, so the range checks see inf
        return math.inf if v > 0 else -math.inf


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _shown(v) -> str:
    """v's repr for an error line: a 400-digit integer's first digits and its length."""
    text = repr(v)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def _check_value(f: Field, v, status, path, row):
    """One value of field `f`; the row's status decides where NaN is allowed. A JSON record (`row`
    None) holds numbers as numbers; a TSV's are text."""
    if f.kind in ("text", "run"):
        if f.nan == "allowed" and (v is None or (isinstance(v, float) and math.isnan(v))):
            return
        if not isinstance(v, str):
            raise _bad(path, f.name, f"expected text, got {v!r}", row)
        if f.kind == "run" and not re.fullmatch(RUN_PATTERN, v):
            raise _bad(path, f.name, f"not a run id: {v!r}", row)
        if f.choices and v not in f.choices:
            raise _bad(path, f.name, f"{v!r} is not one of {', '.join(f.choices)}", row)
        return
    if f.kind == "bool" and row is not None and v in ("True", "False"):  # a boolean column of a TSV
        return
    if f.kind in ("list", "dict", "bool"):
        kind = {"list": list, "dict": dict, "bool": bool}[f.kind]
        if not isinstance(v, kind):
            raise _bad(path, f.name, f"expected a {f.kind}, got {v!r}", row)
        return
    x = _number(v) if row is not None or not isinstance(v, str) else None
    if x is None:
        raise _bad(path, f.name, f"not a number: {v!r}", row)
    if math.isnan(x):
        if f.nan == "allowed" or (f.nan == "no_scores" and status in NO_SCORES):
            return
        why = f"NaN with status {status!r}" if f.nan == "no_scores" else "NaN"
        raise _bad(path, f.name, why, row)
    if f.nan == "no_scores" and status in NO_SCORES:  # NaN iff: a run that has no scores has none
        raise _bad(path, f.name, f"{v!r} with status {status!r}, which has no scores (NaN)", row)
    if math.isinf(x):
        raise _bad(path, f.name, f"not a finite number: {_shown(v)}", row)
    if f.kind == "int" and x != int(x):
        raise _bad(path, f.name, f"not an integer: {v!r}", row)
    if (f.low is not None and x < f.low) or (f.high is not None and x > f.high):
        hi = "" if f.high is None else f", {f.high:g}]"
        raise _bad(path, f.name, f"{v!r} is outside [{f.low:g}{hi or ', inf)'}", row)


def _consecutive(column: str, start: int):
    def check(rows, path):
        values = [int(float(r[column])) for r in rows]
        if values != list(range(start, start + len(values))):
            raise _bad(path, column, f"must run {start}, {start + 1}, ... once each, got {values}")

    return check


def _result_consistent(rows, path):
    """A run's scores agree with its status: fitness is the last validation top-1 of a run that
    trained, 0 for one that has no scores; no more epochs completed than asked for."""
    many = len(rows) > 1
    for i, r in enumerate(rows):
        done, asked, fitness = int(float(r["epochs_completed"])), int(float(r["epochs"])), float(r["fitness"])
        where = i if many else None
        if done > asked:
            raise _bad(path, "epochs_completed", f"{done} is more than epochs ({asked})", where)
        if r["status"] in NO_SCORES and fitness != 0:
            raise _bad(path, "fitness", f"must be 0 for status {r['status']!r}, got {fitness}", where)
        if r["status"] not in NO_SCORES and fitness != float(r["top1"]):
            raise _bad(
                path, "fitness", f"must equal top1 ({r['top1']}) for status {r['status']!r}, got {fitness}", where
            )
        if r["status"] == "ok" and done != asked:
            raise _bad(path, "epochs_completed", f"{done} of {asked} epochs with status 'ok'", where)
        if r["status"] == "stopped" and not 0 < done < asked:  # stopped after an epoch, before the last
            raise _bad(path, "epochs_completed", f"{done} of {asked} epochs with status 'stopped'", where)
        _top_k_ordered(r, ("top1", "top3", "top5"), path, where)


def _top_k_ordered(row, keys, path, where=None) -> None:
    """Top-1 <= top-3 <= top-5: a right answer among the first k is among the first k+2."""
    values = [(k, float(row[k])) for k in keys if k in row]
    for (a, x), (b, y) in zip(values, values[1:]):
        if x > y:  # NaN compares false: a run without scores has none to order
            raise _bad(path, b, f"{y} is below {a} ({x})", where)


def _epoch_scores_ordered(rows, path) -> None:
    for i, r in enumerate(rows):
        _top_k_ordered(r, ("top1", "top3", "top5"), path, i)


def _result_is_its_runs(rows, path) -> None:
    """A result.json's own fields agree: its seed and named settings are its run id's, its settings
    train the epochs it says (a run sized in iterations counts its own), its validation images are
    what its settings carve out."""
    r = rows[0]
    recorded = r["settings"]
    if "epochs" in recorded and not recorded.get("iterations") and int(recorded["epochs"]) != int(r["epochs"]):
        raise _bad(path, "epochs", f"{r['epochs']}, but its settings train {recorded['epochs']}")
    if "val_size" in recorded:
        n_val = min(recorded["val_size"], recorded.get("max_val") or recorded["val_size"])
        if int(r["n_val"]) != n_val:
            raise _bad(path, "n_val", f"{r['n_val']}, but its settings validate on {n_val} images")
    if int(r["n_train"]) < int(recorded.get("batch_size", 1)):  # train.py refuses a split below one batch
        raise _bad(path, "n_train", f"{r['n_train']}, fewer than one batch of {recorded['batch_size']}")
    named = _seed_is_its_runs(r, path)
    if named is None:
        return  # a run trained by hand into a folder of any name: no id to agree with
    used = settings.effective({**recorded, **named})  # recorded: a shortcut its net ignores reads A
    for k, v in named.items():
        for field, value, want in (("named", r["named"].get(k), v), ("settings", recorded.get(k), used[k])):
            if value is None or settings.typed(k, value) != want:
                raise _bad(path, f"{field}.{k}", f"{value!r}, but run {r['run']} is {k}={v!r}")


def _provenance_plain(rows, path) -> None:
    """The environment a result records: plain values (a list or dict can be no row of environments.tsv,
    nor told apart in a set), its device a name (that table's device column is text)."""
    prov = rows[0]["provenance"]
    for k in (k for k in ENV_KEYS if k in prov):  # one missing reads "unknown" (an older version's result)
        v = prov[k]
        if k == "device" and not isinstance(v, str):
            raise _bad(path, f"provenance.{k}", f"expected text (a device's name), got {v!r}")
        if not isinstance(v, (str, bool, int, float)) or (isinstance(v, float) and not math.isfinite(v)):
            raise _bad(path, f"provenance.{k}", f"expected text, a finite number or a boolean, got {v!r}")


def _seed_is_its_runs(r: dict, path) -> dict | None:
    """The record's seed is its run id's; the run's named settings, or None for a folder of any name."""
    try:
        named, seed, _ = identity.parse_run_id(r["run"])
    except ValueError:
        return None
    if int(r["seed"]) != seed:
        raise _bad(path, "seed", f"{r['seed']}, but run {r['run']} is seed {seed}")
    return named


def _test_consistent(rows, path) -> None:
    _seed_is_its_runs(rows[0], path)
    _top_k_ordered(rows[0], ("test_top1", "test_top3", "test_top5"), path)


def _settings_valid(rows, path) -> None:
    """A result's recorded settings: each one this version knows a value of its type and range (one
    it does not know, from another version, is not read)."""
    for k, v in rows[0]["settings"].items():
        try:
            why = settings.value_error(settings.BY_NAME[k], v) if k in settings.BY_NAME else None
        except OverflowError:  # an integer of 309+ digits, which no float holds
            why = f"not a finite number: {_shown(v)}"
        if why:
            raise _bad(path, f"settings.{k}", why)


def _suggestion_consistent(rows, path) -> None:
    """An lr to train at: above 0, and never above the lr of the range test's lowest loss (the valley
    rule's lr lies below it, the fallback is a tenth of it)."""
    r = rows[0]
    if r["valid"] != (r["rule"] != "minimum/10"):
        raise _bad(path, "valid", f"{r['valid']} with rule {r['rule']!r}: only the fallback, minimum/10, is not valid")
    if not r["suggestion"] > 0:
        raise _bad(path, "suggestion", f"an lr must be > 0, got {r['suggestion']!r}")
    if "lr_min_loss" in r and not r["suggestion"] <= r["lr_min_loss"] * (1 + 1e-9):
        raise _bad(path, "suggestion", f"{r['suggestion']!r} is above lr_min_loss ({r['lr_min_loss']!r})")
    if r["valid"]:  # the valley rule's lr lies inside the falling stretch, which ends at the lowest loss
        s = r.get("stretch")
        ok = isinstance(s, list) and len(s) == 2 and all(not isinstance(x, str) and _finite(_number(x)) for x in s)
        if not ok or not 0 < s[0] * (1 - 1e-9) <= r["suggestion"] <= s[1] * (1 + 1e-9):
            raise _bad(path, "stretch", f"must be [from, to] lrs around the suggestion {r['suggestion']!r}, got {s!r}")
        if "lr_min_loss" in r and not math.isclose(s[1], r["lr_min_loss"], rel_tol=1e-9):
            raise _bad(path, "stretch", f"must end at lr_min_loss ({r['lr_min_loss']!r}), got {s!r}")


def _meta_consistent(rows, path) -> None:
    """A prepared folder's description: a name per class, a mean and a std per colour channel as
    fractions of 255 (a std of 0 would divide every image by zero)."""
    r = rows[0]
    names = r["classes"]
    if len(names) != r["num_classes"] or not all(isinstance(c, str) for c in names) or len(set(names)) < len(names):
        raise _bad(path, "classes", f"must be {r['num_classes']} distinct names (num_classes), got {names!r}")
    for key, low, high in (("mean", 0.0, 1.0), ("std", 0.0, 0.5)):
        v = r[key]
        ok = len(v) == 3 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
        if not ok or not all(low <= x <= high and math.isfinite(x) for x in v) or (key == "std" and min(v) <= 0):
            raise _bad(
                path,
                key,
                f"must be 3 numbers (one per channel) in {'(' if key == 'std' else '['}{low:g}, {high:g}], got {v!r}",
            )


# ----------------------------------------------------------------------------- across a run's files
def check_metrics_of(result: dict, metrics, path) -> None:
    """A run's metrics.tsv against its result.json: one row per completed epoch, the last one the
    scores the result reports (a cut file, or another run's swapped in, does not agree)."""
    if len(metrics) != result["epochs_completed"]:
        raise DataError(f"{path}: {len(metrics)} epochs, but its result.json completed {result['epochs_completed']}")
    if result["status"] in NO_SCORES or not len(metrics):
        return
    last = metrics.iloc[-1]
    for k in ("top1", "top3", "top5", "val_loss", "train_loss"):
        if not math.isclose(float(last[k]), float(result[k]), rel_tol=1e-6, abs_tol=1e-12):
            raise _bad(
                path, k, f"{last[k]!r} in the last epoch, but its result.json says {result[k]!r}: another run's?"
            )


def check_schedule_of(result: dict, schedule, path) -> None:
    """A run's schedule.tsv against its result.json: a row per step its settings train, and a one-cycle
    schedule peaking at their lr (a step schedule's warm-up may outlast its milestones; a result
    written before settings held batch_size and lr is not compared)."""
    s = result["settings"]
    if not {"batch_size", "lr"} <= set(s):
        return
    steps = s.get("iterations") or result["n_train"] // s["batch_size"] * result["epochs"]
    if len(schedule) != steps:
        raise _bad(path, "step", f"{len(schedule)} steps, but its result.json's settings train {steps}")
    if s.get("schedule", "onecycle") != "onecycle":
        return
    peak = float(schedule["lr"].max())
    if not math.isclose(peak, float(s["lr"]), rel_tol=1e-6):
        raise _bad(path, "lr", f"peaks at {peak!r}, but its result.json's settings train at lr {s['lr']!r}")


def check_suggestion_of(suggestion: dict, curve, path) -> None:
    """A suggestion.json against the range test it was made from (lr_find.tsv): as many steps, and its
    lowest smoothed loss at lr_min_loss."""
    if suggestion["steps"] != len(curve):
        raise _bad(path, "steps", f"{suggestion['steps']}, but the range test has {len(curve)} rows")
    lowest = float(curve["lr"].iloc[int(curve["smoothed_loss"].to_numpy().argmin())])
    if "lr_min_loss" in suggestion and not math.isclose(suggestion["lr_min_loss"], lowest, rel_tol=1e-6):
        raise _bad(
            path, "lr_min_loss", f"{suggestion['lr_min_loss']!r}, but the range test's lowest loss is at {lowest!r}"
        )


def check_predictions_of(meta: dict, predictions, path, labels, top1: float | None = None) -> None:
    """A run's test predictions: one row per test image (none for a run without scores), each class
    one of the data's; each row's label the test set's (`labels`, test_y.npy: rows shifted or swapped
    would make a wrong confusion matrix), and as many right top-1 answers as its run's test.json says
    (`top1`, its test_top1: another run's predictions). None: the reader has no labels or test.json
    (the figure reads verdict.py's copy, which was checked against both)."""
    import numpy as np

    n = len(predictions)
    if n not in (0, meta["test_size"]):
        raise DataError(f"{path}: {n} rows, but the test set has {meta['test_size']} images")
    if n and predictions[["label", "pred1"]].to_numpy().max() >= meta["num_classes"]:
        raise _bad(path, "label/pred1", f"a class index >= {meta['num_classes']} (meta.json's classes)")
    if labels is not None and n:
        wrong = np.flatnonzero(predictions["label"].to_numpy() != np.asarray(labels))
        if len(wrong):
            raise _bad(path, "label", "does not match the test set's labels (test_y.npy)", int(wrong[0]))
    if top1 is None:
        return
    if math.isnan(top1) == bool(n):  # predictions iff scores: a run without scores has neither
        raise DataError(f"{path}: {n} rows, but its run's test.json has test_top1 {top1!r}")
    if not n:
        return
    share = float(np.mean(predictions["pred1"].to_numpy() == predictions["label"].to_numpy()))
    if not math.isclose(share, top1, rel_tol=1e-9, abs_tol=1e-12):  # evaluate.py counts the same answers
        raise _bad(path, "pred1", f"{share!r} of its top-1 answers are right, but its run's test_top1 is {top1!r}")


ROW_CHECKS = {  # what a format says across fields and rows
    "metrics": [_consecutive("epoch", 1), _epoch_scores_ordered],
    "schedule": [_consecutive("step", 0)],
    "predictions": [_consecutive("index", 0)],
    "population": [_consecutive("individual", 0)],
    "fitness": [_consecutive("individual", 0), _result_consistent],
    "best": [_result_consistent],
    "individuals": [_result_consistent],
    "result": [_result_consistent, _settings_valid, _result_is_its_runs, _provenance_plain],
    "test": [_test_consistent],
    "run_settings": [_settings_valid],
    "suggestion": [_suggestion_consistent],
    "meta": [_meta_consistent],
}


def check_rows(name: str, rows: list[dict], path, columns=None) -> None:
    """Every field of format `name` in every row: present (when required), typed, in range; then
    what the format says across fields and rows."""
    fields = FORMATS[name]
    present = set(columns if columns is not None else (rows[0] if rows else {}))
    missing = [f.name for f in fields if f.required and f.name not in present]
    if missing:
        raise _bad(path, ", ".join(missing), "missing")
    many = columns is not None
    for i, r in enumerate(rows):
        for f in fields:
            if f.name in r:
                _check_value(f, r[f.name], r.get("status"), path, i if many else None)
    for check in ROW_CHECKS.get(name, []):
        check(rows, path)


def _frame_rows(df) -> list[dict]:
    return df.to_dict("records")


def read_table(name: str, path, min_rows: int = 1):
    """A TSV of format `name` as a pandas frame (run ids, parents and origins stay text)."""
    text = read_text(path)
    if text and not text.endswith("\n"):
        raise DataError(f"{path}: the last line is cut off (no line end): written by a step that was interrupted?")
    df = parse_table(text, path)
    if len(df) < min_rows:
        raise DataError(f"{path}: no rows")
    check_rows(name, _frame_rows(df), path, columns=list(df.columns))
    return typed_frame(name, df)


def parse_table(text: str, path):
    """A TSV's text as a frame of text cells, each row as many fields as the header: pandas makes
    a row's extra first field the index and shifts every other (`field epoch: not an integer`), and
    fills a short row's missing ones."""
    import pandas as pd

    try:
        rows = [r for r in csv.reader(io.StringIO(text), delimiter="\t") if r]  # pandas skips blank lines
        for i, r in enumerate(rows[1:], start=1):  # first: pandas refuses some with a line number of its own
            if len(r) != len(rows[0]):
                raise DataError(f"{path}: row {i} has {len(r)} fields, the header {len(rows[0])}")
        return pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False, index_col=False)
    except (csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"{path}: unreadable TSV ({str(e).strip().splitlines()[0]})") from None


def typed_frame(name: str, df):
    """Numbers as numbers, `nan` as NaN; the other columns stay text."""

    kinds = {f.name: f.kind for f in FORMATS[name]}
    for c in df.columns:
        if kinds.get(c) in ("int", "float"):
            df[c] = df[c].replace("", "nan").astype(float)
            if kinds[c] == "int" and not df[c].isna().any():
                df[c] = df[c].astype("int64")
        elif kinds.get(c) == "bool":
            df[c] = df[c].map({"True": True, "False": False})
        elif kinds.get(c) == "text" and c == "parents":
            df[c] = df[c].replace("nan", "")
    return df


def write_table(name: str, df, path) -> None:
    """Check a frame against format `name`, then write it atomically (floats with 10 significant
    digits, NaN as `nan`)."""
    check_rows(name, _frame_rows(df), path, columns=list(df.columns))
    buf = io.StringIO()
    df.to_csv(buf, sep="\t", index=False, float_format="%.10g", na_rep="nan")
    atomic_write_bytes(path, buf.getvalue().encode())


def write_rows(name: str, columns: list[str], rows: list[tuple], path, line) -> None:
    """Rows (tuples in `columns` order) of format `name`, checked, then written atomically as a TSV,
    each row by `line(row)` (a writer's own number format, with its line end)."""
    check_rows(name, [dict(zip(columns, r)) for r in rows], path, columns=columns)
    atomic_write_bytes(path, ("\t".join(columns) + "\n" + "".join(map(line, rows))).encode())


def read_text(path) -> str:
    """A text file's content, or one error naming it (missing, not UTF-8 text)."""
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file") from None


def read_record(name: str, path, run: str | None = None) -> dict:
    """A JSON file of format `name`; with `run`, it must name that run (the folder it was found in)."""
    try:
        record = json.loads(read_text(path))
    except ValueError as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(record, dict):
        raise DataError(f"{path}: expected a JSON object")
    if run is not None and "run" in record and record["run"] != run:  # before its fields: the likelier cause
        raise DataError(f"{path}: belongs to run {record['run']!r}, not to {run!r} (its folder): moved or swapped?")
    check_rows(name, [record], path)
    return record


def write_record(name: str, record: dict, path) -> None:
    check_rows(name, [record], path)
    atomic_write_bytes(path, (json.dumps(record, indent=1) + "\n").encode())
