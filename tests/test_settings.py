"""settings.py: the one table the flags, the checkpoint fingerprint and the rules' command lines
derive from; archs.py: the registry the flags and the config check take names from."""

import copy
import shlex

import pytest
import yaml

import settings
import train
from archs import ARCHS
from config_check import SCHEMA, check_config, merge
from helpers import ROOT


@pytest.fixture(scope="module")
def smoke_config():
    configs = [yaml.safe_load((ROOT / "config" / name).read_text()) for name in ("config.yaml", "smoke.yaml")]
    return check_config(merge(*configs))


def test_the_rules_command_line_parses_back_to_the_config_values(smoke_config):
    config = copy.deepcopy(smoke_config)
    config["train"].update(compile="max-autotune", deterministic=True)
    values = settings.from_config(config)
    args = train.parse_args(["--data", "d", "--out", "o", *shlex.split(settings.command_line(values))])
    assert {name: getattr(args, name) for name in values} == values
    off = settings.command_line({**values, "deterministic": False, "compile": False})
    assert "--deterministic" not in off and "--compile" not in off


def test_lists_and_switches_and_quoting():
    line = settings.command_line({"milestones": [30, 45], "track_test": True, "cache_dir": "a b; rm -rf x"})
    assert shlex.split(line) == ["--milestones", "30", "45", "--track-test", "--cache-dir", "a b; rm -rf x"]


def test_every_config_key_of_a_setting_is_in_the_schema():
    schema = yaml.safe_load(SCHEMA.read_text())
    for s in settings.SETTINGS:
        if s.config:
            node = schema
            for part in s.config.split("."):
                assert part in node["properties"], f"{s.name}: {s.config} is not in the schema"
                node = node["properties"][part]


def test_the_identity_holds_what_changes_the_numbers_and_nothing_else():
    keys = set(settings.IDENTITY_KEYS)
    assert {"arch", "lr", "wd", "mom", "seed", "epochs", "threads", "deterministic", "optimizer"} <= keys
    assert {"label_smoothing", "crop_pad", "flip", "cutout"} <= keys
    assert not keys & {"device", "jobs_per_gpu", "cache_dir", "eval_batch_size"}
    assert set(settings.OPTION_KEYS) == {"device", "jobs_per_gpu", "cache_dir", "eval_batch_size", "tensorboard"}


def test_a_command_line_leaves_out_what_the_run_id_sets_and_what_its_net_ignores():
    """Changing a config value that a gene or the net overrides must change no job's params."""
    config = {"arch": "resnet20", "epochs": 3, "lr": 0.01, "shortcut": "B", "cutout": 8}
    expected = {"arch": "resnet20", "epochs": 3, "shortcut": "B", "cutout": 8}
    assert settings.command_values(config, {"lr": 0.1, "wd": 0.0}) == expected
    assert settings.command_values(config, {"arch": "resnet50"}) == {"epochs": 3, "lr": 0.01, "cutout": 8}
    assert list(settings.command_values({**config, "arch": "plain20"})) == ["arch", "epochs", "lr", "cutout"]
    assert settings.command_values({"shortcut": "B"}) == {}  # the default net, resnet50, has its own shortcuts


def test_every_setting_s_default_is_the_schema_s():
    """One default per setting: the workflow's runs at the defaults are the runs of train.py by hand,
    and their identity has no key (identity.py)."""
    from config_check import check_config

    defaults = settings.from_config(check_config({"outdir": "results"}))
    for name, value in defaults.items():
        assert value == settings.BY_NAME[name].default, name


def test_every_setting_s_range_is_the_schema_s():
    """The flags' ranges (settings.py) and the config keys' (the schema) are one range: a value the
    config check lets through is one train.py takes."""
    schema, checked = yaml.safe_load(SCHEMA.read_text()), 0
    for s in settings.SETTINGS:
        if not s.config or s.low is None:
            continue
        section, key = s.config.split(".") if "." in s.config else (None, s.config)
        node = schema["properties"][section]["properties"][key] if section else schema["properties"][key]
        node = {**schema["$defs"]["seed"], **node} if "$ref" in node else node
        low, high = ("exclusiveMinimum", "exclusiveMaximum") if s.open else ("minimum", "maximum")
        assert (node.get(low), node.get(high)) == (s.low, s.high), s.name
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize(
    "name, value, allowed",
    [
        ("pct_start", 1.0, "> 0 and < 1"),
        ("lr", 0.0, "> 0 and < 1000.0"),
        ("seed", 2**32, ">= 0 and <= 4294967295"),
        ("div_factor", 0.5, ">= 1"),  # below 1 the schedule starts above its peak, lr
    ],
)
def test_range_errors_name_the_flag(name, value, allowed):
    assert (
        settings.range_error(settings.BY_NAME[name], value)
        == f"--{name.replace('_', '-')} must be {allowed}, got {value}"
    )
    assert settings.range_error(settings.BY_NAME[name], settings.BY_NAME[name].default) is None


