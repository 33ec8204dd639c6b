"""A folder of images in torchvision's ImageFolder layout, read the way ImageFolder reads it where
that is sound, and safely where it is not. Torch-free.

    <data_dir>/train/<class>/**/<image>    <data_dir>/test/<class>/**/<image>

- Classes are the names of a split's sub-folders, sorted (ImageFolder's order, so labels agree);
  both splits need the same classes. An image is any file below a class folder, at any depth, whose
  extension (any case) is one of ImageFolder's; samples are sorted by folder, then by name.
- Not as ImageFolder: hidden files and folders (.ipynb_checkpoints, .DS_Store) are skipped rather
  than becoming a class or an image; symlinked folders are followed, but a folder reached again (by
  its real path, or its device and inode: a symlink loop, a link to the split or to another class, a
  bind mount) is not entered twice; a file or folder reached twice in one class (a symbolic or hard
  link) is read once, and one reached from two classes (say a link into another class's sub-folder)
  is refused (which label is right?), as is one in both splits.
- Pixels: any mode PIL opens becomes 8-bit RGB. 16-bit images (mode I;16) are scaled by 255/65535
  (PIL's own convert would clip them to white); float images (mode F) with values in [0, 1] are
  scaled by 255; a 32-bit or signed integer image, or a float one outside [0, 1], is refused with one line
  (no scale to 8 bits is evident). Then a bilinear resize to image_size x image_size.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from util import DataError

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")  # torchvision's


def _hidden(name: str) -> bool:
    return name.startswith(".")


def class_folders(split: Path) -> list[str]:
    if not split.is_dir():
        raise DataError(f"{split}: missing (dataset folder reads train/<class>/ and test/<class>/)")
    classes = sorted(e.name for e in os.scandir(split) if e.is_dir() and not _hidden(e.name))
    if not classes:
        raise DataError(f"{split}: no class folders (expected {split}/<class>/<images>)")
    return classes


def _two_classes(kind, path, other_path, other, c) -> DataError:
    msg = f"{path}: the same {kind} as {other_path}, in class {other}"
    return DataError(f"{msg}; one {kind} in two classes ({other}, {c}) is refused")


def identities(path: str) -> tuple:
    """The keys a file or folder is known by: its real path, and its device and inode, which a hard
    link (or a bind mount) shares with the original while its path differs. A file that cannot be
    stat'ed (a dangling link) has its path alone; reading it then names it."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return (real,)
    return (real, (st.st_dev, st.st_ino)) if st.st_ino else (real,)  # 0: a file system without inodes


def seen_as(path: str, seen: dict):
    """What `seen` holds for the file or folder at `path` under any of its identities, else None."""
    return next((seen[k] for k in identities(path) if k in seen), None)


def _note(path: str, seen: dict, entry) -> None:
    """Record `entry` under every identity of `path` (one reached before keeps its own)."""
    for k in identities(path):
        seen.setdefault(k, entry)


def _enter(path: str, c: str, seen: dict) -> bool:
    """True the first time a folder is reached (see identities); False again from class `c`, the split,
    or a link to another class's folder (that class reads it); from anywhere else in another class: refused."""
    found = seen_as(path, seen)
    if found is None:
        _note(path, seen, (path, c, False))
        return True
    other_path, other, root = found
    if other not in (None, c) and not (root and os.path.islink(path)):
        raise _two_classes("folder", path, other_path, other, c)
    return False


def _class_files(split: Path, c: str, seen: dict) -> list[tuple[str, str]]:
    """(dir, name) of every image below class folder `c`; folders are entered once (see _enter)."""
    found = []
    for root, dirs, files in os.walk(split / c, followlinks=True):
        dirs[:] = [d for d in sorted(dirs) if not _hidden(d) and _enter(os.path.join(root, d), c, seen)]
        found += [(root, f) for f in files if not _hidden(f) and f.lower().endswith(IMG_EXTENSIONS)]
    return sorted(found)


def index(split: Path, classes: list[str]) -> list[tuple[str, int]]:
    """(path, label) of every image of a split, read once each (see the module doc)."""
    seen = {}  # a folder's identities -> (first path, class, is a root)
    _note(str(split), seen, (str(split), None, True))
    for c in classes:
        _note(str(split / c), seen, (str(split / c), c, True))
    owner, samples = {}, []  # a file's identities -> (first path, label)
    for label, c in enumerate(classes):
        files = _class_files(split, c, seen)
        if not files:
            raise DataError(f"{split / c}: no images (extensions {', '.join(IMG_EXTENSIONS)})")
        for root, name in files:
            path = os.path.join(root, name)
            found = seen_as(path, owner)
            if found is not None:
                if found[1] != label:
                    raise _two_classes("file", path, found[0], classes[found[1]], c)
                continue
            _note(path, owner, (path, label))
            samples.append((path, label))
    return samples


def to_rgb8(im, path):
    """An 8-bit RGB image of any mode PIL opens (see the module doc for 16-bit and float images)."""
    from PIL import Image

    if im.mode.startswith("I;16") or (im.mode == "I" and im.format == "PPM"):  # a 16-bit PGM: PIL's mode I, 0..65535
        a = np.asarray(im, dtype=np.uint32)
        return Image.fromarray(((a * 255 + 32767) // 65535).astype(np.uint8), "L").convert("RGB")
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
            raise DataError(f"{path}: float image with values outside [0, 1]: no evident scale to 8 bits")
        return Image.fromarray(np.rint(a * 255).astype(np.uint8), "L").convert("RGB")
    if im.mode == "I":
        raise DataError(  # PIL's mode I: 32-bit, or signed 16-bit, integers
            f"{path}: 32-bit or signed integer image: no evident scale to 8 bits (save it as unsigned 8 or 16 bits)"
        )
    return im.convert("RGB")


def read_into(samples, size: int, x, y) -> None:
    """Each image of `samples` into x[i] ((N, 3, size, size) uint8, e.g. a memory map) and its label
    into y[i]; an unreadable file is an error naming it."""
    from PIL import Image

    for i, (path, label) in enumerate(samples):
        try:
            with Image.open(path) as im:
                rgb = to_rgb8(im, path).resize((size, size), Image.Resampling.BILINEAR)
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            raise DataError(f"{path}: unreadable image ({type(e).__name__}: {e})") from None
        x[i] = np.asarray(rgb).transpose(2, 0, 1)
        y[i] = label


def splits(data_dir) -> tuple[list[str], dict]:
    """(classes, {split: samples}) of a folder dataset; both splits must have the same classes."""
    root = Path(data_dir)
    train, test = class_folders(root / "train"), class_folders(root / "test")
    if train != test:
        missing, extra = sorted(set(train) - set(test)), sorted(set(test) - set(train))
        which = f"no folder for class(es) {', '.join(missing)}" if missing else f"class(es) {', '.join(extra)}"
        raise DataError(
            f"{root / 'test'}: {which}{'' if missing else ' not in train/'}; both splits need the same classes"
        )
    samples = {split: index(root / split, train) for split in ("train", "test")}
    check_disjoint(samples)
    return train, samples


def check_disjoint(samples: dict) -> None:
    """No image in both splits, by real path or inode (a link, symbolic or hard, from train/ into
    test/): test images trained on would make every test score a lie."""
    train = {}
    for path, _ in samples["train"]:
        _note(path, train, path)
    for path, _ in samples["test"]:
        other = seen_as(path, train)
        if other is not None:
            raise DataError(f"{path}: the same file as {other}: an image in both splits is refused")
