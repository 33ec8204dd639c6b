"""Final evaluation on the TEST set (never used for fitness), and the GA-vs-baseline table.

    python scripts/evaluate.py test --data results/data/prepared/cifar10 \\
        --result results/runs/<run>/result.json --model results/runs/<run>/model.pt \\
        --out results/runs/<run>/test.json --out-predictions results/runs/<run>/test_predictions.tsv
    python scripts/evaluate.py compare --plan results/final/plan.tsv --tests results/runs/*/test.json \\
        --best-predictions results/runs/<GA best, first final seed>/test_predictions.tsv \\
        --out comparison.tsv --out-predictions predictions.tsv

`test` writes test.json (test top-1/3/5 and loss, with the run's validation numbers) and the
predictions (index, label, top-5 predicted labels). `compare` writes one row per method with the
mean and sample std over the final seeds of every metric, and copies the test predictions of the
GA best genome's first final seed. Each reads only the files named on its command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

from util import (
    ArgumentParser,
    DataError,
    atomic_write_bytes,
    read_by_run,
    read_json,
    read_tsv,
    run_cli,
    write_json,
    write_tsv,
)

METRICS = ["test_top1", "test_top3", "test_top5", "test_loss", "val_top1", "val_loss", "train_loss"]


def load_weights(path: Path, device) -> dict:
    """A run's model.pt as a state dict; weights_only: a planted file runs no code."""
    import torch

    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # missing, truncated, not a zip, or holding more than tensors
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(f"{path}: unreadable model weights ({reason})") from None
    if not isinstance(state, dict):
        raise DataError(f"{path}: not a state dict of model weights")
    return state


def test_metrics(data_dir: str, result_json: str, model_pt: str, device: str = "auto", threads: int = 0):
    """(test.json's contents, prediction rows) of one run: its weights on the test set, evaluated as
    it was trained (the same determinism and threads). A run that did not train has NaN metrics."""
    from data import load_prepared
    from engine import (
        Normalizer,
        evaluate,
        model_on_device,
        provenance,
        resolve_device,
        set_determinism,
        set_threads,
        to_device,
    )

    res = read_json(result_json)
    settings = res["settings"]
    set_determinism(settings.get("deterministic", False))
    dev = resolve_device(device)
    set_threads(threads or settings.get("threads", 0))
    data = load_prepared(data_dir)
    X, Y = to_device(data["test_x"], dev), to_device(data["test_y"], dev)
    out = {k: res[k] for k in ("run", "status", "lr", "wd", "mom", "seed")}
    out.update(val_top1=res["top1"], val_loss=res["val_loss"], train_loss=res["train_loss"])
    out.update(test_top1=float("nan"), test_top3=float("nan"), test_top5=float("nan"), test_loss=float("nan"))
    preds = []
    if res["status"] in ("ok", "stopped"):  # trained weights (a stopped run's are fewer epochs')
        model = model_on_device(settings["arch"], data["meta"]["num_classes"], settings["shortcut"], dev)
        try:
            model.load_state_dict(load_weights(Path(model_pt), dev))
        except RuntimeError:  # other keys or shapes: not this run's architecture
            raise DataError(f"{model_pt}: weights do not fit a {settings['arch']}") from None
        norm = Normalizer(data["meta"]["mean"], data["meta"]["std"], dev)
        ev = evaluate(model, X, Y, norm, 1000, amp=dev.type == "cuda", want_preds=True)
        out.update(test_top1=ev["top1"], test_top3=ev["top3"], test_top5=ev["top5"], test_loss=ev["loss"])
        preds = [(i, label, *top5) for i, (label, top5) in enumerate(zip(Y.cpu().numpy(), ev["preds"]))]
    out["provenance"] = provenance(dev, settings.get("deterministic", False), settings)
    return out, preds


def test_run(args) -> dict:
    out, preds = test_metrics(args.data, args.result, args.model, args.device, args.threads)
    lines = ["index\tlabel\tpred1\tpred2\tpred3\tpred4\tpred5\n"]
    lines += ["\t".join(str(int(v)) for v in row) + "\n" for row in preds]
    atomic_write_bytes(args.out_predictions, "".join(lines).encode())
    write_json(args.out, out)
    print(f"{out['run']}: test top1 {out['test_top1']:.4f} top5 {out['test_top5']:.4f} loss {out['test_loss']:.4f}")
    return out


