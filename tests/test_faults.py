"""Faults of the machine and of paths, met before or outside a workflow run: the atomic writers on a
full disk or a read-only folder, outdir and data_dir paths the file system cannot take, `--config`
overrides as text, hard-linked images, and status.py's options. Each is one line naming the file or
the config key, with nothing left half-written. Quick: no smoke run (test_bad_inputs.py has those).
"""

import contextlib
import copy
import errno
import json
import os
import resource
import subprocess

import pytest
import yaml

import images
import settings
import util
from config_check import SCHEMA, ConfigError, check_config, merge
from helpers import BIN, ROOT, copy_workflow, mounted, script_cmd, snakemake, snakemake_env, write_image_folder

LONG = "x" * 300  # one name past every common file system's 255 bytes


def one_error_line(p, names: str) -> str:
    """The one line of a failed command: no traceback, and it names `names`."""
    out = p.stdout + p.stderr
    errors = [line for line in out.splitlines() if "error:" in line]
    assert p.returncode != 0 and "Traceback" not in out and 'File "' not in out, out[-2000:]
    assert len(errors) == 1 and names in errors[0], out[-2000:]
    return errors[0]


def fail(err: int, filename=None):
    """A stand-in for a system call that fails with `err`."""

    def call(*args, **kwargs):
        raise OSError(err, os.strerror(err), *([filename] if filename is not None else []))

    return call


# ----------------------------------------------------------------------------- the atomic writers
@pytest.fixture
def old_table(tmp_path):
    """A table that exists: a failed write must leave it as it was, and no temporary file beside it."""
    path = tmp_path / "out" / "fitness.tsv"
    path.parent.mkdir()
    path.write_text("old\n")
    return path


def assert_untouched(path) -> None:
    assert path.read_text() == "old\n" and [p.name for p in path.parent.iterdir()] == [path.name]


@pytest.mark.parametrize("call", ["fsync", "replace"])
def test_a_full_disk_names_the_file_not_a_bare_errno(old_table, monkeypatch, capsys, call):
    """ENOSPC from fsync (NFS reports it there) or from the rename: the line names the table."""
    monkeypatch.setattr(util.os, call, fail(errno.ENOSPC))
    assert util.run_cli(lambda _: util.atomic_write_text(old_table, "new\n"), None) == 1
    monkeypatch.undo()
    assert capsys.readouterr().err == f"error: {old_table}: No space left on device\n"
    assert_untouched(old_table)


def test_a_read_only_folder_names_the_file_not_its_temporary_name(old_table, monkeypatch, capsys):
    """mkstemp on a read-only file system names the random temp file; the line names the table."""
    temp = old_table.parent / ".fitness.tsv.dj77f3f9.tmp"
    monkeypatch.setattr(util.tempfile, "mkstemp", fail(errno.EROFS, str(temp)))
    assert util.run_cli(lambda _: util.write_json(old_table, {"a": 1}), None) == 1
    monkeypatch.undo()
    assert capsys.readouterr().err == f"error: {old_table}: Read-only file system\n"
    assert_untouched(old_table)


