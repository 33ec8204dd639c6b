"""Where a search stands: per method, repeat and round, the individuals trained, the runs in progress
(epoch i/N, last validation top-1), failed or diverged runs and the best genome so far; then the
elapsed time and an ETA from the measured epoch times. Read-only, and tolerant of files being written
at this very moment: safe while Snakemake runs (locally or from a SLURM login node, on the shared
file system).

    python scripts/status.py --configfile config/smoke.yaml        # the same config options as snakemake:
    python scripts/status.py --config outdir=results/b 'ga={population: 8}'   # --configfile, --config
    python scripts/status.py --watch 30                            # redraw every 30 s (Ctrl-C stops)

The ETA counts every method's runs and the final runs, one training job at a time (one GPU); with
several in parallel divide it. The methods come from the registry (strategies/).
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import time
from pathlib import Path

import yaml

import formats
import layout
import search
import strategies
from config_check import ConfigError, load_config, merge
from util import ArgumentParser, DataError, error_line


def live_table(kind: str, path: Path):
    """A table another process may be writing: its complete rows (a cut last line is dropped), or
    None while it is unreadable."""
    return live_rows(kind, path)[0]


def live_rows(kind: str, path: Path) -> tuple:
    """(its complete rows, None), or (None, an error line) where complete rows break the format (a
    row being appended is not one), or (None, None) while it is not there, empty or unreadable."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return None, None
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # the row being appended right now
    if not text:
        return None, None
    try:
        df = formats.parse_table(text, path)
        formats.check_rows(kind, df.to_dict("records"), path, columns=list(df.columns))
    except (ValueError, DataError) as e:
        return None, f"error: {error_line(e)}"
    return formats.typed_frame(kind, df), None


def table_error(kind: str, path: Path) -> dict:
    """{"error": its error line} for a table that exists and breaks its format; {} for one not there."""
    if not path.exists():
        return {}
    try:
        formats.read_table(kind, path)
    except (DataError, OSError) as e:
        return {"error": f"error: {error_line(e)}"}
    return {}


def run_epochs(out: str, run: str, default: int) -> int:
    """The epochs a run trains, from its settings.json (epochs may be a gene); else the config's."""
    try:
        path = layout.run_file(out, run, "settings")
        return int(formats.read_record("run_settings", path, run=run)["settings"]["epochs"])
    except (DataError, OSError, KeyError):  # not written yet, or unreadable: the config's
        return default


def run_state(out: str, run: str, epochs: int) -> dict:
    """One run: done (with its result), running (epochs so far of how many), failed (its log's error)
    or pending."""
    result, metrics_tsv = Path(layout.run_file(out, run, "result")), Path(layout.run_file(out, run, "metrics"))
    metrics, broken = live_rows("metrics", metrics_tsv)
    rows = [] if metrics is None else metrics.to_dict("records")
    state = {"run": run, "rows": rows, "epochs_done": len(rows), "epochs": run_epochs(out, run, epochs)}
    if broken:  # complete rows that break the format: shown, not read as "no epoch yet"
        return {**state, "state": "failed", "error": broken}
    if result.exists():
        try:
            record = formats.read_record("result", result, run=run)
            # its epochs, as the figures check them: an empty or header-only metrics.tsv is a damaged run
            formats.check_metrics_of(record, [] if metrics is None else metrics, metrics_tsv)
            return {**state, "state": "done", "result": record}
        except (DataError, OSError) as e:  # broken, or unreadable (permissions, a stale NFS handle)
            return {**state, "state": "failed", "error": f"error: {error_line(e)}"}
    try:
        lines = Path(layout.log_file(out, "train", run)).read_text(errors="replace").splitlines()
    except OSError:  # not written yet, or unreadable: the metrics alone tell
        lines = []
    errors = [line for line in lines if line.startswith("error:") or "Traceback" in line]
    if errors:
        return {**state, "state": "failed", "error": errors[-1]}
    return {**state, "state": "running" if lines or rows else "pending"}


