"""Smith's LR range test (Smith 2015, as in fastai's lr_find) on the model and data a run uses.

    python scripts/lr_find.py --data results/data/cifar10 --out results/lr_find --arch resnet50

The lr grows exponentially from --start-lr to --end-lr over --steps augmented training batches;
the loss is smoothed with a bias-corrected exponential moving average (beta 0.98) and the test
stops early once the smoothed loss exceeds 4x its minimum. The suggestion is the lr of the
minimum smoothed loss divided by 10 (fastai's "lr_min"), the usual pick on the descending,
smooth part of the curve (the report's Fig. 13 chose ~3e-3 that way).

Outputs in --out: lr_find.tsv (step, lr, loss, smoothed_loss) and suggestion.json.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import augment_batch, augment_params, epoch_generator  # noqa: E402
from train import Normalizer, build_parser, check_ranges, cli, load_split, make_optimizer, model_on_device  # noqa: E402
from train import set_hparams  # noqa: E402
from train import parse_args, resolve_device, set_determinism, set_threads  # noqa: E402
from util import atomic_write_text  # noqa: E402


def suggest(lrs, smoothed) -> dict:
    i = min(range(len(smoothed)), key=lambda j: smoothed[j])
    return {"lr_min_loss": lrs[i], "suggestion": lrs[i] / 10}


def lr_find(args) -> dict:
    set_determinism(args.deterministic)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    set_threads(args.threads)
    torch.manual_seed(args.seed)
    Xtr, Ytr, _, _, meta = load_split(args, device)
    norm = Normalizer(meta["mean"], meta["std"], device)
    model = model_on_device(args.arch, meta["num_classes"], args.shortcut, device)
    opt = make_optimizer(model, args.optimizer, args.start_lr, args.wd, args.mom, device.type)  # as the runs
    n, bs = len(Ytr), min(args.batch_size, len(Ytr))
    ratio = (args.end_lr / args.start_lr) ** (1 / max(1, args.steps - 1))
    rows, avg, best = [], 0.0, math.inf
    epoch, pos, perm = 0, n, None
    for step in range(args.steps):
        if pos + bs > n:  # next pass over the data, seeded like training epochs
            gen = epoch_generator(args.seed, epoch)
            perm = torch.randperm(n, generator=gen).to(device)
            offsets, flips = (t.to(device) for t in augment_params(n, gen))
            epoch, pos = epoch + 1, 0
        idx = perm[pos : pos + bs]
        pos += bs
        lr = args.start_lr * ratio**step
        set_hparams(opt, lr, args.mom)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            logits = model(norm(augment_batch(Xtr[idx], offsets[idx], flips[idx])))
        loss = F.cross_entropy(logits.float(), Ytr[idx])
        value = loss.item()
        if not math.isfinite(value):
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        avg = args.beta * avg + (1 - args.beta) * value
        smoothed = avg / (1 - args.beta ** (step + 1))
        rows.append((step, lr, value, smoothed))
        best = min(best, smoothed)
        if step > 5 and smoothed > 4 * best:
            break
    if not rows:
        raise SystemExit("error: the LR range test diverged at its first step; lower --start-lr")
    out = Path(args.out)
    text = "step\tlr\tloss\tsmoothed_loss\n" + "".join(f"{s}\t{lr!r}\t{v!r}\t{sm!r}\n" for s, lr, v, sm in rows)
    atomic_write_text(out / "lr_find.tsv", text)
    result = {**suggest([r[1] for r in rows], [r[3] for r in rows]), "steps": len(rows), "arch": args.arch,
              "optimizer": args.optimizer}
    atomic_write_text(out / "suggestion.json", json.dumps(result, indent=1) + "\n")
    print(f"LR range test: {len(rows)} steps, min smoothed loss at lr {result['lr_min_loss']:.3g}, "
          f"suggested lr {result['suggestion']:.3g}")  # fmt: skip
    return result


def main(argv=None) -> int:
    ap = build_parser()
    ap.description = __doc__.splitlines()[0]
    ap.add_argument("--start-lr", type=float, default=1e-7)
    ap.add_argument("--end-lr", type=float, default=10.0)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--beta", type=float, default=0.98, help="loss smoothing factor")
    args = parse_args(argv, ap)
    ranges = {"start_lr": (0, None, True), "end_lr": (args.start_lr, None, True), "steps": (2, None, False),
              "beta": (0, 1, True)}  # fmt: skip
    check_ranges(ap, args, ranges)
    return cli(lr_find, args)


if __name__ == "__main__":
    sys.exit(main())
