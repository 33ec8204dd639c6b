import json
import subprocess
import sys

import pytest

from helpers import ROOT, run_python, script_cmd


def test_benchmark_runs_three_pipelines_interleaved_with_spread(tmp_path):
    out = tmp_path / "bench.json"
    p = subprocess.run(
        script_cmd(
            "bench.py",
            "--arch",
            "resnet8",
            "--device",
            "cpu",
            "--steps",
            2,
            "--repeats",
            3,
            "--warmup",
            1,
            "--images",
            600,
            "--batch-size",
            64,
            "--optimizer",
            "adamw",
            "--json",
            out,
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    rows = [
        line.split()[0]
        for line in p.stdout.splitlines()
        if line.split() and line.split()[0] in ("reference", "strong", "ours")
    ]
    assert rows == ["reference", "strong", "ours"], p.stdout
    assert "ours/reference:" in p.stdout and "ours/strong reference:" in p.stdout and "fixed costs:" in p.stdout
    r = json.loads(out.read_text())
    for name in ("reference", "strong", "ours"):
        rates = r[f"{name}_img_s"]
        assert len(rates) == 3 and min(rates) > 0
    assert {"import_s", "data_to_device_s", "model_build_s", "first_step_s"} <= set(r) and r["optimizer"] == "adamw"


@pytest.mark.parametrize("name", ["through_a_file", "too_long", "a_folder"])
def test_an_unwritable_json_path_is_one_error_line_before_any_benchmarking(tmp_path, name):
    (tmp_path / "a_file").write_text("not a folder\n")
    out = {
        "through_a_file": tmp_path / "a_file" / "bench.json",  # ENOTDIR
        "too_long": tmp_path / ("b" * 300 + ".json"),  # ENAMETOOLONG
        "a_folder": tmp_path,  # EISDIR
    }[name]
    before = sorted(tmp_path.rglob("*"))
    tiny = ("--arch", "resnet8", "--device", "cpu", "--steps", 1, "--repeats", 1, "--images", 64, "--batch-size", 64)
    p = subprocess.run(
        script_cmd("bench.py", *tiny, "--json", out),
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = p.stderr.splitlines()
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert len(lines) == 1 and lines[0].startswith(f"error: {out}: "), p.stderr
    assert p.stdout == ""  # failed before the benchmark printed anything
    assert sorted(tmp_path.rglob("*")) == before  # no JSON, no probe or temp file left


def test_the_light_steps_import_neither_torch_nor_the_plotting_stack():
    """A GA step, a table or the verdict is ~0.3 s of Python; torch (1-4 s) or matplotlib and seaborn
    (0.5-3 s) at import would make each of the dozens of such jobs of a search several times that
    (issue 24). Checked in a fresh process: the imports are what is measured."""
    code = (
        "import sys, search, verdict, status, strategies, config_check, formats, identity, layout\n"
        "strategies.methods()\n"
        "heavy = sorted(m for m in ('torch', 'matplotlib', 'seaborn', 'optuna') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    p = run_python(code)
    assert p.returncode == 0, p.stderr
    p = run_python("import sys, plots\nassert 'torch' not in sys.modules and 'optuna' not in sys.modules\n")
    assert p.returncode == 0, p.stderr  # the figure steps: their plotting stack only


def test_the_timing_benchmark_fails_ci_when_a_goal_is_missed():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from ga_timing import goals_missed

    kinds = {"light": {"median_s": 0.3}, "figure": {"median_s": 0.8}}
    ok = {"wall_s": 120.0, "train_median_s": {"outside_epochs": 1.9}, "per_kind": kinds}
    assert goals_missed(ok, 1.1, 180, 1) == []
    slow = {
        "wall_s": 200.0,
        "train_median_s": {"outside_epochs": 2.3},
        "per_kind": {**kinds, "light": {"median_s": 1.4}},
    }
    assert goals_missed(slow, 1.1, 180, 1) == [
        "wall clock 200.0 s > 180 s",
        "train fixed cost - import torch = 1.20 s > 1 s",
        "median light job 1.40 s > 1 s",
    ]
    assert goals_missed(slow, 1.1, None, 1)[0].startswith("train fixed cost")  # a GPU run: no wall goal
    assert "the fixed cost is unknown" in goals_missed({**ok, "train_median_s": {}}, 1.1, 180, 1)[0]


def test_the_timing_benchmark_splits_evaluate_and_lr_find_jobs_by_their_logs(tmp_path):
    """Evaluate and LR-finder jobs: their work (the lines evaluate.py and lr_find.py log) and the rest
    of the process; a range test kept from before logs no work and is left out."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from ga_timing import work_parts

    (tmp_path / "logs" / "evaluate").mkdir(parents=True)
    (tmp_path / "logs" / "lr_find").mkdir()
    for run, work in (("a_seed=1", 0.2), ("b_seed=1", 0.4)):
        (tmp_path / "logs" / "evaluate" / f"{run}.log").write_text(f"evaluated 500 test images in {work:.3f}s\n")
    (tmp_path / "logs" / "lr_find" / "lr_find.log").write_text("LR range test: kept from x (run before)\n")
    records = [
        {"argv": ["evaluate.py", "--result", f"out/runs/{run}/result.json"], "start": 0.0, "end": end}
        for run, end in (("a_seed=1", 1.2), ("b_seed=1", 1.6))
    ] + [{"argv": ["lr_find.py", "--out", "out/lr_find"], "start": 0.0, "end": 3.0}]
    parts = work_parts(records, tmp_path)
    assert parts == {"evaluate": {"total": 1.4, "work": pytest.approx(0.3), "outside": pytest.approx(1.1), "jobs": 2}}