def compare(plan: str, tests: list[str]):
    """The comparison table: per method, mean and std over the final seeds of every metric. `tests`
    are the final runs' test.json files (each names its run)."""
    import pandas as pd

    by_run = read_by_run(tests)
    final = read_tsv(plan).query("stage == 'final'")
    missing = [r for r in final["run"] if r not in by_run]
    if missing:
        raise DataError(f"{plan}: no test.json given for final run(s) {', '.join(missing)}")
    df = pd.DataFrame([{"method": m, **by_run[r]} for m, r in zip(final["method"], final["run"])])
    stats = {f"{m}_{s}": (m, s) for m in METRICS for s in ("mean", "std")}
    agg = df.groupby("method", sort=False).agg(
        lr=("lr", "first"), wd=("wd", "first"), mom=("mom", "first"), seeds=("seed", "count"), **stats
    )
    return agg.reset_index()


def gap_sentence(a, b, name_a: str, name_b: str) -> str:
    """`name_a` against `name_b` (rows of the comparison): the top-1 gap and whether it exceeds the
    seed-to-seed spread (the larger of the two standard deviations)."""
    gap = 100 * (a["test_top1_mean"] - b["test_top1_mean"])
    spread = max(100 * a["test_top1_std"], 100 * b["test_top1_std"])
    larger = "larger" if abs(gap) > spread else "not larger"
    return f"{name_a} vs {name_b}: gap {gap:+.2f} points, {larger} than the seed-to-seed spread"


def final_summary(comparison_tsv) -> str:
    """The test top-1 of every method and the gaps against the GA (the final figure and its caption)."""
    import pandas as pd

    c = pd.read_csv(comparison_tsv, sep="\t").set_index("method")
    names = {"ga": "GA best", "baseline": "baseline", "random": "random search"}
    scores = ", ".join(
        f"{names[m]} {100 * c.loc[m, 'test_top1_mean']:.2f} ± {100 * c.loc[m, 'test_top1_std']:.2f} %"
        for m in names
        if m in c.index
    )
    gaps = [gap_sentence(c.loc["ga"], c.loc[m], "GA", names[m]) for m in ("baseline", "random") if m in c.index]
    return f"Test top-1: {scores} (mean ± std over {int(c.loc['ga', 'seeds'])} seeds); {'; '.join(gaps)}."


def random_summary(comparison_tsv) -> str:
    """Whether the GA's gain over random search at the same budget exceeds the seed-to-seed spread."""
    import pandas as pd

    c = pd.read_csv(comparison_tsv, sep="\t").set_index("method")
    if "random" not in c.index:
        return "(the final comparison ran without the random search: set random_search: true)"
    return gap_sentence(c.loc["ga"], c.loc["random"], "GA", "random search (same number of trainings)") + "."


def verdict(comparison_tsv, result_files) -> str:
    """The report's answer in one paragraph: the test-set comparison, whether the gap exceeds the
    seed spread, and what it cost (trainings and device-hours, from every run's result.json)."""
    results = [read_json(p) for p in result_files]
    hours = sum(r.get("process_seconds", r["seconds"]) for r in results) / 3600
    devices = sorted({r.get("provenance", {}).get("device", r.get("device", "?")) for r in results})
    optimizers = sorted({r["settings"].get("optimizer", "sgd") for r in results})
    return (
        f"{final_summary(comparison_tsv)} It took {len(results)} trainings (the search, any control, the baseline and "
        f"the final seeds) and {hours:.2f} device-hours on {', '.join(devices)}, optimizer "
        f"{', '.join(optimizers)}."
    )


def compare_runs(args) -> None:
    table = compare(args.plan, args.tests)
    write_tsv(table, args.out)
    atomic_write_bytes(args.out_predictions, Path(args.best_predictions).read_bytes())
    if args.out_verdict:
        atomic_write_bytes(args.out_verdict, (verdict(args.out, args.results) + "\n").encode())
    print(table.to_string(index=False))


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("test", help="evaluate one run's weights on the test set")
    t.add_argument("--data", required=True, help="the prepared data folder")
    t.add_argument("--result", required=True, help="the run's result.json")
    t.add_argument("--model", required=True, help="the run's model.pt")
    t.add_argument("--out", required=True, help="test.json to write")
    t.add_argument("--out-predictions", required=True, help="test_predictions.tsv to write")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    t.add_argument("--threads", type=int, default=0)
    t.set_defaults(func=test_run)
    c = sub.add_parser("compare", help="mean and std over seeds, GA best vs baseline")
    c.add_argument("--plan", required=True, help="final/plan.tsv (scripts/ga.py plan)")
    c.add_argument("--tests", nargs="+", required=True, help="the final runs' test.json")
    c.add_argument("--best-predictions", required=True, help="test_predictions.tsv of the GA best's first final seed")
    c.add_argument("--out", required=True)
    c.add_argument("--out-predictions", required=True)
    c.add_argument("--results", nargs="+", default=[], help="every run's result.json, for the verdict's cost")
    c.add_argument("--out-verdict", help="one paragraph for the report's front page")
    c.set_defaults(func=compare_runs)
    args = ap.parse_args(argv)
    return run_cli(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
