"""The search space as data (space.py) and a run's identity (identity.py): genes of every type, their
canonical text, run ids and their keys, and the config errors naming the key."""

import re

import numpy as np
import pytest

import formats
import identity
import settings
import space as spaces

REPORT = {
    "lr": {"low": 1e-6, "high": 1e-2, "log": True},
    "wd": {"low": 0.0, "high": 0.1},
    "mom": {"low": 0.1, "high": 1.5},
}
SEVEN = {
    **REPORT,
    "arch": {"choices": ["resnet8", "resnet20", "plain8"]},
    "batch_size": {"choices": [64, 128, 256]},
    "label_smoothing": {"low": 0.0, "high": 0.2},
    "cutout": {"low": 0, "high": 16, "step": 4},
    "flip": {"choices": [True, False]},
    "epochs": {"low": 2, "high": 30, "log": True},
}


def test_every_gene_type_draws_canonical_values_inside_its_space():
    space = spaces.from_config(SEVEN)
    assert [g.kind for g in space.genes] == ["float"] * 3 + ["categorical"] * 2 + ["float", "int", "categorical", "int"]
    rng = np.random.default_rng(0)
    draws = [space.draw(rng) for _ in range(500)]
    for d in draws:
        assert all(g.contains(d[g.name]) for g in space.genes) and space.canonical(d) == d
    assert {d["cutout"] for d in draws} == {0, 4, 8, 12, 16}
    assert {d["arch"] for d in draws} == {"resnet8", "resnet20", "plain8"} and {d["flip"] for d in draws} == {
        True,
        False,
    }
    assert all(isinstance(d["batch_size"], int) and isinstance(d["epochs"], int) for d in draws)
    assert min(d["epochs"] for d in draws) == 2 and max(d["epochs"] for d in draws) >= 25


def test_a_log_integer_gene_draws_each_value_its_log_width():
    """1..8 log-uniform: each integer k is drawn with the log-width of [k - 0.5, k + 0.5] (as Optuna's
    IntDistribution, which TPE samples); rounding a draw over [1, 8] would give 8 half of 7's share."""
    gene = spaces.from_config({"epochs": {"low": 1, "high": 8, "log": True}}).genes[0]
    rng = np.random.default_rng(0)
    counts = np.bincount([gene.draw(rng) for _ in range(20000)], minlength=9)[1:]
    width = np.log(np.arange(1, 9) + 0.5) - np.log(np.arange(1, 9) - 0.5)
    assert np.allclose(counts / counts.sum(), width / width.sum(), atol=0.01), counts
    assert counts[7] > 0.9 * counts[6] * width[7] / width[6]  # 8 as often as its width says


def test_the_report_s_genome_keeps_its_run_id():
    space = spaces.from_config(REPORT)
    genome = {"lr": 0.0031623, "wd": 0.012, "mom": 0.85}
    rid = space.run_id(genome, 0, identity.context(settings.from_config(_defaults()), space.names))
    assert rid == "lr=3.16e-03_wd=1.20e-02_mom=8.50e-01_seed=0"  # the default config's runs keep their folders
    assert identity.parse_run_id(rid) == ({"lr": 0.00316, "wd": 0.012, "mom": 0.85}, 0, None)


def test_run_ids_of_every_type_round_trip_and_match_the_wildcard():
    space = spaces.from_config(SEVEN)
    genome = space.draw(np.random.default_rng(3))
    rid = space.run_id(genome, 7, {"epochs": 4})
    named, seed, key = identity.parse_run_id(rid)
    assert space.canonical(named) == genome and seed == 7 and key == identity.context_key({"epochs": 4})
    import re

    assert re.fullmatch(identity.RUN_PATTERN, rid) and "batch_size=" in rid and "flip=" in rid
    with pytest.raises(ValueError, match="not a run id"):
        identity.parse_run_id("lr=1e-3;touch x_seed=0")
    with pytest.raises(ValueError, match="cache_dir is not a setting that can name a run"):
        identity.parse_run_id("cache_dir=x_seed=0")


