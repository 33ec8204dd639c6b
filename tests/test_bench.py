import json
import subprocess

from conftest import script_cmd


def test_benchmark_runs_small_and_reports_a_ratio(tmp_path):
    out = tmp_path / "bench.json"
    p = subprocess.run(script_cmd("bench.py", "--arch", "resnet8", "--device", "cpu", "--steps", 4, "--chunk", 2,
                                  "--warmup", 1, "--images", 600, "--batch-size", 64, "--json", out),
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "ratio ours/reference:" in p.stdout and "fixed costs:" in p.stdout
    r = json.loads(out.read_text())
    assert r["ratio"] == r["ours_img_s"] / r["reference_img_s"] and r["ours_epoch_s"] > 0
    assert {"import_s", "data_to_device_s", "model_build_s", "first_step_s"} <= set(r)
