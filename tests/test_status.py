"""scripts/status.py on a finished smoke run (the interrupted case is in test_resume.py)."""

import re
import subprocess

from helpers import copy_workflow, script_cmd
from util import read_tsv


def status(work, *args):
    cmd = script_cmd("status.py", "--configfile", "config/smoke.yaml", *args)
    p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_status_of_a_finished_run_lists_every_generation_and_the_best_genome(smoke):
    text = status(smoke["dir"])
    for g in range(3):
        assert re.search(rf"^generation {g}: 4/4 distinct runs trained, scored$", text, flags=re.M), text
    run = read_tsv(smoke["out"] / "ga" / "best.tsv")["run"][0]
    assert f"best so far: {run}" in text and "finished" in text and "in progress" not in text


def test_status_before_the_run_starts_says_so(tmp_path):
    work = copy_workflow(tmp_path)
    assert "no generation yet" in status(work)