def _defaults():
    import yaml

    from config_check import check_config
    from helpers import ROOT

    return check_config(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))


def test_the_context_holds_what_changes_numbers_at_non_default_values_only():
    values = settings.from_config(_defaults())
    assert identity.context(values, ("lr", "wd", "mom")) == {}  # the report's experiment
    changed = identity.context({**values, "epochs": 20, "jobs_per_gpu": 3, "device": "cpu"}, ("lr", "wd", "mom"))
    assert changed == {"epochs": 20}  # scheduling knobs are never part of a run's identity
    assert identity.context_key(changed) != identity.context_key({"epochs": 21})
    assert identity.context(values, ("lr",), data_id="synthetic-abc") == {"data": "synthetic-abc"}
    stop = {"epoch": 1, "margin": 0.0, "against": ["b", "a"]}
    assert identity.context(values, ("lr",), stop=stop)["stop"]["against"] == ["a", "b"]  # in any order


def test_a_new_setting_at_its_default_keeps_every_run_id():
    """A release that adds a setting: the old record lacks it, and that is no difference."""
    requested = settings.fingerprint({s.name: s.default for s in settings.SETTINGS})
    recorded = {k: v for k, v in requested.items() if k != "label_smoothing"}
    assert settings.differences(recorded, requested) == []
    assert settings.differences(recorded, {**requested, "label_smoothing": 0.1}) == ["label_smoothing"]


@pytest.mark.parametrize(
    "genes, key",
    [
        ({"lr": {"low": 1e-2, "high": 1e-6, "log": True}}, "ga.genes.lr"),
        ({"lr": {"low": 0.0, "high": 1e-2, "log": True}}, "ga.genes.lr.low"),
        ({"wd": {"low": 0.0, "high": 0.12345}}, "ga.genes.wd.high"),
        ({"wd": {"low": -0.1, "high": 0.1}}, "ga.genes.wd.low"),
        ({"cache_dir": {"choices": ["a", "b"]}}, "ga.genes.cache_dir"),
        ({"seed": {"low": 0, "high": 9}}, "ga.genes.seed"),
        # what defines the validation set (fitness values would stop being comparable) or computes the
        # numbers, and a list: not genes
        ({"val_size": {"low": 100, "high": 2600}}, "ga.genes.val_size"),
        ({"split_seed": {"low": 0, "high": 9}}, "ga.genes.split_seed"),
        ({"max_val": {"low": 0, "high": 500}}, "ga.genes.max_val"),
        ({"threads": {"low": 1, "high": 4}}, "ga.genes.threads"),
        ({"deterministic": {"choices": [True, False]}}, "ga.genes.deterministic"),
        ({"compile": {"choices": [True, False]}}, "ga.genes.compile"),
        ({"track_test": {"choices": [True, False]}}, "ga.genes.track_test"),
        ({"milestones": {"choices": [[1], [2]]}}, "ga.genes.milestones"),
        ({"schedule": {"choices": ["onecycle", "step"]}}, "ga.genes.schedule"),  # no milestones: a constant lr
        ({"warmup_iters": {"low": 0, "high": 500}}, "ga.genes.warmup_iters"),  # one-cycle ignores it
        ({"arch": {"low": 1, "high": 2}}, "ga.genes.arch"),
        ({"arch": {"choices": ["resnet8"]}}, "ga.genes.arch.choices"),
        ({"arch": {"choices": ["resnet8", "resnet51"]}}, "ga.genes.arch.choices"),
        ({"batch_size": {"low": 64, "high": 512, "log": True, "step": 64}}, "ga.genes.batch_size"),
        ({"batch_size": {"low": 64, "high": 500, "step": 64}}, "ga.genes.batch_size.step"),
        ({"cutout": {"low": 0.5, "high": 8}}, "ga.genes.cutout"),
        ({"label_smoothing": {"low": 0.0, "high": 0.2, "step": 1}}, "ga.genes.label_smoothing.step"),
        ({"flip": {"choices": ["yes", "no"]}}, "ga.genes.flip.choices"),
        ({"label_smoothing": {"choices": [0, 0.0]}}, "ga.genes.label_smoothing.choices"),  # one value as a float
        ({"div_factor": {"choices": [25, 10, 25.0]}}, "ga.genes.div_factor.choices"),
        ({"arch": {"choices": ["resnet8", "resnet8"]}}, "ga.genes.arch.choices"),
        ({"label_smoothing": {"low": 0.0, "high": 1.5}}, "ga.genes.label_smoothing.high"),
        ({"lr": None, "wd": None, "mom": None}, "ga.genes"),
    ],
)
def test_a_gene_the_space_cannot_search_is_one_error_naming_its_key(genes, key):
    with pytest.raises(ValueError) as e:
        spaces.from_config({**REPORT, **genes})
    assert str(e.value).startswith(key), str(e.value)


