"""Training-throughput benchmark: our loop against two references, in one process, interleaved.

    python scripts/bench.py --arch resnet20 --device cpu --steps 20
    python scripts/bench.py --arch resnet50 --device cuda --batch-size 512 --steps 30 --repeats 3

Every pipeline trains the same model class with SGD (momentum, weight decay; or AdamW with
`--optimizer adamw`) at the same device and
batch size on the same generated images (default on CUDA: 50,000, CIFAR-10's training set, so the
references' DataLoader streams a whole epoch; the epoch times count the 45,000 of a training split):
- reference: what users usually write: a torchvision CIFAR10-style Dataset (HWC uint8 -> PIL image),
  PIL transforms (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize), a
  DataLoader (shuffle, workers, pin_memory on CUDA), fp32 (TF32 convolutions on CUDA), NCHW, the
  default SGD implementation;
- strong reference: the same data path plus every standard trick of the compute: bf16 autocast on
  CUDA, channels_last, fused SGD (foreach on the CPU);
- ours: the step train jobs run (scripts/engine.py): uint8 data resident on the device, whole-batch
  augmentation there, channels_last, bf16 autocast + torch's fused SGD update on CUDA (fp32 and foreach
  on the CPU; scripts/optimizers.py), optional torch.compile.
The pipelines run `--repeats` times in turn (reference, strong, ours, reference, ...), `--steps`
timed steps each after warm-up; every row reports min / median / max images/s, and the ratios use
medians. It also reports what a train job pays before its first step. No timing is asserted
anywhere: the numbers go to docs/performance.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

T_IMPORT0 = time.perf_counter()  # the imports below are timed: what a train job pays first
import numpy as np
import torch
import torchvision

from archs import ARCHS
from data import load_prepared, prepare, write_synthetic
from engine import (
    Normalizer,
    batch_stream,
    make_optimizer,
    make_step,
    model_on_device,
    param_groups,
    resolve_device,
    set_determinism,
)
from models import build_model
from util import EXPECTED_ERRORS, ArgumentParser, check_writable, error_line, write_json

IMPORT_S = time.perf_counter() - T_IMPORT0
EPOCH_IMAGES = 45_000
SETTLE_S = 1.0  # pause before each timed chunk: no pipeline pays for another's background prefetch
PIPELINES = ("reference", "strong", "ours")
LABELS = {
    "reference": "reference (PIL + DataLoader, fp32)",
    "strong": "strong ref. (+bf16, NHWC, fused)",
    "ours": "ours",
    "ours_det": "ours, deterministic",
}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


class CIFAR10Style(torch.utils.data.Dataset):
    """What torchvision.datasets.CIFAR10 does per item: HWC uint8 -> PIL image -> transforms."""

    def __init__(self, x_nchw, y, transform):
        self.data = np.ascontiguousarray(np.asarray(x_nchw).transpose(0, 2, 3, 1))  # CIFAR10.data is HWC
        self.targets = [int(v) for v in y]
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        from PIL import Image

        return self.transform(Image.fromarray(self.data[i])), self.targets[i]


def loader_pipeline(args, device, data, meta, strong: bool):
    """A DataLoader pipeline; `strong` adds bf16 autocast (CUDA), channels_last and a fused optimizer."""
    T = torchvision.transforms
    tf = T.Compose(
        [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(meta["mean"], meta["std"])]
    )
    loader = torch.utils.data.DataLoader(
        CIFAR10Style(data["train_x"], data["train_y"], tf),
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=args.workers > 0,
    )
    torch.manual_seed(0)
    cuda = device.type == "cuda"
    fmt = torch.channels_last if strong else torch.contiguous_format
    model = build_model(args.arch, meta["num_classes"]).to(device, memory_format=fmt)
    impl = ({"fused": True} if cuda else {"foreach": True}) if strong else {}
    Opt, kw = (
        (torch.optim.AdamW, {"betas": (0.9, 0.99)})
        if args.optimizer == "adamw"
        else (torch.optim.SGD, {"momentum": 0.9})
    )
    opt = Opt(param_groups(model, 5e-4), lr=0.01, **kw, **impl)
    batches = iter(())

    def run_chunk(n):
        nonlocal batches
        for _ in range(n):
            batch = next(batches, None)
            if batch is None:  # a new epoch: the persistent workers start prefetching again
                batches = iter(loader)
                batch = next(batches)
            x = batch[0].to(device, non_blocking=True).contiguous(memory_format=fmt)
            y = batch[1].to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=strong and cuda):
                logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return run_chunk


def ours_pipeline(args, device, data, meta):
    """The train jobs' step and batch iterator (engine.py): (run_chunk, fixed costs before the first step)."""
    cuda = device.type == "cuda"
    t0 = time.perf_counter()
    X = torch.from_numpy(np.ascontiguousarray(data["train_x"])).to(device)
    Y = torch.from_numpy(np.ascontiguousarray(data["train_y"])).to(device)
    sync(device)
    fixed = {"data_to_device_s": time.perf_counter() - t0}
    t0 = time.perf_counter()
    torch.manual_seed(0)
    model = model_on_device({"arch": args.arch}, meta["num_classes"], device)
    opt = make_optimizer(model, args.optimizer, 0.01, 5e-4, 0.9, device.type)
    sync(device)
    fixed["model_build_s"] = time.perf_counter() - t0
    step = make_step(model, opt, Normalizer(meta["mean"], meta["std"], device), amp=cuda, compile=args.compile)
    batches = batch_stream(len(Y), args.batch_size, 0, device)  # train.py's batch iterator

    def run_chunk(k):
        for _, (idx, draws) in zip(range(k), batches):
            step(X[idx], Y[idx], draws, 0.01, 0.9)

    sync(device)
    t0 = time.perf_counter()
    run_chunk(1)
    sync(device)
    fixed["first_step_s"] = time.perf_counter() - t0  # compile warm-up included
    return run_chunk, fixed


