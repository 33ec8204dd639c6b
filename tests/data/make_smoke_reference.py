"""Writes smoke_ga_tables.json: the report's three-gene GA of the smoke config, every round's genomes
and fitness values (the run column aside: a release may rename runs), as this code computes them on
this CPU, for tests/test_workflow.py to compare every later commit's against.

    bash benchmarks/ga_timing.sh --dry with KEEP=1, OUT=/tmp/t   (or any finished smoke outdir)
    python tests/data/make_smoke_reference.py /tmp/t/results > tests/data/smoke_ga_tables.json

CPU numbers depend on torch's version and the CPU's kernels (AVX2, AVX512): the test compares only
where both match the recorded ones and says so where they do not.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import torch


def ga_tables(outdir: Path) -> dict:
    """{round name: the fitness table's text without its run column}, round 0 first."""
    paths = [outdir / "search/rep0/round0/fitness.tsv"]
    paths += sorted(outdir.glob("search/rep0/ga/round*/fitness.tsv"), key=lambda p: int(p.parent.name[5:]))
    out = {}
    for p in paths:
        rows = [line.split("\t") for line in p.read_text().splitlines()]
        col = rows[0].index("run")
        out[p.parent.relative_to(outdir / "search/rep0").as_posix()] = ["\t".join(r[:col] + r[col + 1 :]) for r in rows]
    return out


def platform() -> dict:
    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[2]
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    recorded = {**platform(), "commit": commit.stdout.strip(), "date": time.strftime("%Y-%m-%d")}
    print(json.dumps({"recorded": recorded, "tables": ga_tables(Path(sys.argv[1]))}, indent=1))
