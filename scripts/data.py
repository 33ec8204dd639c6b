"""CIFAR data: download, read the official pickle layout, convert once, split, augment on device.

Subcommands (each also importable):
  download   fetch CIFAR-10/100 with torchvision's utilities (official URL, md5-checked)
  synthetic  write a learnable generated dataset in exactly the CIFAR-10 on-disk layout
  prepare    read a CIFAR directory, or a folder of images (train/<class>/*, test/<class>/*:
             torchvision's ImageFolder layout, any size, resized), and write the compact uint8
             .npy files training maps

The prepared directory holds train_x.npy / test_x.npy (uint8, N x 3 x S x S with S the image size:
32 for CIFAR, `image_size` for an image folder; the pickles' own channel-major order), train_y.npy /
test_y.npy (int64) and meta.json (class names, per-channel mean/std of the training images).
np.load(mmap_mode="r") opens them in milliseconds.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import io
import math
import os
import pickle
import sys
import tarfile
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np

import formats
import images
import runlock
from layout import PREPARED_FILES
from util import ArgumentParser, DataError, atomic_write_bytes, naming, run_cli, temp_beside

# Official files; the same values torchvision's CIFAR10/CIFAR100 classes carry.
DATASETS = {
    "cifar10": {
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "tgz_md5": "c58f30108f718f92721af3b95e74349a",
        "folder": "cifar-10-batches-py",
        "train": [
            ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
            ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
            ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
            ("data_batch_4", "634d18415352ddfa80567beed471001a"),
            ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
        ],
        "test": [("test_batch", "40351d587109b95175f43aff81a1287e")],
        "meta": ("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
        "names_key": "label_names",
        "labels_key": "labels",
    },
    "cifar100": {
        "url": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "tgz_md5": "eb9058c3a382ffc7106e4002c42a8d85",
        "folder": "cifar-100-python",
        "train": [("train", "16019d7e3df5f24257cddd939b257f8d")],
        "test": [("test", "f0ef6b0ae62326f3e7ffdfab6717acfc")],
        "meta": ("meta", "7973b15100ade9c7d40fb424638fde48"),
        "names_key": "fine_label_names",
        "labels_key": "fine_labels",
    },
}
# "synthetic" is generated data in the CIFAR-10 layout; it has no official md5s.
LAYOUT = {"cifar10": "cifar10", "cifar100": "cifar100", "synthetic": "cifar10"}
DATASET_NAMES = (*LAYOUT, "folder")  # folder: the user's images in ImageFolder layout


# ----------------------------------------------------------------------------- download
def download(dataset: str, root: str | Path) -> Path:
    """Download and extract the official archive into root (skipped if already verified there)."""
    from torchvision.datasets.utils import check_integrity, download_and_extract_archive

    spec = DATASETS[dataset]
    root = Path(root)
    folder = root / spec["folder"]
    if all(check_integrity(str(folder / f), md5) for f, md5 in spec["train"] + spec["test"]):
        return folder
    archive = root / spec["url"].rsplit("/", 1)[-1]
    try:
        download_and_extract_archive(spec["url"], str(root), md5=spec["tgz_md5"])
    except BaseException as e:  # a cut or corrupted archive is not kept: the next try downloads it afresh
        archive.unlink(missing_ok=True)
        if isinstance(e, (RuntimeError, tarfile.TarError)):  # torchvision's md5 refusal; an unreadable archive
            raise DataError(f"{archive}: {e} (md5 or archive check failed; removed, run again)") from None
        reason = _network_reason(e)
        if reason:
            raise DataError(
                f"{spec['url']}: download failed ({reason}); offline, point data.data_dir at the official "
                f"{spec['folder']} folder"
            ) from None
        raise
    return folder


def _network_reason(e: BaseException) -> str | None:
    """Why the connection failed (no network, a name that does not resolve, refused, timed out, an
    HTTP error), which names no file; None for any other error (a full disk, a read-only root), which
    stays the error it is."""
    import http.client
    import socket
    import ssl
    import urllib.error

    if type(e) is urllib.error.URLError:  # its text is "<urlopen error ...>" around the reason
        return str(e.reason) or type(e.reason).__name__
    network = (urllib.error.URLError, ConnectionError, TimeoutError, socket.gaierror, socket.herror, ssl.SSLError)
    unreachable = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.ENETRESET, errno.ECONNABORTED)
    if isinstance(e, OSError) and e.errno in unreachable and not e.filename:  # a read cut after connecting
        return e.strerror or type(e).__name__
    if not isinstance(e, (*network, http.client.HTTPException)):
        return None
    return str(e) if str(e) not in ("", "()") else type(e).__name__


# ----------------------------------------------------------------------------- reading
def find_folder(data_dir: str | Path, dataset: str) -> Path:
    """The batch folder: data_dir itself, or the official folder name inside it."""
    spec = DATASETS[LAYOUT[dataset]]
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data directory does not exist")
    for cand in (data_dir / spec["folder"], data_dir):
        if (cand / spec["test"][0][0]).exists():
            return cand
    raise DataError(
        f"{data_dir}: no {spec['folder']}/{spec['test'][0][0]} found "
        f"(point data_dir at a folder holding the official {dataset} python files)"
    )


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only what the official batches hold: dicts, lists, strings, numbers and numpy
    arrays. Any other global (os.system, builtins.eval, ...) is refused before it is looked up."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),  # numpy integers in a label list of a derived set
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of a CIFAR batch")
        return super().find_class(module, name)


def _load_pickle(path: Path, md5: str | None) -> dict:
    """The pickled dict in `path`, unpickled from the very bytes whose md5 was checked."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: missing file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    if md5 is not None and hashlib.md5(raw).hexdigest() != md5:
        raise DataError(f"{path}: md5 mismatch (expected {md5}); the file is corrupt or not the official one")
    try:  # the official files are Python 2 pickles
        obj = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except Exception as e:  # truncated or garbage files raise many different errors
        raise DataError(f"{path}: cannot unpickle ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return obj


def _read_batches(folder: Path, files, labels_key: str, verify_md5: bool, num_classes: int):
    """The batches of one split, one (images (N, 3, 32, 32), labels) pair per file."""
    out = []
    for name, md5 in files:
        path = folder / name
        d = _load_pickle(path, md5 if verify_md5 else None)
        if "data" not in d or labels_key not in d:
            raise DataError(f"{path}: missing key 'data' or {labels_key!r}")
        x = np.asarray(d["data"])
        y = np.asarray(d[labels_key])
        if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072 or len(y) != len(x):
            raise DataError(
                f"{path}: expected uint8 data of shape (N, 3072) with N labels, "
                f"got {x.dtype} {x.shape} with {len(y)} labels"
            )
        if len(y) and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= num_classes):
            raise DataError(f"{path}: labels outside 0..{num_classes - 1}")
        out.append((x.reshape(-1, 3, 32, 32), y.astype(np.int64)))
    return out


