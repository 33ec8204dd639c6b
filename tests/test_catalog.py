"""The Snakemake workflow catalog's conventions: the catalog file and its flags, the .test case, the
license, the version and its changelog entry, and the config table drawn from the schema."""

import re
import shutil
import subprocess

import pytest
import yaml

import formats
from config_check import check_config, merge, parameter_table
from helpers import BIN, ROOT, copy_workflow, snakemake_env


def test_the_catalog_file_parses_and_its_flags_work(tmp_path):
    usage = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert usage["software-stack-deployment"] == {"conda": True} and usage["report"] is True
    work = copy_workflow(tmp_path)
    flags = usage["mandatory-flags"]["flags"].split()
    p = subprocess.run(
        [str(BIN / "snakemake"), "-n", *flags], cwd=work, capture_output=True, text=True, env=snakemake_env()
    )
    assert p.returncode == 0 and "init_population" in p.stdout, p.stdout[-2000:] + p.stderr[-2000:]


def test_lint_is_clean_and_snakefiles_are_formatted():
    p = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0 and "Lints for" not in p.stdout + p.stderr, p.stdout + p.stderr
    f = subprocess.run([str(BIN / "snakefmt"), "--check", "workflow/"], cwd=ROOT, capture_output=True, text=True)
    assert f.returncode == 0, f.stdout + f.stderr


def test_the_manifest_lists_every_script():
    """A module read from git finds the scripts through scripts/MANIFEST (common.smk), with the schema
    and VERSION (what its runs record as their release)."""
    listed = [
        line for line in (ROOT / "scripts" / "MANIFEST").read_text().splitlines() if line and not line.startswith("#")
    ]
    tracked = subprocess.run(["git", "ls-files", "scripts"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    on_disk = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scripts").rglob("*.py") if "__pycache__" not in str(p))
    assert sorted(set(listed) - {"workflow/schemas/config.schema.yaml", "VERSION"}) == on_disk
    assert set(on_disk) <= set(tracked) or not tracked


def test_the_test_case_is_the_smoke_config(tmp_path):
    """A copy, not a link (a checkout without symlinks would get a file holding the link's path)."""
    copy = ROOT / ".test" / "config" / "config.yaml"
    assert copy.read_bytes() == (ROOT / "config" / "smoke.yaml").read_bytes(), "cp config/smoke.yaml .test/config/"
    case = yaml.safe_load(copy.read_text())
    configs = [yaml.safe_load((ROOT / "config" / n).read_text()) for n in ("config.yaml", "smoke.yaml")]
    assert check_config(case) == check_config(merge(*configs))  # the schema's defaults are config.yaml's


@pytest.mark.slow
def test_the_test_case_runs_as_the_catalog_runs_it(tmp_path):
    """`snakemake --directory .test`: the data, round 0 and its four trainings (the whole smoke search
    runs in test_workflow.py; this is the catalog's way in)."""
    work = copy_workflow(tmp_path)
    shutil.copytree(ROOT / ".test", work / ".test")
    target = "results/smoke/search/rep0/round0/fitness.tsv"
    cmd = [str(BIN / "snakemake"), target, "--cores", "2", "--directory", ".test", "--snakefile", "workflow/Snakefile"]
    p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=snakemake_env())
    assert p.returncode == 0 and "synthetic_data" in p.stdout + p.stderr, p.stderr[-2000:]
    assert len(formats.read_table("fitness", work / ".test" / target)) == 4


def test_license_version_and_changelog():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    version = (ROOT / "VERSION").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    first = re.search(r"^## (\d+\.\d+\.\d+)", (ROOT / "CHANGELOG.md").read_text(), flags=re.M).group(1)
    assert first == version
    # the tag a newcomer deploys is this release's
    assert f"--tag v{version}" in (ROOT / "README.md").read_text()
    assert f"(`v{version}`" in (ROOT / "CHANGELOG.md").read_text()


def test_the_config_readme_table_is_the_schema_s():
    assert parameter_table() in (ROOT / "config" / "README.md").read_text()


def test_the_report_front_page_names_only_the_searched_genes():
    """A gene set to null in ga.genes is not searched: the front page (rendered by Snakemake's jinja2)
    must not list it."""
    import jinja2

    config = {
        "verdict": "v",
        "method_labels": "GA",
        "train": {"arch": "resnet8"},
        "data": {"dataset": "synthetic"},
        "ga": {"genes": {"lr": {"low": 1e-6}, "wd": None, "mom": {"low": 0.1}}, "population": 4, "generations": 3},
        "search": {"repeats": 1},
        "final": {"seeds": 2},
    }
    page = jinja2.Template((ROOT / "workflow" / "report" / "workflow.rst").read_text()).render(
        snakemake=type("S", (), {"config": config})
    )
    assert "its training settings (lr, mom) searched by" in page.replace("\n", " ")