def rounds(config: dict, spec: dict) -> list[dict]:
    """Every round whose population exists, per method and repeat: its distinct runs' states."""
    out, found = config["outdir"], []
    for r in range(spec["repeats"]):
        for i, m in enumerate(spec["methods"]):
            for k in range(0 if i == 0 else 1, spec["rounds"]):  # round 0 is shared: shown once
                path = Path(layout.round_file(out, r, m, k, "population"))
                pop = live_table("population", path)
                if pop is None:
                    broken = table_error("population", path)  # written whole: never seen mid-write
                    if broken:
                        found.append({"method": m, "repeat": r, "round": k, "runs": [], "scored": False, **broken})
                    break
                runs = [run_state(out, run, config["train"]["epochs"]) for run in dict.fromkeys(pop["run"])]
                scored = Path(layout.round_file(out, r, m, k, "fitness")).exists()
                found.append({"method": m, "repeat": r, "round": k, "runs": runs, "scored": scored})
    return found


def describe_round(rnd: dict) -> list[str]:
    runs = rnd["runs"]
    done = [r for r in runs if r["state"] == "done"]
    label = "every method" if rnd["round"] == 0 else strategies.methods()[rnd["method"]].label
    prefix = f"{label}, search {rnd['repeat']}, round {rnd['round']}: "
    if "error" in rnd:
        return [prefix + rnd["error"]]
    lines = [prefix + f"{len(done)}/{len(runs)} distinct runs trained" + (", scored" if rnd["scored"] else "")]
    for r in runs:
        if r["state"] == "running":
            top1 = f", val top-1 {100 * r['rows'][-1]['top1']:.2f}%" if r["rows"] else ""
            lines.append(f"  in progress  {r['run']}  epoch {r['epochs_done']}/{r['epochs']}{top1}")
        elif r["state"] == "failed":
            lines.append(f"  failed       {r['run']}  {r['error']}")
        elif r["state"] == "done" and r["result"]["status"] != "ok":
            res = r["result"]
            at = f"epoch {res['epochs_completed']}/{res['epochs']}, fitness {100 * res['fitness']:.2f}%"
            lines.append(f"  {res['status']:<12} {r['run']}  {at}")
    if done:
        best = max(done, key=lambda r: r["result"]["fitness"])
        lines.append(f"  best of the round: {best['run']}  fitness {100 * best['result']['fitness']:.2f}%")
    return lines


def runs_left(config: dict, spec: dict, found: list[dict]) -> tuple[int, int, list[dict]]:
    """(whole runs still to train, epochs still to train by the runs in progress, every run's state)
    over every search and the final runs; rounds not yet proposed count population - elites each."""
    epochs = config["train"]["epochs"]
    states = list({r["run"]: r for rnd in found for r in rnd["runs"]}.values())
    proposed = {(rnd["method"], rnd["repeat"], rnd["round"]) for rnd in found if "error" not in rnd}
    later = [1 for m in spec["methods"] for r in range(spec["repeats"]) for k in range(1, spec["rounds"])]
    missing = len(later) - len([p for p in proposed if p[2] > 0])
    whole = missing * (spec["population"] - spec["elites"]) + sum(r["state"] in ("pending", "failed") for r in states)
    plan = live_table("plan", Path(layout.final_file(config["outdir"], "plan.tsv")))
    if plan is None:
        whole += 1 + (1 + len(spec["methods"]) * spec["repeats"]) * config["final"]["seeds"]
    else:
        finals = [run_state(config["outdir"], run, epochs) for run in dict.fromkeys(plan["run"])]
        whole += sum(r["state"] in ("pending", "failed") for r in finals)
        states += finals
    partial = sum(r["epochs"] - r["epochs_done"] for r in states if r["state"] == "running")
    return whole, partial, states


def eta_seconds(config: dict, states: list[dict], whole: int, partial: int):
    """Seconds left for `whole` runs and `partial` epochs, from the measured epoch times and per-run
    overhead; None before any epoch. A whole run counts the config's train.epochs (a run not yet
    proposed has no genome, so an epochs gene is not known for it)."""
    epoch_s = [row["seconds"] for r in states for row in r["rows"]]
    if not epoch_s:
        return None
    per_epoch = statistics.median(epoch_s)
    done = [r for r in states if r["state"] == "done" and r["rows"]]
    overheads = [r["result"]["process_seconds"] - sum(x["seconds"] for x in r["rows"]) for r in done]
    overhead = statistics.median(overheads) if overheads else 0.0
    return whole * (config["train"]["epochs"] * per_epoch + overhead) + partial * per_epoch


def hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def report(config: dict) -> str:
    out = config["outdir"]
    spec = search.spec_from_config(config)
    found = rounds(config, spec)
    if not found:
        return f"{out}: no round yet (the run has not started, or outdir differs)"
    labels = ", ".join(strategies.methods()[m].label for m in spec["methods"])
    lines = [f"{out}: {labels}, {spec['repeats']} search(es) each"]
    for rnd in found:
        lines += describe_round(rnd)
    finished = [r for rnd in found for r in rnd["runs"] if r["state"] == "done"]
    if finished:
        best = max(finished, key=lambda r: r["result"]["fitness"])
        lines.append(f"best so far: {best['run']}  fitness (val top-1) {100 * best['result']['fitness']:.2f}%")
    broken_plan = table_error("plan", Path(layout.final_file(out, "plan.tsv")))  # written whole, as a round's
    if broken_plan:
        lines.append(f"final runs: {broken_plan['error']}")
    whole, partial, states = runs_left(config, spec, found)
    eta = eta_seconds(config, states, whole, partial)
    left = f"ETA {hms(eta)}" if eta is not None else "ETA unknown (no epoch finished yet)"
    seconds, done = elapsed(out)
    tail = "finished" if done else f"{left} ({whole} runs and {partial} epochs left, one job at a time)"
    lines.append(f"elapsed {hms(seconds)}; {tail}")
    return "\n".join(lines)


def elapsed(out: str) -> tuple[float, bool]:
    """(seconds since round 0's table was written, whether the search is finished): up to now while
    it runs, up to the verdict (the last step status waits for) once it is there, so a search read
    hours after it finished does not count those hours."""
    started = Path(layout.round_file(out, 0, None, 0, "population")).stat().st_mtime
    try:
        end = Path(layout.final_file(out, "verdict.txt")).stat().st_mtime
    except OSError:  # not there yet (or unreadable: status reads what it can)
        return time.time() - started, False
    if end < started:  # a verdict older than round 0: the search runs again (a setting changed)
        return time.time() - started, False
    return end - started, True


def watch_seconds(text: str) -> float:
    """--watch's value: a finite number of seconds, >= 0 (0: print once); time.sleep refuses the rest."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return seconds


_CONFIG_KEY = re.compile(r"[a-zA-Z_][\w-]*\w")  # snakemake's rule for a --config key


def overrides(entries: list[str]) -> dict:
    """`--config KEY=VALUE ...` as Snakemake reads it (snakemake.cli.parse_config, whose import takes
    seconds): an int, a float, True or False, else YAML with every nested value as text (check_config
    turns those into what the schema wants); KEY= is null. Later entries override earlier ones."""
    config = {}
    for entry in entries:
        key, eq, text = entry.partition("=")
        if not eq or not _CONFIG_KEY.fullmatch(key):
            raise ConfigError(f"--config {entry}: not a KEY=VALUE pair (as snakemake's --config takes)")
        config = merge(config, {key: _config_value(text.strip("'\""))})
    return config


def _config_value(text: str):
    if text == "":
        return None
    for parse in (int, float, {"True": True, "False": False}.__getitem__):
        try:
            return parse(text)
        except (ValueError, KeyError):
            pass
    try:
        return yaml.load(text, Loader=yaml.BaseLoader)  # nested values stay text, as in snakemake
    except yaml.YAMLError:
        return text


def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__, allow_abbrev=False)  # --config is not --configfile
    ap.add_argument("--configfile", nargs="*", default=[], help="config files over config/config.yaml")
    ap.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE", help="overrides, as snakemake's --config")
    ap.add_argument("--watch", type=watch_seconds, default=0, metavar="SECONDS", help="redraw every SECONDS")
    args = ap.parse_args(argv)
    try:
        # as the Snakefile's configfile, then snakemake's --configfile and --config
        config = load_config(["config/config.yaml", *args.configfile], overrides(args.config))
        while True:
            text = report(config)
            print(("\033[H\033[J" if args.watch else "") + text, flush=True)
            if not args.watch:
                return 0
            time.sleep(args.watch)
    except (ConfigError, DataError, OSError) as e:
        print(f"error: {error_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
