"""ResNet zoo for small images (CIFAR's 32x32, an image folder's `image_size`), written to read like
He et al. 2015 (arXiv:1512.03385).

Two families:
- CIFAR nets of the paper's Sec. 4.2 (Table 6): depth 6n+2, three stages of n BasicBlocks
  with 16/32/64 filters on 32/16/8 feature maps. ``resnetN`` has shortcuts (option A: identity
  with zero-padded channels by default, option B: 1x1 projections where shapes change);
  ``plainN`` is the same stack without shortcuts (the degradation experiment, Fig. 6).
- ImageNet nets of Table 1 (``resnet18`` ... ``resnet152``) with the usual CIFAR stem: a 3x3
  stride-1 convolution and no max-pool, so 32x32 inputs keep enough resolution. ``resnet50``
  with 10 classes has exactly torchvision's parameter count for that stem (23,520,842).

CLI: ``python scripts/models.py`` prints every architecture with its parameter count.
"""

from __future__ import annotations

import sys

import torch.nn.functional as F
from torch import nn

from archs import ARCHS
from util import ArgumentParser, run_cli


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class ShortcutA(nn.Module):
    """Option A: identity, subsampled by the stride, extra channels zero-padded (no parameters)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride, self.pad = stride, cout - cin

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.pad)) if self.pad else x


def make_shortcut(kind: str | None, cin: int, cout: int, stride: int) -> nn.Module | None:
    """The shortcut of one block; None means no shortcut at all (a plain net)."""
    if kind is None:
        return None
    if cin == cout and stride == 1:
        return nn.Identity()
    if kind == "A":
        return ShortcutA(cin, cout, stride)
    if kind == "B":
        return nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))
    raise ValueError(f"shortcut must be 'A' or 'B', got {kind!r}")


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (Fig. 5 left); y = relu(F(x) + shortcut(x))."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, shortcut: str | None = "B"):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(cin, planes, stride), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes), nn.BatchNorm2d(planes)
        self.shortcut = make_shortcut(shortcut, cin, planes, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return F.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand x4 (Fig. 5 right), stride on the 3x3 as in torchvision."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, shortcut: str | None = "B"):
        super().__init__()
        cout = planes * self.expansion
        self.conv1, self.bn1 = conv1x1(cin, planes), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv3x3(planes, planes, stride), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = conv1x1(planes, cout), nn.BatchNorm2d(cout)
        self.shortcut = make_shortcut(shortcut, cin, cout, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    """stem -> stages -> global average pool -> fc, for both families."""

    def __init__(self, block, layers, widths, num_classes: int, shortcut: str | None):
        super().__init__()
        self.inplanes = widths[0]  # stem width: 16 (CIFAR nets) or 64 (ImageNet nets)
        self.conv1 = conv3x3(3, self.inplanes)  # CIFAR stem: 3x3, stride 1, no max-pool
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.stages = nn.Sequential(
            *[
                self._make_layer(block, w, n, stride=1 if i == 0 else 2, shortcut=shortcut)
                for i, (w, n) in enumerate(zip(widths, layers))
            ]
        )
        self.fc = nn.Linear(self.inplanes, num_classes)
        for m in self.modules():  # He init (the paper's ref. [13]) for convolutions
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, block, planes, blocks, stride, shortcut):
        layers = [block(self.inplanes, planes, stride, shortcut)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, 1, shortcut) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.stages(x)
        x = x.mean((2, 3))  # global average pool; its CUDA backward is deterministic
        return self.fc(x)


def build_model(arch: str, num_classes: int = 10, shortcut: str = "A") -> nn.Module:
    """Build an architecture of the registry (archs.ARCHS) by name.

    ``shortcut`` applies to the CIFAR ``resnetN`` nets ('A' as in the paper's CIFAR runs, or 'B');
    the ImageNet-family nets always use projection shortcuts (option B), as torchvision does.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; valid names: {', '.join(ARCHS)}")
    a = ARCHS[arch]
    block = BasicBlock if a.block == "basic" else Bottleneck
    kind = {"config": shortcut, "none": None}.get(a.shortcut, a.shortcut)
    return ResNet(block, list(a.layers), list(a.widths), num_classes, kind)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def print_counts(args) -> None:
    for arch in args.arch or ARCHS:
        n = count_parameters(build_model(arch, args.num_classes, args.shortcut))
        print(f"{arch}\t{n}\t{n / 1e6:.2f}M")


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__)
    ap.add_argument("arch", nargs="*", help="names to print (default: all)")
    ap.add_argument("--num-classes", type=int, default=10)
    ap.add_argument("--shortcut", choices=["A", "B"], default="A")
    return run_cli(print_counts, ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
