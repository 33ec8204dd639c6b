"""Train one ResNet on prepared data: one GA individual, the baseline, a final seed or a degradation run.

    python scripts/train.py --data results/data/prepared/cifar10 --out results/runs/demo \
        --arch resnet20 --lr 0.01 --wd 5e-4 --mom 0.85 --epochs 2

The command line over engine.py (the library: data on the device, schedules, optimizer, step,
evaluation, checkpoints). `run` holds the run's lock (one writer per run, runlock.py), skips a run
that is already complete under the same settings, then `train` reads top to bottom: set up the
process, load the split, build the model, resume, then one epoch after another; after every epoch
one flushed row in metrics.tsv, one progress line and an atomic checkpoint, so restarting the same
command resumes after the last complete epoch. A non-finite loss stops the run (status `diverged`,
fitness 0); an AdamW genome whose momentum reaches 1 (mom, or max_momentum of a one-cycle schedule)
is not trained (status `invalid`, fitness 0). With
--stop-epoch E and --stop-against (the elites' metrics.tsv), a child whose validation top-1 after
epoch E is below the worst elite's at E (minus --stop-margin) stops there: status `stopped`, its
last validation scores as fitness (ASHA-style early stopping; a decision made from files only).

With --genome <run id> (the workflow's way) the run's named settings and seed come from its id, and
the id's context key must match the other settings, the data and the stop context (identity.py).

Outputs in --out: settings.json (first), metrics.tsv, schedule.tsv, model.pt, result.json (last).
"""

from __future__ import annotations

import time

IMPORTS_START = time.time()  # result.json's timing counts the imports from the process's real start
import functools
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

import formats
import identity
import runlock
import settings
from data import read_meta
from engine import (
    METRIC_COLUMNS,
    TEST_COLUMNS,
    Normalizer,
    atomic_torch_save,
    augment_args,
    device_type,
    epoch_batches,
    evaluate,
    format_row,
    load_checkpoint,
    load_split,
    load_test,
    make_optimizer,
    make_step,
    model_on_device,
    one_cycle,
    provenance,
    remove_stale_temps,
    resolve_device,
    rng_state,
    save_model,
    seed_everything,
    set_compile_cache,
    set_determinism,
    set_rng_state,
    set_threads,
    step_schedule,
)
from layout import RUN_FILES, run_of
from util import (
    ArgumentParser,
    DataError,
    RunError,
    atomic_write_text,
    exit_now,
    naming,
    process_start_time,
    run_cli,
)

IMPORTS_DONE = time.time()
# Tests of interruptions set this to widen each step (seconds); it never changes the numbers.
STEP_DELAY = float(os.environ.get("RESNET_GA_TEST_STEP_DELAY", "0"))
TTY = sys.stderr.isatty()
# Divergence is checked on the device every this many steps: one host sync per check, not per step.
DIVERGENCE_CHECK_STEPS = 25


def log(msg: str) -> None:
    print(msg, flush=True)


@dataclass
class Job:
    """What one training run works with, built once by `train` and read by its parts."""

    args: object
    out: Path
    device: torch.device
    split: tuple  # (Xtr, Ytr, Xva, Yva) on the device, uint8 images
    test: tuple | None  # (Xte, Yte) with --track-test
    meta: dict
    steps_per_epoch: int
    total_steps: int
    columns: list
    fingerprint: dict
    clock: dict  # phase -> time.time() when it ended
    tensorboard: object = None  # tensorboard_log.RunLog with --tensorboard


# ----------------------------------------------------------------------------- identity
def stop_context(args) -> dict | None:
    """Early stopping's part of the run's identity: the decision epoch, the margin, the bar's runs."""
    if not (args.stop_epoch and args.stop_against):
        return None
    return {"epoch": args.stop_epoch, "margin": args.stop_margin, "against": [run_of(p) for p in args.stop_against]}


def run_fingerprint(args, meta: dict) -> dict:
    """Everything that can change the run's numbers: the identity settings, the data, the stop context."""
    fp = settings.fingerprint(vars(args))
    fp["data"] = meta["data_id"]
    stop = stop_context(args)
    if stop:
        fp["stop"] = identity.context({}, stop=stop)["stop"]
    return fp


def check_identity(args, meta: dict) -> None:
    """With --genome, the run id's context key must be what the settings, the data and the stop
    context give: the rule that started the job and the folder agree on what the run is."""
    if not args.genome:
        return
    ctx = identity.context(vars(args), named=args.named, data_id=meta["data_id"], stop=stop_context(args))
    expected = identity.context_key(ctx)
    if expected != args.context_key:
        found = args.context_key or "none"
        raise DataError(
            f"{args.out}: run id {args.genome} has context key {found}, but its settings, data and stop context "
            f"give {expected or 'none'} ({', '.join(sorted(ctx)) or 'all at their defaults'})"
        )