def read_cifar(data_dir: str | Path, dataset: str = "cifar10", verify_md5: bool | None = None):
    """Read the official python-pickle layout: (classes, {split: [(images, labels), ...]}).

    verify_md5 defaults to True for the real datasets and False for generated data.
    """
    spec = DATASETS[LAYOUT[dataset]]
    if verify_md5 is None:
        verify_md5 = dataset != "synthetic"
    folder = find_folder(data_dir, dataset)
    meta_name, meta_md5 = spec["meta"]
    meta = _load_pickle(folder / meta_name, meta_md5 if verify_md5 else None)
    classes = list(meta.get(spec["names_key"], []))
    if not classes:
        raise DataError(f"{folder / meta_name}: no {spec['names_key']!r}")
    splits = {
        split: _read_batches(folder, spec[split], spec["labels_key"], verify_md5, len(classes))
        for split in ("train", "test")
    }
    return classes, splits


# ----------------------------------------------------------------------------- writing
class ArrayFile:
    """One prepared .npy array, written through a memory map under a temporary name of its own and
    renamed into place by commit() (a reader never sees half an array; no copy of it is held in
    memory; a second writer, on a mount whose locks do not work, never writes into this one's file).
    Its disk space is reserved first: a full disk is then one OSError naming the array, where a write
    into the map would end the process with SIGBUS. Leaving the block removes what was not committed."""

    def __init__(self, path: Path, dtype, shape):
        fd, tmp = temp_beside(path)
        self.path, self.tmp = path, Path(tmp)
        try:
            self.array = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=dtype, shape=shape)
            if hasattr(os, "posix_fallocate"):  # not on macOS: there a full disk stays a SIGBUS
                os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
        except OSError as e:
            self.tmp.unlink(missing_ok=True)
            raise OSError(e.errno, e.strerror, str(path)) from None
        finally:
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.tmp.unlink(missing_ok=True)

    def commit(self) -> None:
        try:  # a flush or fsync that fails (a full disk, EIO) names no file: name the array
            self.array.flush()
            del self.array
            with open(self.tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(self.tmp, self.path)
        except OSError as e:
            raise naming(self.path, e) from None


def channel_stats(x, chunk: int = 1024) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images, scaled to [0, 1], exactly: integer sums over
    chunks (squares in uint16, 255^2 fits: ~12 MB of scratch for CIFAR), one rounding at the end."""
    n = x.shape[0] * x.shape[2] * x.shape[3]
    s = np.zeros(x.shape[1], dtype=np.int64)
    sq = np.zeros(x.shape[1], dtype=np.int64)
    for i in range(0, len(x), chunk):
        c = np.asarray(x[i : i + chunk], dtype=np.uint16)
        s += c.sum(axis=(0, 2, 3), dtype=np.int64)
        sq += (c * c).sum(axis=(0, 2, 3), dtype=np.int64)
    mean = [float(Fraction(int(a), n * 255)) for a in s]
    var = [Fraction(int(b) * n - int(a) * int(a), n * n * 255 * 255) for a, b in zip(s, sq)]
    return mean, [math.sqrt(v) for v in var]


def official_bytes(data_dir, dataset: str) -> bool:
    """Whether every file of the CIFAR folder is the official one (its md5), whether or not the check
    was asked for: the data's identity follows its bytes, so `data.verify_md5: false` on the official
    archive neither renames nor retrains a run."""
    if dataset not in DATASETS:
        return False
    spec, folder = DATASETS[dataset], find_folder(data_dir, dataset)
    for name, md5 in [*spec["train"], *spec["test"], spec["meta"]]:
        try:
            if hashlib.md5((folder / name).read_bytes()).hexdigest() != md5:
                return False
        except OSError as e:
            raise naming(folder / name, e) from None
    return True


def data_id(dataset: str, verified: bool, files) -> str:
    """The prepared data's identity (identity.py): the dataset's name for an md5-checked official
    archive (its content is fixed), else the name and a hash of the arrays' bytes."""
    if verified and dataset in DATASETS:
        return dataset
    h = hashlib.sha256()
    for path in files:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    return f"{dataset}-{h.hexdigest()[:12]}"


def _write_split(out_dir: Path, split: str, n: int, size: int, fill) -> None:
    """{split}_x.npy and {split}_y.npy, filled by fill(x, y) straight into the memory maps."""
    with (
        ArrayFile(out_dir / f"{split}_x.npy", np.uint8, (n, 3, size, size)) as xs,
        ArrayFile(out_dir / f"{split}_y.npy", np.int64, (n,)) as ys,
    ):
        fill(xs.array, ys.array)
        xs.commit()
        ys.commit()


def _cifar_filler(batches):
    def fill(x, y):
        i = 0
        for bx, by in batches:
            x[i : i + len(bx)], y[i : i + len(by)] = bx, by
            i += len(bx)

    return fill


def split_error(train_size: int, val_size=None, max_train=0, batch_size=None) -> tuple[str, str] | None:
    """(config key, why) if the training images cannot give the validation split and a batch."""
    if val_size is None:
        return None
    if val_size >= train_size:
        return "data.val_size", f"{val_size} leaves no training images out of {train_size}"
    usable = min(train_size - val_size, max_train or train_size)
    if batch_size is not None and batch_size > usable:
        return "train.batch_size", f"{batch_size} exceeds the {usable} training images of the split"
    return None


def prepare(data_dir, out_dir, dataset: str = "cifar10", verify_md5=None, image_size: int = 32, fit=()) -> Path:
    """Convert a CIFAR folder or an image folder into the compact files every training job memory-maps,
    streaming into the arrays; `fit` (val_size, max_train, largest batch) is checked against the data
    first, so a split the data cannot give stops here, before any training job."""
    out_dir = Path(out_dir)
    if dataset == "folder":
        classes, samples = images.splits(data_dir)
        sizes = {split: len(samples[split]) for split in samples}
        fill = {split: functools.partial(images.read_into, samples[split], image_size) for split in samples}
    else:
        classes, batches = read_cifar(data_dir, dataset, verify_md5)
        sizes = {split: sum(len(b[0]) for b in batches[split]) for split in batches}
        fill = {split: _cifar_filler(batches[split]) for split in batches}
        image_size = 32
    error = split_error(sizes["train"], *fit)
    if error:
        raise DataError(f"config key {error[0]}: {error[1]} (in {data_dir})")
    for split in ("train", "test"):
        _write_split(out_dir, split, sizes[split], image_size, fill[split])
    mean, std = channel_stats(np.load(out_dir / "train_x.npy", mmap_mode="r"))
    verified = dataset in DATASETS and (verify_md5 is not False or official_bytes(data_dir, dataset))
    meta = {"dataset": dataset, "data_id": data_id(dataset, verified, [out_dir / n for n in PREPARED_FILES[:4]])}
    meta.update(classes=classes, num_classes=len(classes), image_size=int(image_size))
    meta.update(train_size=sizes["train"], test_size=sizes["test"], mean=mean, std=std)
    formats.write_record("meta", meta, out_dir / "meta.json")  # last: its presence means the folder is complete
    return out_dir


def read_meta(path: str | Path) -> dict:
    """A prepared folder's meta.json (the folder or the file itself; formats.py checks it)."""
    path = Path(path)
    return formats.read_record("meta", path / "meta.json" if path.is_dir() else path)


def load_prepared(prep_dir: str | Path):
    """Memory-map the prepared arrays. Returns dict with train_x/train_y/test_x/test_y/meta."""
    prep_dir = Path(prep_dir)
    for name in PREPARED_FILES:
        if not (prep_dir / name).is_file():
            raise DataError(f"{prep_dir / name}: missing prepared data file (run: python scripts/data.py prepare)")
    out = {"meta": read_meta(prep_dir)}
    for key in ("train_x", "train_y", "test_x", "test_y"):
        out[key] = load_array(prep_dir / f"{key}.npy")
    check_prepared(prep_dir, out)
    return out


def load_array(path: Path):
    """One prepared array, memory-mapped (plain numpy: a pickled object array is refused, not loaded)."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as e:
        raise DataError(f"{path}: unreadable prepared data ({e})") from None


def check_labels(path: Path, y, size: int, k: int) -> None:
    """A prepared label array: `size` integer labels in 0..k-1, as meta.json says."""
    if y.ndim != 1 or len(y) != size or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: {y.shape} {y.dtype} labels, meta.json says {size} integer labels")
    if len(y) and (y.min() < 0 or y.max() >= k):
        raise DataError(f"{path}: labels outside 0..{k - 1} (meta.json: {k} classes)")


def check_prepared(prep_dir: Path, data: dict) -> None:
    """Shapes, dtypes and labels agree with meta.json: a bad folder is one line, not an IndexError."""
    meta = data["meta"]
    k = meta["num_classes"]
    for split in ("train", "test"):
        x, y = data[f"{split}_x"], data[f"{split}_y"]
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1] != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{prep_dir / f'{split}_x.npy'}: expected uint8 (N, 3, H, W) images with N labels")
        if len(x) != meta[f"{split}_size"]:
            raise DataError(f"{prep_dir / f'{split}_x.npy'}: {len(x)} images, meta.json says {meta[f'{split}_size']}")
        check_labels(prep_dir / f"{split}_y.npy", y, meta[f"{split}_size"], k)


# ----------------------------------------------------------------------------- synthetic data
def make_synthetic(n_train: int, n_test: int, seed: int = 0, num_classes: int = 10, noise: float = 48.0):
    """Learnable images: each class is a coloured stripe pattern with its own orientation,
    frequency and palette; every image gets a random phase, brightness and Gaussian noise.
    Returns (train_x, train_y, test_x, test_y) as (N, 3072) uint8 rows and label arrays."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    angles = rng.permutation(num_classes) * np.pi / num_classes
    freqs = rng.uniform(0.15, 0.6, num_classes)
    palettes = rng.uniform(40, 215, (num_classes, 2, 3))  # two colours per class

    def draw(n):
        y = rng.integers(0, num_classes, n)
        phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
        proj = np.cos(angles[y])[:, None, None] * xx + np.sin(angles[y])[:, None, None] * yy
        t = 0.5 + 0.5 * np.sin(freqs[y][:, None, None] * proj + phase)  # (n, 32, 32) in [0, 1]
        c0, c1 = palettes[y, 0], palettes[y, 1]  # (n, 3)
        img = c0[:, :, None, None] * (1 - t[:, None]) + c1[:, :, None, None] * t[:, None]
        img = img * rng.uniform(0.7, 1.3, (n, 1, 1, 1)) + rng.normal(0, noise, img.shape)
        return np.clip(img, 0, 255).astype(np.uint8).reshape(n, 3072), y

    tx, ty = draw(n_train)
    vx, vy = draw(n_test)
    return tx, ty, vx, vy


def write_cifar10_layout(root: str | Path, train_x, train_y, test_x, test_y, classes=None) -> Path:
    """Write arrays as data_batch_1..5, test_batch and batches.meta, as the official archive does."""
    folder = Path(root) / DATASETS["cifar10"]["folder"]
    classes = classes or [f"class{i}" for i in range(10)]
    chunks = np.array_split(np.arange(len(train_x)), 5)

    def dump(name, x, y):
        batch = {
            "batch_label": name,
            "labels": [int(v) for v in y],
            "data": np.ascontiguousarray(x, dtype=np.uint8),
            "filenames": [f"{name}_{i:05d}.png" for i in range(len(y))],
        }
        atomic_write_bytes(folder / name, pickle.dumps(batch, protocol=2))

    for i, idx in enumerate(chunks, start=1):
        dump(f"data_batch_{i}", train_x[idx], train_y[idx])
    dump("test_batch", test_x, test_y)
    meta = {"label_names": list(classes), "num_cases_per_batch": len(chunks[0]), "num_vis": 3072}
    atomic_write_bytes(folder / "batches.meta", pickle.dumps(meta, protocol=2))
    return folder


def write_synthetic(root, n_train=5000, n_test=1000, seed=0, noise=48.0) -> Path:
    return write_cifar10_layout(root, *make_synthetic(n_train, n_test, seed, noise=noise))


# ----------------------------------------------------------------------------- split
def split_indices(n: int, n_val: int, seed: int):
    """Seeded train/validation split of the training set (the test set is never touched)."""
    if not 0 < n_val < n:
        raise ValueError(f"validation size {n_val} must be between 1 and {n - 1}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


# ----------------------------------------------------------------------------- augmentation
class Augment(NamedTuple):
    """The training augmentation: the paper's pad-and-crop and flips, and Cutout (DeVries & Taylor 2017)."""

    pad: int = 4  # zero padding before a random crop of the original size (0: no crop)
    flip: bool = True  # random horizontal flips
    cutout: int = 0  # side of the square zeroed at a random centre (0: off)


PAPER_AUGMENT = Augment()  # the paper's CIFAR augmentation: 4-pixel padding, random crops and flips


def epoch_generator(seed: int, epoch: int):
    """The CPU generator behind epoch `epoch`'s shuffle and augmentation: a function of
    (seed, epoch) alone, so a resumed run draws exactly what an uninterrupted one draws."""
    import torch

    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))


