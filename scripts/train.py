"""Train one ResNet on prepared CIFAR data: one GA individual, the baseline, or a final seed.

    python scripts/train.py --data results/data/cifar10 --out results/runs/demo \
        --arch resnet20 --lr 0.01 --wd 5e-4 --mom 0.85 --epochs 2

What it does, in the order of the loop below (airbench-style: one loop, every trick named):
- the training split lives on the device as uint8 (no DataLoader, no per-image Python);
- each epoch's shuffle, crops and flips come from a CPU generator seeded by (seed, epoch), so a
  resumed run draws exactly what an uninterrupted one would;
- per-step one-cycle schedule (Smith 2018): lr warms up to the genome's peak `lr` and anneals,
  momentum moves inversely from `max_momentum` to the genome's `mom` at the peak and back;
- SGD with momentum and L2 weight decay, or AdamW (decoupled weight decay) whose beta1 follows the
  same momentum curve (fastai's fit_one_cycle); a genome momentum >= 1 is no beta1: status invalid;
- channels_last everywhere; on CUDA bf16 autocast, fused optimizers, optional torch.compile; fp32 on CPU;
- a non-finite loss stops the run at once (status `diverged`, fitness 0);
- after every epoch: one flushed row in metrics.tsv, one progress line, and an atomic checkpoint
  (model, optimizer, completed epochs, metric rows, RNG states). Restarting the same command
  resumes after the last complete epoch.

Outputs in --out: metrics.tsv, schedule.tsv, model.pt, result.json (written last).
"""

from __future__ import annotations

import time

PROCESS_START = time.time()  # before the imports: result.json's process_seconds counts them
import io
import json
import math
import os
import platform
import random
import signal
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import DataError, augment_batch, augment_params, epoch_generator  # noqa: E402
from data import load_prepared, split_indices  # noqa: E402
from ga import MAX_SEED, parse_run_id  # noqa: E402
from gpu_slots import choose_cuda_device, lock_dir  # noqa: E402
from models import ARCHS, build_model  # noqa: E402
from util import ArgumentParser, atomic_write_bytes, atomic_write_text, git_commit, package_version, run_cli  # noqa: E402
from util import settings_hash  # noqa: E402

METRIC_COLUMNS = [
    "epoch", "lr", "momentum", "train_loss", "val_loss", "top1", "top3", "top5", "seconds", "images_per_s",
    "train_top1",
]  # fmt: skip
TEST_COLUMNS = ["test_loss", "test_top1"]  # with --track-test (the degradation experiment's test error)
# Tests of interruptions set this to widen each step (seconds); it never changes the numbers.
STEP_DELAY = float(os.environ.get("RESNET_GA_TEST_STEP_DELAY", "0"))
OUTPUT_FILES = ("checkpoint.pt", "metrics.tsv", "schedule.tsv", "model.pt", "result.json")
CHECKPOINT_KEYS = {"model", "optimizer", "epoch", "rows", "rng", "fingerprint"}
# Settings that change the numbers a run produces: a checkpoint made under others is not resumed.
FINGERPRINT_KEYS = [
    "arch", "shortcut", "lr", "wd", "mom", "seed", "epochs", "batch_size", "max_momentum", "pct_start",
    "div_factor", "final_div", "val_size", "split_seed", "max_train", "max_val", "compile",
    "schedule", "milestones", "iterations", "warmup_iters", "track_test", "deterministic", "threads",
    "optimizer",
]  # fmt: skip
ADAMW_BETA2, ADAMW_EPS = 0.99, 1e-5  # fastai's Adam defaults (the report's fit_one_cycle)
# Divergence is checked on the device every this many steps: one host sync per check, not per step.
DIVERGENCE_CHECK_STEPS = 25


# ----------------------------------------------------------------------------- schedule
def _cos(a: float, b: float, t: float) -> float:
    """Cosine interpolation from a (t=0) to b (t=1)."""
    return b + (a - b) * (1 + math.cos(math.pi * t)) / 2


