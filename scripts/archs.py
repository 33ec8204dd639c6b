"""The architectures by name, as the paper's tables (He et al. 2015): data only, no torch, so the
workflow checks `train.arch` and builds its command lines without importing torch.

- CIFAR nets (Sec. 4.2, Table 6): depth 6n+2, three stages of n basic blocks with 16/32/64
  filters; ``resnetN`` with shortcuts (option A or B), ``plainN`` the same stack without them.
  resnet8 (n=1) is not in the paper: it is the cheapest net, for tests.
- ImageNet nets (Table 1): blocks per stage conv2_x .. conv5_x, 64..512 filters, always
  projection shortcuts (option B, as torchvision), built with a CIFAR stem by models.py.
"""

from __future__ import annotations

from typing import NamedTuple

CIFAR_WIDTHS = (16, 32, 64)
IMAGENET_WIDTHS = (64, 128, 256, 512)
CIFAR_N = (1, 3, 5, 7, 9, 18)  # depth 6n+2: 8, 20, 32, 44, 56, 110


class Arch(NamedTuple):
    block: str  # "basic" (two 3x3) or "bottleneck" (1x1, 3x3, 1x1)
    layers: tuple  # blocks per stage
    widths: tuple  # filters per stage
    shortcut: str  # "config": train.shortcut (A or B); "B": projections; "none": a plain net


ARCHS = {
    **{f"resnet{6 * n + 2}": Arch("basic", (n,) * 3, CIFAR_WIDTHS, "config") for n in CIFAR_N},
    **{f"plain{6 * n + 2}": Arch("basic", (n,) * 3, CIFAR_WIDTHS, "none") for n in CIFAR_N},
    "resnet18": Arch("basic", (2, 2, 2, 2), IMAGENET_WIDTHS, "B"),
    "resnet34": Arch("basic", (3, 4, 6, 3), IMAGENET_WIDTHS, "B"),
    "resnet50": Arch("bottleneck", (3, 4, 6, 3), IMAGENET_WIDTHS, "B"),
    "resnet101": Arch("bottleneck", (3, 4, 23, 3), IMAGENET_WIDTHS, "B"),
    "resnet152": Arch("bottleneck", (3, 8, 36, 3), IMAGENET_WIDTHS, "B"),
}
