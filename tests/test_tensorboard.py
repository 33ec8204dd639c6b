"""TensorBoard events (tensorboard_log.py): every run's scalars and hparams, read back with
TensorBoard's own reader; a run cut off mid-write leaves nothing the reader chokes on; a resumed run
writes every epoch once; the HParams view has every run's keys; a full disk is one warning line."""

import errno
import os
import shutil
import subprocess
import sys

import pytest
from tensorboard import context
from tensorboard.backend.event_processing.data_provider import MultiplexerDataProvider
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment, plugin_data_pb2

import formats
import tensorboard_log
from helpers import SCRIPTS, SMOKE, snakemake, trained_runs
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
    resumed.finish({"lr": 0.01, "arch": "resnet8", "flip": False, "seed": 0}, 0.45, "ok")
    resumed.close()
    ea, hparams = read(tmp_path / "run")
    assert [(s.step, round(s.value, 2)) for s in ea.Scalars("accuracy/top1_validation")] == [(1, 0.3), (2, 0.45)]
    assert hparams == {"lr": 0.01, "arch": "resnet8", "flip": "false", "seed": 0, "status": "ok"}  # not 0.0


def experiment(logdir):
    """The HParams view's experiment as TensorBoard's plugin computes it for `tensorboard --logdir`."""
    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    tb = base_plugin.TBContext(data_provider=MultiplexerDataProvider(multiplexer, str(logdir)), logdir=str(logdir))
    request = api_pb2.GetExperimentRequest()
    return get_experiment.Handler(context.RequestContext(), backend_context.Context(tb), "", request).run()


def test_the_hparams_view_has_every_runs_keys(tmp_path):
    runs = {
        "search1": {"lr": 0.1, "wd": 5e-4, "mom": 0.9, "seed": 0},
        "search2": {"lr": 0.02, "wd": 1e-4, "mom": 0.8, "seed": 1},
        "degradation": {"arch": "resnet8", "seed": 0},  # other keys: its columns were lost to the search's
    }
    for run, hparams in runs.items():
        log = RunLog(tmp_path / run, [ROW])
        log.finish(hparams, 0.3, "ok")
        log.close()
    view = experiment(tmp_path)
    assert {h.name for h in view.hparam_infos} == {"lr", "wd", "mom", "arch", "seed", "status"}
    assert "hparam/fitness" in {m.name.tag for m in view.metric_infos}


def full_disk_after(n_bytes):
    """_write_all on a disk that fills up after n_bytes more: a write takes what fits, then ENOSPC."""
    left = [n_bytes]

    def write_all(f, data):
        taken = data[: left[0]]
        f.write(taken)
        left[0] -= len(taken)
        if len(taken) < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return write_all


def warnings_of(err, folder):
    assert "Traceback" not in err and "Exception" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning:") and str(folder) in lines[0], err
    assert "No space left on device" in lines[0]


def test_a_full_disk_mid_run_is_one_warning_and_training_goes_on(tmp_path, monkeypatch, capfd):
    log = RunLog(tmp_path / "run", [ROW])
    log.epoch({**ROW, "epoch": 2})
    monkeypatch.setattr(tensorboard_log, "_write_all", full_disk_after(20))  # epoch 3's record is cut
    for epoch in (3, 4):
        log.epoch({**ROW, "epoch": epoch})
    log.finish({"lr": 0.01, "seed": 0}, 0.3, "ok")
    log.close()
    warnings_of(capfd.readouterr().err, tmp_path / "run")
    (event,) = (tmp_path / "run").glob("events.out.tfevents.*")
    ea, _ = read(tmp_path / "run")
    assert [s.step for s in ea.Scalars("accuracy/top1_validation")] == [1, 2]
    assert event.stat().st_size == log.size  # cut back to its last whole record