def test_a_path_through_a_file_names_the_file_in_the_way(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "sub" / "fitness.tsv"
    assert util.run_cli(lambda _: util.atomic_write_text(target, "new\n"), None) == 1
    assert capsys.readouterr().err == f"error: {target}: Not a directory ({tmp_path / 'afile'} is not a folder)\n"


def test_an_error_on_a_temporary_file_made_elsewhere_names_its_target():
    """A writer outside util (data.py's arrays) that lets an OSError on its temp file through."""
    tmp = "/x/.train_x.npy.dj77f3f9.tmp"
    assert (
        util.error_line(OSError(errno.EROFS, "Read-only file system", tmp)) == "/x/train_x.npy: Read-only file system"
    )
    assert util.error_line(OSError(errno.EIO, "Input/output error", tmp, "/x/train_x.npy")).startswith(
        "/x/train_x.npy:"
    )
    assert util.error_line(OSError(errno.ENOSPC, "No space left on device")) == "No space left on device"
    assert util.error_line(OSError(errno.EBADF, "Bad file descriptor", 7)) == "7: Bad file descriptor"  # a descriptor


def test_a_file_size_limit_in_a_real_command_is_one_line_naming_the_file(tmp_path):
    """RLIMIT_FSIZE: a write past it fails with EFBIG (Python ignores SIGXFSZ), as a quota would."""

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    root = tmp_path / "raw"
    cmd = script_cmd("data.py", "synthetic", "--root", root, "--train", 100, "--test", 20)
    p = subprocess.run(cmd, preexec_fn=limit, capture_output=True, text=True, timeout=120)
    line = one_error_line(p, f"error: {root / 'cifar-10-batches-py' / 'data_batch_1'}: File too large")
    assert line == p.stderr.strip() and p.returncode == 1
    assert sorted(x.name for x in root.rglob("*")) == [".lock", "cifar-10-batches-py"]  # no temp, no half a batch


def test_a_really_full_disk_is_one_line_naming_the_file(tmp_path):
    with mounted(tmp_path / "full", "size=16k") as full:
        with contextlib.suppress(OSError), open(full / "filler", "wb", buffering=0) as f:
            while True:  # until the disk is full
                f.write(b"x" * 512)
        os.truncate(full / "filler", (full / "filler").stat().st_size - 4096)  # a page for the run lock's record
        cmd = script_cmd("data.py", "synthetic", "--root", full / "raw", "--train", 100, "--test", 20)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        one_error_line(p, f"error: {full / 'raw' / 'cifar-10-batches-py' / 'data_batch_1'}: No space left on device")
        assert not [x for x in full.rglob("*.tmp")]


# ----------------------------------------------------------------------------- paths in the config
@pytest.fixture(scope="module")
def smoke_config():
    return merge(*[yaml.safe_load((ROOT / "config" / n).read_text()) for n in ("config.yaml", "smoke.yaml")])


def refused(config: dict, over: dict) -> str:
    with pytest.raises(ConfigError) as e:
        check_config(merge(copy.deepcopy(config), over))
    assert "\n" not in str(e.value)
    return str(e.value)


def test_an_outdir_with_a_name_too_long_is_refused(smoke_config, tmp_path):
    msg = refused(smoke_config, {"outdir": str(tmp_path / LONG / "res")})
    assert msg.startswith("config key outdir: the name xxx") and "300 bytes long" in msg, msg


def test_an_outdir_through_a_file_is_refused(smoke_config, tmp_path):
    (tmp_path / "afile").write_text("x")
    msg = refused(smoke_config, {"outdir": str(tmp_path / "afile" / "a" / "res")})
    assert msg == f"config key outdir: '{tmp_path}/afile/a/res' goes through '{tmp_path}/afile', a file, not a folder"


def test_a_data_dir_with_a_name_too_long_is_refused(smoke_config):
    msg = refused(smoke_config, {"data": {"dataset": "folder", "data_dir": f"/tmp/{LONG}"}})
    assert msg.startswith("config key data.data_dir: the name xxx"), msg


def test_a_broken_meta_json_is_not_blamed_on_a_config_key(smoke_config, tmp_path):
    """The config check counts a prepared download's images from its meta.json, read by its contract:
    a broken one ("train_size": true) is named where the workflow reads it next, not turned into 1
    image and a complaint about data.val_size."""
    meta = tmp_path / "data" / "prepared" / "cifar10" / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"train_size": True}))
    cfg = merge(copy.deepcopy(smoke_config), {"outdir": str(tmp_path), "data": {"dataset": "cifar10"}})
    assert check_config(cfg)["data"]["val_size"] == smoke_config["data"]["val_size"]


def test_an_outdir_that_does_not_exist_yet_is_taken(smoke_config, tmp_path):
    out = tmp_path / "a" / "b" / "res"
    assert check_config(merge(copy.deepcopy(smoke_config), {"outdir": str(out) + "/"}))["outdir"] == str(out)


