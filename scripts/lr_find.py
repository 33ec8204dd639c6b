"""Smith's LR range test (Smith 2015, as in fastai's lr_find) on the model and data a run uses.

    python scripts/lr_find.py --data results/data/prepared/cifar10 --out results/lr_find --arch resnet50

The lr grows exponentially from --start-lr to --end-lr over --steps augmented training batches
(engine.py's batch iterator, optimizer and step: exactly what a run trains with); the test stops
early once a bias-corrected exponential moving average of the loss (beta 0.98, as fastai's) exceeds
4x its minimum. That average lags by tens of steps (over 100 steps it is nearly the mean of all the
losses so far), so the curve the rule reads is a centred running median over an eighth of the steps:
no lag, and one noisy batch moves it little.

The suggestion follows the valley rule (`suggest`; fastai offers valley, steep and minimum rules):
the falling stretch is where the smoothed loss leaves its starting level (the median loss of the
first fifth of the batches) on the way down to its minimum before divergence, and the suggestion is
the lr halfway (geometrically) along it, the "smooth part" the report chose by eye (its Fig. 13:
~3e-3). Unlike the lr of the minimum divided by 10, it holds on a curve that is flat and noisy for
decades and falls only shortly before it diverges (the minimum / 10 then sits in the noise, far
below any lr that trains). A range test whose smoothed loss never falls by 5 %, or by no more than
its batch-to-batch noise could (`NOISE_MARGIN` standard errors of the smoothed loss and of its
starting level, the noise estimated from successive batches' differences), is refused:
suggestion.json says `valid: false` with the reason, the log warns, and the report and the verdict
say the baseline's lr is a fallback. (On flat curves of pure noise, 1-22 % of the loss per batch,
this accepts at most 5 in 300 at 40-200 steps and 16 at 20 steps; the 5 % rule alone accepts up to
261 in 300: `python benchmarks/lr_find_noise.py`, 2026-12-05.) A curve lowest at its
first steps, the first fifth's median over 5 % above them, is refused as only rising (lower
start_lr). A valid suggestion whose loss has not risen from its minimum by the end of the range
keeps a note in its reason: no divergence within the range (raise end_lr), as the falling stretch
may go on past it.

Outputs in --out: lr_find.tsv (step, lr, loss, smoothed_loss) and suggestion.json; a copy of both in
--out/by_settings/<key>/, so a setting changed and changed back reuses its range test's losses (the
suggestion made from them again), not reruns it.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import time
from pathlib import Path

import torch

import formats
import runlock
import settings
from engine import (
    Normalizer,
    augment_args,
    batch_stream,
    device_type,
    load_split,
    make_optimizer,
    make_step,
    model_on_device,
    resolve_device,
    set_determinism,
    set_threads,
)
from train import check_ranges
from util import ArgumentParser, DataError, exit_now, naming, run_cli, settings_hash

MIN_DROP = 0.05  # a descent is a fall of the smoothed loss by at least 5 % of its starting level
NOISE_MARGIN = 4  # ... and by more than 4 standard errors of the noise (a flat noisy curve dips by ~2-3)
PLATEAU_SHARE = 0.2  # the stretch starts where the curve has fallen by 20 % of its whole descent
KEPT = "by_settings"  # <out>/by_settings/<key>/: every range test run, by what its numbers depend on
USED = settings.LR_FIND_KEYS
LR_FIND_SETTINGS = (
    settings.Setting("start_lr", 1e-7, "first lr of the range", low=0, open=True),
    settings.Setting("end_lr", 10.0, "last lr of the range", low=0, open=True),
    settings.Setting("steps", 100, "batches over the range", low=2),
    settings.Setting("beta", 0.98, "smoothing of the blow-up check (EMA factor)", low=0, high=1, open=True),
)


def window(n: int) -> int:
    """The running median's window: an eighth of the steps, odd, at least 3."""
    return max(3, n // 8 | 1)


def first_fifth(n: int) -> int:
    """How many of the first batches give the starting level (their median)."""
    return max(5, n // 5)


def running_median(losses: list[float]) -> list[float]:
    """The loss smoothed without lag: the median of a centred window of an eighth of the steps."""
    half = window(len(losses)) // 2
    return [statistics.median(losses[max(0, i - half) : i + half + 1]) for i in range(len(losses))]


def noise_error(losses: list[float], bottom: int) -> float:
    """The standard error of (starting level - smoothed minimum) that batch noise alone gives: the
    noise's scale from the median absolute deviation of successive differences (a trend barely moves
    them), a median of k values erring by ~sqrt(pi/2k) of it."""
    diffs = [b - a for a, b in zip(losses[:bottom], losses[1 : bottom + 1])]
    if len(diffs) < 2:
        return 0.0
    centre = statistics.median(diffs)
    sigma = 1.4826 * statistics.median(abs(d - centre) for d in diffs) / math.sqrt(2)
    n = len(losses)
    return sigma * math.sqrt(math.pi / 2 * (1 / window(n) + 1 / first_fifth(n)))


def suggest(lrs: list[float], losses: list[float]) -> dict:
    """The valley rule (module doc) on the per-batch losses: the lr halfway along the falling stretch
    of their running median before its minimum; `valid` false (with the minimum / 10 as a fallback)
    when it never falls."""
    smoothed = running_median(losses)
    bottom = min(range(len(smoothed)), key=lambda j: smoothed[j])
    level = statistics.median(losses[: first_fifth(len(losses))])
    drop = level - smoothed[bottom]
    out = {"lr_min_loss": lrs[bottom], "steps": len(lrs)}
    fallback = {**out, "suggestion": lrs[bottom] / 10, "rule": "minimum/10", "valid": False}
    fell = 100 * max(drop, 0) / (abs(level) or 1)
    if drop < MIN_DROP * abs(level):
        reason = f"the smoothed loss fell by {fell:.1f} % of its start, less than {100 * MIN_DROP:.0f} %: no descent"
        return {**fallback, "reason": reason}
    if bottom < 2:  # lowest at the start, the first fifth's median well above it: a rise, not a fall
        return {**fallback, "reason": "the loss only rises from its first steps: lower lr_find.start_lr"}
    noise = noise_error(losses, bottom)
    if drop < NOISE_MARGIN * noise:
        reason = (
            f"the smoothed loss fell by {fell:.1f} % of its start, {drop / noise:.1f} standard errors of its"
            f" batch noise (fewer than {NOISE_MARGIN}): no descent the noise could not make; more steps"
        )
        return {**fallback, "reason": reason}
    at_level = [i for i in range(bottom + 1) if smoothed[i] >= level - PLATEAU_SHARE * drop]
    if not at_level:  # it rose from the first steps and dipped: no stretch falling from its start
        return {**fallback, "reason": "the loss rose from its first steps: no descent from its start; lower start_lr"}
    start = max(at_level)
    mid = math.sqrt(lrs[start] * lrs[bottom])
    return {
        **out,
        "suggestion": mid,
        "rule": "valley",
        "valid": True,
        "reason": no_divergence(smoothed, bottom, level),
        "stretch": [lrs[start], lrs[bottom]],
    }


def no_divergence(smoothed: list[float], bottom: int, level: float) -> str:
    """A valid suggestion's note ("" if none): a loss that has not risen past its minimum by the end of
    the range still falls there, so the falling stretch (and the suggestion) may go on above end_lr."""
    if smoothed[-1] - smoothed[bottom] < MIN_DROP * abs(level):
        return "no divergence within the range: raise lr_find.end_lr"
    return ""


def range_test(args, step, Xtr, Ytr, device) -> list[tuple]:
    """(step, lr, loss) per batch until the end of the range or a blow-up."""
    ratio = (args.end_lr / args.start_lr) ** (1 / max(1, args.steps - 1))
    rows, avg, best = [], 0.0, math.inf
    n = len(Ytr)
    batches = batch_stream(n, min(args.batch_size, n), args.seed, device, augment_args(args))
    for i, (idx, draws) in zip(range(args.steps), batches):
        lr = args.start_lr * ratio**i
        value = step(Xtr[idx], Ytr[idx], draws, lr, args.mom)[0].item()
        if not math.isfinite(value):
            break
        rows.append((i, lr, value))
        avg = args.beta * avg + (1 - args.beta) * value
        ema = avg / (1 - args.beta ** (i + 1))  # bias-corrected
        best = min(best, ema)
        if i > 5 and ema > 4 * best:
            break
    return rows


def run_range_test(args) -> tuple[list[tuple], dict]:
    """The range test's rows (step, lr, loss, smoothed loss) and its suggestion."""
    set_determinism(args.deterministic, device_type(args.device))
    device = resolve_device(args.device)
    set_threads(args.threads)
    torch.manual_seed(args.seed)
    Xtr, Ytr, _, _, meta = load_split(args, device)
    model = model_on_device(vars(args), meta["num_classes"], device)
    opt = make_optimizer(model, args.optimizer, args.start_lr, args.wd, args.mom, device.type)  # as the runs
    norm = Normalizer(meta["mean"], meta["std"], device)
    step = make_step(
        model, opt, norm, device.type == "cuda", aug=augment_args(args), label_smoothing=args.label_smoothing
    )
    start = time.perf_counter()
    rows = range_test(args, step, Xtr, Ytr, device)
    print(f"range test: {len(rows)} steps in {time.perf_counter() - start:.3f}s")  # ga_timing.py reads it
    if len(rows) < 2:
        raise DataError(f"{args.out}: the LR range test diverged within its first steps; lower --start-lr")
    return curve(args, rows)


def settings_key(args) -> str:
    """What the range test's numbers depend on: its settings (not where it runs or writes) and the
    prepared data (its meta.json: the data's identity, sizes and statistics)."""
    # off their defaults only: a release that adds a setting keeps the range tests run before it
    used = settings.changed(settings.effective({k: getattr(args, k) for k in USED if settings.BY_NAME[k].identity}))
    used.update({s.name: getattr(args, s.name) for s in LR_FIND_SETTINGS})
    meta = Path(args.data) / "meta.json"
    try:
        used["data"] = hashlib.sha256(meta.read_bytes()).hexdigest()
    except OSError as e:
        raise naming(meta, e) from None
    return settings_hash(used)


def write(folder: Path, rows: list[tuple], result: dict) -> None:
    columns = ["step", "lr", "loss", "smoothed_loss"]
    formats.write_rows("lr_find", columns, rows, folder / "lr_find.tsv", lambda r: "\t".join(map(repr, r)) + "\n")
    formats.write_record("suggestion", result, folder / "suggestion.json")  # last: the folder is complete


def curve(args, rows: list[tuple]) -> tuple[list[tuple], dict]:
    """The range test's rows with their smoothed loss, and its suggestion, from (step, lr, loss)."""
    lrs, losses = [r[1] for r in rows], [r[2] for r in rows]
    result = {**suggest(lrs, losses), "arch": args.arch, "optimizer": args.optimizer}
    return [(*r, s) for r, s in zip(rows, running_median(losses))], result


def reuse(args, kept: Path) -> tuple[list[tuple], dict]:
    """A range test run before under the same settings: its losses, checked; the smoothing and the
    suggestion made again, so a later version's rule applies to them as to a new test."""
    table = formats.read_table("lr_find", kept / "lr_find.tsv")
    rows = [(int(r.step), float(r.lr), float(r.loss)) for r in table.itertuples()]
    print(f"LR range test: kept from {kept} (run before under these settings)")
    return curve(args, rows)


def lr_find(args) -> dict:
    """Run the range test once per settings: the folder's lock keeps a second workflow on the outdir
    out, and a test run before under the same settings (changed, then changed back) is kept."""
    out = Path(args.out)
    with runlock.hold(out, "lr_find"):
        kept = out / KEPT / settings_key(args)
        if (kept / "suggestion.json").exists():
            rows, result = reuse(args, kept)
        else:
            rows, result = run_range_test(args)
            write(kept, rows, result)
        write(out, rows, result)
    print(f"LR range test: {len(rows)} steps, rule {result['rule']}, suggested lr {result['suggestion']:.3g}")
    if not result["valid"]:
        print(f"warning: the LR range test failed: {result['reason']}; fallback lr {result['suggestion']:.3g}")
    elif result["reason"]:  # valid, with a note
        print(f"note: the LR range test: {result['reason']}")
    return result


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="prepared data folder (scripts/data.py prepare)")
    ap.add_argument("--out", required=True, help="folder for lr_find.tsv and suggestion.json")
    settings.add_arguments(ap, [settings.BY_NAME[n] for n in USED])
    settings.add_arguments(ap, LR_FIND_SETTINGS)
    ap.set_defaults(max_val=0)  # the shared data loader's cap on validation images, which a range test never sees
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    check_ranges(ap, args, [settings.BY_NAME[n] for n in USED] + list(LR_FIND_SETTINGS))
    if args.end_lr <= args.start_lr:
        ap.error(f"--end-lr must be > {args.start_lr}, got {args.end_lr}")
    return run_cli(lr_find, args)


if __name__ == "__main__":
    exit_now(main())
