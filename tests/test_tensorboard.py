"""TensorBoard events (tensorboard_log.py): every run's scalars and hparams, read back with
TensorBoard's own reader; a run cut off mid-write leaves nothing the reader chokes on; a resumed run
writes every epoch once."""

import shutil

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

import formats
from helpers import SMOKE, snakemake, trained_runs
from tensorboard_log import RunLog


def read(folder):
    ea = EventAccumulator(str(folder))
    ea.Reload()
    hparams = {}
    try:
        contents = ea.PluginTagToContent("hparams").values()
    except KeyError:  # a run that has not ended has no hparams yet
        contents = []
    for content in contents:
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.WhichOneof("data") == "session_start_info":
            values = data.session_start_info.hparams.items()
            hparams = {k: getattr(v, v.WhichOneof("kind")) for k, v in values}
    return ea, hparams


ROW = {
    "epoch": 1,
    "train_loss": 2.0,
    "val_loss": 1.9,
    "top1": 0.3,
    "top3": 0.6,
    "top5": 0.8,
    "train_top1": 0.25,
    "lr": 0.01,
    "momentum": 0.9,
}


def test_a_resumed_run_writes_each_epoch_once_and_a_cut_record_is_skipped(tmp_path):
    log = RunLog(tmp_path / "run", [])
    log.epoch(ROW)
    log.epoch({**ROW, "epoch": 2, "top1": 0.4})
    log.close()
    event = next((tmp_path / "run").glob("events.out.tfevents.*"))
    event.write_bytes(event.read_bytes()[:-7])  # killed in the middle of its last record
    ea, _ = read(tmp_path / "run")
    assert [s.step for s in ea.Scalars("accuracy/top1_validation")] == [1]  # the cut record is dropped
    resumed = RunLog(tmp_path / "run", [ROW])  # the checkpoint's rows, written again from the start
    resumed.epoch({**ROW, "epoch": 2, "top1": 0.45})
    resumed.finish({"lr": 0.01, "arch": "resnet8", "seed": 0}, 0.45, "ok")
    resumed.close()
    ea, hparams = read(tmp_path / "run")
    assert [(s.step, round(s.value, 2)) for s in ea.Scalars("accuracy/top1_validation")] == [(1, 0.3), (2, 0.45)]
    assert hparams == {"lr": 0.01, "arch": "resnet8", "seed": 0, "status": "ok"}


@pytest.mark.slow
def test_every_run_of_the_smoke_search_is_in_tensorboard(smoke):
    out = smoke["out"]
    runs = {
        p.parent.name: formats.read_record("result", p, run=p.parent.name) for p in (out / "runs").glob("*/result.json")
    }
    assert {p.name for p in (out / "tensorboard").iterdir()} >= set(runs)
    for run, result in runs.items():
        ea, hparams = read(out / "tensorboard" / run)
        steps = [s.step for s in ea.Scalars("loss/validation")]
        assert steps == list(range(1, result["epochs_completed"] + 1)), run
        assert {"loss/train", "accuracy/top1_validation", "schedule/lr", "schedule/momentum", "hparam/fitness"} <= set(
            ea.Tags()["scalars"]
        )
        assert hparams["status"] == result["status"] and hparams["seed"] == result["seed"]
        assert all(k in hparams for k in result["named"]), (run, hparams)


@pytest.mark.slow
def test_switched_off_no_run_writes_events_and_switching_reruns_nothing(smoke, tmp_path):
    off = ["--config", "train={tensorboard: false}"]
    p = snakemake(smoke["dir"], *SMOKE, "-n", *off)
    assert "Nothing to be done" in p.stdout + p.stderr  # a scheduling knob: finished runs stay
    work = tmp_path / "copy"
    shutil.copytree(smoke["dir"], work, symlinks=True)
    target = "results/smoke/search/rep0/round0/fitness.tsv"
    p = snakemake(work, target, *SMOKE, "-p", "--config", "train={tensorboard: false, epochs: 3}")
    new = trained_runs(p.stdout + p.stderr)
    commands = [line for line in (p.stdout + p.stderr).splitlines() if "train.py" in line]
    assert len(new) == len(commands) == 4 and not any("--tensorboard" in c for c in commands)
    assert not any((work / "results" / "smoke" / "tensorboard" / run).exists() for run in new)
