import json
import subprocess

import pytest

from helpers import script_cmd


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
