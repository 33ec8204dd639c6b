"""config_check.check_config, key by key: the schema and the checks it cannot express, each a
one-line ConfigError naming the key (test_bad_inputs.py runs a few of them through Snakemake)."""

import copy
import json

import pytest
import yaml

from config_check import ConfigError, check_config, merge
from helpers import ROOT

M = 2**32
BAD_CONFIGS = {
    "negative train seed": ("train: {seed: -1}", "train.seed"),
    "ga seed too large": (f"ga: {{seed: {M}}}", "ga.seed"),
    "negative split seed": ("data: {split_seed: -3}", "data.split_seed"),
    "degradation seed too large": (f"degradation: {{seeds: [0, {M}]}}", "degradation.seeds.1"),
    "final seeds past 2^32-1": (f"train: {{seed: {M - 1}}}", "train.seed"),
    "a repeat's search seed past 2^32-1": (
        f"train: {{seed: {M - 2_000_000}}}\nsearch: {{repeats: 3}}",
        "train.seed: train.seed + the largest final or search seed offset of 3 repeat(s) (4294967296)",
    ),
    "final seeds reaching repeat 1's search seed": (
        "search: {repeats: 1000}\nfinal: {seeds: 1000}",
        "final.seeds: search.repeats x final.seeds (1000000) reaches 1000000",
    ),
    "negative wd bound": ("ga: {genes: {wd: {low: -0.1, high: 0.1}}}", "ga.genes.wd.low"),
    "negative momentum bound": ("ga: {genes: {mom: {low: -1.0, high: 1.5}}}", "ga.genes.mom.low"),
    "infinite lr bound": ("ga: {genes: {lr: {low: 1.0e-3, high: .inf, log: true}}}", "ga.genes.lr.high"),
    "nan div factor": ("train: {div_factor: .nan}", "train.div_factor"),
    "log bound <= 0": ("ga: {genes: {lr: {low: 0.0, high: 1.0e-2, log: true}}}", "ga.genes.lr.low"),
    "population < 2": ("ga: {population: 1}", "ga.population"),
    "generations < 1": ("ga: {generations: 0}", "ga.generations"),
    "unknown dataset": ("data: {dataset: mnist}", "data.dataset"),
    "reversed bounds": ("ga: {genes: {lr: {low: 1.0e-2, high: 1.0e-6, log: true}}}", "ga.genes.lr"),
    "too many digits in a bound": ("ga: {genes: {wd: {low: 0.0, high: 0.12345}}}", "ga.genes.wd.high"),
    "outdir is the root": ('outdir: "/"', "outdir"),
    "outdir is empty": ('outdir: ""', "outdir"),
    "outdir is dots": ('outdir: "./."', "outdir"),
    "outdir with a brace": ('outdir: "res{x}"', "outdir: 'res{x}' holds a brace"),
    "data_dir with a brace": ('data: {dataset: folder, data_dir: "img}s"}', "data.data_dir: 'img}s' holds a brace"),
    "milestone past the iterations": ("degradation: {iterations: 60, milestones: [30, 60]}", "degradation.milestones"),
    "negative max_train": ("train: {max_train: -5}", "train.max_train"),
    "elites >= population": ("ga: {population: 4, elites: 4}", "ga.elites"),
    "unknown arch": ("train: {arch: resnet51}", "train.arch"),
    "degradation depth not a CIFAR net": ("degradation: {depths: [20, 50]}", "degradation.depths"),
    "misspelt key": ("train: {epoch: 3}", "train"),
    "batch larger than the data": ("train: {batch_size: 5000}", "train.batch_size"),
    "lr_find range reversed": ("lr_find: {start_lr: 1.0, end_lr: 0.1}", "lr_find.start_lr"),
    "val_size takes all images": ("data: {val_size: 2500}", "data.val_size"),
    "AdamW with max_momentum 1": ("train: {optimizer: adamw, max_momentum: 1.0}", "train.max_momentum"),
    "a max_train gene below the batch": ("ga: {genes: {max_train: {low: 10, high: 1000}}}", "ga.genes.max_train.low"),
    "a max_train choice below the batch": ("ga: {genes: {max_train: {choices: [0, 20]}}}", "ga.genes.max_train"),
    "AdamW with a fixed momentum of 1.2": (
        "train: {optimizer: adamw, mom: 1.2}\nga: {genes: {mom: null}}",
        "train.mom",
    ),
    "a shortcut gene no net takes": (
        "train: {arch: resnet50}\nga: {genes: {shortcut: {choices: [A, B]}}}",
        "ga.genes.shortcut",
    ),
    "AdamW's baseline at max_momentum 1.2 beside a max_momentum gene": (
        "train: {optimizer: adamw, max_momentum: 1.2}\nga: {genes: {max_momentum: {low: 0.9, high: 0.99}}}",
        "train.max_momentum",
    ),
    "an AdamW choice with max_momentum 1": (
        "train: {max_momentum: 1.0}\nga: {genes: {optimizer: {choices: [sgd, adamw]}}}",
        "train.max_momentum",
    ),
    "AdamW with a baseline momentum above 1": ("train: {optimizer: adamw}\nbaseline: {mom: 1.2}", "baseline.mom"),
    "unknown optimizer": ("train: {optimizer: lamb}", "train.optimizer"),
    "missing data_dir": ("data: {dataset: cifar10, data_dir: /nonexistent/cifar}", "data.data_dir"),
    "early stop at the last epoch": ("ga: {early_stop: {epoch: 2}}", "ga.early_stop.epoch"),
    "early stop margin above 1": ("ga: {early_stop: {epoch: 1, margin: 2}}", "ga.early_stop.margin"),
    "early stop without an epoch": ("ga: {early_stop: {margin: 0.1}}", "ga.early_stop"),
    "folder without data_dir": ("data: {dataset: folder}", "data.data_dir"),
    "image size too small": ("data: {image_size: 4}", "data.image_size"),
    "data_dir with generated data": ("data: {data_dir: .}", "data.data_dir"),
    "a gene that is no setting": ("ga: {genes: {colour: {choices: [red, blue]}}}", "ga.genes.colour"),
    "an unknown architecture as a choice": (
        "ga: {genes: {arch: {choices: [resnet8, resnet51]}}}",
        "ga.genes.arch.choices",
    ),
    "a gene with low and choices": ("ga: {genes: {arch: {choices: [resnet8, resnet20], low: 1}}}", "ga.genes.arch"),
    "a batch-size gene larger than the data": ("ga: {genes: {batch_size: {choices: [100, 4000]}}}", "train.batch_size"),
    "early stop past a gene's fewest epochs": (
        "ga: {early_stop: {epoch: 1}, genes: {epochs: {low: 1, high: 3}}}",
        "ga.early_stop.epoch",
    ),
    "crossover point past the genes": ("ga: {crossover: {point: 3}}", "ga.crossover.point"),
    "an unknown method": ("search: {methods: [ga, bayes]}", "search.methods"),
    "a method twice": ("search: {methods: [ga, ga]}", "search.methods"),
    "no repeats": ("search: {repeats: 0}", "search.repeats"),
    "the old random_search key": ("random_search: true", "random_search"),
    "image size with CIFAR": ("data: {dataset: cifar10, verify_md5: false, image_size: 64}", "data.image_size"),
    "cutout below 0": ("train: {cutout: -1}", "train.cutout"),
    "label smoothing above 1": ("train: {label_smoothing: 1.5}", "train.label_smoothing"),
    "early stop at an epochs gene's fewest": (
        "ga: {early_stop: {epoch: 6}, genes: {epochs: {low: 6, high: 10}}}",
        "ga.early_stop.epoch: 6 must be below the fewest epochs a search run trains (ga.genes.epochs' smallest: 6)",
    ),
    "a choice given twice, as an integer and a float": (
        "ga: {genes: {div_factor: {choices: [25, 25.0, 10]}}}",
        "ga.genes.div_factor.choices: 25 and 25.0 are one value of div_factor",
    ),
    "a Cutout gene past the image side": ("ga: {genes: {cutout: {low: 0, high: 200}}}", "ga.genes.cutout.high: 200"),
    "a crop padding gene past the image side": (
        "ga: {genes: {crop_pad: {low: 0, high: 100}}}",
        "ga.genes.crop_pad.high",
    ),
    "a Cutout choice of the image side": ("ga: {genes: {cutout: {choices: [0, 32]}}}", "ga.genes.cutout.choices: 32"),
    "Cutout of the image side": ("train: {cutout: 32}", "train.cutout: 32 must be below the image side (32 px)"),
    "crop padding of the image side": ("train: {crop_pad: 32}", "train.crop_pad: 32 must be below the image side"),
    "the baseline's Cutout past the image side beside a Cutout gene": (
        "train: {cutout: 40}\nga: {genes: {cutout: {low: 0, high: 8}}}",
        "train.cutout",
    ),
    "a space smaller than the population": (
        "ga: {genes: {lr: null, wd: null, mom: null, arch: {choices: [resnet20, resnet32]}}}",
        "ga.genes: the space holds 2 distinct genomes, fewer than ga.population (4)",
    ),
    "a float gene narrower than the population at 3 significant digits": (
        "ga: {population: 10, elites: 5, genes: {lr: null, wd: null, mom: {low: 0.9, high: 0.905}}}",
        "ga.genes: the space holds 6 distinct genomes, fewer than ga.population (10)",
    ),
    "a schedule starting above its peak": ("train: {div_factor: 0.5}", "train.div_factor"),
    "a div_factor gene below 1": ("ga: {genes: {div_factor: {low: 0.5, high: 50.0}}}", "ga.genes.div_factor.low"),
    "a final lr above the peak": ("train: {final_div: 0.01}", "train.final_div: div_factor x final_div = 0.25"),
    "a final_div gene ending above the peak": (
        "ga: {genes: {final_div: {low: 0.01, high: 100.0, log: true}}}",
        "ga.genes.final_div.low: div_factor x final_div = 0.25",
    ),
    "epochs past any use": ("train: {epochs: 1.0e+30}", "train.epochs"),
    "an lr float32 cannot hold": ("baseline: {lr: 1.0e+39}", "baseline.lr"),
    "threads past any machine": ("train: {threads: 100000000000000000000}", "train.threads"),
    "generated data past memory": ("data: {synthetic: {train: 100000000000}}", "data.synthetic.train"),
    "LR range test steps past any use": ("lr_find: {steps: 1.0e+20}", "lr_find.steps"),
    "a shortcut gene beside a plain net": (
        "ga: {genes: {arch: {choices: [resnet8, plain8]}, shortcut: {choices: [A, B]}}}",
        "ga.genes.shortcut: a net of the search (resnet8, plain8) takes no shortcut option (plain8)",
    ),
    "a shortcut gene beside an ImageNet ResNet": (
        "ga: {genes: {arch: {choices: [resnet20, resnet18]}, shortcut: {choices: [A, B]}}}",
        "ga.genes.shortcut",
    ),
}


