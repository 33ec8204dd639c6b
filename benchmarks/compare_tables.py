"""Are two smoke searches' numbers the same? Compares the GA's round tables of two finished outdirs,
every column but the run id (a release may rename runs) and the timing ones, row by row; the earlier
layout (ga/gen<g>/, before 0.5.0) is read too.

    python benchmarks/compare_tables.py OLD_OUTDIR NEW_OUTDIR      # exit 0: every table identical
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

IGNORED = ["run"]  # the round tables hold no timing column


def ga_tables(outdir: Path) -> list[Path]:
    """The GA's fitness tables, round 0 first, in either layout."""
    old = sorted(outdir.glob("ga/gen*/fitness.tsv"), key=lambda p: int(p.parent.name[3:]))
    if old:
        return old
    return [outdir / "search/rep0/round0/fitness.tsv"] + sorted(
        outdir.glob("search/rep0/ga/round*/fitness.tsv"), key=lambda p: int(p.parent.name[5:])
    )


def main(argv=None) -> int:
    a_dir, b_dir = map(Path, (argv or sys.argv[1:]))
    a_tables, b_tables = ga_tables(a_dir), ga_tables(b_dir)
    if len(a_tables) != len(b_tables) or not a_tables:
        print(f"error: {len(a_tables)} GA tables in {a_dir}, {len(b_tables)} in {b_dir}", file=sys.stderr)
        return 1
    same = True
    for k, (a, b) in enumerate(zip(a_tables, b_tables)):
        x, y = (pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False).drop(columns=IGNORED) for p in (a, b))
        equal = list(x.columns) == list(y.columns) and x.equals(y)
        same &= equal
        print(f"round {k}: {len(x)} rows, {len(x.columns)} columns: {'identical' if equal else 'DIFFERENT'}")
        if not equal:
            print(
                x.compare(y) if list(x.columns) == list(y.columns) else f"columns {list(x.columns)} / {list(y.columns)}"
            )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