def test_choices_are_distinct_as_the_setting_takes_them():
    """A float setting takes 25 as 25.0: [25, 25.0] would be one value drawn twice as often, under one run id."""
    with pytest.raises(ValueError, match=r"^ga.genes.div_factor.choices: 25 and 25.0 are one value of div_factor"):
        spaces.from_config({**REPORT, "div_factor": {"choices": [25, 10, 25.0]}})
    gene = spaces.from_config({**REPORT, "div_factor": {"choices": [25, 10.0]}}).genes[-1]
    assert gene.choices == (25.0, 10.0) and all(type(c) is float for c in gene.choices)


def test_a_null_gene_is_not_searched_and_a_genome_too_long_to_spell_is_named_by_its_key(capsys):
    assert spaces.from_config({**REPORT, "wd": None}).names == ["lr", "mom"]
    many = {k: {"low": 0.1, "high": 0.5} for k in ("label_smoothing", "pct_start", "max_momentum")}
    many |= {"div_factor": {"low": 1.0, "high": 100.0}}
    long_choices = {"arch": {"choices": ["resnet110", "resnet152"]}, "shortcut": {"choices": ["A", "B"]}}
    ints = {k: {"low": 1, "high": 10**12} for k in ("max_train", "cutout", "crop_pad")}
    ints |= {"epochs": {"low": 1, "high": 10_000}, "batch_size": {"low": 1, "high": 65_536}}
    space = spaces.from_config({**REPORT, **many, **long_choices, **ints})
    genome = space.draw(np.random.default_rng(0))
    rid = space.run_id(genome, 7, {"epochs": 4})
    assert len(identity.spelling(space.canonical(genome))) > identity.MAX_RUN_ID
    assert re.fullmatch(r"genome=[0-9a-f]{10}_seed=7_ctx=[0-9a-f]{10}", rid) and re.fullmatch(identity.RUN_PATTERN, rid)
    assert identity.parse_run_id(rid) == ({}, 7, identity.context_key({"epochs": 4}))
    assert identity.key_of(rid) == identity.genome_key(identity.spelling(space.canonical(genome)))
    other = {**genome, "lr": genome["lr"] * 2}
    assert identity.key_of(space.run_id(space.canonical(other), 7, {})) != identity.key_of(rid)
    # the train job is given the spelling, and refuses one that is not the key's genome
    import train

    spelled = identity.spelling(space.canonical(genome))
    args = train.parse_args(["--data", "d", "--out", "o", "--genome", rid, "--genes", spelled])
    assert args.lr == space.canonical(genome)["lr"] and sorted(args.named) == sorted(space.names)
    forged = identity.spelling({**space.canonical(genome), "lr": 1e-3})
    with pytest.raises(SystemExit):
        train.parse_args(["--data", "d", "--out", "o", "--genome", rid, "--genes", forged])
    assert f"--genes {forged}: not the genome of key" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.parse_args(["--data", "d", "--out", "o", "--genome", rid])


