"""What the code and the tests may touch on a shared machine."""

import os
import re
import subprocess
import sys

from helpers import ROOT


def test_slurm_tests_need_the_explicit_variable(tmp_path):
    """Without RESNET_GA_SLURM_TESTS=1 the SLURM test module submits nothing and cancels nothing,
    even where `sinfo` answers (as it does in CI, where the test cluster is up)."""
    env = {k: v for k, v in os.environ.items() if k != "RESNET_GA_SLURM_TESTS"}
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_slurm.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode in (0, 5) and "1 skipped" in p.stdout and "passed" not in p.stdout, p.stdout + p.stderr


def code_files():
    for folder in ("scripts", "workflow", "tests", "benchmarks", ".ci"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".smk", ".sh", "") and path.name != "test_safety.py":
                yield path


def test_no_code_is_loaded_from_data_and_nothing_is_cancelled_or_killed_by_name():
    risky = re.compile(r"weights_only\s*=\s*False|pickle\.loads?\(|scancel\s[^\n]*(--user|-u\s)|pkill|killall")
    found = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in code_files()
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if risky.search(line)
    ]
    assert not found, found


def test_every_path_in_a_shell_directive_is_quoted():
    """Paths and config values are quoted ({x:q}); the exceptions are flag lists built (and quoted) in
    common.smk by settings.command_line, and the md5 switch."""
    unquoted = re.compile(r"\{(input|output|log|params\.(?!settings\b|stop\b|md5_flag\b|options\b|fit\b)\w+)(\.\w+)?\}")
    found = [
        f"{p.name}: {m.group(0)}"
        for p in (ROOT / "workflow" / "rules").glob("*.smk")
        for m in unquoted.finditer(p.read_text())
    ]
    assert not found, found
