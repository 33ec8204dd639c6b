"""The training library: everything a training run is made of, one named function per trick
(airbench-style). scripts/train.py is the command line over it; lr_find.py and bench.py use the
same data on the device, batch iterator, optimizer and step.

- data: the training split lives on the device as uint8 (no DataLoader, no per-image Python);
  each epoch's shuffle, crops and flips come from a CPU generator seeded by (seed, epoch), so a
  resumed run draws exactly what an uninterrupted one would (`epoch_batches`);
- schedules: per-step one-cycle (Smith 2018; lr up to the genome's peak and down, momentum
  inverse) or the paper's step schedule;
- optimizer: SGD with momentum and L2 weight decay, or AdamW whose beta1 follows the momentum
  curve; fused kernels on CUDA, foreach on the CPU; BatchNorm and biases not decayed;
- the step: augment on the device, normalize, channels_last, bf16 autocast on CUDA, optional
  torch.compile; loss and hits stay on the device (no per-step host sync);
- checkpoints: atomic, loaded with weights_only=True, set aside (never deleted) when unusable;
- the process: determinism, threads, device choice (gpu_slots), provenance.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import os
import platform
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import settings
from data import (
    PAPER_AUGMENT,
    Augment,
    augment_batch,
    augment_params,
    cutout,
    epoch_generator,
    load_prepared,
    split_indices,
)
from gpu_slots import choose_cuda_device, lock_dir
from layout import RUN_FILES
from models import build_model
from optimizers import Optimizer
from util import DataError, RunError, atomic_write_bytes, git_commit, package_version, settings_hash

METRIC_COLUMNS = [
    "epoch",
    "lr",
    "momentum",
    "train_loss",
    "val_loss",
    "top1",
    "top3",
    "top5",
    "seconds",
    "images_per_s",
    "train_top1",
]
TEST_COLUMNS = ["test_loss", "test_top1"]  # with --track-test (the degradation experiment's test error)
CHECKPOINT_KEYS = {"model", "optimizer", "epoch", "rows", "rng", "fingerprint"}
TRAIN_FILES = ("checkpoint", "metrics", "schedule", "model", "result")  # layout.RUN_FILES roles train.py writes
ADAMW_BETA2, ADAMW_EPS = 0.99, 1e-5  # fastai's Adam defaults (the report's fit_one_cycle)


# ----------------------------------------------------------------------------- schedules
def _cos(a: float, b: float, t: float) -> float:
    """Cosine interpolation from a (t=0) to b (t=1)."""
    return b + (a - b) * (1 + math.cos(math.pi * t)) / 2


def one_cycle(
    step: int,
    total: int,
    lr: float,
    mom: float,
    max_momentum: float = 0.95,
    pct_start: float = 0.25,
    div_factor: float = 25.0,
    final_div: float = 1e4,
):
    """(lr, momentum) at `step` of `total`: lr peaks at step round(total * pct_start), at most the last."""
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


# ----------------------------------------------------------------------------- the process
def set_determinism(on: bool, device_type: str = "cuda", compiling: bool = False) -> None:
    """Deterministic kernels on CUDA (cuDNN, cuBLAS with a fixed workspace, scatter/index ops): two
    runs of a genome give the same numbers. Call before any CUDA work. An op without a deterministic
    kernel then raises (no silent fallback). On the CPU nothing is set: the CPU kernels a run uses are
    deterministic for a fixed thread count (train.threads). torch's public switch also sets the
    compiler's flag, importing the compiler stack for it (1.0-1.2 s of every job's start, torch
    2.14); without torch.compile the switch underneath it does the same for the kernels a run uses."""
    if device_type != "cuda":
        return
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts
    switch = getattr(torch._C, "_set_deterministic_algorithms", None)
    if compiling or switch is None:
        torch.use_deterministic_algorithms(on)
    else:
        switch(on, warn_only=False)
    torch.backends.cudnn.deterministic = on


def device_type(name: str) -> str:
    """The kind of device `resolve_device` will pick, without starting CUDA."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


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