def test_a_gene_added_or_the_genes_reordered_keep_the_baseline_and_the_genomes_run_ids():
    """The baseline's name spells its own lr, wd and mom, whatever is searched; a run id spells genes
    in settings.py's order, not the config's. So adding a gene at the config's value (cutout 0) keeps
    the baseline's finished runs, and reordering the genes (crossover order) renames no run."""
    import pandas as pd

    import search

    cfg = _defaults()
    values = settings.from_config(cfg)
    meta = {"data_id": identity.DATA_DEFAULT}
    base = {"lr": "auto", "wd": 5e-4, "mom": 0.85}
    sug = {"suggestion": 3.16e-3}

    def runs(genes):
        spec = search.spec_from_config({**cfg, "ga": {**cfg["ga"], "genes": genes}})
        best = pd.DataFrame([{"method": "ga", "repeat": 0, "fitness": 0.9, **spec["space"].texts(genome)}])
        return list(search.plan(spec, values, meta, best, base, sug, seed=0, final_seeds=2)["run"])

    genome = {"lr": 1e-3, "wd": 1e-2, "mom": 0.9, "cutout": 0}
    report = runs(REPORT)
    assert report[:3] == [f"lr=3.16e-03_wd=5.00e-04_mom=8.50e-01_seed={s}" for s in range(3)]
    assert report[3] == "lr=1.00e-03_wd=1.00e-02_mom=9.00e-01_seed=1"
    with_cutout = runs({**REPORT, "cutout": {"low": 0, "high": 16, "step": 4}})
    assert with_cutout[:3] == report[:3]  # the baseline's runs are found again
    assert with_cutout[3] == "lr=1.00e-03_wd=1.00e-02_mom=9.00e-01_cutout=0_seed=1"
    reordered = runs({"cutout": {"low": 0, "high": 16, "step": 4}, "mom": REPORT["mom"], **REPORT})
    assert reordered == with_cutout


def test_each_repeat_retrains_its_best_at_its_own_seeds(tmp_path):
    """Two repeats that found one genome are two replicates, training noise included: repeat 1 retrains
    at the next final seeds, never sharing repeat 0's runs (three copies of one score would otherwise
    read as a certain mean). Repeat 0 and the baseline keep seed+1 .. seed+final_seeds."""
    import pandas as pd

    import search

    cfg = _defaults()
    spec = search.spec_from_config({**cfg, "search": {"repeats": 2, "methods": ["ga"]}})
    genome = {"lr": 1e-3, "wd": 1e-2, "mom": 0.9}
    best = pd.DataFrame([{"method": "ga", "repeat": k, "fitness": 0.9, **spec["space"].texts(genome)} for k in (0, 1)])
    meta, base = {"data_id": identity.DATA_DEFAULT}, {"lr": "auto", "wd": 5e-4, "mom": 0.85}
    plan = search.plan(spec, settings.from_config(cfg), meta, best, base, {"suggestion": 3e-3}, seed=5, final_seeds=2)
    seeds = plan.groupby(["method", "repeat", "stage"])["seed"].apply(list).to_dict()
    assert seeds == {("baseline", 0, "search"): [5], ("baseline", 0, "final"): [6, 7], ("ga", 0, "final"): [6, 7],
                     ("ga", 1, "final"): [8, 9]}  # fmt: skip
    assert plan["run"].is_unique
    formats.write_table("plan", plan, tmp_path / "plan.tsv")
    assert search.read_plan(tmp_path / "plan.tsv", spec).equals(formats.read_table("plan", tmp_path / "plan.tsv"))
    shared = plan.assign(seed=plan["seed"].where(plan["repeat"] == 0, plan["seed"] - 2))  # the old layout
    shared["run"] = [r.replace(f"seed={a}", f"seed={b}") for r, a, b in zip(plan["run"], plan["seed"], shared["seed"])]
    formats.write_table("plan", shared, tmp_path / "old.tsv")
    with pytest.raises(search.DataError, match=r"ga, repeat 1: retrained at repeat 0's seeds .* delete this file"):
        search.read_plan(tmp_path / "old.tsv", spec)  # a project's plan from before: the fix, in one line