def test_architectures_come_from_the_registry():
    ap = train.build_parser()
    assert ap.parse_args(["--data", "d", "--out", "o", "--arch", "plain110"]).arch == "plain110"
    assert set(ARCHS) == {f"{k}{6 * n + 2}" for k in ("resnet", "plain") for n in (1, 3, 5, 7, 9, 18)} | {
        f"resnet{d}" for d in (18, 34, 50, 101, 152)
    }
    assert ARCHS["resnet50"].layers == (3, 4, 6, 3) and ARCHS["resnet110"].layers == (18, 18, 18)  # Tables 1 and 6


@pytest.mark.parametrize(
    "genome, message",
    [
        ("optimizer=rmsprop_seed=0", "optimizer: 'rmsprop' is not one of sgd, adamw"),
        ("arch=resnet999_seed=0", "arch: 'resnet999' is not one of"),
        ("shortcut=C_seed=0", "shortcut: 'C' is not one of A, B"),
        ("label_smoothing=2.00e+00_seed=0", "label_smoothing: --label-smoothing must be >= 0 and <= 1"),
    ],
)
def test_a_run_id_s_values_are_checked_as_the_flags_are(genome, message, capsys):
    """argparse checks --optimizer's choices; a value that reaches args through the run id must be
    checked too (rmsprop would have trained SGD under a name that says rmsprop)."""
    import train

    with pytest.raises(SystemExit):
        train.parse_args(["--data", "d", "--out", "o", "--genome", genome])
    err = capsys.readouterr().err
    assert f"--genome {genome}: {message}" in err, err


def test_a_new_row_is_searchable_before_it_has_a_schema_entry(monkeypatch):
    """A new setting is one row in settings.py (plus its use in the training code): the config the
    schema fills in lacks its key, so every run trains at its default, and it can be a gene."""
    import space as spaces

    row = settings.Setting("dropout", 0.0, "dropout before the classifier", "train.dropout", low=0, high=1)
    monkeypatch.setattr(settings, "SETTINGS", (*settings.SETTINGS, row))
    monkeypatch.setitem(settings.BY_NAME, "dropout", row)
    monkeypatch.setattr(settings, "SEARCHABLE_KEYS", [*settings.SEARCHABLE_KEYS, "dropout"])
    assert settings.from_config({"train": {"arch": "resnet8"}})["dropout"] == 0.0
    assert spaces.from_config({"dropout": {"low": 0.0, "high": 0.5}}).names == ["dropout"]


def test_the_range_test_takes_every_setting_but_the_schedule_s_and_a_whole_run_s():
    """A new setting that changes the net or the training step reaches the LR range test without a
    second list to edit: only what it cannot use is listed (NOT_IN_RANGE_TEST)."""
    assert set(settings.NOT_IN_RANGE_TEST) <= set(settings.BY_NAME)
    assert set(settings.LR_FIND_KEYS) == set(settings.BY_NAME) - set(settings.NOT_IN_RANGE_TEST)
    net_and_step = {"arch", "shortcut", "wd", "mom", "optimizer", "batch_size", "label_smoothing", "cutout", "flip"}
    assert net_and_step <= set(settings.LR_FIND_KEYS)


def test_a_setting_added_at_its_default_keeps_the_range_tests_run_before(monkeypatch, tmp_path):
    """lr_find/by_settings/<key>: the key holds the settings off their defaults, so a release that
    adds one keeps every range test run before it; the setting off its default is another test."""
    import lr_find

    (tmp_path / "meta.json").write_text("{}")
    args = lr_find.build_parser().parse_args(["--data", str(tmp_path), "--out", str(tmp_path / "o")])
    before = lr_find.settings_key(args)
    row = settings.Setting("dropout", 0.0, "dropout before the classifier", low=0, high=1)
    monkeypatch.setitem(settings.BY_NAME, "dropout", row)
    monkeypatch.setattr(lr_find, "USED", (*lr_find.USED, "dropout"))
    args.dropout = 0.0
    assert lr_find.settings_key(args) == before
    args.dropout = 0.2
    assert lr_find.settings_key(args) != before
