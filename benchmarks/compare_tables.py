"""Are two smoke searches' numbers the same? Compares two finished outdirs, every column but the run id
(a release may rename runs) and the timing ones, row by row:

- every round table of every method (round 0, then each method's rounds; the GA's alone in the
  earlier layout ga/gen<g>/, before 0.5.0);
- the metrics.tsv of every run those tables name, matched by their place in the tables (not by run
  id), without its wall-clock columns;
- the LR range test's curve and the final comparison, where both outdirs have them.

    python benchmarks/compare_tables.py OLD_OUTDIR NEW_OUTDIR      # exit 0: every file identical
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

TIMING = ["seconds", "images_per_s"]  # wall-clock columns: the only ones that may differ between runs
ALSO = ["lr_find/lr_find.tsv", "final/comparison.tsv"]


def round_tables(outdir: Path) -> dict[str, Path]:
    """Every round's fitness table by name, in either layout."""
    old = sorted(outdir.glob("ga/gen*/fitness.tsv"), key=lambda p: int(p.parent.name[3:]))
    if old:
        return {("round 0" if k == 0 else f"ga round {k}"): p for k, p in enumerate(old)}
    round0 = outdir / "search/rep0/round0/fitness.tsv"
    tables = {"round 0": round0} if round0.exists() else {}
    for p in sorted(
        outdir.glob("search/rep0/*/round*/fitness.tsv"), key=lambda p: (p.parts[-3], int(p.parent.name[5:]))
    ):
        tables[f"{p.parts[-3]} round {p.parent.name[5:]}"] = p
    return tables


def read(path: Path, ignored) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return df.drop(columns=[c for c in ignored if c in df.columns])


def pairs(a_dir: Path, b_dir: Path):
    """(name, file of a, file of b, columns ignored) for every file both outdirs should agree on."""
    a_tables, b_tables = round_tables(a_dir), round_tables(b_dir)
    seen = set()
    for name in [n for n in a_tables if n in b_tables]:
        yield name, a_tables[name], b_tables[name], ["run"]
        a_runs, b_runs = (read(t[name], [])["run"] for t in (a_tables, b_tables))
        for i, (x, y) in enumerate(zip(a_runs, b_runs)):
            if x not in seen:
                seen.add(x)
                yield (
                    f"{name}, individual {i}: metrics.tsv",
                    a_dir / "runs" / x / "metrics.tsv",
                    b_dir / "runs" / y / "metrics.tsv",
                    TIMING,
                )
    for rel in ALSO:
        if (a_dir / rel).exists() and (b_dir / rel).exists():
            yield rel, a_dir / rel, b_dir / rel, ["run"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", type=Path, help="a finished smoke search's outdir")
    ap.add_argument("new", type=Path, help="another one, to compare with it")
    args = ap.parse_args(argv)
    a_dir, b_dir = args.old, args.new
    compared = list(pairs(a_dir, b_dir))
    if not compared:
        print(f"error: no round table found in both {a_dir} and {b_dir}", file=sys.stderr)
        return 1
    different = []
    for name, a, b, ignored in compared:
        x, y = read(a, ignored), read(b, ignored)
        if not (list(x.columns) == list(y.columns) and x.equals(y)):
            different.append(name)
            print(f"{name}: DIFFERENT")
            print(x.compare(y) if list(x.columns) == list(y.columns) and x.shape == y.shape else f"{x.shape} {y.shape}")
        elif "metrics.tsv" not in name:
            print(f"{name}: {len(x)} rows, {len(x.columns)} columns: identical")
    runs = sum("metrics.tsv" in name for name, *_ in compared)
    print(f"{len(compared)} files compared ({runs} runs' metrics.tsv); {len(different)} different")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