def one_cycle(step: int, total: int, lr: float, mom: float, max_momentum: float = 0.95,
              pct_start: float = 0.25, div_factor: float = 25.0, final_div: float = 1e4):  # fmt: skip
    """(lr, momentum) at `step` of `total`: lr peaks at step round(total * pct_start)."""
    peak = peak_step(total, pct_start)
    if step <= peak:
        t = step / peak if peak else 1.0
        return _cos(lr / div_factor, lr, t), _cos(max_momentum, mom, t)
    t = (step - peak) / max(1, total - 1 - peak)
    return _cos(lr, lr / (div_factor * final_div), t), _cos(mom, max_momentum, t)


def peak_step(total: int, pct_start: float) -> int:
    return min(total - 1, max(0, round(total * pct_start)))


def step_schedule(step: int, lr: float, mom: float, milestones=(), warmup_iters: int = 0):
    """The paper's CIFAR schedule: lr divided by 10 at each milestone (in iterations), constant
    momentum; for ResNet-110, lr/10 for the first `warmup_iters` iterations."""
    if step < warmup_iters:
        return lr / 10, mom
    return lr * 0.1 ** sum(step >= m for m in milestones), mom


# ----------------------------------------------------------------------------- helpers
def set_determinism(on: bool) -> None:
    """Deterministic kernels on CUDA (cuDNN, cuBLAS with a fixed workspace, scatter/index ops): two
    runs of a genome give the same numbers. Call before any CUDA work. An op without a deterministic
    kernel then raises, and cli() turns that into one line (no silent fallback)."""
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts
    torch.use_deterministic_algorithms(on)
    torch.backends.cudnn.deterministic = on


def set_threads(n: int) -> None:
    """CPU float reductions depend on the thread count: it comes from the config, not from the
    scheduler's --cores, so the numbers do not change with the machine's size."""
    if n:
        torch.set_num_threads(n)


def set_compile_cache(folder: str) -> None:
    """Inductor's FX-graph and AOTAutograd caches and Triton's kernels in one folder that every job of
    a workflow shares (on a cluster: on the shared file system), so compilation is paid once."""
    if folder:
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path(folder) / "inductor"))
        os.environ.setdefault("TRITON_CACHE_DIR", str(Path(folder) / "triton"))


def provenance(device, deterministic: bool, settings: dict) -> dict:
    """What produced a number: library versions, device, determinism, threads, commit, settings."""
    cuda = device.type == "cuda"
    return {
        "torch": torch.__version__, "torchvision": package_version("torchvision"),
        "cuda": torch.version.cuda or "none", "cudnn": str(torch.backends.cudnn.version() or "none"),
        "device": torch.cuda.get_device_name(device) if cuda else f"cpu ({platform.machine()})",
        "deterministic": bool(deterministic), "threads": torch.get_num_threads(),
        "commit": git_commit(), "settings_hash": settings_hash(settings),
    }  # fmt: skip


def resolve_device(name: str, jobs_per_gpu: int = 1) -> torch.device:
    """cpu, or one CUDA device: the one SLURM gave us, or a free one of several (gpu_slots)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise SystemExit("error: --device cuda requested but no CUDA device is available")
    try:
        slot = choose_cuda_device(torch.cuda.device_count(), jobs_per_gpu)
    except (PermissionError, TimeoutError) as e:
        raise SystemExit(f"error: {e}") from None
    if slot is not None:
        torch.cuda.set_device(slot)
        print(f"using GPU {slot} of {torch.cuda.device_count()} (lock in {lock_dir()})", flush=True)
    return torch.device("cuda", torch.cuda.current_device())


def param_groups(model, wd: float):
    """Weight decay on conv/linear weights only; BatchNorm and biases are not decayed (as fastai,
    which the report used, does by default)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def atomic_torch_save(obj, path: Path) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def format_row(row: dict, columns=METRIC_COLUMNS) -> str:
    out = []
    for c in columns:
        v = row[c]
        out.append(str(v) if isinstance(v, int) else f"{v:.6g}" if c in ("seconds", "images_per_s") else repr(float(v)))
    return "\t".join(out) + "\n"


class Normalizer:
    """uint8 NCHW -> normalized float in channels_last, as one fused multiply-add."""

    def __init__(self, mean, std, device):
        self.scale = (1.0 / (255.0 * torch.tensor(std))).view(1, 3, 1, 1).to(device)
        self.shift = (-torch.tensor(mean) / torch.tensor(std)).view(1, 3, 1, 1).to(device)

    def __call__(self, x):
        return torch.addcmul(self.shift, x.float(), self.scale).contiguous(memory_format=torch.channels_last)


