"""AdamW beside SGD: beta1 follows the one-cycle momentum curve, invalid genomes, resume, the GA."""

import json
import subprocess

import pytest
import torch

from engine import Normalizer, make_optimizer, make_step, model_on_device, one_cycle
from helpers import SMOKE, copy_workflow, lr_find_cmd, run_train, snakemake


def test_adamw_beta1_follows_the_one_cycle_momentum_curve():
    torch.manual_seed(0)
    model = model_on_device({"arch": "resnet8"}, 10, torch.device("cpu"))
    opt = make_optimizer(model, "adamw", 0.01, 0.05, 0.95, "cpu")
    assert opt.kind == "adamw" and opt.param_groups[0]["weight_decay"] == 0.05
    assert opt.param_groups[1]["weight_decay"] == 0.0  # BatchNorm and biases are not decayed
    step = make_step(model, opt, Normalizer([0.5] * 3, [0.25] * 3, "cpu"), amp=False)
    x, y = torch.randint(0, 255, (8, 3, 32, 32), dtype=torch.uint8), torch.randint(0, 10, (8,))
    draws = (torch.zeros(8, 2, dtype=torch.long), torch.zeros(8, dtype=torch.bool), None)
    seen = []
    for s in range(12):
        lr, mom = one_cycle(s, 12, 0.01, 0.8, max_momentum=0.95)
        step(x, y, draws, lr, mom)
        assert [g["betas"] for g in opt.param_groups] == [(mom, 0.99)] * 2 and opt.param_groups[0]["lr"] == lr
        seen.append(opt.param_groups[0]["betas"][0])
    assert seen[0] == pytest.approx(0.95) and min(seen) == pytest.approx(0.8) and seen.index(min(seen)) == 3


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_the_optimizers_compute_what_torch_optim_computes_step_by_step(kind):
    """optimizers.py calls torch's functional updates without torch.optim.Optimizer's wrappers (which
    import torch._dynamo): the weights and the state after several steps are torch.optim's exactly."""
    from engine import param_groups, set_hparams
    from models import build_model

    outs = []
    for ours in (True, False):
        torch.manual_seed(0)
        m = build_model("resnet8", 10)
        if ours:
            opt = make_optimizer(m, kind, 0.05, 5e-3, 0.9, "cpu")
        elif kind == "sgd":
            opt = torch.optim.SGD(param_groups(m, 5e-3), lr=0.05, momentum=0.9, foreach=True)
        else:
            opt = torch.optim.AdamW(param_groups(m, 5e-3), lr=0.05, betas=(0.9, 0.99), eps=1e-5, foreach=True)
        g = torch.Generator().manual_seed(1)
        for step in range(4):
            x, y = torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)
            set_hparams(opt, 0.05 * (step + 1) / 4, 0.9 - 0.02 * step)
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(m(x), y).backward()
            opt.step()
        outs.append((m.state_dict(), opt.state_dict()))
    (w1, s1), (w2, s2) = outs
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    assert s1["state"].keys() == s2["state"].keys()
    assert all(torch.equal(s1["state"][i][k], s2["state"][i][k]) for i in s2["state"] for k in s2["state"][i])
    assert [sorted(g) for g in s1["param_groups"]] == [sorted(g) for g in s2["param_groups"]]  # torch's layout
    opt2 = make_optimizer(build_model("resnet8", 10), kind, 0.05, 5e-3, 0.9, "cpu")
    opt2.load_state_dict(s2)  # a checkpoint of torch.optim's resumes here
    assert all(
        torch.equal(opt2.state_dict()["state"][i][k], s2["state"][i][k]) for i in s2["state"] for k in s2["state"][i]
    )


@pytest.mark.parametrize(
    "named",
    [
        {"lr": 1e-3, "wd": 1e-2, "mom": 1.2},  # the report's momentum gene reaches 1.5
        {"lr": 1e-3, "wd": 1e-2, "mom": 0.9, "max_momentum": 1.1},  # the one-cycle curve's top as a gene
    ],
)
def test_adamw_genome_with_momentum_of_1_or_more_is_invalid_not_trained(prepared, tmp_path, named):
    """Either end of the momentum curve at 1 or more is no Adam beta1: the genome's run is invalid
    (fitness 0, not trained) and the search goes on, rather than its job failing the workflow."""
    from helpers import genome_id

    rid = genome_id(prepared, named, 0, "--optimizer", "adamw", "--max-train", 300, epochs=1)
    out = tmp_path / rid
    p = run_train(prepared, out, "--genome", out.name, "--optimizer", "adamw", "--max-train", 300, epochs=1)
    res = json.loads((out / "result.json").read_text())
    assert res["status"] == "invalid" and res["fitness"] == 0.0 and res["epochs_completed"] == 0
    assert "not a valid AdamW beta1" in p.stdout


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
        "search: {methods: [ga]}\nfinal: {seeds: 1}\n"
    )
    snakemake(work, *SMOKE, "adamw.yaml")
    return work / "results" / "smoke"


@pytest.mark.slow
def test_smoke_ga_runs_with_adamw(adamw_smoke):
    results = [json.loads(p.read_text()) for p in (adamw_smoke / "runs").glob("*/result.json")]
    assert results and {r["settings"]["optimizer"] for r in results} == {"adamw"}
    moms = {r["settings"]["mom"]: r["status"] for r in results}
    assert all(s == "invalid" for m, s in moms.items() if m >= 1)  # the report's mom bounds reach 1.5
    assert any(s == "ok" for s in moms.values())
    assert "optimizer adamw" in (adamw_smoke / "final" / "verdict.txt").read_text()
