"""Deployed as catalog workflows are (snakedeploy's layout): another folder holds the user's config
and a Snakefile that pulls this workflow in as a module, from a local path or from a git repository
at a tag; scripts, schema, captions and conda envs resolve relative to the workflow (the envs as
Snakemake resolves them for a job, read through its source cache: conda itself is not installed)."""

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


onstart:  # one workflow at a time on the outdir (docs/safety.md)
    resnet_ga.hold_outdir()
"""


CONDA_ENVS = """
import json
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DeploymentMethod, DeploymentSettings, ResourceSettings
with SnakemakeApi() as api:
    wf = api.workflow(
        snakefile=Path("workflow/Snakefile"), resource_settings=ResourceSettings(),
        config_settings=ConfigSettings(configfiles=[Path("config/smoke.yaml"), Path("config/mine.yaml")]),
        deployment_settings=DeploymentSettings(deployment_method={DeploymentMethod.CONDA}),
    )
    w = wf._workflow
    envs = {}
    for rule in w.rules:
        if rule.conda_env is not None:
            env = rule.expand_conda_env({}).file  # as a job resolves it: from the rule's own file
            with w.sourcecache.open(env) as f:
                name = Path(env.get_path_or_uri(secret_free=True)).name.split("@")[0]  # a git file: <name>@<tag>
                envs[rule.name] = [name, f.read()]
print(json.dumps(envs))
"""


def conda_envs(work) -> dict:
    """{rule: (env file name, its text)} as Snakemake resolves each rule's conda env in a deployed
    folder (without conda: its own resolution and source cache, not a conda run)."""
    import json

    p = subprocess.run([str(BIN / "python"), "-c", CONDA_ENVS], cwd=work, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def assert_the_envs_are_the_workflow_s(work):
    envs = conda_envs(work)
    assert {"train", "propose", "compare", "plot_search_space", "lr_find"} <= set(envs)
    for name, text in envs.values():
        assert text.rstrip("\n") == (ROOT / "envs" / name).read_text().rstrip("\n"), name  # git's copy: no last newline


def deploy(folder, source: str):
    """What `snakedeploy deploy-workflow` writes: workflow/Snakefile and the user's config/. The user's
    mine.yaml trims the smoke search to the GA and 2 rounds: every rule still runs deployed (random
    search and TPE add trainings, not rules; CI time), the whole smoke search runs in test_workflow.py."""
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
    assert_the_envs_are_the_workflow_s(work)
    snakemake(work, *args, "--report", work / "report.html")
    html = (work / "report.html").read_text(errors="replace")
    assert "filename=final_comparison.png;base64," in html and "Verdict." in html
    verdict = (out / "final" / "verdict.txt").read_text().strip()
    assert verdict[:30] in html  # the verdict itself on the front page, not only its caption


def git(repo, *commands):
    env = snakemake_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@x")
    for cmd in commands:
        subprocess.run(["git", *cmd], cwd=repo, check=True, env=env)


def dry_run(work):
    cmd = [str(BIN / "snakemake"), "-n", "--configfile", "config/smoke.yaml", "config/mine.yaml"]
    p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=snakemake_env())
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]


def test_deployed_from_a_git_repository_at_a_tag_or_a_branch(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(".venv", "results", ".snakemake", "__pycache__", ".git"))
    git(repo, ["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "release"], ["tag", "v9.9.9"])
    ga = (repo / "scripts" / "ga.py").read_text()
    (repo / "scripts" / "ga.py").write_text("raise SystemExit('a later commit: not the tag')\n")
    git(repo, ["commit", "-q", "-am", "later"])  # the tag is what runs
    work = deploy(tmp_path / "deployed", f'gitfile("{repo}", "workflow/Snakefile", tag="v9.9.9")')
    target = "results/smoke/search/rep0/round0/fitness.tsv"
    snakemake(work, target, "--cores", "2", "--configfile", "config/smoke.yaml", "config/mine.yaml")
    assert (work / target).exists()
    assert list((work / ".snakemake" / "resnet-ga").glob("*/scripts/train.py"))
    dry_run(work)
    assert_the_envs_are_the_workflow_s(work)  # from the repository at the tag
    # at a branch: the scripts follow it as it moves (the copy is refreshed, not kept from the first run)
    (repo / "scripts" / "ga.py").write_text(ga)
    git(repo, ["commit", "-q", "-am", "fixed"])
    work = deploy(tmp_path / "on-a-branch", f'gitfile("{repo}", "workflow/Snakefile", ref="main")')
    for marker in ("# first", "# moved on"):
        with open(repo / "scripts" / "layout.py", "a") as f:
            f.write(marker + "\n")
        git(repo, ["commit", "-q", "-am", marker])
        dry_run(work)
        (copied,) = (work / ".snakemake" / "resnet-ga").glob("*/scripts/layout.py")
        assert copied.read_text().rstrip("\n").endswith(marker)


def test_a_deployed_copy_records_the_workflow_s_release_not_the_user_s_commit(tmp_path):
    """A module read from git copies scripts/ into the user's folder, often their own git repository:
    the runs' provenance then names this workflow's release (VERSION, in the MANIFEST), not the user's
    HEAD; a clone of the workflow records its own commit."""
    import util

    user = tmp_path / "analysis"
    copy = user / ".snakemake" / "resnet-ga" / "0123abcd"
    (copy / "scripts").mkdir(parents=True)
    (copy / "VERSION").write_text("9.8.7\n")
    git = ["git", "-C", str(user), "-c", "user.name=u", "-c", "user.email=u@example.org"]
    subprocess.run(["git", "init", "-q", str(user)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "the user's analysis"], check=True)
    assert util.git_commit(copy / "scripts") == "release 9.8.7 (git gave no commit)"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    got = util.git_commit(ROOT / "scripts")
    assert got.startswith(head) if head else got.startswith("release ")  # a copy without .git