def augment_params(n: int, gen, aug: Augment = PAPER_AUGMENT):
    """Per-image crop offsets in [0, 2*pad], flip flags and (with Cutout) centres as fractions of the
    image, drawn on the CPU (cheap, seeded). The draws do not depend on `flip`, so turning flips off
    changes nothing else."""
    import torch

    offsets = torch.randint(0, 2 * aug.pad + 1, (n, 2), generator=gen)
    flips = torch.rand(n, generator=gen) < 0.5
    if not aug.flip:
        flips = torch.zeros_like(flips)
    centres = torch.rand(n, 2, generator=gen) if aug.cutout else None
    return offsets, flips, centres


def augment_batch(x, offsets, flips, pad: int = 4):
    """Pad by `pad` (zeros, as in the paper), crop back to the image's size at `offsets`, flip where
    `flips`. x: (B, C, H, W) tensor on any device; one gather for the whole batch, no per-image Python."""
    import torch
    import torch.nn.functional as F

    b, c, h, w = x.shape
    dev = x.device
    offsets, flips = offsets.to(dev, non_blocking=True), flips.to(dev, non_blocking=True)
    xp = F.pad(x, (pad, pad, pad, pad))
    rows = offsets[:, 0, None] + torch.arange(h, device=dev)  # (B, H)
    cols = offsets[:, 1, None] + torch.arange(w, device=dev)  # (B, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)  # a flip is a reversed column index
    bi = torch.arange(b, device=dev)[:, None, None, None]
    ci = torch.arange(c, device=dev)[None, :, None, None]
    return xp[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]


