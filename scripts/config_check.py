"""Checks of the workflow config that a JSON schema cannot express; each error names its key.

    python scripts/config_check.py config/config.yaml [more.yaml ...]   (later files override)

The Snakefile runs these right after Snakemake's schema validation, before any job.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ga import spec_from_json  # noqa: E402


class ConfigError(ValueError):
    pass


def check_config(config: dict) -> None:
    try:
        spec_from_json(json.dumps(config.get("ga", {})))
    except ValueError as e:
        raise ConfigError(f"config key {e}") from None
    data, train = config.get("data", {}), config.get("train", {})
    data_dir = data.get("data_dir") or ""
    if data_dir and not Path(data_dir).is_dir():
        raise ConfigError(f"config key data.data_dir: folder {data_dir!r} does not exist")
    if data_dir and data.get("dataset") == "synthetic":
        raise ConfigError("config key data.data_dir: must be empty for dataset synthetic (the workflow generates it)")
    n_train = data.get("synthetic", {}).get("train", 50000) if data.get("dataset") == "synthetic" else 50000
    val = data.get("val_size", 5000)
    if val >= n_train:
        raise ConfigError(f"config key data.val_size: {val} leaves no training images out of {n_train}")
    usable = min(n_train - val, train.get("max_train") or n_train)
    if train.get("batch_size", 512) > usable:
        raise ConfigError(f"config key train.batch_size: {train['batch_size']} exceeds the {usable} training images")
    lo, hi = config.get("lr_find", {}).get("start_lr", 1e-7), config.get("lr_find", {}).get("end_lr", 10.0)
    if not lo < hi:
        raise ConfigError(f"config key lr_find.start_lr: {lo} must be below lr_find.end_lr ({hi})")


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def main(argv=None) -> int:
    import yaml

    paths = (argv if argv is not None else sys.argv[1:]) or ["config/config.yaml"]
    config = {}
    for p in paths:
        config = merge(config, yaml.safe_load(Path(p).read_text()) or {})
    try:
        check_config(config)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("config ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