def timed(run_chunk, steps, batch_size, device) -> float:
    if device.type == "cuda":  # let the references' DataLoader workers finish refilling their queues
        time.sleep(SETTLE_S)
    sync(device)
    t0 = time.perf_counter()
    run_chunk(steps)
    sync(device)
    return steps * batch_size / (time.perf_counter() - t0)


def synthetic_arrays(images: int):
    """Generated CIFAR-10-layout data, prepared and loaded as train jobs load it: (arrays, meta)."""
    with tempfile.TemporaryDirectory() as tmp:
        write_synthetic(Path(tmp) / "raw", images, 100, seed=0)
        prepare(Path(tmp) / "raw", Path(tmp) / "prep", "synthetic")
        data = load_prepared(Path(tmp) / "prep")
        arrays = {k: np.array(v) for k, v in data.items() if k != "meta"}
    return arrays, data["meta"]


def deterministic(run_chunk):
    """The same pipeline with deterministic kernels switched on while it runs (train.deterministic)."""

    def run(n):
        set_determinism(True)
        try:
            run_chunk(n)
        finally:
            set_determinism(False)

    return run


def run_all(args, device):
    data, meta = synthetic_arrays(args.images)
    chunks = {
        "reference": loader_pipeline(args, device, data, meta, strong=False),
        "strong": loader_pipeline(args, device, data, meta, strong=True),
    }
    chunks["ours"], fixed = ours_pipeline(args, device, data, meta)
    if args.deterministic:  # its own model and optimizer, the same data
        chunks["ours_det"] = deterministic(ours_pipeline(args, device, data, meta)[0])
    for run_chunk in chunks.values():
        run_chunk(args.warmup)
    rates = {name: [] for name in chunks}
    for _ in range(args.repeats):  # interleaved: a slow spell of the machine hits every pipeline
        for name, run_chunk in chunks.items():
            rates[name].append(timed(run_chunk, args.steps, args.batch_size, device))
    return rates, fixed


