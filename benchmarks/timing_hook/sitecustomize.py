"""Timing hook of benchmarks/ga_timing.sh. On PYTHONPATH with RESNET_GA_TIMING_LOG set, every Python
process of the workflow run (Snakemake itself and each job's script) appends one JSON line when it
exits: its argv, when the process started (from /proc, so interpreter start-up is counted) and when
it ended. It reads and changes nothing else; without the variable it does nothing."""

import atexit
import json
import os
import sys
import time


def _process_start() -> float:
    """The wall-clock time this process started (Linux: /proc/self/stat, 10 ms resolution). The same
    as scripts/util.py's process_start_time, copied: this hook runs inside every Python process,
    Snakemake's own included, and must import nothing of the project (a `util` there could shadow one)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
        return time.time() - age
    except (OSError, ValueError, IndexError, AttributeError):
        return time.time()


def _record(log: str, start: float) -> None:
    line = json.dumps({"argv": sys.argv, "start": start, "end": time.time(), "pid": os.getpid()})
    with open(log, "a") as f:
        f.write(line + "\n")


if os.environ.get("RESNET_GA_TIMING_LOG"):
    atexit.register(_record, os.environ["RESNET_GA_TIMING_LOG"], _process_start())