@pytest.fixture(scope="module")
def smoke_config():
    configs = [yaml.safe_load((ROOT / "config" / name).read_text()) for name in ("config.yaml", "smoke.yaml")]
    return merge(*configs)


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_key_is_one_error_naming_it(smoke_config, name):
    text, key = BAD_CONFIGS[name]
    config = merge(copy.deepcopy(smoke_config), yaml.safe_load(text))
    with pytest.raises(ConfigError) as e:
        check_config(config)
    assert str(e.value).startswith(f"config key {key}") and "\n" not in str(e.value), str(e.value)


def test_the_shipped_configs_pass_and_defaults_are_filled_in(smoke_config):
    default = check_config(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    assert default["train"]["arch"] == "resnet50" and default["ga"]["population"] == 10
    smoke = check_config(copy.deepcopy(smoke_config))
    assert smoke["ga"]["unique"] is True and smoke["train"]["deterministic"] is True
    assert check_config({"outdir": "results/x/"})["outdir"] == "results/x"  # defaults for every section


def test_command_line_strings_become_the_numbers_the_schema_wants(smoke_config):
    config = merge(copy.deepcopy(smoke_config), {"ga": {"generations": "5", "unique": "false"}})
    checked = check_config(config)
    assert checked["ga"]["generations"] == 5 and checked["ga"]["unique"] is False


@pytest.mark.parametrize(
    "override, key, value",
    [
        ({"baseline": {"lr": "0.01"}}, ("baseline", "lr"), 0.01),
        ({"baseline": {"lr": "auto"}}, ("baseline", "lr"), "auto"),
        ({"ga": {"elites": "null"}}, ("ga", "elites"), None),
        ({"ga": {"early_stop": "null"}}, ("ga", "early_stop"), None),
        ({"train": {"compile": "true"}}, ("train", "compile"), True),
        ({"train": {"compile": "reduce-overhead"}}, ("train", "compile"), "reduce-overhead"),
        ({"train": {"flip": "false"}}, ("train", "flip"), False),
        ({"ga": {"crossover": {"point": "null"}}}, ("ga", "crossover", "point"), None),
        ({"ga": {"genes": {"wd": "null"}}}, ("ga", "genes", "wd"), None),
        (
            {"ga": {"genes": {"arch": "{choices: [resnet8, resnet20]}"}}},
            ("ga", "genes", "arch"),
            {"choices": ["resnet8", "resnet20"]},
        ),
        ({"search": {"methods": "[ga, tpe]"}}, ("search", "methods"), ["ga", "tpe"]),
        ({"lr_find": {"start_lr": "1e-07"}}, ("lr_find", "start_lr"), 1e-7),  # YAML 1.1: text without a dot
        ({"baseline": {"lr": "1e-2"}}, ("baseline", "lr"), 0.01),
        ({"train": {"max_train": "1e4"}}, ("train", "max_train"), 10000),  # an integer key: 10000, not 10000.0
        ({"train": {"max_train": 1.0e4}}, ("train", "max_train"), 10000),  # so in a config file too
        ({"ga": {"genes": {"lr": "{low: 1e-6, high: 1e-2, log: true}"}}}, ("ga", "genes", "lr", "low"), 1e-6),
    ],
)
def test_every_documented_override_works_from_the_command_line(smoke_config, override, key, value):
    """--config passes nested values as text (Snakemake's BaseLoader): what the schema allows is taken."""
    checked = check_config(merge(copy.deepcopy(smoke_config), override))
    node = checked
    for k in key:
        node = node[k]
    assert node == value and type(node) is type(value)


def test_an_outdir_that_is_a_file_is_refused(smoke_config, tmp_path):
    f = tmp_path / "results"
    f.write_text("not a folder")
    with pytest.raises(ConfigError, match="config key outdir: .* is a file"):
        check_config(merge(copy.deepcopy(smoke_config), {"outdir": str(f)}))


def test_a_prepared_folder_decides_the_split_check_until_its_images_change(smoke_config, tmp_path):
    """A dataset's size is known once prepared: the check reads meta.json. For the user's data_dir
    only while no image was added or removed since (a stale count refused a valid split); a change
    inside it is an error naming the fix; after data_dir itself changed the prepare step, which then
    runs again, checks the split before any training job."""
    import os

    out, data = tmp_path / "out", tmp_path / "images"
    (data / "cat").mkdir(parents=True)
    meta = out / "data" / "prepared" / "folder" / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(
        json.dumps(
            {
                "dataset": "folder",
                "data_id": "folder-0123456789",
                "classes": ["cat"],
                "num_classes": 1,
                "image_size": 32,
                "train_size": 300,
                "test_size": 10,
                "mean": [0.5] * 3,
                "std": [0.25] * 3,
            }  # fmt: skip
        )
    )
    os.utime(meta, (2e9, 2e9))  # prepared after the folder was last changed
    folder = {"outdir": str(out), "data": {"dataset": "folder", "data_dir": str(data), "val_size": 300}}
    with pytest.raises(ConfigError, match="config key data.val_size: 300 leaves no training images out of 300"):
        check_config(merge(copy.deepcopy(smoke_config), folder))
    (data / "cat" / "new.png").write_bytes(b"")
    os.utime(data / "cat", (2e9 + 1, 2e9 + 1))  # an image added since, inside: Snakemake would not see it
    with pytest.raises(ConfigError, match=f"config key data.data_dir: {data / 'cat'} changed after .*touch"):
        check_config(merge(copy.deepcopy(smoke_config), folder))
    os.utime(data, (2e9 + 2, 2e9 + 2))  # touched: the prepare step runs again, and checks the split then
    check_config(merge(copy.deepcopy(smoke_config), folder))


def test_a_max_train_gene_is_checked_against_the_batch_its_genomes_train_with(smoke_config):
    """With batch_size a gene, train.batch_size trains no genome: a cap of 50 is fine for batches of
    16 and 32, though below the smoke config's train.batch_size of 100."""
    genes = {"max_train": {"choices": [50, 0]}, "batch_size": {"choices": [16, 32]}}
    checked = check_config(merge(copy.deepcopy(smoke_config), {"ga": {"genes": genes}}))
    assert checked["ga"]["genes"]["max_train"] == {"choices": [50, 0]} and checked["train"]["batch_size"] == 100


def test_early_stopping_is_bounded_by_the_epochs_its_runs_train(smoke_config):
    """Only a search's new genomes of a round >= 1 stop (never the baseline, trained at train.epochs):
    with epochs a gene, its smallest value bounds the stop epoch, not train.epochs (the smoke's 2)."""
    for epochs in ({"low": 6, "high": 10}, {"choices": [10, 5]}):
        config = {"ga": {"early_stop": {"epoch": 4}, "genes": {"epochs": epochs}}}
        assert check_config(merge(copy.deepcopy(smoke_config), config))["train"]["epochs"] == 2
    config = {"ga": {"early_stop": {"epoch": 5}, "genes": {"epochs": {"choices": [10, 5]}}}}
    with pytest.raises(ConfigError, match=r"^config key ga.early_stop.epoch: 5 .* \(ga.genes.epochs' smallest: 5\)$"):
        check_config(merge(copy.deepcopy(smoke_config), config))
    with pytest.raises(ConfigError, match=r"^config key ga.early_stop.epoch: 2 .* \(train.epochs: 2\)$"):
        check_config(merge(copy.deepcopy(smoke_config), {"ga": {"early_stop": {"epoch": 2}}}))


def test_choices_are_distinct_as_the_setting_takes_them_from_the_command_line_too(smoke_config):
    """--config gives choices as text: '0' and '0.0' become one label smoothing, 0.0."""
    genes = {"label_smoothing": "{choices: ['0', '0.0']}"}
    with pytest.raises(ConfigError, match=r"^config key ga.genes.label_smoothing.choices: 0 and 0.0 are one value"):
        check_config(merge(copy.deepcopy(smoke_config), {"ga": {"genes": genes}}))
    genes = {"label_smoothing": "{choices: ['0', '0.1']}"}
    checked = check_config(merge(copy.deepcopy(smoke_config), {"ga": {"genes": genes}}))
    assert checked["ga"]["genes"]["label_smoothing"] == {"choices": [0, 0.1]}


def test_cutout_and_crop_padding_stay_below_the_image_side(smoke_config, tmp_path):
    """32 px for CIFAR and the generated data, data.image_size for an image folder (resized to it): at
    the side a crop can hold padding only and a Cutout square can zero a whole image; one less is fine."""
    genes = {"cutout": {"low": 0, "high": 31}, "crop_pad": {"choices": [0, 31]}}
    check_config(merge(copy.deepcopy(smoke_config), {"train": {"cutout": 31, "crop_pad": 31}, "ga": {"genes": genes}}))
    (tmp_path / "images").mkdir()
    folder = {"outdir": str(tmp_path / "out"), "data": {"dataset": "folder", "data_dir": str(tmp_path / "images")}}
    small = merge(folder, {"data": {"image_size": 16}, "ga": {"genes": {"crop_pad": {"low": 0, "high": 15}}}})
    check_config(merge(copy.deepcopy(smoke_config), small))
    small["ga"]["genes"]["crop_pad"]["high"] = 16
    with pytest.raises(ConfigError, match=r"^config key ga.genes.crop_pad.high: 16 must be below the image side \(16"):
        check_config(merge(copy.deepcopy(smoke_config), small))
    with pytest.raises(ConfigError, match=r"^config key train.cutout: 20 must be below the image side \(16 px\)"):
        check_config(
            merge(copy.deepcopy(smoke_config), merge(folder, {"data": {"image_size": 16}, "train": {"cutout": 20}}))
        )


def test_a_shortcut_gene_over_cifar_resnets_only_passes(smoke_config):
    """Every net of the search takes the option: each value trains another net (the future scope's)."""
    genes = {"arch": {"choices": ["resnet8", "resnet20"]}, "shortcut": {"choices": ["A", "B"]}}
    checked = check_config(merge(copy.deepcopy(smoke_config), {"ga": {"genes": genes}}))
    assert checked["ga"]["genes"]["shortcut"] == {"choices": ["A", "B"]}


def test_one_repeat_takes_final_seeds_past_the_search_seed_stride(smoke_config):
    """The stride keeps repeat k's search seed clear of every final seed; one repeat has no such seed."""
    config = merge(copy.deepcopy(smoke_config), {"final": {"seeds": 1_000_000}})
    assert check_config(config)["final"]["seeds"] == 1_000_000
    with pytest.raises(ConfigError, match="final.seeds: search.repeats x final.seeds"):
        check_config(merge(config, {"search": {"repeats": 2}}))


def test_notes_a_small_space_and_a_short_range_test_and_a_final_div_below_1_ending_below_the_peak(smoke_config, capsys):
    """2 x 2 genomes for a budget of 8: the searches repeat genomes, said once at the check (a config
    that ran before stays accepted); final_div 0.4 with div_factor 25 anneals to lr / 10, below the peak."""
    genes = {"lr": None, "wd": None, "mom": None, "arch": {"choices": ["resnet20", "resnet32"]}}
    genes["flip"] = {"choices": [True, False]}
    check_config(merge(copy.deepcopy(smoke_config), {"ga": {"genes": genes}, "train": {"final_div": 0.4}}))
    note = "note: ga.genes: the space holds 4 distinct genomes, fewer than the 8 every method trains"
    assert capsys.readouterr().err == f"{note}: they will repeat genomes\n"
    check_config(merge(copy.deepcopy(smoke_config), {"lr_find": {"steps": 20}}))
    assert capsys.readouterr().err == "note: lr_find.steps below 40: the LR finder may take noise for a descent\n"
