"""Final evaluation on the TEST set (never used for fitness): one run's weights.

    python scripts/evaluate.py --data results/data/prepared/cifar10 \\
        --result results/runs/<run>/result.json --model results/runs/<run>/model.pt \\
        --out results/runs/<run>/test.json --out-predictions results/runs/<run>/test_predictions.tsv

Writes test.json (test top-1/3/5 and loss, with the run's validation numbers) and the predictions
(index, label, top-5 predicted labels), holding the run's lock (runlock.py) while it reads its weights
and writes into its folder. result.json and model.pt must both belong to the run of their folder.
The comparison of the methods is verdict.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import formats
import runlock
import settings
from layout import PREPARED_FILES, RUN_FILES, run_of
from util import ArgumentParser, DataError, check_not_an_input, check_writable, exit_now, run_cli

PREDICTION_COLUMNS = [f.name for f in formats.FORMATS["predictions"]]  # index, label, pred1 .. pred5


def test_metrics(data_dir: str, result_json: str, model_pt: str, device: str = "auto"):
    """(test.json's contents, prediction rows) of one run: its weights on the test set, evaluated as
    it was trained (the same determinism and threads). A run that did not train has NaN metrics."""
    from data import load_prepared
    from engine import (
        Normalizer,
        device_type,
        evaluate,
        load_model_file,
        model_on_device,
        provenance,
        resolve_device,
        set_determinism,
        set_threads,
        to_device,
    )

    run = run_of(result_json)
    res = formats.read_record("result", result_json, run=run)
    s = settings.with_defaults(res["settings"])
    set_determinism(s["deterministic"], device_type(device))
    dev = resolve_device(device)
    set_threads(s["threads"])
    data = load_prepared(data_dir)
    X, Y = to_device(data["test_x"], dev), to_device(data["test_y"], dev)
    out = {"run": run, "status": res["status"], "seed": res["seed"], "named": res["named"]}
    out.update(val_top1=res["top1"], val_loss=res["val_loss"], train_loss=res["train_loss"])
    out.update(test_top1=float("nan"), test_top3=float("nan"), test_top5=float("nan"), test_loss=float("nan"))
    preds = []
    if res["status"] not in formats.NO_SCORES:  # trained weights (a stopped run's are fewer epochs')
        model = model_on_device(s, data["meta"]["num_classes"], dev)
        try:
            model.load_state_dict(load_model_file(Path(model_pt), run, dev, res.get("model_sha256")))
        except RuntimeError:  # other keys or shapes: not this run's architecture
            raise DataError(f"{model_pt}: weights do not fit a {s['arch']}") from None
        norm = Normalizer(data["meta"]["mean"], data["meta"]["std"], dev)
        start = time.perf_counter()
        ev = evaluate(model, X, Y, norm, 1000, amp=dev.type == "cuda", want_preds=True)
        print(f"evaluated {len(Y)} test images in {time.perf_counter() - start:.3f}s")  # ga_timing.py reads it
        out.update(test_top1=ev["top1"], test_top3=ev["top3"], test_top5=ev["top5"], test_loss=ev["loss"])
        preds = [(i, label, *top5) for i, (label, top5) in enumerate(zip(Y.cpu().numpy(), ev["preds"]))]
    out["provenance"] = provenance(dev, s["deterministic"], s)
    return out, preds


def check_data_of(result: dict, result_json, meta: dict, meta_json) -> None:
    """The prepared data is the run's: another dataset's test set would score its weights on images
    of other classes (5 % top-1, exit 0). The comparison train.py makes (a result lacking the data's
    identity, from an older version, is not known to differ)."""
    if settings.differences(result["settings"], {"data": meta["data_id"]}):
        raise DataError(
            f"{result_json}: run {result['run']!r} was trained on data {result['settings']['data']!r}, "
            f"but {meta_json} is data {meta['data_id']!r}"
        )


def test_run(args) -> dict:
    run_dir = Path(args.result).parent  # its other files (and its lock) are no output of ours either
    kept = [run_dir / name for role, name in RUN_FILES.items() if role not in ("test", "predictions")]
    inputs = [args.result, args.model, *(Path(args.data) / name for name in PREPARED_FILES)]
    check_not_an_input([args.out, args.out_predictions], [*inputs, *kept, run_dir / runlock.LOCK_NAME])
    for path in (args.out, args.out_predictions):  # both or neither: fail before either is written
        check_writable(Path(path))
    meta_json = Path(args.data) / "meta.json"  # before the run's lock is taken: nothing of it touched
    check_data_of(
        formats.read_record("result", args.result), args.result, formats.read_record("meta", meta_json), meta_json
    )
    with runlock.hold(run_dir, "evaluate"):
        out, preds = test_metrics(args.data, args.result, args.model, args.device)
        columns = PREDICTION_COLUMNS[: len(preds[0])] if preds else PREDICTION_COLUMNS  # top-k of k < 5 classes
        formats.check_rows("test", [out], args.out)  # both files checked before either is written
        formats.write_rows(
            "predictions", columns, preds, args.out_predictions, lambda r: "\t".join(str(int(v)) for v in r) + "\n"
        )
        formats.write_record("test", out, args.out)
    print(f"{out['run']}: test top1 {out['test_top1']:.4f} top5 {out['test_top5']:.4f} loss {out['test_loss']:.4f}")
    return out


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="the prepared data folder")
    ap.add_argument("--result", required=True, help="the run's result.json")
    ap.add_argument("--model", required=True, help="the run's model.pt")
    ap.add_argument("--out", required=True, help="test.json to write")
    ap.add_argument("--out-predictions", required=True, help="test_predictions.tsv to write")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return run_cli(test_run, ap.parse_args(argv))


if __name__ == "__main__":
    exit_now(main())