def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's global generators (the weights' initialisation)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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


def provenance(device, deterministic: bool, settings: dict) -> dict:
    """What produced a number: library versions, device, determinism, threads, commit, settings."""
    cuda = device.type == "cuda"
    return {
        "torch": torch.__version__,
        "torchvision": package_version("torchvision"),
        "cuda": torch.version.cuda or "none",
        "cudnn": str(torch.backends.cudnn.version() or "none"),
        "device": torch.cuda.get_device_name(device) if cuda else f"cpu ({platform.machine()})",
        "precision": "bf16 autocast" if cuda else "fp32",  # what train.py and evaluate.py compute in
        "deterministic": bool(deterministic),
        "threads": torch.get_num_threads(),
        "commit": git_commit(),
        "settings_hash": settings_hash(settings),
    }


# ----------------------------------------------------------------------------- data on the device
def to_device(a, device):
    return torch.from_numpy(np.require(a, requirements=["C", "W"])).to(device)  # copies read-only mmaps


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


def load_test(args, device):
    """The test set on the device (only with --track-test: never used for fitness)."""
    data = load_prepared(args.data)
    return to_device(data["test_x"], device), to_device(data["test_y"], device)


class Normalizer:
    """uint8 NCHW -> normalized float in channels_last, as one fused multiply-add."""

    def __init__(self, mean, std, device):
        self.scale = (1.0 / (255.0 * torch.tensor(std))).view(1, 3, 1, 1).to(device)
        self.shift = (-torch.tensor(mean) / torch.tensor(std)).view(1, 3, 1, 1).to(device)

    def __call__(self, x):
        return torch.addcmul(self.shift, x.float(), self.scale).contiguous(memory_format=torch.channels_last)


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, device, steps: int | None = None, aug=PAPER_AUGMENT):
    """Epoch `epoch`'s batches as (indices, augmentation draws) on the device: a shuffle and
    augmentation drawn from (seed, epoch) alone. The ragged last batch is dropped (fixed shapes)."""
    gen = epoch_generator(seed, epoch)
    perm = torch.randperm(n, generator=gen)
    draws = [d.to(device) if d is not None else None for d in augment_params(n, gen, aug)]
    perm = perm.to(device)
    for i in range(n // batch_size if steps is None else steps):
        idx = perm[i * batch_size : (i + 1) * batch_size]
        yield idx, tuple(d[idx] if d is not None else None for d in draws)


def batch_stream(n: int, batch_size: int, seed: int, device, aug=PAPER_AUGMENT):
    """Batches without end, epoch after epoch (the LR finder and the benchmark)."""
    for epoch in itertools.count():
        yield from epoch_batches(n, batch_size, seed, epoch, device, aug=aug)


def augment_args(args) -> Augment:
    """The augmentation a run's settings ask for."""
    return Augment(pad=args.crop_pad, flip=args.flip, cutout=args.cutout)


# ----------------------------------------------------------------------------- model, optimizer, step
def model_on_device(values: dict, num_classes: int, device):
    """The net a run's settings `values` describe (every caller passes them whole, so a setting of the
    net's design is read here alone), channels_last (NHWC) everywhere: faster convolutions on CUDA
    and on the CPU (oneDNN)."""
    net = build_model(values["arch"], num_classes, values.get("shortcut", "A"))
    return net.to(device, memory_format=torch.channels_last)


def param_groups(model, wd: float):
    """Weight decay on conv/linear weights only; BatchNorm and biases are not decayed (as fastai,
    which the report used, does by default)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model, name: str, lr: float, wd: float, momentum: float, device_type: str):
    """SGD (momentum, L2 weight decay) or AdamW (decoupled weight decay, beta1 = momentum), as
    torch.optim computes them (optimizers.py); fused kernels on CUDA, foreach on the CPU. BatchNorm
    and biases are not decayed (param_groups)."""
    if name == "adamw":
        hyper = {"lr": lr, "betas": (momentum, ADAMW_BETA2), "eps": ADAMW_EPS}
        return Optimizer("adamw", param_groups(model, wd), hyper, device_type)
    return Optimizer("sgd", param_groups(model, wd), {"lr": lr, "momentum": momentum}, device_type)


def set_hparams(opt, lr: float, mom: float) -> None:
    """This step's lr and momentum (SGD's momentum, or AdamW's beta1)."""
    for g in opt.param_groups:
        g["lr"] = lr
        if "betas" in g:
            g["betas"] = (mom, g["betas"][1])
        else:
            g["momentum"] = mom


def make_step(
    model, opt, norm, amp: bool, compile: bool | str = False, aug=PAPER_AUGMENT, label_smoothing: float = 0.0
):
    """The training step on a uint8 batch: augment on the device, normalize, forward (bf16 autocast
    on CUDA), backward, optimizer step with this step's lr and momentum. Returns the loss and the
    number of correct top-1 predictions, as device tensors (no sync). `compile`: True or a
    torch.compile mode."""
    forward = torch.compile(model, mode=compile if isinstance(compile, str) else None) if compile else model
    device_type = next(model.parameters()).device.type

    def step(x_u8, y, draws, lr: float, mom: float):
        offsets, flips, centres = draws
        set_hparams(opt, lr, mom)
        xb = norm(augment_batch(x_u8, offsets, flips, aug.pad))
        if aug.cutout:
            xb = cutout(xb, centres, aug.cutout).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp):
            logits = forward(xb)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
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


