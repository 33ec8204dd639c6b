"""Training-throughput benchmark: our loop against the pipeline users usually write, in one process.

    python scripts/bench.py --arch resnet20 --device cpu --steps 20
    python scripts/bench.py --arch resnet50 --device cuda --batch-size 512 --steps 50 --compile

Both pipelines train the same model class with the same optimizer (SGD, momentum, weight decay),
device and batch size on the same images:
- reference: a torchvision CIFAR10-style Dataset (HWC uint8 -> PIL image), PIL transforms
  (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize), a DataLoader
  (shuffle, pin_memory on CUDA), fp32, NCHW, torch's default SGD implementation;
- ours: the step of scripts/train.py: uint8 data resident on the device, whole-batch augmentation
  there, channels_last, and on CUDA bf16 autocast + fused SGD (fp32 on the CPU), optional torch.compile.
Throughput is the median over timed chunks of steps after warm-up (a chunk ends with a device
sync); epoch time is 45,000 images at that rate. It also reports what a train job pays before
its first step (imports, data load, model build) and the compile warm-up. No timing is asserted
anywhere: the ratios are printed for the README's Performance table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

T_IMPORT0 = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import augment_params, epoch_generator, load_prepared, prepare, write_synthetic  # noqa: E402
from models import build_model  # noqa: E402
from train import Normalizer, make_step, model_on_device, param_groups, resolve_device  # noqa: E402

IMPORT_S = time.perf_counter() - T_IMPORT0
EPOCH_IMAGES = 45_000


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


def time_chunks(run_chunk, n_chunks, device, images_per_chunk):
    rates = []
    for _ in range(n_chunks):
        sync(device)
        t0 = time.perf_counter()
        run_chunk()
        sync(device)
        rates.append(images_per_chunk / (time.perf_counter() - t0))
    return statistics.median(rates)


def bench_reference(args, device, data, meta, num_classes):
    T = torchvision.transforms
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                    T.Normalize(meta["mean"], meta["std"])])  # fmt: skip
    ds = CIFAR10Style(data["train_x"], data["train_y"], tf)
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True, drop_last=True,
                                         num_workers=args.workers, pin_memory=device.type == "cuda",
                                         persistent_workers=args.workers > 0)  # fmt: skip
    torch.manual_seed(0)
    model = build_model(args.arch, num_classes).to(device)
    opt = torch.optim.SGD(param_groups(model, 5e-4), lr=0.01, momentum=0.9)
    crit = torch.nn.CrossEntropyLoss()
    it = iter(loader)

    def next_batch():
        nonlocal it
        try:
            return next(it)
        except StopIteration:
            it = iter(loader)
            return next(it)

    def chunk(n=args.chunk):
        for _ in range(n):
            x, y = next_batch()
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = crit(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    chunk(args.warmup)
    return time_chunks(chunk, args.steps // args.chunk, device, args.chunk * args.batch_size)


def bench_ours(args, device, data, meta, num_classes):
    cuda = device.type == "cuda"
    t0 = time.perf_counter()
    X = torch.from_numpy(np.ascontiguousarray(data["train_x"])).to(device)
    Y = torch.from_numpy(np.ascontiguousarray(data["train_y"])).to(device)
    sync(device)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    torch.manual_seed(0)
    model = model_on_device(args.arch, num_classes, "A", device)
    opt = torch.optim.SGD(param_groups(model, 5e-4), lr=0.01, momentum=0.9, **({"fused": True} if cuda else {"foreach": True}))
    sync(device)
    build_s = time.perf_counter() - t0
    norm = Normalizer(meta["mean"], meta["std"], device)
    step = make_step(model, opt, norm, amp=cuda, compile=args.compile_mode or args.compile)
    n = len(Y)
    gen = epoch_generator(0, 0)
    perm = torch.randperm(n, generator=gen).to(device)
    offsets, flips = (t.to(device) for t in augment_params(n, gen))
    pos = 0

    def chunk(k=args.chunk):
        nonlocal pos
        for _ in range(k):
            if pos + args.batch_size > n:
                pos = 0
            idx = perm[pos : pos + args.batch_size]
            pos += args.batch_size
            step(X[idx], Y[idx], offsets[idx], flips[idx], 0.01, 0.9)

    sync(device)
    t0 = time.perf_counter()
    chunk(1)
    sync(device)
    first_step_s = time.perf_counter() - t0
    chunk(args.warmup)
    rate = time_chunks(chunk, args.steps // args.chunk, device, args.chunk * args.batch_size)
    return rate, {"data_to_device_s": load_s, "model_build_s": build_s, "first_step_s": first_step_s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="resnet20")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per pipeline")
    ap.add_argument("--chunk", type=int, default=5, help="steps per timed chunk")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--images", type=int, default=5000, help="generated training images")
    ap.add_argument("--workers", type=int, default=-1, help="reference DataLoader workers (-1: 0 on CPU, 8 on CUDA)")
    ap.add_argument("--compile", action="store_true", help="torch.compile our model (reports warm-up)")
    ap.add_argument("--compile-mode", help="a torch.compile mode, e.g. reduce-overhead (implies --compile)")
    ap.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN autotune (train.py does not: slow first step)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", help="also write the numbers to this file")
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    args.compile = args.compile or bool(args.compile_mode)
    if args.workers < 0:
        args.workers = 8 if device.type == "cuda" else 0
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = args.cudnn_benchmark
    with tempfile.TemporaryDirectory() as tmp:
        write_synthetic(Path(tmp) / "raw", args.images, 100, seed=0)
        prepare(Path(tmp) / "raw", Path(tmp) / "prep", "synthetic")
        t0 = time.perf_counter()
        data = load_prepared(Path(tmp) / "prep")
        data = {k: (np.array(v) if k != "meta" else v) for k, v in data.items()}
        mmap_s = time.perf_counter() - t0
        meta = data["meta"]
        ref = bench_reference(args, device, data, meta, meta["num_classes"])
        ours, fixed = bench_ours(args, device, data, meta, meta["num_classes"])
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    out = {
        "arch": args.arch, "device": name, "batch_size": args.batch_size, "compile": args.compile_mode or args.compile,
        "cudnn_benchmark": device.type == "cuda" and args.cudnn_benchmark,
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "reference_img_s": ref, "ours_img_s": ours, "ratio": ours / ref,
        "reference_epoch_s": EPOCH_IMAGES / ref, "ours_epoch_s": EPOCH_IMAGES / ours,
        "import_s": IMPORT_S, "load_prepared_s": mmap_s, **fixed,
    }  # fmt: skip
    print(f"{args.arch} on {name}, batch {args.batch_size}, torch {torch.__version__}")
    print(f"{'pipeline':<34}{'images/s':>10}{'epoch (45k) s':>15}")
    print(f"{'reference (PIL + DataLoader, fp32)':<34}{ref:>10.0f}{EPOCH_IMAGES / ref:>15.1f}")
    label = f"ours (+compile {args.compile_mode or 'default'})" if args.compile else "ours"
    print(f"{label:<34}{ours:>10.0f}{EPOCH_IMAGES / ours:>15.1f}")
    print(f"ratio ours/reference: {ours / ref:.2f}x")
    print(f"fixed costs: import torch+torchvision {IMPORT_S:.2f}s, map prepared data {mmap_s:.3f}s, data to device "
          f"{fixed['data_to_device_s']:.3f}s, model build {fixed['model_build_s']:.2f}s, first step {fixed['first_step_s']:.2f}s")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
