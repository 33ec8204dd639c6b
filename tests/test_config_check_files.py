"""A config file that is not a mapping of keys, or not YAML at all, through both command lines that
read config files (config_check.py and status.py, which share config_check.load_config): one `error:`
line naming the file (and, for bad YAML, the line and column), exit status 1, no traceback. Snakemake 9
refuses these files too (`Config file must be given as JSON or YAML with keys at top level`), an empty
one included."""

import subprocess

import pytest

from helpers import ROOT, script_cmd

BAD_FILES = {  # name: (content, what the error line says after the file's name)
    "list": (b"- a\n- b\n", "not a mapping of config keys (a YAML list)"),
    "scalar": (b"42\n", "not a mapping of config keys (a YAML number)"),
    "string": (b"just some words\n", "not a mapping of config keys (a YAML string)"),
    "empty": (b"", "not a mapping of config keys (empty or null)"),
    "comments_only": (b"# nothing here\n", "not a mapping of config keys (empty or null)"),
    "flow": (
        b"outdir: results\nga: {population: [4, 8\ntrain: {epochs: 2}\n",
        "unreadable YAML at line 3, column 6: expected ',' or ']', but got ':'",
    ),
    "unclosed": (b"outdir: results\nga: [\n", "unreadable YAML at line 3, column 1: expected the node content"),
    "tab": (b"ga:\n\tpopulation: 4\n", "unreadable YAML at line 2, column 1: found character '\\t'"),
    "nul": (b"outdir: results\ntr\x00ain: {}\n", "unreadable YAML at line 2, column 3: special characters"),
    "not_utf8": (b"outdir: r\xffsults\n", "unreadable config (not UTF-8 text: byte 9 is 0xff)"),
    "a section twice": (  # PyYAML and Snakemake keep the last block silently: epochs would be 15
        b"train:\n  epochs: 30\nga:\n  population: 6\ntrain:\n  arch: resnet20\n",
        "unreadable YAML at line 5, column 1: key 'train' given twice",
    ),
    "a key twice": (
        b"train: {epochs: 3, epochs: 4}\n",
        "unreadable YAML at line 1, column 20: key 'epochs' given twice",
    ),
    "an integer past Python's digits": (
        b'{"train": {"epochs": ' + b"1" * 5001 + b"}}\n",
        "unreadable config (Exceeds the limit (4300 digits) for integer string conversion",
    ),
    "an alias inside its own anchor": (b"a: &a [*a]\n", "unreadable config (a value that contains itself"),
    "a key twice in JSON": (b'{"train": {"epochs": 3, "epochs": 4}}\n', "key 'epochs' given twice"),
    "a list as a key": (b"[1, 2]: 3\n", "unreadable YAML at line 1, column 1: found unhashable key"),
}


def run(tool: str, path) -> subprocess.CompletedProcess:
    if tool == "config_check":
        cmd = script_cmd("config_check.py", "config/config.yaml", path)
    else:
        cmd = script_cmd("status.py", "--configfile", path)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("tool", ["config_check", "status"])
@pytest.mark.parametrize("name", BAD_FILES)
def test_a_bad_config_file_is_one_error_line_naming_it(tool, name, tmp_path):
    content, says = BAD_FILES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(content)
    p = run(tool, path)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "Traceback" not in out and 'File "' not in out, out
    assert p.stdout == "", out
    assert p.stderr.splitlines() == [p.stderr.rstrip("\n")], out  # one line
    assert p.stderr.startswith(f"error: {path}: {says}"), out


@pytest.mark.parametrize("tool", ["config_check", "status"])
def test_a_missing_config_file_is_one_error_line_naming_it(tool, tmp_path):
    path = tmp_path / "nope.yaml"
    p = run(tool, path)
    assert p.returncode == 1 and p.stderr == f"error: {path}: unreadable config (No such file or directory)\n"


@pytest.mark.parametrize(
    "name, text",
    [
        ("over.yaml", "# a comment first\nga: {population: 6}\n"),
        # a merge key and an anchor: the merged keys may be given again beside it (not "given twice")
        ("merge.yaml", "ga:\n  mutation: &m {threshold: 0.2}\n  crossover:\n    <<: {point: 2}\n    point: 1\n"),
        ("tabs.json", '{\n\t"ga": {"population": 6}\n}\n'),  # JSON, as Snakemake reads it first: tabs allowed
    ],
)
def test_a_good_override_file_still_passes(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    p = run("config_check", path)
    assert p.returncode == 0 and p.stdout == "config ok\n", p.stderr


def test_config_files_merge_in_snakemake_s_order_and_a_gene_s_kind_can_change(tmp_path):
    """config_check.py config/config.yaml mine.yaml checks what Snakemake runs: its Workflow.configfile
    starts from the command line's config, merges the workflow's file into it, then the command line's
    again, so config.yaml's other genes come after mine's (the gene list is the crossover's order). A
    range gene of config.yaml becomes categorical by nulling its keys."""
    import yaml
    from snakemake.utils import update_config

    from config_check import load_config

    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "ga:\n  genes:\n    lr: {choices: [0.01, 0.1], low: null, high: null, log: null}\n"
        "    arch: {choices: [resnet20, resnet32]}\ntrain: {arch: resnet20}\n"
    )
    ours = load_config([ROOT / "config" / "config.yaml", mine])
    theirs = yaml.safe_load(mine.read_text())
    update_config(theirs, yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    update_config(theirs, yaml.safe_load(mine.read_text()))
    assert list(ours["ga"]["genes"]) == list(theirs["ga"]["genes"]) == ["lr", "arch", "wd", "mom"]
    assert ours["ga"]["genes"]["lr"] == {"choices": [0.01, 0.1]}


def test_snakemake_refuses_a_config_file_with_a_key_twice(tmp_path):
    """Snakemake reads config files itself and keeps a repeated key's last value: the workflow reads
    each again (workflow.configfiles) and stops at the start with the same one line."""
    from helpers import copy_workflow, snakemake

    content, says = BAD_FILES["a section twice"]
    path = tmp_path / "twice.yaml"
    path.write_bytes(content)
    p = snakemake(
        copy_workflow(tmp_path / "clone"),
        "-n",
        "--configfile",
        path,
        "--config",
        f"outdir={tmp_path / 'out'}",
        check=False,
    )
    errors = [line for line in (p.stdout + p.stderr).splitlines() if "error" in line.lower()]
    assert p.returncode == 1 and errors == [f"error: {path}: {says}"], p.stdout + p.stderr
