"""A run's identity and the folder name that spells it (the run id), defined once. Torch-free.

A run is identified by everything that can change its numbers:
- its named settings: the searched genes (for the report's GA lr, wd and mom), or for the
  degradation runs the architecture;
- its seed;
- its context: every other identity setting of settings.py that differs from its default, the
  prepared data's identity (meta.json's `data_id`) unless it is the official CIFAR-10 archive, and
  for a run that early stopping may stop, its stop context (the decision epoch, the margin and the
  runs whose validation scores set the bar).
The run id spells the named settings and the seed, plus a short key of the context if there is one:

    lr=3.16e-03_wd=1.20e-02_mom=8.50e-01_seed=0                  the report's genes, default settings
    lr=3.16e-03_wd=1.20e-02_mom=8.50e-01_seed=0_ctx=4f1c2a9b0e    the same genome, other settings
    genome=9c04be71d2_seed=0                                      a genome too long to spell (> 230 characters)

A genome whose spelling would make the folder name longer than MAX_RUN_ID is named by a short key of
that spelling instead; the train job is given the spelling (`train.py --genes`) and checks it against
the key, and the run's settings.json lists it.

So a changed setting adds runs beside the finished ones and changing it back finds them again; a
setting at its default is not in the context, so a release that adds a setting keeps every run id.
`<run>/settings.json` (written by train.py) lists a run's whole identity, key included.
"""

from __future__ import annotations

import hashlib
import json
import re

import settings

NAME = r"[a-z][a-z0-9_]*"
VALUE = r"[A-Za-z0-9.+-]+"  # the text of a canonical value: safe in folder names and shell commands
KEY_LENGTH = 10
# The wildcard of every run folder, whatever the space: it names folders and reaches shell commands.
RUN_PATTERN = rf"(?:{NAME}={VALUE}_)*seed=\d+(?:_ctx=[0-9a-f]{{{KEY_LENGTH}}})?"
DATA_DEFAULT = "cifar10"  # the official, md5-checked CIFAR-10: what the report's runs were trained on
MAX_RUN_ID = 230  # characters; a folder name may have 255 bytes


def value_text(name: str, value) -> str:
    """The canonical text of a setting's value in a run id (floats: 3 significant digits)."""
    kind = settings.BY_NAME[name].kind
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        return f"{float(value):.2e}"
    return str(value)


def parse_value(name: str, text: str):
    """A setting's value from its text in a run id (the inverse of value_text)."""
    kind = settings.BY_NAME[name].kind
    if kind is bool:
        if text not in ("true", "false"):
            raise ValueError(f"{name}={text}: not true or false")
        return text == "true"
    return kind(text)


def context(values: dict, named=(), data_id: str = DATA_DEFAULT, stop: dict | None = None) -> dict:
    """What identifies a run beyond its named settings and seed (see the module doc)."""
    values = settings.effective(values)
    changed = settings.changed({k: values[k] for k in settings.IDENTITY_KEYS if k in values})
    ctx = {k: settings.typed(k, v) for k, v in changed.items() if k not in named and k != "seed"}
    if data_id != DATA_DEFAULT:
        ctx["data"] = data_id
    if stop:
        ctx["stop"] = {"epoch": int(stop["epoch"]), "margin": float(stop["margin"]), "against": sorted(stop["against"])}
    return ctx


def context_key(ctx: dict) -> str | None:
    if not ctx:
        return None
    text = json.dumps(ctx, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


ORDER = {s.name: i for i, s in enumerate(settings.SETTINGS)}


def spelling(named: dict) -> str:
    """Named settings as run ids spell them: in settings.py's order (so reordering the genes renames no
    run; the report's lr, wd, mom keep theirs)."""
    return "_".join(f"{k}={value_text(k, named[k])}" for k in sorted(named, key=ORDER.__getitem__))


def genome_key(spelled: str) -> str:
    return hashlib.sha256(spelled.encode()).hexdigest()[:KEY_LENGTH]


def key_of_genome(named: dict) -> str:
    """The key a run id names a genome by when it is too long to spell."""
    return genome_key(spelling(named))


def run_id(named: dict, seed: int, ctx: dict) -> str:
    """The run id: the named settings spelled (or, where that is too long, their key), the seed, the
    context's key if any."""
    key = context_key(ctx)
    tail = [f"seed={int(seed)}"] + ([f"ctx={key}"] if key else [])
    spelled = spelling(named)
    full = "_".join(([spelled] if spelled else []) + tail)
    if len(full) <= MAX_RUN_ID:
        return full
    return "_".join([f"genome={genome_key(spelled)}", *tail])


def key_of(run: str) -> str | None:
    """The genome key of a run id that names its genome by key, else None."""
    m = re.match(rf"genome=([0-9a-f]{{{KEY_LENGTH}}})_seed=", run)
    return m.group(1) if m else None


def parse_run_id(text: str) -> tuple[dict, int, str | None]:
    """(named settings by name, seed, context key or None); ValueError for anything else."""
    if not re.fullmatch(RUN_PATTERN, text):
        raise ValueError(f"not a run id of the form lr=1.00e-03_wd=..._mom=..._seed=N[_ctx=KEY]: {text!r}")
    pairs = re.findall(rf"({NAME})=({VALUE})(?:_|$)", text)
    key = dict(pairs).get("ctx")
    named = {}
    for name, value in pairs:
        if name in ("seed", "ctx") or (name == "genome" and key_of(text)):
            continue  # a genome named by key: its settings come with the job (train.py --genes)
        if name not in settings.BY_NAME or not settings.BY_NAME[name].identity:
            raise ValueError(f"run id {text!r}: {name} is not a setting that can name a run")
        named[name] = parse_value(name, value)
    return named, int(dict(pairs)["seed"]), key


def named_settings(run: str, genes: str | None = None) -> dict:
    """The settings a run id names. A genome it names by key (one too long to spell) comes spelled in
    `genes` (train.py --genes), which must give that key; ValueError otherwise."""
    named, key = parse_run_id(run)[0], key_of(run)
    if key is None and genes is None:
        return named
    if key is None or genes is None:
        raise ValueError(f"--genes goes with a run id of the form genome=<key>_seed=N only (got --genome {run})")
    spelled = parse_run_id(f"{genes}_seed=0")[0]
    if key_of_genome(spelled) != key:
        raise ValueError(f"--genes {genes}: not the genome of key {key} (run {run})")
    return {**named, **spelled}