def test_an_outdir_through_a_file_is_one_line_before_snakemake_builds_its_dag(tmp_path):
    work = copy_workflow(tmp_path / "wf")
    before = sorted(work.rglob("*"))
    cmd = [str(BIN / "snakemake"), "-n", "--cores", "1", "--configfile", "config/smoke.yaml"]
    p = subprocess.run(
        [*cmd, "--config", "outdir=config/smoke.yaml/res"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env=snakemake_env(),
    )
    one_error_line(p, "error: config key outdir: 'config/smoke.yaml/res' goes through 'config/smoke.yaml', a file")
    assert sorted(x for x in work.rglob("*") if ".snakemake" not in x.parts) == before


@pytest.mark.parametrize("bad", ["folder", "not_utf8"])
def test_an_unreadable_verdict_is_one_line_when_snakemake_parses(tmp_path, bad):
    """The report's front page reads final/verdict.txt while the Snakefile is parsed, by every command
    (a dry run too): a verdict that is a folder or not text is one line naming it, not a traceback."""
    work = copy_workflow(tmp_path / "wf")
    verdict = work / "results" / "smoke" / "final" / "verdict.txt"
    verdict.parent.mkdir(parents=True)
    verdict.mkdir() if bad == "folder" else verdict.write_bytes(b"GA \xff\n")
    cmd = [str(BIN / "snakemake"), "-n", "--cores", "1", "--configfile", "config/smoke.yaml"]
    p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=300, env=snakemake_env())
    one_error_line(p, f"error: {verdict.relative_to(work)}")


# ----------------------------------------------------------------------------- --config overrides as text
def test_a_bool_gene_s_choices_given_as_text_are_booleans(smoke_config):
    """Snakemake's --config gives nested values as text: 'true' where a bool setting's choice is meant."""
    genes = {"lr": {"low": "1.0e-6", "high": "1.0e-2", "log": "true"}, "flip": {"choices": ["true", "false"]}}
    checked = check_config(merge(copy.deepcopy(smoke_config), {"ga": {"genes": genes}}))
    assert checked["ga"]["genes"]["flip"]["choices"] == [True, False]
    assert all(type(c) is bool for c in checked["ga"]["genes"]["flip"]["choices"])
    assert checked["ga"]["genes"]["lr"] == {"low": 1e-6, "high": 1e-2, "log": True}


def test_number_genes_choices_given_as_text_are_numbers(smoke_config):
    genes = {"batch_size": {"choices": ["50", "100"]}, "cutout": {"choices": ["0", "8"]}}
    checked = check_config(merge(copy.deepcopy(smoke_config), {"ga": {"genes": genes}}))
    assert checked["ga"]["genes"]["batch_size"]["choices"] == [50, 100]
    assert checked["ga"]["genes"]["cutout"]["choices"] == [0, 8]


def test_a_choice_that_is_not_the_setting_s_type_is_still_refused(smoke_config):
    msg = refused(smoke_config, {"ga": {"genes": {"flip": {"choices": ["true", "maybe"]}}}})
    assert msg == "config key ga.genes.flip.choices: 'maybe' is not a bool (flip's type)"
    msg = refused(smoke_config, {"ga": {"genes": {"batch_size": {"choices": ["64", "1.5"]}}}})
    assert msg.startswith("config key ga.genes.batch_size.choices: '1.5' is not a int"), msg


def test_threads_0_means_torch_s_default_as_settings_py_says(smoke_config):
    assert check_config(merge(copy.deepcopy(smoke_config), {"train": {"threads": "0"}}))["train"]["threads"] == 0


@pytest.mark.parametrize(
    "value, message",
    [
        ("abc", "'abc' is not of type 'integer'"),
        ("1.5", "'1.5' is not of type 'integer'"),
        ("-1", "-1 is less than the minimum of 0"),  # the value's own fault, not its type's
    ],
)
def test_a_bad_threads_override_says_what_is_wrong(smoke_config, value, message):
    assert refused(smoke_config, {"train": {"threads": value}}) == f"config key train.threads: {message}"