def finished_result(out: Path, fingerprint: dict) -> dict | None:
    """result.json of a run that is complete under these settings (another process trained it, or
    Snakemake reran the job for a reason that cannot change its numbers), else None."""
    path = out / RUN_FILES["result"]
    if not path.exists():
        return None
    result = formats.read_record("result", path, run=out.name)
    if not all((out / RUN_FILES[r]).exists() for r in ("model", "metrics", "schedule")):
        path.unlink()  # incomplete (a file was deleted): trained again below
        return None
    changed = settings.differences(result["settings"], fingerprint)
    if changed:
        raise RunError(
            f"{path}: this run was trained with other {', '.join(changed)} than asked for now; "
            "move the folder away to train it again"
        )
    return result


# ----------------------------------------------------------------------------- the parts of a run
def setup(args) -> torch.device:
    """Determinism, device, threads and compile cache, then the global seeds (before the model)."""
    set_determinism(args.deterministic, device_type(args.device), compiling=bool(args.compile))
    device = resolve_device(args.device, args.jobs_per_gpu)
    set_threads(args.threads)
    set_compile_cache(args.cache_dir)
    # cuDNN autotuning (cudnn.benchmark) stays off: on an H100 it made the first ResNet-50 step take
    # 13.8 s instead of 0.5 s and gained no throughput (benchmarks/h100-2026-11-26/).
    seed_everything(args.seed)
    return device