def report(args, device, rates, fixed) -> dict:
    name = (
        torch.cuda.get_device_name()
        if device.type == "cuda"
        else f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    )
    med = {p: statistics.median(r) for p, r in rates.items()}
    print(
        f"{args.arch} on {name}, batch {args.batch_size}, {args.images} images, {args.repeats} repeats of "
        f"{args.steps} steps, torch {torch.__version__}"
    )
    print(f"{'pipeline':<36}{'min':>9}{'median':>9}{'max':>9}  img/s{'epoch (45k) s':>15}")
    for p in rates:
        label = LABELS[p] + (f" (+compile {args.compile})" if p == "ours" and args.compile else "")
        r = rates[p]
        print(f"{label:<36}{min(r):>9.0f}{med[p]:>9.0f}{max(r):>9.0f}       {EPOCH_IMAGES / med[p]:>13.1f}")
    print(
        f"ratio ours/reference: {med['ours'] / med['reference']:.2f}x; ours/strong reference: "
        f"{med['ours'] / med['strong']:.2f}x"
    )
    if "ours_det" in med:
        print(f"deterministic kernels: {med['ours_det'] / med['ours']:.3f}x the throughput of ours")
    print(
        f"fixed costs: import torch+torchvision {IMPORT_S:.2f}s, data to device {fixed['data_to_device_s']:.3f}s, "
        f"model build {fixed['model_build_s']:.2f}s, first step {fixed['first_step_s']:.2f}s"
    )
    return {
        "arch": args.arch,
        "device": name,
        "batch_size": args.batch_size,
        "images": args.images,
        "compile": args.compile,
        "optimizer": args.optimizer,
        "deterministic": args.deterministic,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "repeats": args.repeats,
        "steps": args.steps,
        **{f"{p}_img_s": rates[p] for p in rates},
        **{f"{p}_median_img_s": med[p] for p in rates},
        "ratio_vs_reference": med["ours"] / med["reference"],
        "ratio_vs_strong": med["ours"] / med["strong"],
        "ours_epoch_s": EPOCH_IMAGES / med["ours"],
        "import_s": IMPORT_S,
        **fixed,
    }


def parse_args(argv):
    ap = ArgumentParser(description=__doc__)
    ap.add_argument("--arch", default="resnet20")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per pipeline and repeat")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats of every pipeline")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--images", type=int, default=0, help="generated training images (0: 50,000 on CUDA, 5,000 on CPU)")
    ap.add_argument(
        "--workers", type=int, default=-1, help="DataLoader workers of the references (-1: 0 on CPU, 8 on CUDA)"
    )
    ap.add_argument("--compile", nargs="?", const=True, default=False, metavar="MODE", help="torch.compile ours")
    ap.add_argument("--deterministic", action="store_true", help="add a row: ours with deterministic kernels")
    ap.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd", help="every pipeline's optimizer")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", help="also write the numbers to this file")
    args = ap.parse_args(argv)
    for name, low in (("batch_size", 1), ("steps", 1), ("repeats", 1), ("warmup", 0), ("images", 0), ("threads", 0)):
        if getattr(args, name) < low:
            ap.error(f"--{name.replace('_', '-')} {getattr(args, name)}: must be at least {low}")
    if args.arch not in ARCHS:
        ap.error(f"--arch {args.arch!r}: unknown; valid names: {', '.join(ARCHS)}")
    return args


def run(args) -> None:
    if args.json:
        check_writable(Path(args.json))
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before cuBLAS starts (see train.py)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    args.workers = (8 if cuda else 0) if args.workers < 0 else args.workers
    args.images = args.images or (50_000 if cuda else 5_000)
    if args.images < args.batch_size:
        raise ValueError(f"--images {args.images}: fewer than one batch of --batch-size {args.batch_size}")
    if args.threads:
        torch.set_num_threads(args.threads)
    out = report(args, device, *run_all(args, device))
    if args.json:
        write_json(args.json, out)  # atomic: the old file or the whole new one


def main(argv=None) -> int:
    """util.run_cli's error tail: bad input or an OS fault is one `error:` line and exit 1. SIGTERM keeps
    its default action here (run_cli would catch it): a benchmark has nothing to save, and a caught one
    leaves the references' DataLoader workers dying during teardown, with tracebacks."""
    args = parse_args(argv)
    try:
        run(args)
    except EXPECTED_ERRORS as e:
        print(f"error: {error_line(e)}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
