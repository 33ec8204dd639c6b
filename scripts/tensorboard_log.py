"""A run's TensorBoard events (train.tensorboard): its per-epoch scalars while it trains and, when it
ends, its genome as hparams with its fitness and status, so that

    tensorboard --logdir <outdir>/tensorboard

shows every individual, and the HParams tab the whole search. Offline files (TensorBoard's own
writer), one folder per run. Only the holder of the run's lock writes (runlock.py); on a resume the
folder is rewritten from the checkpoint's rows, so no epoch appears twice. A record cut off by a kill
is the last one of its file, and TensorBoard's reader stops before it.
"""

from __future__ import annotations

import math
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


class RunLog:
    def __init__(self, folder: str | Path, rows: list[dict]):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("events.out.tfevents.*"):  # an interrupted run's: rewritten below
            old.unlink()
        self.writer = EventFileWriter(str(self.folder))
        for row in rows:
            self.epoch(row)

    def _scalars(self, values: dict, step: int) -> None:
        """One event for all of an epoch's scalars: a record cut off by a kill drops the whole epoch."""
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(v)) for tag, v in values.items()])
        self.writer.add_event(Event(step=step, summary=summary))

    def epoch(self, row: dict) -> None:
        values = {tag: row[c] for c, tag in SCALARS.items() if c in row and math.isfinite(row[c])}
        self._scalars(values, int(row["epoch"]))
        self.writer.flush()

    def finish(self, hparams: dict, fitness: float, status: str) -> None:
        """The run's genome and outcome for the HParams view (its metric: the fitness)."""
        from tensorboard.compat.proto.event_pb2 import Event
        from torch.utils.tensorboard.summary import hparams as hparams_summaries

        values = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hparams.items()}
        for summary in hparams_summaries({**values, "status": status}, {"hparam/fitness": fitness}):
            self.writer.add_event(Event(summary=summary))
        self._scalars({"hparam/fitness": fitness}, 0)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