@pytest.mark.parametrize(
    "text, what",
    [("xx", "--spec: not JSON"), ("{}", "ga: missing"), ("[1]", "ga: missing"), ('{"ga": {"genes": {}}}', "ga.genes")],
)
def test_a_spec_given_by_hand_is_one_error_naming_the_key(text, what):
    """Every step's --spec: a person running a step by hand gets a line naming the key, not a KeyError."""
    import search

    with pytest.raises(ValueError, match=what):
        search.spec_from_json(text)


def test_a_setting_the_net_cannot_use_is_no_part_of_its_identity():
    """The ImageNet ResNets fix their shortcuts (projections), the plain nets have none: train.shortcut
    B on the default resnet50 renames no run, passes no flag and is no fingerprint difference."""
    values = settings.from_config(_defaults())
    b = {**values, "shortcut": "B"}
    assert identity.context(b, ("lr", "wd", "mom")) == {}
    assert settings.identity_changed(b) == {"shortcut": "B"}  # passed on: a CIFAR genome of the search uses it
    full = settings.with_defaults(values)
    assert settings.differences(settings.fingerprint(full), settings.fingerprint({**full, "shortcut": "B"})) == []
    cifar = {**b, "arch": "resnet20"}  # a CIFAR resnetN uses it: part of the identity
    assert identity.context(cifar, ("lr", "wd", "mom")) == {"arch": "resnet20", "shortcut": "B"}
    assert identity.context({**cifar, "arch": "plain20"}, ("lr", "wd", "mom")) == {"arch": "plain20"}
    # per run: with arch a gene, each genome's own net decides, as the train job computes it
    import search

    cfg = _defaults()
    cfg = {**cfg, "train": {**cfg["train"], "arch": "resnet20", "shortcut": "B"}}
    cfg["ga"] = {**cfg["ga"], "genes": {**REPORT, "arch": {"choices": ["resnet20", "plain20"]}}}
    spec, meta = search.spec_from_config(cfg), {"data_id": identity.DATA_DEFAULT}
    base = {"lr": 1e-3, "wd": 0.0, "mom": 0.9}
    resnet = search.run_context(settings.from_config(cfg), spec, meta, {**base, "arch": "resnet20"})
    plain = search.run_context(settings.from_config(cfg), spec, meta, {**base, "arch": "plain20"})
    assert resnet == {"shortcut": "B"} and plain == {}
    # a 0.5.1 record of a resnet50 run that says shortcut B is no difference from A
    assert settings.differences({**full, "shortcut": "B"}, settings.fingerprint(full)) == []


def test_the_search_steps_are_given_only_the_settings_some_run_uses():
    """A gene the baseline names too (lr, wd, mom) is set by every run's id: changing train.lr then
    changes no search step's params. A gene the baseline does not name (arch) stays: the baseline
    trains the config's. The shortcut stays only where some run's net takes one."""
    import search

    cfg = _defaults()
    values = {"lr": 0.01, "arch": "resnet20", "shortcut": "B", "epochs": 3}
    report = search.spec_from_config(cfg)
    assert search.used_settings(report, values) == {"arch": "resnet20", "shortcut": "B", "epochs": 3}
    default_arch = {"lr": 0.01, "shortcut": "B", "epochs": 3}  # resnet50: its own shortcuts
    assert search.used_settings(report, default_arch) == {"epochs": 3}
    genes = {**REPORT, "arch": {"choices": ["resnet50", "resnet20"]}}
    arch = search.spec_from_config({**cfg, "ga": {**cfg["ga"], "genes": genes}})
    assert search.used_settings(arch, default_arch) == {"shortcut": "B", "epochs": 3}


