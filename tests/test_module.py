"""Deployed as catalog workflows are (snakedeploy's layout): another folder holds the user's config
and a Snakefile that pulls this workflow in as a module, from a local path or from a git repository
at a tag; scripts, schema, captions and conda envs resolve relative to the workflow."""

import shutil
import subprocess

import pytest

from helpers import BIN, ROOT, snakemake, snakemake_env

pytestmark = pytest.mark.slow
DEPLOYED = """configfile: "config/config.yaml"


module resnet_ga:
    snakefile:
        {source}
    config:
        config


use rule * from resnet_ga
"""


def test_the_manifest_lists_every_script():
    listed = [
        line for line in (ROOT / "scripts" / "MANIFEST").read_text().splitlines() if line and not line.startswith("#")
    ]
    tracked = subprocess.run(["git", "ls-files", "scripts"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    on_disk = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scripts").rglob("*.py") if "__pycache__" not in str(p))
    assert sorted(set(listed) - {"workflow/schemas/config.schema.yaml"}) == on_disk
    assert set(on_disk) <= set(tracked) or not tracked


def deploy(folder, source: str):
    """What `snakedeploy deploy-workflow` writes: workflow/Snakefile and the user's config/."""
    (folder / "workflow").mkdir(parents=True)
    (folder / "workflow" / "Snakefile").write_text(DEPLOYED.format(source=source))
    shutil.copytree(ROOT / "config", folder / "config")
    (folder / "config" / "mine.yaml").write_text("ga: {generations: 2}\nsearch: {methods: [ga]}\n")
    return folder


def clone_files() -> set:
    skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache"}
    return {p for p in ROOT.rglob("*") if not skip & set(p.relative_to(ROOT).parts)}


def test_deployed_from_a_local_path_runs_the_smoke_ga_to_a_report(tmp_path):
    work = deploy(tmp_path / "my-analysis", f'"{ROOT / "workflow" / "Snakefile"}"')
    args = ["--cores", "2", "--configfile", "config/smoke.yaml", "config/mine.yaml"]
    before = clone_files()
    snakemake(work, *args)
    out = work / "results" / "smoke"
    assert (out / "final" / "verdict.txt").read_text().startswith("Test top-1: GA")
    assert clone_files() == before  # outputs, logs and Snakemake's state land in the user's folder alone
    snakemake(work, *args, "--report", work / "report.html")
    html = (work / "report.html").read_text(errors="replace")
    assert "filename=final_comparison.png;base64," in html and "Verdict." in html


def test_deployed_from_a_git_repository_at_a_tag(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(".venv", "results", ".snakemake", "__pycache__", ".git"))
    env = snakemake_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@x")
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "release"], ["tag", "v9.9.9"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True, env=env)
    (repo / "scripts" / "ga.py").write_text("raise SystemExit('a later commit: not the tag')\n")  # the tag is what runs
    work = deploy(tmp_path / "deployed", f'gitfile("{repo}", "workflow/Snakefile", tag="v9.9.9")')
    snakemake(
        work,
        "results/smoke/search/rep0/round0/fitness.tsv",
        "--cores",
        "2",
        "--configfile",
        "config/smoke.yaml",
        "config/mine.yaml",
    )
    assert (work / "results" / "smoke" / "search" / "rep0" / "round0" / "fitness.tsv").exists()
    assert list((work / ".snakemake" / "resnet-ga").glob("*/scripts/train.py"))
    cmd = [str(BIN / "snakemake"), "-n", "--configfile", "config/smoke.yaml", "config/mine.yaml"]
    p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=snakemake_env())
    assert p.returncode == 0, p.stderr[-2000:]