def cutout(x, centres, size: int):
    """Zero a size x size square (clipped at the borders) around each image's own random centre
    (`centres`, drawn per image): on normalized
    inputs, so the square holds the training set's mean, as in DeVries & Taylor's code."""
    import torch

    b, _, h, w = x.shape
    dev = x.device
    cy = (centres[:, 0].to(dev) * h).long()[:, None]
    cx = (centres[:, 1].to(dev) * w).long()[:, None]
    rows, cols = torch.arange(h, device=dev)[None], torch.arange(w, device=dev)[None]
    inside_r = (rows >= cy - size // 2) & (rows < cy - size // 2 + size)  # (B, H)
    inside_c = (cols >= cx - size // 2) & (cols < cx - size // 2 + size)  # (B, W)
    keep = ~(inside_r[:, :, None] & inside_c[:, None, :])
    return x * keep[:, None].to(x.dtype)


# ----------------------------------------------------------------------------- CLI
def _folder(args) -> Path:
    """The folder a command writes: the one its lock guards."""
    return Path(args.out if args.cmd == "prepare" else args.root)


def _locked(args) -> None:
    # One writer per data folder (runlock.py): two workflows on one outdir both schedule these
    # steps; the second waits, then writes the same bytes again, each file replaced atomically.
    # The prepare step reads the raw folder under its lock: the other workflow may still be writing it.
    reading = runlock.reading(args.data_dir) if args.cmd == "prepare" else contextlib.nullcontext()
    with runlock.hold(_folder(args), args.cmd), reading:
        _print(args)


def _print(args) -> None:
    if args.cmd == "download":
        print(download(args.dataset, args.root))
    elif args.cmd == "synthetic":
        print(write_synthetic(args.root, args.train, args.test, args.seed, args.noise))
    else:
        fit = (args.val_size, args.max_train, args.batch_size) if args.val_size else ()
        out = prepare(args.data_dir, args.out, args.dataset, False if args.no_md5 else None, args.image_size, fit)
        meta = read_meta(out)
        print(f"{out}: {meta['train_size']} train, {meta['test_size']} test, {meta['num_classes']} classes")


def main(argv=None) -> int:
    ap = ArgumentParser(description="CIFAR data tools")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("download", help="download CIFAR-10/100 (md5-checked)")
    d.add_argument("--dataset", choices=sorted(DATASETS), default="cifar10")
    d.add_argument("--root", required=True)
    s = sub.add_parser("synthetic", help="write generated data in the CIFAR-10 layout")
    s.add_argument("--root", required=True)
    s.add_argument("--train", type=int, default=5000)
    s.add_argument("--test", type=int, default=1000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--noise", type=float, default=48.0)
    p = sub.add_parser("prepare", help="convert a CIFAR folder or an image folder into memory-mappable .npy files")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--dataset", choices=sorted(DATASET_NAMES), default="cifar10")
    p.add_argument("--no-md5", action="store_true", help="skip the official md5 checks (CIFAR layout)")
    p.add_argument("--image-size", type=int, default=32, help="dataset folder: images are resized to this")
    p.add_argument("--val-size", type=int, help="check the data holds this validation split ...")
    p.add_argument("--max-train", type=int, default=0, help="... with this cap on the training images ...")
    p.add_argument("--batch-size", type=int, help="... and a batch of this size (the largest any run uses)")
    return run_cli(_locked, ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