def test_the_schema_s_bounds_are_the_settings_bounds():
    """One range per setting: a value settings.py (train.py's flags) takes, the config takes too."""
    schema = yaml.safe_load(SCHEMA.read_text())
    for s in settings.SETTINGS:
        node = schema
        for part in s.config.split(".") if s.config else []:
            node = node["properties"][part]
        if not s.config or "$ref" in node:
            continue
        low = node.get("exclusiveMinimum" if s.open else "minimum")
        high = node.get("exclusiveMaximum" if s.open else "maximum")
        assert (low, high) == (s.low, s.high), f"{s.config}: schema ({low}, {high}), settings ({s.low}, {s.high})"


# ----------------------------------------------------------------------------- hard links in an image folder
@pytest.fixture(scope="module")
def small_images(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("images"), n_train=3, n_test=2, size=8)


@pytest.fixture
def data(small_images, tmp_path):
    import shutil

    return shutil.copytree(small_images, tmp_path / "data")


def first_image(folder):
    return sorted(folder.glob("*.png"))[0]


def test_a_hard_link_from_train_into_test_is_refused(data):
    link = data / "test" / "cat" / "zz_linked.png"
    os.link(first_image(data / "train" / "cat"), link)
    with pytest.raises(
        util.DataError, match=rf"{link}: the same file as .*train/cat/\d+\.png: an image in both splits"
    ):
        images.splits(data)


def test_one_file_hard_linked_into_two_classes_is_refused(data):
    os.link(first_image(data / "train" / "dog"), data / "train" / "cat" / "zz_also_a_dog.png")
    with pytest.raises(util.DataError, match=r"one file in two classes \(cat, dog\) is refused"):
        images.splits(data)


def test_a_hard_link_within_one_class_is_read_once(data):
    _, before = images.splits(data)
    os.link(first_image(data / "train" / "cat"), data / "train" / "cat" / "zz_again.png")
    _, after = images.splits(data)
    assert after == before


def test_a_hard_linked_test_image_is_one_line_from_prepare(data, tmp_path):
    os.link(first_image(data / "train" / "zebra"), data / "test" / "zebra" / "zz_linked.png")
    prep = tmp_path / "prep"
    cmd = script_cmd("data.py", "prepare", "--data-dir", data, "--out", prep, "--dataset", "folder")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    one_error_line(p, "zz_linked.png: the same file as")
    assert [f.name for f in prep.iterdir()] == [".lock"]


# ----------------------------------------------------------------------------- the download
@pytest.mark.parametrize(
    "failure, reason",
    [
        ("no name", "[Errno -2] Name or service not known"),
        ("cut", "Network is unreachable"),  # a plain OSError: a read failing after the connection
    ],
)
def test_an_offline_download_names_the_url_and_the_way_round_it(tmp_path, monkeypatch, capsys, failure, reason):
    """Offline, the line was `error: <urlopen error [Errno -2] Name or service not known>`: no URL, no
    hint. urlopen fails as a name that does not resolve makes it (no network is touched)."""
    import socket
    import urllib.error
    import urllib.request

    import data

    def offline(*args, **kwargs):
        if failure == "cut":
            raise OSError(errno.ENETUNREACH, "Network is unreachable")
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    root = tmp_path / "raw"
    assert data.main(["download", "--root", str(root)]) == 1
    assert capsys.readouterr().err == (
        f"error: {data.DATASETS['cifar10']['url']}: download failed ({reason}); "
        "offline, point data.data_dir at the official cifar-10-batches-py folder\n"
    )
    assert not list(root.glob("*.tar.gz"))


