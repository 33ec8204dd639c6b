"""How often the LR finder's valley rule (scripts/lr_find.py, `suggest`) accepts a range test that has
no descent at all: flat curves of pure per-batch noise, 300 seeds per cell. Beside it, the same rule
without its noise margin (the 5 % rule alone), and a real 30 % fall at 4 % noise (30 seeds), which
must pass. Cheap: numpy and the rule, no training (a few seconds on 2 cores).

    python benchmarks/lr_find_noise.py [--seeds 300]

`curve` (which tests/test_verdict.py imports): a loss of 2.3, flat, noise as a share of it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import lr_find  # noqa: E402

LEVEL = 2.3


def curve(n=100, start=1e-7, end=10.0, seed=0, fall=(60, 80), noise=0.02, level=LEVEL, bottom=1.2):
    """lrs and per-batch losses: flat and noisy, then falling over `fall`, then diverging (also the
    curves of tests/test_verdict.py)."""
    lrs = [float(x) for x in start * (end / start) ** (np.arange(n) / (n - 1))]
    rng = np.random.default_rng(seed)
    loss = np.full(n, level)
    a, b = fall
    loss[a:b] = np.linspace(level, bottom, b - a)
    loss[b:] = bottom * np.exp(np.linspace(0, 3, n - b))
    return lrs, [float(x) for x in loss + rng.normal(0, noise, n)]


def accepted(steps, share, seeds, margin):
    """How many of `seeds` flat curves the rule calls valid, with NOISE_MARGIN = margin."""
    kept = lr_find.NOISE_MARGIN
    lr_find.NOISE_MARGIN = margin
    try:
        return sum(
            lr_find.suggest(*curve(steps, seed=s, fall=(steps, steps), noise=share * LEVEL, bottom=LEVEL))["valid"]
            for s in range(seeds)
        )
    finally:
        lr_find.NOISE_MARGIN = kept


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=300)
    args = ap.parse_args()
    steps_list, shares = (20, 40, 100, 200), (0.01, 0.02, 0.04, 0.09, 0.13, 0.22)
    print(
        f"flat curves accepted, of {args.seeds} seeds: with the noise margin ({lr_find.NOISE_MARGIN} standard"
        " errors) / the 5 % rule alone"
    )
    print("noise  " + "".join(f"{s:>4} steps  " for s in steps_list))
    for share in shares:
        cells = [
            f"{accepted(s, share, args.seeds, lr_find.NOISE_MARGIN):>4} / {accepted(s, share, args.seeds, 0):<4}"
            for s in steps_list
        ]
        print(f"{100 * share:4.0f} %  " + "  ".join(cells))
    print("a 30 % fall at 4 % noise (the test's), valid and inside its stretch, of 30 seeds:")
    for steps in steps_list:
        a, b = int(0.6 * steps), int(0.75 * steps)
        ok = 0
        for seed in range(30):
            lrs, loss = curve(steps, seed=seed, fall=(a, b), noise=0.1, bottom=1.6)
            s = lr_find.suggest(lrs, loss)
            ok += s["valid"] and lrs[a] / 3 <= s["suggestion"] <= lrs[b]
        print(f"  {steps:>3} steps: {ok}")


if __name__ == "__main__":
    main()