def model_on_device(arch: str, num_classes: int, shortcut: str, device):
    """channels_last (NHWC) everywhere: faster convolutions on CUDA and on the CPU (oneDNN)."""
    return build_model(arch, num_classes, shortcut).to(device, memory_format=torch.channels_last)


def make_optimizer(model, name: str, lr: float, wd: float, momentum: float, device_type: str):
    """SGD (momentum, L2 weight decay) or AdamW (decoupled weight decay, beta1 = momentum); fused
    kernels on CUDA, foreach on the CPU. BatchNorm and biases are not decayed (param_groups)."""
    impl = {"fused": True} if device_type == "cuda" else {"foreach": True}
    if name == "adamw":
        return torch.optim.AdamW(param_groups(model, wd), lr=lr, betas=(momentum, ADAMW_BETA2), eps=ADAMW_EPS, **impl)
    return torch.optim.SGD(param_groups(model, wd), lr=lr, momentum=momentum, **impl)


def set_hparams(opt, lr: float, mom: float) -> None:
    """This step's lr and momentum (SGD's momentum, or AdamW's beta1)."""
    for g in opt.param_groups:
        g["lr"] = lr
        if "betas" in g:
            g["betas"] = (mom, g["betas"][1])
        else:
            g["momentum"] = mom


def make_step(model, opt, norm, amp: bool, compile: bool | str = False):
    """The training step on a uint8 batch: augment on the device, normalize, forward (bf16 autocast
    on CUDA), backward, SGD step with this step's lr and momentum. Returns the loss and the number
    of correct top-1 predictions, as device tensors (no sync). `compile`: True or a torch.compile mode."""
    forward = torch.compile(model, mode=compile if isinstance(compile, str) else None) if compile else model
    device_type = next(model.parameters()).device.type

    def step(x_u8, y, offsets, flips, lr: float, mom: float):
        set_hparams(opt, lr, mom)
        xb = norm(augment_batch(x_u8, offsets, flips))
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp):
            logits = forward(xb)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach(), (logits.argmax(1) == y).sum()

    return step


@torch.no_grad()
def evaluate(model, X, Y, norm, batch_size: int, amp: bool, want_preds: bool = False):
    """Mean loss and top-1/3/5 accuracy (fractions) over (X, Y); optionally the top-5 labels."""
    model.eval()
    n = len(Y)
    loss_sum = torch.zeros((), dtype=torch.float64, device=X.device)
    correct = torch.zeros(3, dtype=torch.float64, device=X.device)
    preds = []
    k = min(5, model.fc.out_features)
    for i in range(0, n, batch_size):
        xb, yb = norm(X[i : i + batch_size]), Y[i : i + batch_size]
        with torch.autocast(X.device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(xb)
        logits = logits.float()
        loss_sum += F.cross_entropy(logits, yb, reduction="sum").double()
        top = logits.topk(k, dim=1).indices
        hit = top == yb[:, None]
        for j, kk in enumerate((1, 3, 5)):
            correct[j] += hit[:, :kk].any(dim=1).sum()
        if want_preds:
            preds.append(top.cpu())
    model.train()
    loss, c = (loss_sum / n).item(), (correct / n).tolist()
    out = {"loss": loss, "top1": c[0], "top3": c[1], "top5": c[2]}
    if want_preds:
        out["preds"] = torch.cat(preds).numpy()
    return out


# ----------------------------------------------------------------------------- the run
def to_device(a, device):
    return torch.from_numpy(np.require(a, requirements=["C", "W"])).to(device)  # copies read-only mmaps


def load_test(args, device):
    """The test set on the device (only with --track-test: never used for fitness)."""
    data = load_prepared(args.data)
    return to_device(data["test_x"], device), to_device(data["test_y"], device)


def load_split(args, device):
    """The seeded train/validation split, capped, copied to the device once as uint8."""
    data = load_prepared(args.data)
    tr_idx, va_idx = split_indices(len(data["train_y"]), args.val_size, args.split_seed)
    if args.max_train:
        tr_idx = tr_idx[: args.max_train]
    if args.max_val:
        va_idx = va_idx[: args.max_val]
    Xtr, Ytr = to_device(data["train_x"][tr_idx], device), to_device(data["train_y"][tr_idx], device)
    Xva, Yva = to_device(data["train_x"][va_idx], device), to_device(data["train_y"][va_idx], device)
    return Xtr, Ytr, Xva, Yva, data["meta"]


def settings_from_args(args) -> dict:
    s = {k: getattr(args, k) for k in FINGERPRINT_KEYS}
    return s


class RunError(Exception):
    """A run that cannot go on now (e.g. its checkpoint is unreadable); the message names the file."""


class Terminated(BaseException):
    """SIGTERM (a SLURM time limit, preemption, or Snakemake stopping): leave cleanly."""


def _terminate(signum, frame):
    raise Terminated()


def remove_stale_temps(out: Path) -> None:
    """Temp files of atomic writes that a kill cut short (.<name>.<random>.tmp): never results."""
    for name in OUTPUT_FILES:
        for tmp in out.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)


