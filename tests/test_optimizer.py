"""AdamW beside SGD: beta1 follows the one-cycle momentum curve, invalid genomes, resume, the GA."""

import json
import subprocess

import pytest
import torch

from engine import Normalizer, make_optimizer, make_step, model_on_device, one_cycle
from helpers import SMOKE, copy_workflow, lr_find_cmd, run_train, snakemake, train_cmd


def test_adamw_beta1_follows_the_one_cycle_momentum_curve():
    torch.manual_seed(0)
    model = model_on_device("resnet8", 10, "A", torch.device("cpu"))
    opt = make_optimizer(model, "adamw", 0.01, 0.05, 0.95, "cpu")
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["weight_decay"] == 0.05
    assert opt.param_groups[1]["weight_decay"] == 0.0  # BatchNorm and biases are not decayed
    step = make_step(model, opt, Normalizer([0.5] * 3, [0.25] * 3, "cpu"), amp=False)
    x, y = torch.randint(0, 255, (8, 3, 32, 32), dtype=torch.uint8), torch.randint(0, 10, (8,))
    offsets, flips = torch.zeros(8, 2, dtype=torch.long), torch.zeros(8, dtype=torch.bool)
    seen = []
    for s in range(12):
        lr, mom = one_cycle(s, 12, 0.01, 0.8, max_momentum=0.95)
        step(x, y, offsets, flips, lr, mom)
        assert [g["betas"] for g in opt.param_groups] == [(mom, 0.99)] * 2 and opt.param_groups[0]["lr"] == lr
        seen.append(opt.param_groups[0]["betas"][0])
    assert seen[0] == pytest.approx(0.95) and min(seen) == pytest.approx(0.8) and seen.index(min(seen)) == 3


def test_adamw_genome_with_momentum_of_1_or_more_is_invalid_not_trained(prepared, tmp_path):
    out = tmp_path / "lr=1.00e-03_wd=1.00e-02_mom=1.20e+00_seed=0"
    p = run_train(prepared, out, "--genome", out.name, "--optimizer", "adamw", "--max-train", 300, epochs=1)
    res = json.loads((out / "result.json").read_text())
    assert res["status"] == "invalid" and res["fitness"] == 0.0 and res["epochs_completed"] == 0
    assert "not a valid AdamW beta1" in p.stdout


def test_adamw_max_momentum_of_1_is_a_usage_error(prepared, tmp_path):
    p = subprocess.run(
        train_cmd(prepared, tmp_path / "x", "--optimizer", "adamw", "--max-momentum", 1.0),
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2 and "--max-momentum" in p.stderr and "beta1" in p.stderr


def test_lr_finder_uses_the_runs_optimizer(prepared, tmp_path):
    out = tmp_path / "lrf"
    p = subprocess.run(
        lr_find_cmd(prepared, out, 20, "--optimizer", "adamw"),
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads((out / "suggestion.json").read_text())["optimizer"] == "adamw"


@pytest.fixture(scope="module")
def adamw_smoke(tmp_path_factory):
    work = copy_workflow(tmp_path_factory.mktemp("adamw"))
    (work / "adamw.yaml").write_text(
        "train: {optimizer: adamw}\nga: {generations: 2, genes: {lr: {low: 1.0e-4, high: 1.0e-2, log: true}}}\n"
        "final: {seeds: 1}\n"
    )
    snakemake(work, *SMOKE, "adamw.yaml")
    return work / "results" / "smoke"


def test_smoke_ga_runs_with_adamw(adamw_smoke):
    results = [json.loads(p.read_text()) for p in (adamw_smoke / "runs").glob("*/result.json")]
    assert results and {r["settings"]["optimizer"] for r in results} == {"adamw"}
    moms = {r["mom"]: r["status"] for r in results}
    assert all(s == "invalid" for m, s in moms.items() if m >= 1)  # the report's mom bounds reach 1.5
    assert any(s == "ok" for s in moms.values())
    assert "optimizer adamw" in (adamw_smoke / "final" / "verdict.txt").read_text()
