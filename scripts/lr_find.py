"""Smith's LR range test (Smith 2015, as in fastai's lr_find) on the model and data a run uses.

    python scripts/lr_find.py --data results/data/prepared/cifar10 --out results/lr_find --arch resnet50

The lr grows exponentially from --start-lr to --end-lr over --steps augmented training batches
(engine.py's batch iterator, optimizer and step: exactly what a run trains with); the loss is
smoothed with a bias-corrected exponential moving average (beta 0.98) and the test stops early
once the smoothed loss exceeds 4x its minimum. The suggestion is the lr of the minimum smoothed
loss divided by 10 (fastai's "lr_min"), the usual pick on the descending, smooth part of the
curve (the report's Fig. 13 chose ~3e-3 that way).

Outputs in --out: lr_find.tsv (step, lr, loss, smoothed_loss) and suggestion.json.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

from engine import (
    Normalizer,
    batch_stream,
    cli,
    load_split,
    make_optimizer,
    make_step,
    model_on_device,
    resolve_device,
    set_determinism,
    set_threads,
)
from settings import Setting, add_arguments
from train import build_parser, check_ranges, parse_args
from util import atomic_write_text, write_json

LR_FIND_SETTINGS = (
    Setting("start_lr", 1e-7, "first lr of the range", low=0, open=True),
    Setting("end_lr", 10.0, "last lr of the range", low=0, open=True),
    Setting("steps", 100, "batches over the range", low=2),
    Setting("beta", 0.98, "loss smoothing factor", low=0, high=1, open=True),
)


def suggest(lrs, smoothed) -> dict:
    i = min(range(len(smoothed)), key=lambda j: smoothed[j])
    return {"lr_min_loss": lrs[i], "suggestion": lrs[i] / 10}


def range_test(args, step, Xtr, Ytr, device) -> list[tuple]:
    """(step, lr, loss, smoothed loss) per batch until the end of the range or a blow-up."""
    ratio = (args.end_lr / args.start_lr) ** (1 / max(1, args.steps - 1))
    rows, avg, best = [], 0.0, math.inf
    n = len(Ytr)
    batches = batch_stream(n, min(args.batch_size, n), args.seed, device)
    for i, (idx, offsets, flips) in zip(range(args.steps), batches):
        lr = args.start_lr * ratio**i
        value = step(Xtr[idx], Ytr[idx], offsets, flips, lr, args.mom)[0].item()
        if not math.isfinite(value):
            break
        avg = args.beta * avg + (1 - args.beta) * value
        smoothed = avg / (1 - args.beta ** (i + 1))
        rows.append((i, lr, value, smoothed))
        best = min(best, smoothed)
        if i > 5 and smoothed > 4 * best:
            break
    return rows


def lr_find(args) -> dict:
    set_determinism(args.deterministic)
    device = resolve_device(args.device)
    set_threads(args.threads)
    torch.manual_seed(args.seed)
    Xtr, Ytr, _, _, meta = load_split(args, device)
    model = model_on_device(args.arch, meta["num_classes"], args.shortcut, device)
    opt = make_optimizer(model, args.optimizer, args.start_lr, args.wd, args.mom, device.type)  # as the runs
    step = make_step(model, opt, Normalizer(meta["mean"], meta["std"], device), amp=device.type == "cuda")
    rows = range_test(args, step, Xtr, Ytr, device)
    if not rows:
        raise SystemExit("error: the LR range test diverged at its first step; lower --start-lr")
    out = Path(args.out)
    text = "step\tlr\tloss\tsmoothed_loss\n" + "".join(f"{s}\t{lr!r}\t{v!r}\t{sm!r}\n" for s, lr, v, sm in rows)
    atomic_write_text(out / "lr_find.tsv", text)
    result = {**suggest([r[1] for r in rows], [r[3] for r in rows]), "steps": len(rows), "arch": args.arch}
    result["optimizer"] = args.optimizer
    write_json(out / "suggestion.json", result)
    print(
        f"LR range test: {len(rows)} steps, min smoothed loss at lr {result['lr_min_loss']:.3g}, "
        f"suggested lr {result['suggestion']:.3g}"
    )
    return result


def main(argv=None) -> int:
    ap = build_parser()
    ap.description = __doc__.splitlines()[0]
    add_arguments(ap, LR_FIND_SETTINGS)
    args = parse_args(argv, ap)
    check_ranges(ap, args, LR_FIND_SETTINGS)
    if args.end_lr <= args.start_lr:
        ap.error(f"--end-lr must be > {args.start_lr}, got {args.end_lr}")
    return cli(lr_find, args)


if __name__ == "__main__":
    sys.exit(main())