def load_job(args, out: Path, device, fingerprint: dict, clock: dict) -> Job:
    """The seeded split on the device and the run's length in steps (the paper counts iterations)."""
    Xtr, Ytr, Xva, Yva, meta = load_split(args, device)
    if len(Ytr) < args.batch_size:
        raise DataError(f"{args.data}: batch_size {args.batch_size} is larger than the training split ({len(Ytr)})")
    steps_per_epoch = len(Ytr) // args.batch_size  # the ragged last batch is dropped: fixed shapes
    if args.iterations:  # the last epoch may stop part-way
        args.epochs = -(-args.iterations // steps_per_epoch)
    return Job(
        args=args,
        out=out,
        device=device,
        split=(Xtr, Ytr, Xva, Yva),
        test=load_test(args, device) if args.track_test else None,
        meta=meta,
        steps_per_epoch=steps_per_epoch,
        total_steps=args.iterations or steps_per_epoch * args.epochs,
        columns=METRIC_COLUMNS + (TEST_COLUMNS if args.track_test else []),
        fingerprint=fingerprint,
        clock=clock,
    )


def schedule_of(args, total_steps: int):
    """step -> (lr, momentum): the GA's one-cycle schedule or the paper's step schedule."""
    if args.schedule == "step":
        return functools.partial(
            step_schedule, lr=args.lr, mom=args.mom, milestones=args.milestones, warmup_iters=args.warmup_iters
        )
    return functools.partial(
        one_cycle,
        total=total_steps,
        lr=args.lr,
        mom=args.mom,
        max_momentum=args.max_momentum,
        pct_start=args.pct_start,
        div_factor=args.div_factor,
        final_div=args.final_div,
    )


def resume(job: Job, model, opt) -> tuple[list, int | None]:
    """(metric rows so far, epoch resumed from or None); rewrites metrics.tsv to exactly the
    checkpoint's rows, so no cut or doubled line of an interrupted writer survives."""
    ckpt = load_checkpoint(job.out / RUN_FILES["checkpoint"], job.fingerprint, log)
    rows, start = [], None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"])
        rows, start = ckpt["rows"], ckpt["epoch"]
        log(f"resuming from checkpoint {job.out / RUN_FILES['checkpoint']} at epoch {start}/{job.args.epochs}")
    header = "\t".join(job.columns) + "\n"
    atomic_write_text(job.out / RUN_FILES["metrics"], header + "".join(format_row(r, job.columns) for r in rows))
    return rows, start


def write_schedule(job: Job, sched) -> None:
    rows = [(s, s / job.steps_per_epoch, *sched(s)) for s in range(job.total_steps)]
    formats.write_rows(
        "schedule", ["step", "epoch", "lr", "momentum"], rows, job.out / RUN_FILES["schedule"],
        lambda r: f"{r[0]}\t{r[1]:.6g}\t{r[2]!r}\t{r[3]!r}\n",
    )  # fmt: skip


def train_epoch(job: Job, epoch: int, train_step, sched):
    """One epoch of steps; (loss sum, hits, steps, last step, last lr, last momentum, diverged)."""
    Xtr, Ytr = job.split[:2]
    loss_sum = torch.zeros((), device=job.device)
    correct = torch.zeros((), dtype=torch.long, device=job.device)
    n_steps = min(job.steps_per_epoch, job.total_steps - epoch * job.steps_per_epoch)
    batches = epoch_batches(
        len(Ytr), job.args.batch_size, job.args.seed, epoch, job.device, n_steps, augment_args(job.args)
    )
    # a bar over the epoch's steps in a terminal; job logs keep one line per epoch
    bar = tqdm(batches, total=n_steps, desc=f"epoch {epoch + 1}/{job.args.epochs}", leave=False, disable=not TTY)
    with bar:
        for i, (idx, draws) in enumerate(bar):
            step = epoch * job.steps_per_epoch + i
            lr, mom = sched(step)
            loss, hits = train_step(Xtr[idx], Ytr[idx], draws, lr, mom)
            loss_sum += loss  # once a loss is NaN/inf, so is the sum: one check covers many steps
            correct += hits
            if (i + 1) % DIVERGENCE_CHECK_STEPS == 0 and not torch.isfinite(loss_sum):
                return loss_sum, correct, n_steps, step, lr, mom, True  # nothing useful follows
            if STEP_DELAY:
                time.sleep(STEP_DELAY)
    return loss_sum, correct, n_steps, step, lr, mom, False


def epoch_row(job: Job, model, norm, epoch: int, train_step, sched) -> dict | None:
    """Train one epoch and evaluate it: the metrics row, or None if the loss went non-finite."""
    t0 = time.time()
    loss_sum, correct, n_steps, step, lr, mom, diverged = train_epoch(job, epoch, train_step, sched)
    if not diverged:
        train_seconds = time.time() - t0
        train_loss = (loss_sum / n_steps).item()
        eval_batch = job.args.eval_batch_size or 2 * job.args.batch_size
        ev = evaluate(model, *job.split[2:], norm, eval_batch, job.device.type == "cuda")
        diverged = not (math.isfinite(ev["loss"]) and math.isfinite(train_loss))
    if diverged:
        log(f"epoch {epoch + 1}/{job.args.epochs}: non-finite loss at step {step}; run diverged, stopping")
        return None
    images = n_steps * job.args.batch_size
    row = {"epoch": epoch + 1, "lr": lr, "momentum": mom, "train_loss": train_loss, "val_loss": ev["loss"]}
    row.update({k: ev[k] for k in ("top1", "top3", "top5")})
    row.update(seconds=time.time() - t0, images_per_s=images / train_seconds, train_top1=correct.item() / images)
    if job.test is not None:
        te = evaluate(model, *job.test, norm, eval_batch, job.device.type == "cuda")
        row.update(test_loss=te["loss"], test_top1=te["top1"])
    return row


def append_row(path: Path, line: str) -> None:
    """Appended, not rewritten: a reader beside the run (status.py) sees whole rows or a cut last one,
    which a resume rewrites. A full disk names the file (its flush error carries no name)."""
    try:
        with open(path, "a") as f:
            f.write(line)
            f.flush()
    except OSError as e:
        raise naming(path, e) from None


def save_epoch(job: Job, model, opt, rows: list) -> None:
    """The checkpoint first, then the row: a kill in between is healed by the rewrite on resume."""
    formats.check_rows("metrics", rows, job.out / RUN_FILES["metrics"], columns=job.columns)
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": rows[-1]["epoch"], "rows": rows}
    state.update(rng=rng_state(), fingerprint=job.fingerprint)
    atomic_torch_save(state, job.out / RUN_FILES["checkpoint"])
    append_row(job.out / RUN_FILES["metrics"], format_row(rows[-1], job.columns))
    if job.tensorboard:
        job.tensorboard.epoch(rows[-1])
    r = rows[-1]
    log(
        f"epoch {r['epoch']}/{job.args.epochs} lr {r['lr']:.3g} mom {r['momentum']:.3f} "
        f"train_loss {r['train_loss']:.4f} val_loss {r['val_loss']:.4f} top1 {100 * r['top1']:.2f}% "
        f"top3 {100 * r['top3']:.2f}% top5 {100 * r['top5']:.2f}% {r['seconds']:.1f}s {r['images_per_s']:.0f} img/s"
    )


def check_complete(rows, path: Path) -> None:
    """An elite's metrics.tsv is its result.json's (the workflow's elites have one; a file given by
    hand may not): a cut file would silently drop the elite's bar, another run's would move it."""
    result = path.parent / RUN_FILES["result"]
    if result.exists():
        formats.check_metrics_of(formats.read_record("result", result, run=path.parent.name), rows, path)


def stop_threshold(args) -> float | None:
    """The worst elite's validation top-1 at --stop-epoch, minus --stop-margin; None: never stop."""
    if not (args.stop_epoch and args.stop_against):
        return None
    scores = []
    for path in args.stop_against:
        rows = formats.read_table("metrics", path, min_rows=0)  # an invalid elite, or one diverged in epoch 1: none
        check_complete(rows, Path(path))
        at = rows[rows["epoch"] == args.stop_epoch]
        if at.empty:  # an elite that stopped or diverged before that epoch does not set the bar
            continue
        scores.append(float(at["top1"].iloc[0]))
    return min(scores) - args.stop_margin if scores else None


def stops_here(rows: list, args, threshold) -> bool:
    """Early stopping: after --stop-epoch, below the elites' bar (from files only: deterministic)."""
    return threshold is not None and len(rows) == args.stop_epoch < args.epochs and rows[-1]["top1"] < threshold


def timing(job: Job, start: float) -> dict:
    """Where the process's time went: imports, setup (data, model, resume), epochs, teardown."""
    c = job.clock
    return {
        "imports": c["imports"] - start,
        "setup": c["setup"] - c["imports"],
        "epochs_and_checkpoints": c["epochs"] - c["setup"],
        "teardown": time.time() - c["epochs"],
    }


def finish(job: Job, model, status: str, rows: list, resumed_from) -> dict:
    """model.pt, then result.json (last: its presence means the run is complete); the checkpoint goes."""
    a, last, ok = job.args, rows[-1] if rows else {}, status in ("ok", "stopped")
    job.clock["epochs"] = time.time()
    result = {"run": job.out.name, "status": status, "fitness": last["top1"] if ok else 0.0}
    result.update({k: (last[k] if ok else float("nan")) for k in ("top1", "top3", "top5", "val_loss", "train_loss")})
    result.update(named={k: getattr(a, k) for k in a.named}, seed=a.seed, dataset=job.meta["dataset"])
    result.update(epochs=a.epochs, epochs_completed=len(rows), n_train=len(job.split[1]), n_val=len(job.split[3]))
    result.update(device=str(job.device), resumed_from_epoch=resumed_from, settings=job.fingerprint)
    result["provenance"] = provenance(job.device, a.deterministic, job.fingerprint)
    result["model_sha256"] = save_model(model, job.out.name, job.out / RUN_FILES["model"])
    if job.tensorboard:  # before result.json: a run complete on disk has its hparams written
        job.tensorboard.finish({**result["named"], "seed": a.seed}, result["fitness"], status)
        job.tensorboard.close()
    start = process_start_time()
    result.update(timing=timing(job, start), seconds=time.time() - job.clock["imports"])
    result["process_seconds"] = time.time() - start
    formats.write_record("result", result, job.out / RUN_FILES["result"])
    (job.out / RUN_FILES["checkpoint"]).unlink(missing_ok=True)  # model.pt and result.json stay
    log(f"done: status {status}, fitness {result['fitness']:.4f}, {result['seconds']:.1f}s")
    return result


def epochs_loop(job: Job, model, opt, norm, train_step, sched, rows: list, threshold) -> str:
    """Epoch after epoch until the last, divergence or early stopping (below `threshold`); the run's status."""
    args, status = job.args, "ok"
    beta1 = max(args.mom, args.max_momentum if args.schedule == "onecycle" else 0)  # the momentum curve's top
    if args.optimizer == "adamw" and beta1 >= 1:  # inside the report's bounds, but no Adam beta1
        log(f"momentum {beta1:g} >= 1 is not a valid AdamW beta1: not trained, fitness 0 (status invalid)")
        return "invalid"
    model.train()
    while len(rows) < args.epochs:
        if stops_here(rows, args, threshold):  # checked before an epoch: a resumed run decides alike
            log(f"stopped after epoch {len(rows)}: val top-1 {rows[-1]['top1']:.4f} < {threshold:.4f} (elites' bar)")
            return "stopped"
        row = epoch_row(job, model, norm, len(rows), train_step, sched)
        if row is None:
            return "diverged"
        rows.append(row)
        save_epoch(job, model, opt, rows)
    return status


def train(args, out: Path, fingerprint: dict, threshold) -> dict:
    remove_stale_temps(out)
    clock = {"imports": IMPORTS_DONE}
    formats.write_record("run_settings", {"run": out.name, "settings": fingerprint}, out / RUN_FILES["settings"])
    device = setup(args)
    job = load_job(args, out, device, fingerprint, clock)
    norm = Normalizer(job.meta["mean"], job.meta["std"], device)
    model = model_on_device(vars(args), job.meta["num_classes"], device)
    opt = make_optimizer(model, args.optimizer, args.lr, args.wd, min(args.max_momentum, 0.999), device.type)
    aug = augment_args(args)
    train_step = make_step(model, opt, norm, device.type == "cuda", args.compile, aug, args.label_smoothing)
    sched = schedule_of(args, job.total_steps)
    rows, resumed_from = resume(job, model, opt)
    if args.tensorboard:
        from tensorboard_log import RunLog  # imported only when asked for

        job.tensorboard = RunLog(args.tensorboard, rows)
    write_schedule(job, sched)
    clock["setup"] = time.time()
    log(
        f"run {out.name}: {args.arch} on {job.meta['dataset']} ({len(job.split[1])} train / {len(job.split[3])} val), "
        f"{args.epochs} epochs x {job.steps_per_epoch} steps of {args.batch_size}, device {device}, "
        f"lr {args.lr:g} wd {args.wd:g} mom {args.mom:g} seed {args.seed}; "
        f"ready in {clock['setup'] - IMPORTS_DONE:.1f}s"
    )
    status = epochs_loop(job, model, opt, norm, train_step, sched, rows, threshold)
    return finish(job, model, status, rows, resumed_from)


def run(args) -> dict:
    """One run, under its lock: skipped if it is already complete under these settings."""
    out = Path(args.out)
    if args.genome and out.name != args.genome:  # checked before the folder is made or locked
        raise DataError(f"{out}: not the folder of run {args.genome} (a run's folder is named by its run id)")
    meta = read_meta(args.data)
    check_identity(args, meta)
    fingerprint = run_fingerprint(args, meta)
    threshold = stop_threshold(args)  # every input checked before the folder is made or changed
    with runlock.hold(out, "train", log=log):
        done = finished_result(out, fingerprint)
        if done is not None:
            score = f"status {done['status']}, fitness {done['fitness']:.4f}"
            log(f"run {out.name} is complete ({score}): kept, not trained again")
            return done
        return train(args, out, fingerprint, threshold)


# ----------------------------------------------------------------------------- command line
def build_parser() -> ArgumentParser:
    ap = ArgumentParser(description="Train one ResNet on prepared data (see module doc).")
    ap.add_argument("--data", required=True, help="prepared data folder (scripts/data.py prepare)")
    ap.add_argument("--out", required=True, help="run folder: metrics, checkpoint, weights, result")
    ap.add_argument("--genome", help="a run id (identity.py): sets its named settings and seed")
    ap.add_argument("--genes", help="with a run id naming its genome by key: the genome spelled (name=value_...)")
    settings.add_arguments(ap)
    ap.add_argument("--stop-against", nargs="*", default=[], help="early stopping: the elites' metrics.tsv")
    return ap


def check_ranges(ap, args, table=settings.SETTINGS) -> None:
    """A one-line argument error naming the flag (exit 2) for a value out of its range."""
    for s in table:
        error = settings.range_error(s, getattr(args, s.name))
        if error:
            ap.error(error)


def apply_genome(ap, args) -> None:
    """--genome: the run id's named settings and seed override the flags."""
    args.named, args.context_key = [], None
    if not args.genome:
        return
    try:
        _, seed, args.context_key = identity.parse_run_id(args.genome)
        named = identity.named_settings(args.genome, args.genes)
    except ValueError as e:
        ap.error(str(e))
    for k, v in named.items():
        error = settings.value_error(settings.BY_NAME[k], v)
        if error:  # argparse checks the flags' choices; a run id's values reach args past it
            ap.error(f"--genome {args.genome}: {k}: {error}")
        setattr(args, k, v)
    args.seed, args.named = seed, list(named)


def parse_args(argv=None, ap=None):
    ap = ap or build_parser()
    args = ap.parse_args(argv)
    apply_genome(ap, args)
    check_ranges(ap, args)
    late = [m for m in args.milestones if m < 1 or (args.iterations and m >= args.iterations)]
    if late:
        ap.error(f"--milestones {late}: each must be >= 1 and below --iterations ({args.iterations})")
    return args


def main(argv=None) -> int:
    return run_cli(run, parse_args(argv))


if __name__ == "__main__":
    exit_now(main())