# ----------------------------------------------------------------------------- status.py's options
def run_status(*args):
    """status.py reads only: it runs in the checkout, on an outdir of the test's own."""
    return subprocess.run(script_cmd("status.py", *args), cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("seconds", ["-5", "nan", "inf", "soon"])
def test_a_bad_watch_interval_is_one_line(seconds):
    p = run_status("--watch", seconds)
    assert p.returncode == 2 and p.stdout == "", p.stderr
    assert one_error_line(p, "argument --watch") == p.stderr.strip()


def test_config_is_not_taken_for_configfile_and_works_as_in_snakemake(tmp_path):
    out = tmp_path / "elsewhere"
    p = run_status("--configfile", "config/smoke.yaml", "--config", f"outdir={out}", "ga={population: 3}")
    assert p.returncode == 0 and p.stdout.startswith(f"{out}: no round yet"), p.stdout + p.stderr
    p = run_status("--conf", "config/smoke.yaml")  # no abbreviations: --conf is neither option
    one_error_line(p, "unrecognized arguments: --conf")


@pytest.mark.parametrize(
    "override, names",
    [
        ("outdir", "error: --config outdir: not a KEY=VALUE pair"),
        ("train={threads: abc}", "error: config key train.threads: 'abc' is not of type 'integer'"),
        ("outdir=config/smoke.yaml/res", "error: config key outdir:"),
    ],
)
def test_a_bad_config_override_is_one_line(override, names):
    p = run_status("--configfile", "config/smoke.yaml", "--config", override)
    assert p.returncode == 1 and one_error_line(p, names) == p.stderr.strip()


def test_config_overrides_are_read_as_snakemake_reads_them():
    """The dict snakemake.cli.parse_config (9.27) gives for these entries: nested values stay text,
    later entries merge into earlier ones, `KEY=` is null."""
    from status import overrides  # here: pyproject's isort list of first-party modules lacks it

    entries = [
        "ga={genes: {flip: {choices: [true, false]}}}",
        "train={epochs: 3}",
        "outdir=x",
        "aa=",
        "nn=5",
        "ff=1e-3",
        "bb=True",
        "cc=true",
        "ga={population: 4}",
        'qq="quoted"',
        "ss=[1, 2]",
        "tt={a: [1, {b: c}]}",
    ]
    assert overrides(entries) == {
        "ga": {"genes": {"flip": {"choices": ["true", "false"]}}, "population": "4"},
        "train": {"epochs": "3"},
        "outdir": "x",
        "aa": None,
        "nn": 5,
        "ff": 0.001,
        "bb": True,
        "cc": "true",
        "qq": "quoted",
        "ss": ["1", "2"],
        "tt": {"a": ["1", {"b": "c"}]},
    }


# ----------------------------------------------------------------------------- Snakemake's options
def test_grouped_jobs_without_keep_incomplete_are_refused_and_no_gpu_limit_is_noted(tmp_path):
    """A failed group job has Snakemake remove every member's outputs, the trainings it finished
    included (tests/test_slurm.py shows it on a live cluster): --groups needs --keep-incomplete."""
    work = copy_workflow(tmp_path / "clone")
    out = tmp_path / "out"
    args = ["--cores", "1", "--configfile", "config/smoke.yaml", "--config", f"outdir={out}"]
    other = ["--config", f"outdir={tmp_path / 'other'}", "--until", "synthetic_data"]
    p = snakemake(work, *args, *other, "--groups", "evaluate=tests", check=False)
    assert p.returncode == 0 and (tmp_path / "other" / "data").is_dir(), p.stderr  # no training to lose: it runs
    p = snakemake(work, *args, "--groups", "train=round", check=False)
    line = one_error_line(p, "--groups: add --keep-incomplete")
    assert line.startswith("error: ") and not out.exists() and "note:" not in p.stderr, line
    # where trainings may run on a GPU, a run without a GPU limit is told it shares them
    p = snakemake(work, *args, "train={device: cuda}", "--groups", "train=round", check=False)
    one_error_line(p, "--groups: add --keep-incomplete")
    assert "note: no --resources gpu=<GPUs>" in p.stderr, p.stderr