# ----------------------------------------------------------------------------- checkpoints and files
def atomic_torch_save(obj, path: Path) -> str:
    """Write `obj` whole or not at all; its bytes' sha256."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def format_row(row: dict, columns=METRIC_COLUMNS) -> str:
    out = []
    for c in columns:
        v = row[c]
        out.append(str(v) if isinstance(v, int) else f"{v:.6g}" if c in ("seconds", "images_per_s") else repr(float(v)))
    return "\t".join(out) + "\n"


def remove_stale_temps(out: Path) -> None:
    """Temp files of atomic writes that a kill cut short (.<name>.<random>.tmp): never results."""
    for role in TRAIN_FILES:
        name = RUN_FILES[role]
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
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": random.getstate(),
    }


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
    changed = settings.differences(ckpt["fingerprint"], fingerprint)
    if changed:
        log(f"checkpoint {path} was written with other {', '.join(changed)}; moved to {set_aside(path).name}")
        return None
    return ckpt


def save_model(model, run: str, path: Path) -> str:
    """model.pt: the weights, with the run they belong to; its sha256 goes into result.json."""
    return atomic_torch_save({"run": run, "state_dict": model.state_dict()}, path)


def load_model_file(path: Path, run: str, device, sha256: str | None = None) -> dict:
    """The weights of `run` from its model.pt; weights_only: a planted file runs no code. A file that
    names another run, or is not the one the run's result.json recorded (`sha256`), is refused; a bare
    state dict only where the record predates both (written before 0.5.2)."""
    try:
        data = Path(path).read_bytes()
        saved = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as e:  # missing, truncated, not a zip, or holding more than tensors
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(f"{path}: unreadable model weights ({reason})") from None
    if isinstance(saved, dict) and "state_dict" in saved:
        if saved.get("run") != run:
            raise DataError(f"{path}: the weights of run {saved.get('run')!r}, not of {run!r}: moved or swapped?")
        saved = saved["state_dict"]
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise DataError(f"{path}: not the weights run {run!r} wrote (its result.json records another sha256)")
    if not isinstance(saved, dict) or not all(isinstance(v, torch.Tensor) for v in saved.values()):
        raise DataError(f"{path}: not a state dict of model weights")
    return saved