def test_a_full_disk_at_the_start_leaves_no_file_and_keeps_the_old_events(tmp_path, monkeypatch, capfd):
    old = RunLog(tmp_path / "run", [ROW])  # an interrupted run's events
    old.close()
    (before,) = (tmp_path / "run").glob("events.out.tfevents.*")
    content = before.read_bytes()
    monkeypatch.setattr(tensorboard_log, "_write_all", full_disk_after(0))
    log = RunLog(tmp_path / "run", [ROW, {**ROW, "epoch": 2}])  # the resume: its new file cannot be written
    log.epoch({**ROW, "epoch": 3})
    log.finish({"lr": 0.01, "seed": 0}, 0.3, "ok")
    log.close()
    warnings_of(capfd.readouterr().err, tmp_path / "run")
    assert list((tmp_path / "run").iterdir()) == [before] and before.read_bytes() == content


def test_a_kill_between_a_resume_s_rewrite_and_removing_the_old_file_shows_each_epoch_once(tmp_path, monkeypatch):
    """The rewrite is named for TensorBoard only after the old events are gone: killed in between,
    the reader sees the old file alone; the next resume clears both and writes one file."""
    RunLog(tmp_path / "run", [ROW]).close()  # an interrupted run's events

    def killed(self, missing_ok=False):
        raise KeyboardInterrupt  # SIGINT's exception, standing in for a kill at this instant

    monkeypatch.setattr(tensorboard_log.Path, "unlink", killed)
    with pytest.raises(KeyboardInterrupt):
        RunLog(tmp_path / "run", [ROW, {**ROW, "epoch": 2}])
    monkeypatch.undo()
    ea, _ = read(tmp_path / "run")
    assert [s.step for s in ea.Scalars("accuracy/top1_validation")] == [1]  # the old file's, once
    log = RunLog(tmp_path / "run", [ROW, {**ROW, "epoch": 2}])  # the next resume
    log.close()
    assert [p.name.startswith("events.out.tfevents.") for p in (tmp_path / "run").iterdir()] == [True]
    ea, _ = read(tmp_path / "run")
    assert [s.step for s in ea.Scalars("accuracy/top1_validation")] == [1, 2]


FILE_SIZE_LIMIT = """
import resource, signal, sys
sys.path.insert(0, sys.argv[1])
from tensorboard_log import RunLog
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG, as a full disk gives ENOSPC
resource.setrlimit(resource.RLIMIT_FSIZE, (300, resource.RLIM_INFINITY))
row = {"epoch": 1, "train_loss": 2.0, "val_loss": 1.9, "top1": 0.3, "lr": 0.01, "momentum": 0.9}
log = RunLog(sys.argv[2], [row])
for epoch in range(2, 6):
    log.epoch({**row, "epoch": epoch})
log.finish({"lr": 0.01, "seed": 0}, 0.3, "ok")
log.close()
print("trained on")
"""


def test_a_write_the_kernel_refuses_is_one_warning(tmp_path):
    """The real write path: a file size limit cuts a record in the kernel, as a full disk does."""
    p = subprocess.run(
        [sys.executable, "-c", FILE_SIZE_LIMIT, str(SCRIPTS), str(tmp_path / "run")], capture_output=True, text=True
    )
    assert p.returncode == 0 and p.stdout == "trained on\n", p.stderr
    assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1 and "File too large" in p.stderr
    ea, _ = read(tmp_path / "run")
    assert [s.step for s in ea.Scalars("loss/validation")] == [1]  # the epochs that fitted, whole


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
        # every per-epoch scalar of metrics.tsv (losses, top-1/3/5, lr, momentum) and the fitness
        tags = {t for c, t in tensorboard_log.SCALARS.items() if c != "test_top1"} | {"hparam/fitness"}
        assert tags <= set(ea.Tags()["scalars"]), (run, tags - set(ea.Tags()["scalars"]))
        top5 = [round(e.value, 5) for e in ea.Scalars("accuracy/top5_validation")]
        metrics = formats.read_table("metrics", out / "runs" / run / "metrics.tsv")
        assert top5 == [round(v, 5) for v in metrics["top5"]], run
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
