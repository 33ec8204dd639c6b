"""Final evaluation on the TEST set (never used for fitness), and the GA-vs-baseline table.

    python scripts/evaluate.py test --data results/data/prepared/cifar10 --run results/runs/<run>
    python scripts/evaluate.py compare --plan results/final/plan.tsv --runs results/runs \\
        --out comparison.tsv --out-predictions predictions.tsv

`test` writes <run>/test.json (test top-1/3/5 and loss, with the run's validation numbers) and
<run>/test_predictions.tsv (index, label, top-5 predicted labels). `compare` writes one row per
method with the mean and sample std over the final seeds of every metric, and copies the test
predictions of the GA best genome's first final seed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import DataError  # noqa: E402
from util import ArgumentParser, atomic_write_bytes  # noqa: E402

METRICS = ["test_top1", "test_top3", "test_top5", "test_loss", "val_top1", "val_loss", "train_loss"]


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: missing or unreadable ({e})") from None


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


def test_run(data_dir: str, run_dir: str, device: str = "auto", threads: int = 0) -> dict:
    import torch

    from data import load_prepared
    from train import Normalizer, evaluate, model_on_device, provenance, resolve_device, set_determinism, set_threads
    from train import to_device

    run = Path(run_dir)
    res = read_json(run / "result.json")
    settings = res["settings"]  # evaluated as it was trained: the same determinism and threads
    set_determinism(settings.get("deterministic", False))
    dev = resolve_device(device)
    set_threads(threads or settings.get("threads", 0))
    data = load_prepared(data_dir)
    X, Y = to_device(data["test_x"], dev), to_device(data["test_y"], dev)
    out = {k: res[k] for k in ("run", "status", "lr", "wd", "mom", "seed")}
    out.update(val_top1=res["top1"], val_loss=res["val_loss"], train_loss=res["train_loss"])
    lines = ["index\tlabel\tpred1\tpred2\tpred3\tpred4\tpred5\n"]
    if res["status"] == "ok":
        model = model_on_device(res["settings"]["arch"], data["meta"]["num_classes"], res["settings"]["shortcut"], dev)
        try:
            model.load_state_dict(load_weights(run / "model.pt", dev))
        except RuntimeError:  # other keys or shapes: not this run's architecture
            raise DataError(f"{run / 'model.pt'}: weights do not fit a {res['settings']['arch']}") from None
        norm = Normalizer(data["meta"]["mean"], data["meta"]["std"], dev)
        ev = evaluate(model, X, Y, norm, 1000, amp=dev.type == "cuda", want_preds=True)
        out.update(test_top1=ev["top1"], test_top3=ev["top3"], test_top5=ev["top5"], test_loss=ev["loss"])
        preds, labels = ev["preds"], Y.cpu().numpy()
        for i in range(len(labels)):
            lines.append("\t".join(str(int(v)) for v in (i, labels[i], *preds[i])) + "\n")
    else:  # a diverged run has no meaningful predictions
        out.update(test_top1=float("nan"), test_top3=float("nan"), test_top5=float("nan"), test_loss=float("nan"))
    out["provenance"] = provenance(dev, settings.get("deterministic", False), settings)
    atomic_write_bytes(run / "test_predictions.tsv", "".join(lines).encode())
    atomic_write_bytes(run / "test.json", (json.dumps(out, indent=1) + "\n").encode())
    print(f"{run.name}: test top1 {out['test_top1']:.4f} top5 {out['test_top5']:.4f} loss {out['test_loss']:.4f}")
    return out


def compare(plan: str, runs_dir: str):
    """(comparison table, path of the best model's predictions) from the final plan."""
    import pandas as pd

    from ga import read_tsv

    final = read_tsv(plan).query("stage == 'final'")
    rows = [
        {"method": m, **json.loads((Path(runs_dir) / r / "test.json").read_text())}
        for m, r in zip(final["method"], final["run"])
    ]
    df = pd.DataFrame(rows)
    agg = df.groupby("method", sort=False).agg(
        lr=("lr", "first"), wd=("wd", "first"), mom=("mom", "first"), seeds=("seed", "count"),
        **{f"{m}_{s}": (m, s) for m in METRICS for s in ("mean", "std")},
    )  # fmt: skip
    best_run = final[final["method"] == "ga"]["run"].iloc[0]
    return agg.reset_index(), Path(runs_dir) / best_run / "test_predictions.tsv"


def final_summary(comparison_tsv) -> str:
    """One sentence: the top-1 gap and the seed-to-seed spread (used in the figure and its caption)."""
    import pandas as pd

    c = pd.read_csv(comparison_tsv, sep="\t").set_index("method")
    g, b = c.loc["ga"], c.loc["baseline"]
    gap = 100 * (g["test_top1_mean"] - b["test_top1_mean"])
    return (f"Test top-1: GA best {100 * g['test_top1_mean']:.2f} ± {100 * g['test_top1_std']:.2f} %, "
            f"baseline {100 * b['test_top1_mean']:.2f} ± {100 * b['test_top1_std']:.2f} % "
            f"(mean ± std over {int(g['seeds'])} seeds); gap {gap:+.2f} points, "
            f"{'larger' if abs(gap) > max(100 * g['test_top1_std'], 100 * b['test_top1_std']) else 'not larger'} "
            f"than the seed-to-seed spread.")  # fmt: skip


def verdict(comparison_tsv, result_files) -> str:
    """The report's answer in one paragraph: the test-set comparison, whether the gap exceeds the
    seed spread, and what it cost (trainings and device-hours, from every run's result.json)."""
    results = [read_json(Path(p)) for p in result_files]
    hours = sum(r.get("process_seconds", r["seconds"]) for r in results) / 3600
    devices = sorted({r.get("provenance", {}).get("device", r.get("device", "?")) for r in results})
    optimizers = sorted({r["settings"].get("optimizer", "sgd") for r in results})
    return (f"{final_summary(comparison_tsv)} It took {len(results)} trainings (the search, the baseline and "
            f"the final seeds) and {hours:.2f} device-hours on {', '.join(devices)}, optimizer "
            f"{', '.join(optimizers)}.")  # fmt: skip


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("test", help="evaluate one run's weights on the test set")
    t.add_argument("--data", required=True)
    t.add_argument("--run", required=True)
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    t.add_argument("--threads", type=int, default=0)
    c = sub.add_parser("compare", help="mean and std over seeds, GA best vs baseline")
    c.add_argument("--plan", required=True, help="final/plan.tsv (scripts/ga.py plan)")
    c.add_argument("--runs", required=True, help="folder holding one folder per run id")
    c.add_argument("--out", required=True)
    c.add_argument("--out-predictions", required=True)
    c.add_argument("--results", nargs="+", default=[], help="every run's result.json, for the verdict's cost")
    c.add_argument("--out-verdict", help="one paragraph for the report's front page")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "test":
            test_run(args.data, args.run, args.device, args.threads)
        else:
            from ga import write_tsv

            table, predictions = compare(args.plan, args.runs)
            write_tsv(table, args.out)
            atomic_write_bytes(Path(args.out_predictions), predictions.read_bytes())
            if args.out_verdict:
                atomic_write_bytes(Path(args.out_verdict), (verdict(args.out, args.results) + "\n").encode())
            print(table.to_string(index=False))
    except (DataError, OSError, KeyError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
