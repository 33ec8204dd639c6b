"""A run's TensorBoard events (train.tensorboard): its per-epoch scalars while it trains and, when it
ends, its genome as hparams with its fitness and status, so that

    tensorboard --logdir <outdir>/tensorboard

shows every individual, and the HParams tab the whole search. Offline files in TensorBoard's record
format, one folder per run. Only the holder of the run's lock writes (runlock.py); on a resume the
folder is rewritten from the checkpoint's rows into a file TensorBoard does not read (no "tfevents" in
its name), renamed to an event file only once the old ones are gone, so no epoch appears twice, even
after a kill between the two. A record cut off by a kill is the last one of its file, and
TensorBoard's reader stops before it.

Events are not precious (metrics.tsv is the record): a failed write (a full disk) is one warning
line, the run's events stop there and training goes on. So the file is written here, in the calling
thread, rather than by TensorBoard's EventFileWriter, whose background thread printed a traceback.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import socket
import sys
import time
from pathlib import Path

SCALARS = {  # metrics.tsv column -> TensorBoard tag
    "train_loss": "loss/train",
    "val_loss": "loss/validation",
    "top1": "accuracy/top1_validation",
    "top3": "accuracy/top3_validation",
    "top5": "accuracy/top5_validation",
    "train_top1": "accuracy/top1_train",
    "lr": "schedule/lr",
    "momentum": "schedule/momentum",
    "test_top1": "accuracy/top1_test",
}
EVENTS = "events.out.tfevents.*"
PARTIAL = ".partial-events.*"  # a rewrite not yet renamed: TensorBoard reads names with "tfevents" only
_files = itertools.count()  # two logs of one process in one second get different names


def _event(summary=None, step: int = 0, **fields):
    from tensorboard.compat.proto.event_pb2 import Event

    return Event(wall_time=time.time(), step=step, summary=summary, **fields)


def _record(event) -> bytes:
    """One event framed by TensorBoard's own RecordWriter (length, CRCs), as bytes: written here, whole."""
    from tensorboard.summary.writer.record_writer import RecordWriter

    buf = io.BytesIO()
    RecordWriter(buf).write(event.SerializeToString())
    return buf.getvalue()


def _write_all(f, data: bytes) -> None:
    """An unbuffered write may take part of the data (a disk filling up): write the rest, or raise."""
    view = memoryview(data)
    while view:
        view = view[f.write(view) :]


def _hparam(value):
    """What a session start info holds: numbers and text; a boolean as its text ("true", "false", as
    a run id spells it): torch's hparams() tests int before bool and would store flip as 1.0 or 0.0,
    a number in the HParams view; anything else as its text."""
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, (int, float, str)) else str(value)


class RunLog:
    def __init__(self, folder: str | Path, rows: list[dict]):
        self.folder = Path(folder)
        self.file, self.path, self.size, self.header = None, None, 0, 0  # no file: not writing
        old = sorted(self.folder.glob(EVENTS)) + sorted(self.folder.glob(PARTIAL))  # rewritten below
        stamp = f"{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_files)}"
        partial = self.folder / PARTIAL.replace("*", stamp)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.file = open(partial, "xb", buffering=0)  # unbuffered: what write() took is in the file
        except OSError as e:
            self._stop(e)
            return
        self.path = partial  # ours from here on: removed if it ends with no epoch
        header = _record(_event(file_version="brain.Event:2"))
        self.header = len(header)
        self._write(header + b"".join(_record(self._epoch_event(row)) for row in rows))
        try:
            for path in old if self.file else []:  # the new file holds all they did: only now may they go
                path.unlink(missing_ok=True)
            if self.file:  # then it becomes what TensorBoard reads (the open file is renamed with it)
                self.path = partial.replace(self.folder / EVENTS.replace("*", stamp))
        except OSError as e:
            self._stop(e)

    def _write(self, data: bytes) -> None:
        """Whole records; a failed write stops the events, the file cut back to its last whole record."""
        if not self.file:
            return
        try:
            _write_all(self.file, data)
        except OSError as e:
            self._stop(e)
            return
        self.size += len(data)

    def _warn(self, e: OSError) -> None:
        print(f"warning: TensorBoard events in {self.folder} stopped ({e}); training goes on", file=sys.stderr)

    def _stop(self, e: OSError) -> None:
        self._warn(e)
        try:
            if self.file:
                self.file.truncate(self.size)  # frees space: works on a full disk too
                self.file.close()
            if self.path and self.size <= self.header:  # no epoch in it (0 bytes or just the header): goes
                self.path.unlink(missing_ok=True)
        except OSError:
            pass  # events are not precious: nothing more to do
        self.file = None

    def _scalars(self, values: dict, step: int):
        """One event for all of an epoch's scalars: a record cut off by a kill drops the whole epoch."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        return _event(Summary(value=[Summary.Value(tag=t, simple_value=float(v)) for t, v in values.items()]), step)

    def _epoch_event(self, row: dict):
        values = {tag: row[c] for c, tag in SCALARS.items() if c in row and math.isfinite(row[c])}
        return self._scalars(values, int(row["epoch"]))

    def epoch(self, row: dict) -> None:
        self._write(_record(self._epoch_event(row)))

    def finish(self, hparams: dict, fitness: float, status: str) -> None:
        """The run's genome and outcome for the HParams view: its session start and end, and the fitness
        as a scalar (a metric of the view). No experiment summary: TensorBoard takes the first one it
        finds, so runs of other keys (degradation beside search runs) lost columns; without one it
        builds the view from every run's session start."""
        from torch.utils.tensorboard.summary import hparams as hparams_summaries

        values = {k: _hparam(v) for k, v in hparams.items()}
        _experiment, start, end = hparams_summaries({**values, "status": status}, {"hparam/fitness": fitness})
        events = [_event(start), _event(end), self._scalars({"hparam/fitness": fitness}, 0)]
        self._write(b"".join(_record(e) for e in events))

    def close(self) -> None:
        file, self.file = self.file, None
        try:
            if file:
                file.close()
        except OSError as e:  # nothing is buffered here, but a network file system may still refuse
            self._warn(e)