def test_a_run_s_named_settings_with_a_genome_named_by_key():
    long = {"lr": 1e-3, "wd": 0.0, "mom": 0.9, "arch": "resnet20", "cutout": 8}
    spelled = identity.spelling(long)
    rid = f"genome={identity.genome_key(spelled)}_seed=1"
    assert identity.named_settings(rid, spelled) == long
    assert identity.named_settings("lr=1.00e-03_wd=0.00e+00_mom=9.00e-01_seed=1") == {"lr": 1e-3, "wd": 0.0, "mom": 0.9}
    for run, genes in ((rid, None), (rid, identity.spelling({**long, "cutout": 4})), ("lr=1.00e-03_seed=1", spelled)):
        with pytest.raises(ValueError, match="--genes"):
            identity.named_settings(run, genes)


def test_a_result_of_a_genome_whose_net_ignores_its_shortcut_gene_is_its_run_s():
    """train.py records the settings as the net uses them (shortcut A for resnet50): the result is
    still the run's, whose id names shortcut B; another seed is not."""
    import formats

    named = {"arch": "resnet50", "shortcut": "B"}
    record = {
        "run": identity.run_id(named, 0, {}),
        "seed": 0,
        "named": named,
        "settings": settings.fingerprint(settings.with_defaults(named)),
        "epochs": 15,
        "n_val": 5000,
        "n_train": 45000,
    }
    assert record["settings"]["shortcut"] == "A"
    formats._result_is_its_runs([record], "result.json")
    with pytest.raises(Exception, match="field seed"):
        formats._result_is_its_runs([{**record, "seed": 1}], "result.json")


def test_the_baseline_s_context_is_train_py_s_when_arch_is_a_gene_and_the_config_s_net_ignores_the_shortcut():
    import pandas as pd

    import search

    cfg = _defaults()
    cfg = {**cfg, "train": {**cfg["train"], "shortcut": "B"}}  # arch at its default, resnet50
    cfg["ga"] = {**cfg["ga"], "genes": {**REPORT, "arch": {"choices": ["resnet50", "resnet20"]}}}
    spec, meta = search.spec_from_config(cfg), {"data_id": identity.DATA_DEFAULT}
    values = search.used_settings(spec, settings.identity_changed(settings.from_config(cfg)))
    genome = {"lr": 1e-3, "wd": 0.0, "mom": 0.9, "arch": "resnet20"}
    best = pd.DataFrame([{"method": "ga", "repeat": 0, "fitness": 0.9, **spec["space"].texts(genome)}])
    base = {"lr": "auto", "wd": 5e-4, "mom": 0.85}
    runs = search.plan(spec, values, meta, best, base, {"suggestion": 3.16e-3}, seed=0, final_seeds=1)["run"]
    trained = settings.with_defaults({**settings.from_config(cfg), "lr": 3.16e-3, "wd": 5e-4, "mom": 0.85})
    assert identity.context(trained, ("lr", "wd", "mom")) == {}  # what train.py checks the baseline's id against
    assert runs[0] == "lr=3.16e-03_wd=5.00e-04_mom=8.50e-01_seed=0"


def test_two_genomes_never_share_a_legend_label():
    """Legends label genomes with their canonical 3 significant digits: 1.23e-2 and 1.24e-2 differ."""
    space = spaces.from_config(REPORT)
    a, b = ({"lr": 1e-3, "wd": wd, "mom": 0.9} for wd in (1.23e-2, 1.24e-2))
    assert space.label(a) != space.label(b) and "wd=0.0123" in space.label(a)


def test_a_float_gene_holds_its_canonical_values():
    """Floats are kept to 3 significant digits: 0.1..1.5 holds 0.100..0.999 and 1.00..1.50."""
    assert spaces.canonical_count(0.1, 1.5) == 900 + 51 and spaces.canonical_count(0.9, 0.905) == 6
    assert spaces.canonical_count(1e-6, 1e-2) == 4 * 900 + 1 and spaces.canonical_count(0.5, 0.5) == 1