def set_aside(path: Path) -> Path:
    """Move a checkpoint that cannot be resumed to checkpoint.pt.bad-N: kept for the user, never deleted."""
    n = 1
    while path.with_name(f"{path.name}.bad-{n}").exists():
        n += 1
    bad = path.with_name(f"{path.name}.bad-{n}")
    os.replace(path, bad)
    return bad


def rng_state() -> dict:
    """Every global RNG state as tensors and plain values: loadable with weights_only=True."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos,
            has_gauss, gauss], "python": random.getstate()}  # fmt: skip


def set_rng_state(rng: dict) -> None:
    torch.set_rng_state(rng["torch"])
    kind, keys, pos, has_gauss, gauss = rng["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(rng["python"])


def load_checkpoint(path: Path, fingerprint: dict, log):
    """The checkpoint's contents, or None if there is none to resume. An OSError (NFS ESTALE, EIO)
    leaves it in place and fails the job, so that a retry resumes; a corrupt checkpoint, or one made
    under other settings, is moved aside. Loaded with weights_only=True: a checkpoint runs no code."""
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as e:
        raise RunError(f"{path}: cannot read the checkpoint now ({e}); left in place, rerun to resume") from None
    except Exception as e:  # a truncated zip, a payload that is not plain tensors, garbage
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        log(f"checkpoint {path} is unusable ({reason}); moved to {set_aside(path).name}, starting from scratch")
        return None
    if not isinstance(ckpt, dict) or not CHECKPOINT_KEYS <= set(ckpt):
        log(f"checkpoint {path} is not a complete training checkpoint; moved to {set_aside(path).name}")
        return None
    if ckpt["fingerprint"] != fingerprint:
        log(f"checkpoint {path} was written with other settings; moved to {set_aside(path).name}")
        return None
    return ckpt


def run(args) -> dict:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    t_start = time.time()
    set_determinism(args.deterministic)
    device = resolve_device(args.device, args.jobs_per_gpu)
    cuda = device.type == "cuda"
    set_threads(args.threads)
    set_compile_cache(args.cache_dir)
    # cuDNN autotuning (cudnn.benchmark) stays off: on an H100 it made the first ResNet-50 step take
    # 13.8 s instead of 0.5 s and gained no throughput (benchmarks/h100-2026-11-26/).
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    Xtr, Ytr, Xva, Yva, meta = load_split(args, device)
    n_train = len(Ytr)
    if n_train < args.batch_size:
        raise SystemExit(f"error: batch_size {args.batch_size} is larger than the training split ({n_train} images)")
    steps_per_epoch = n_train // args.batch_size  # drop the ragged last batch: fixed shapes
    if args.iterations:  # the paper counts iterations; the last epoch may stop part-way
        args.epochs = -(-args.iterations // steps_per_epoch)
    total_steps = args.iterations or steps_per_epoch * args.epochs
    columns = METRIC_COLUMNS + (TEST_COLUMNS if args.track_test else [])
    if args.track_test:
        Xte, Yte = load_test(args, device)
    norm = Normalizer(meta["mean"], meta["std"], device)

    # --- model and optimizer
    model = model_on_device(args.arch, meta["num_classes"], args.shortcut, device)
    opt = make_optimizer(model, args.optimizer, args.lr, args.wd, min(args.max_momentum, 0.999), device.type)
    train_step = make_step(model, opt, norm, amp=cuda, compile=args.compile)
    if args.schedule == "step":
        sched = lambda s: step_schedule(s, args.lr, args.mom, args.milestones, args.warmup_iters)  # noqa: E731
    else:
        sched = lambda s: one_cycle(s, total_steps, args.lr, args.mom, args.max_momentum, args.pct_start,
                                    args.div_factor, args.final_div)  # fmt: skip # noqa: E731

    # --- resume
    fingerprint = settings_from_args(args)
    ckpt_path, metrics_path = out / "checkpoint.pt", out / "metrics.tsv"
    ckpt = load_checkpoint(ckpt_path, fingerprint, log)
    rows, start_epoch = [], 0
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"])
        rows, start_epoch = ckpt["rows"], ckpt["epoch"]
        log(f"resuming from checkpoint {ckpt_path} at epoch {start_epoch}/{args.epochs}")
    header = "\t".join(columns) + "\n"
    atomic_write_text(metrics_path, header + "".join(format_row(r, columns) for r in rows))
    sched_rows = [f"{s}\t{s / steps_per_epoch:.6g}\t{lr!r}\t{m!r}\n" for s in range(total_steps) for lr, m in [sched(s)]]
    atomic_write_text(out / "schedule.tsv", "step\tepoch\tlr\tmomentum\n" + "".join(sched_rows))
    log(
        f"run {out.name}: {args.arch} on {meta['dataset']} ({n_train} train / {len(Yva)} val), "
        f"{args.epochs} epochs x {steps_per_epoch} steps of {args.batch_size}, device {device}, "
        f"lr {args.lr:g} wd {args.wd:g} mom {args.mom:g} seed {args.seed}; "
        f"ready in {time.time() - t_start:.1f}s"
    )

    status = "ok"
    if args.optimizer == "adamw" and args.mom >= 1:  # inside the report's bounds, but no Adam beta1
        status = "invalid"
        log(f"momentum {args.mom:g} >= 1 is not a valid AdamW beta1: not trained, fitness 0 (status invalid)")
    model.train()
    for epoch in range(start_epoch, args.epochs if status == "ok" else start_epoch):
        t0 = time.time()
        gen = epoch_generator(args.seed, epoch)
        perm = torch.randperm(n_train, generator=gen)
        offsets, flips = augment_params(n_train, gen)
        perm, offsets, flips = perm.to(device), offsets.to(device), flips.to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        n_steps = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)
        for i in range(n_steps):
            step = epoch * steps_per_epoch + i
            lr, mom = sched(step)
            idx = perm[i * args.batch_size : (i + 1) * args.batch_size]
            loss, hits = train_step(Xtr[idx], Ytr[idx], offsets[idx], flips[idx], lr, mom)
            loss_sum += loss  # once a loss is NaN/inf, so is the sum: one check covers many steps
            correct += hits
            if (i + 1) % DIVERGENCE_CHECK_STEPS == 0 and not torch.isfinite(loss_sum):
                status = "diverged"  # nothing useful follows a NaN/inf loss
                break
            if STEP_DELAY:
                time.sleep(STEP_DELAY)
        if status == "ok":
            train_seconds = time.time() - t0
            train_loss = (loss_sum / n_steps).item()
            ev = evaluate(model, Xva, Yva, norm, args.eval_batch_size or 2 * args.batch_size, cuda)
            if not (math.isfinite(ev["loss"]) and math.isfinite(train_loss)):
                status = "diverged"
        if status != "ok":
            log(f"epoch {epoch + 1}/{args.epochs}: non-finite loss at step {step}; run diverged, stopping")
            break
        row = {
            "epoch": epoch + 1, "lr": lr, "momentum": mom, "train_loss": train_loss, "val_loss": ev["loss"],
            "top1": ev["top1"], "top3": ev["top3"], "top5": ev["top5"], "seconds": time.time() - t0,
            "images_per_s": n_steps * args.batch_size / train_seconds,
            "train_top1": correct.item() / (n_steps * args.batch_size),
        }  # fmt: skip
        if args.track_test:
            te = evaluate(model, Xte, Yte, norm, args.eval_batch_size or 2 * args.batch_size, cuda)
            row.update(test_loss=te["loss"], test_top1=te["top1"])
        rows.append(row)
        # checkpoint first, then the row: a kill in between is healed by the rewrite on resume
        atomic_torch_save(
            {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1, "rows": rows,
             "rng": rng_state(), "fingerprint": fingerprint},  # fmt: skip
            ckpt_path,
        )
        with open(metrics_path, "a") as f:
            f.write(format_row(row, columns))
            f.flush()
        log(
            f"epoch {epoch + 1}/{args.epochs} lr {lr:.3g} mom {mom:.3f} train_loss {train_loss:.4f} "
            f"val_loss {ev['loss']:.4f} top1 {100 * ev['top1']:.2f}% top3 {100 * ev['top3']:.2f}% "
            f"top5 {100 * ev['top5']:.2f}% {row['seconds']:.1f}s {row['images_per_s']:.0f} img/s"
        )

    last = rows[-1] if rows else {}
    ok = status == "ok"
    result = {
        "run": out.name,
        "status": status,
        "fitness": last["top1"] if ok else 0.0,
        **{k: (last[k] if ok else float("nan")) for k in ("top1", "top3", "top5", "val_loss", "train_loss")},
        "lr": args.lr, "wd": args.wd, "mom": args.mom, "seed": args.seed,
        "arch": args.arch, "dataset": meta["dataset"], "epochs": args.epochs, "epochs_completed": len(rows),
        "batch_size": args.batch_size, "n_train": n_train, "n_val": int(len(Yva)), "device": str(device),
        "resumed_from_epoch": start_epoch if ckpt is not None else None,
        "seconds": time.time() - t_start, "process_seconds": time.time() - PROCESS_START,
        "settings": fingerprint, "provenance": provenance(device, args.deterministic, fingerprint),
    }  # fmt: skip
    atomic_torch_save(model.state_dict(), out / "model.pt")
    atomic_write_text(out / "result.json", json.dumps(result, indent=1) + "\n")
    if ckpt_path.exists():
        ckpt_path.unlink()  # the run is complete; model.pt and result.json are what stays
    log(f"done: status {status}, fitness {result['fitness']:.4f}, {result['seconds']:.1f}s")
    return result


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(description="Train one ResNet on prepared CIFAR data (see module doc).")
    ap.add_argument("--data", required=True, help="prepared data folder (scripts/data.py prepare)")
    ap.add_argument("--out", required=True, help="run folder: metrics, checkpoint, weights, result")
    ap.add_argument("--genome", help="a run id lr=.._wd=.._mom=.._seed=..; sets --lr --wd --mom --seed")
    ap.add_argument("--arch", default="resnet50", help=f"one of: {', '.join(ARCHS)}")
    ap.add_argument("--shortcut", choices=["A", "B"], default="A", help="CIFAR resnetN shortcut option")
    ap.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule")
    ap.add_argument("--wd", type=float, default=5e-4, help="weight decay")
    ap.add_argument("--mom", type=float, default=0.85, help="momentum (AdamW: beta1) at the lr peak")
    ap.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd", help="SGD or AdamW (beta1 = momentum)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--eval-batch-size", type=int, default=0, help="default: 2x batch size")
    ap.add_argument("--max-momentum", type=float, default=0.95, help="momentum at start and end")
    ap.add_argument("--pct-start", type=float, default=0.25, help="fraction of steps warming up")
    ap.add_argument("--div-factor", type=float, default=25.0, help="initial lr = lr / div_factor")
    ap.add_argument("--final-div", type=float, default=1e4, help="final lr = initial lr / final_div")
    ap.add_argument("--val-size", type=int, default=5000, help="validation images carved from train")
    ap.add_argument("--split-seed", type=int, default=0, help="seed of the train/validation split")
    ap.add_argument("--max-train", type=int, default=0, help="cap on training images (0: all)")
    ap.add_argument("--max-val", type=int, default=0, help="cap on validation images (0: all)")
    ap.add_argument("--schedule", choices=["onecycle", "step"], default="onecycle",
                    help="onecycle (the GA's) or step (the paper's CIFAR recipe: lr/10 at --milestones)")  # fmt: skip
    ap.add_argument("--milestones", type=int, nargs="*", default=[], help="step schedule: iterations of lr/10")
    ap.add_argument("--iterations", type=int, default=0, help="train this many steps instead of --epochs")
    ap.add_argument("--warmup-iters", type=int, default=0, help="step schedule: lr/10 for this many steps")
    ap.add_argument("--track-test", action="store_true", help="also record test loss/top-1 every epoch")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default); CPU numbers depend on it")
    ap.add_argument("--deterministic", action="store_true", help="deterministic CUDA kernels (an op without one is an error)")
    ap.add_argument("--jobs-per-gpu", type=int, default=1, help="training jobs sharing one GPU (lock slots)")
    ap.add_argument("--cache-dir", default="", help="torch.compile caches (Inductor, Triton) shared by every job")
    ap.add_argument("--compile", nargs="?", const=True, default=False, metavar="MODE",
                    help="torch.compile the model (CUDA), optionally with a mode such as reduce-overhead")  # fmt: skip
    return ap


# Ranges argparse cannot check: flag -> (low, high or None, whether the bounds are excluded).
ARG_RANGES = {
    "epochs": (1, None, False), "batch_size": (1, None, False), "val_size": (1, None, False),
    "max_train": (0, None, False), "max_val": (0, None, False), "eval_batch_size": (0, None, False),
    "threads": (0, None, False), "jobs_per_gpu": (1, None, False), "iterations": (0, None, False), "warmup_iters": (0, None, False),
    "seed": (0, MAX_SEED, False), "split_seed": (0, MAX_SEED, False),
    "lr": (0, None, True), "wd": (0, None, False), "mom": (0, None, False), "max_momentum": (0, None, False),
    "pct_start": (0, 1, True), "div_factor": (0, None, True), "final_div": (0, None, True),
}  # fmt: skip


def check_ranges(ap, args, ranges=ARG_RANGES) -> None:
    """A one-line argument error naming the flag (exit 2) for a value out of its range."""
    for name, (low, high, excluded) in ranges.items():
        v = getattr(args, name)
        inside = low < v if excluded else low <= v
        if high is not None:
            inside = inside and (v < high if excluded else v <= high)
        if not inside or (isinstance(v, float) and not math.isfinite(v)):
            op, hi = ("<", ">") if excluded else ("<=", ">=")
            allowed = f"{hi} {low}" + (f" and {op} {high}" if high is not None else "")
            ap.error(f"--{name.replace('_', '-')} must be {allowed}, got {v}")


def parse_args(argv=None, ap=None):
    ap = ap or build_parser()
    args = ap.parse_args(argv)
    if args.genome:
        try:
            g = parse_run_id(args.genome)
        except ValueError as e:
            ap.error(str(e))
        args.lr, args.wd, args.mom, args.seed = g["lr"], g["wd"], g["mom"], g["seed"]
    if args.arch not in ARCHS:
        ap.error(f"unknown arch {args.arch!r}; valid names: {', '.join(ARCHS)}")
    check_ranges(ap, args)
    if args.optimizer == "adamw" and args.max_momentum >= 1:
        ap.error(f"--max-momentum {args.max_momentum} is not a valid AdamW beta1 (must be < 1)")
    late = [m for m in args.milestones if m < 1 or (args.iterations and m >= args.iterations)]
    if late:
        ap.error(f"--milestones {late}: each must be >= 1 and below --iterations ({args.iterations})")
    return args


def cli(fn, args) -> int:
    """Run fn(args) for a command line: bad data becomes one line on stderr and exit status 1;
    SIGTERM ends it between two steps with a line in the log (143, as a plain SIGTERM would)."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return run_cli(fn, args, (DataError, RunError))
    except Terminated:
        print("stopped by SIGTERM (time limit, preemption or Snakemake); the last epoch checkpoint resumes it",
              file=sys.stderr, flush=True)  # fmt: skip
        return 128 + signal.SIGTERM


def main(argv=None) -> int:
    return cli(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
