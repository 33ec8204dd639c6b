import json
import math
import os
import re
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import torch

from engine import METRIC_COLUMNS, one_cycle, peak_step
from helpers import TIMING, genome_id, lr_find_cmd, run_python, run_train, train_cmd


# ----------------------------------------------------------------------------- schedule
def test_one_cycle_lr_peaks_at_configured_step_and_momentum_moves_inversely():
    total, lr, mom = 1000, 0.1, 0.85
    curve = [one_cycle(s, total, lr, mom, max_momentum=0.95, pct_start=0.3) for s in range(total)]
    lrs, moms = np.array([c[0] for c in curve]), np.array([c[1] for c in curve])
    assert int(lrs.argmax()) == peak_step(total, 0.3) == 300
    assert lrs.max() == pytest.approx(lr) and lrs[0] == pytest.approx(lr / 25)
    assert lrs[-1] == pytest.approx(lr / 25 / 1e4)
    assert int(moms.argmin()) == 300 and moms.min() == pytest.approx(mom)
    assert moms[0] == pytest.approx(0.95) and moms[-1] == pytest.approx(0.95)
    assert np.all(np.diff(lrs[:301]) > 0) and np.all(np.diff(lrs[300:]) < 0)
    assert np.all(np.diff(moms[:301]) < 0) and np.all(np.diff(moms[300:]) > 0)  # inverse of lr


def test_momentum_above_max_momentum_still_meets_the_genome_at_the_peak():
    moms = [one_cycle(s, 100, 0.01, 1.5)[1] for s in range(100)]
    assert max(moms) == pytest.approx(1.5) and moms.index(max(moms)) == peak_step(100, 0.25)


# ----------------------------------------------------------------------------- training
@pytest.mark.slow
def test_short_training_learns_and_writes_its_files(prepared, tmp_path):
    out = tmp_path / "run"
    p = run_train(prepared, out, "--lr", 0.05, "--wd", 5e-4, "--mom", 0.85, "--max-train", 2000, arch="resnet20")
    m = pd.read_csv(out / "metrics.tsv", sep="\t")
    assert list(m.columns) == METRIC_COLUMNS and list(m["epoch"]) == [1, 2]
    res = json.loads((out / "result.json").read_text())
    assert res["status"] == "ok" and res["n_train"] == 2000 and res["n_val"] == 500
    assert res["fitness"] == res["top1"] == m["top1"].iloc[-1]
    assert res["top1"] > 0.35, "10 classes: chance is 0.10"  # learns in 2 epochs on 2k images
    assert res["top1"] <= res["top3"] <= res["top5"]
    assert m["train_loss"].iloc[-1] < m["train_loss"].iloc[0]
    assert (out / "model.pt").stat().st_size > 0 and not (out / "checkpoint.pt").exists()
    sched = pd.read_csv(out / "schedule.tsv", sep="\t")
    assert len(sched) == 2 * 20 and sched["lr"].max() == pytest.approx(0.05)
    assert p.stdout.count("epoch ") >= 2 and "top1" in p.stdout  # one progress line per epoch
    saved = torch.load(out / "model.pt", weights_only=True)
    assert saved["run"] == out.name  # the weights record the run they belong to
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values() if v.is_floating_point())


def test_a_run_id_sets_its_named_settings_and_its_key_must_match_the_rest(prepared, tmp_path):
    extra = ("--max-train", 300, "--max-val", 100)
    rid = genome_id(prepared, {"lr": 0.02, "wd": 0.001, "mom": 0.9, "batch_size": 50}, 3, *extra, epochs=1)
    out = tmp_path / rid
    run_train(prepared, out, "--genome", rid, *extra, epochs=1)
    res = json.loads((out / "result.json").read_text())
    assert res["named"] == {"lr": 0.02, "wd": 0.001, "mom": 0.9, "batch_size": 50} and res["seed"] == 3
    assert res["settings"]["batch_size"] == 50 and json.loads((out / "settings.json").read_text())["run"] == rid
    p = subprocess.run(
        train_cmd(prepared, tmp_path / "two" / rid, "--genome", rid, *extra, epochs=2), capture_output=True, text=True
    )
    assert p.returncode == 1 and "has context key" in p.stderr and "epochs" in p.stderr  # 2 epochs is another run
    assert not (tmp_path / "two").exists()  # refused before its folder is made
    # a folder not named by the run id: refused before anything is made (not after training, at result.json)
    other = tmp_path / rid.replace("seed=3", "seed=4")
    p = subprocess.run(train_cmd(prepared, other, "--genome", rid, *extra, epochs=1), capture_output=True, text=True)
    assert p.returncode == 1 and p.stderr.strip().startswith(f"error: {other}: not the folder of run {rid} (")
    assert not other.exists()


def test_divergence_stops_the_run_with_fitness_zero(prepared, tmp_path):
    out = tmp_path / "div"
    p = run_train(prepared, out, "--lr", 900, "--mom", 1.5, "--wd", 0.1, epochs=3)
    res = json.loads((out / "result.json").read_text())
    assert res["status"] == "diverged" and res["fitness"] == 0.0 and math.isnan(res["top1"])
    assert res["epochs_completed"] < 3 and "diverged" in p.stdout
    m = pd.read_csv(out / "metrics.tsv", sep="\t")
    assert len(m) == res["epochs_completed"] and np.isfinite(m[["train_loss", "val_loss"]].values.astype(float)).all()


def test_report_extreme_corner_does_not_crash(prepared, tmp_path):
    """lr=1e-2 with momentum 1.5 lies inside the report's bounds."""
    out = tmp_path / "corner"
    run_train(prepared, out, "--lr", 1e-2, "--mom", 1.5, "--wd", 0.1, "--max-train", 500, epochs=2)
    res = json.loads((out / "result.json").read_text())
    assert res["status"] in ("ok", "diverged") and 0.0 <= res["fitness"] <= 1.0


def _metrics_without_timing(path):
    return pd.read_csv(path, sep="\t").drop(columns=TIMING)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer, lr, wd", [("sgd", 0.05, 5e-4), ("adamw", 3e-3, 0.05)])
def test_sigkill_mid_epoch_then_resume_gives_identical_metrics(prepared, tmp_path, optimizer, lr, wd):
    args = ("--optimizer", optimizer, "--lr", lr, "--wd", wd, "--mom", 0.85, "--max-train", 1500)
    ref = tmp_path / "ref"
    run_train(prepared, ref, *args, epochs=3)

    out = tmp_path / "killed"
    proc = subprocess.Popen(train_cmd(prepared, out, *args, epochs=3), stdout=subprocess.PIPE, text=True)
    # wait for the first epoch's row: its checkpoint is on disk, epoch 2 is under way
    deadline = time.time() + 300
    while time.time() < deadline:
        if (out / "metrics.tsv").exists() and len((out / "metrics.tsv").read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (out / "checkpoint.pt").exists() and not (out / "result.json").exists()
    row = (out / "metrics.tsv").read_text().splitlines()[1]
    with open(out / "metrics.tsv", "a") as f:  # what a second, older writer would leave: a doubled row, a cut one
        f.write(f"{row}\n{row[:12]}")

    p = run_train(prepared, out, *args, epochs=3)
    assert "resuming from checkpoint" in p.stdout and "at epoch 1/3" in p.stdout
    pd.testing.assert_frame_equal(
        _metrics_without_timing(out / "metrics.tsv"), _metrics_without_timing(ref / "metrics.tsv")
    )
    a, b = (torch.load(d / "model.pt", weights_only=True)["state_dict"] for d in (out, ref))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((out / "result.json").read_text())["resumed_from_epoch"] == 1


def test_corrupt_checkpoint_is_moved_aside_never_deleted_and_run_restarts(prepared, tmp_path):
    out = tmp_path / "corrupt"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    (out / "checkpoint.pt.bad-1").write_bytes(b"an older one")
    p = run_train(prepared, out, "--max-train", 300, "--max-val", 100, epochs=1)
    assert "is unusable" in p.stdout and "moved to checkpoint.pt.bad-2" in p.stdout
    assert (out / "checkpoint.pt.bad-2").read_bytes() == b"PK\x03\x04 truncated"
    assert (out / "checkpoint.pt.bad-1").read_bytes() == b"an older one"
    assert json.loads((out / "result.json").read_text())["resumed_from_epoch"] is None


def test_checkpoint_from_other_settings_is_moved_aside(prepared, tmp_path):
    out = tmp_path / "other"
    args = ("--max-train", 300, "--max-val", 100)
    proc = subprocess.run(train_cmd(prepared, out, *args, "--lr", 0.01, epochs=1), capture_output=True)
    assert proc.returncode == 0
    # fake an interrupted run: a complete checkpoint made under other settings, then rerun with lr 0.02
    model = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    (out / "result.json").unlink()
    fake = {"model": model, "optimizer": {}, "epoch": 1, "rows": [], "rng": {}, "fingerprint": {"lr": 0.01}}
    torch.save(fake, out / "checkpoint.pt")
    p = run_train(prepared, out, *args, "--lr", 0.02, epochs=1)
    assert re.search(r"was written with other [a-z_, ]*\blr\b", p.stdout) and (out / "checkpoint.pt.bad-1").exists()
    assert json.loads((out / "result.json").read_text())["resumed_from_epoch"] is None


def test_unreadable_checkpoint_is_left_in_place_and_the_job_fails(prepared, tmp_path):
    """An OSError (here: EISDIR; on NFS ESTALE or EIO) may pass: the retry must still find it."""
    out = tmp_path / "blip"
    (out / "checkpoint.pt").mkdir(parents=True)
    p = subprocess.run(train_cmd(prepared, out, "--max-train", 300, epochs=1), capture_output=True, text=True)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.strip().startswith("error: ") and "checkpoint.pt" in p.stderr and "left in place" in p.stderr
    assert (out / "checkpoint.pt").is_dir() and not (out / "result.json").exists()


def test_checkpoint_with_a_code_payload_is_refused_without_running_it(prepared, tmp_path):
    out = tmp_path / "planted"
    out.mkdir()
    marker = tmp_path / "payload-ran"
    torch.save({"model": Payload(marker)}, out / "checkpoint.pt")  # a pickle that calls os.system on load
    p = run_train(prepared, out, "--max-train", 300, "--max-val", 100, epochs=1)
    assert not marker.exists(), "the checkpoint's payload ran"
    assert "is unusable" in p.stdout and (out / "checkpoint.pt.bad-1").exists()


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_the_rerun_resumes(prepared, tmp_path):
    out = tmp_path / "term"
    out.mkdir()
    (out / ".metrics.tsv.stale.tmp").write_text("left by a killed write")
    args = ("--max-train", 1500, "--max-val", 100)
    proc = subprocess.Popen(
        train_cmd(prepared, out, *args, epochs=3), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "checkpoint.pt").exists():
        time.sleep(0.05)
    assert not (out / ".metrics.tsv.stale.tmp").exists(), "stale temp files are removed at start"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "stopped by SIGTERM" in err and "Traceback" not in err
    assert not list(out.glob(".*.tmp")) and not (out / "result.json").exists()
    p = run_train(prepared, out, *args, epochs=3)
    assert "resuming from checkpoint" in p.stdout


def test_unknown_arch_is_a_usage_error(prepared, tmp_path):
    p = subprocess.run(train_cmd(prepared, tmp_path / "x", arch="resnet51"), capture_output=True, text=True)
    assert p.returncode == 2 and "resnet51" in p.stderr and "resnet20" in p.stderr


def test_lr_finder_writes_curve_and_suggestion(prepared, tmp_path):
    out = tmp_path / "lrf"
    p = subprocess.run(lr_find_cmd(prepared, out, 40), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    curve = pd.read_csv(out / "lr_find.tsv", sep="\t")
    assert list(curve.columns) == ["step", "lr", "loss", "smoothed_loss"] and len(curve) >= 10
    assert np.all(np.diff(curve["lr"]) > 0) and curve["lr"].iloc[0] == pytest.approx(1e-7)
    sug = json.loads((out / "suggestion.json").read_text())
    assert sug["valid"] and sug["rule"] == "valley" and sug["stretch"][0] <= sug["suggestion"] <= sug["stretch"][1]
    lowest = curve["lr"][int(curve["smoothed_loss"].idxmin())]
    assert sug["lr_min_loss"] == pytest.approx(lowest, rel=1e-12)  # pandas 2's parser may miss by 1 ulp


def test_lr_finder_runs_once_per_settings_and_once_for_two_workflows(prepared, tmp_path):
    """A setting changed and changed back reuses the range test run before (a GPU job, and a new run
    could move the baseline's lr); two workflows on one outdir run it once: the second waits, keeps."""
    out = tmp_path / "lrf"
    both = [subprocess.Popen(lr_find_cmd(prepared, out, 20), stdout=subprocess.PIPE, text=True) for _ in range(2)]
    said = [p.communicate(timeout=300)[0] for p in both]
    assert [p.returncode for p in both] == [0, 0]
    assert sorted("kept from" in s for s in said) == [False, True], said  # one ran it, the other kept it
    first = {n: (out / n).read_bytes() for n in ("lr_find.tsv", "suggestion.json")}
    p = subprocess.run(lr_find_cmd(prepared, out, 20, "--wd", "0.01"), capture_output=True, text=True)
    assert p.returncode == 0 and "kept from" not in p.stdout
    assert (out / "lr_find.tsv").read_bytes() != first["lr_find.tsv"]
    p = subprocess.run(lr_find_cmd(prepared, out, 20), capture_output=True, text=True)  # back
    assert p.returncode == 0 and "kept from" in p.stdout
    assert {n: (out / n).read_bytes() for n in first} == first
    assert len(list((out / "by_settings").iterdir())) == 2


def test_lr_finder_takes_only_the_settings_it_uses(prepared, tmp_path):
    for flag in (["--genome", "lr=1.00e-02_seed=0"], ["--stop-against", "x"], ["--track-test"], ["--epochs", 3]):
        p = subprocess.run(lr_find_cmd(prepared, tmp_path / "lrf", 5, *flag), capture_output=True, text=True)
        assert p.returncode == 2 and "unrecognized arguments" in p.stderr, flag


def test_step_schedule_divides_lr_at_milestones_with_optional_warmup():
    from engine import step_schedule

    lrs = [step_schedule(s, 0.1, 0.9, [32000, 48000])[0] for s in (0, 31999, 32000, 47999, 48000, 63999)]
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    assert step_schedule(399, 0.1, 0.9, [32000], warmup_iters=400) == pytest.approx((0.01, 0.9))
    assert step_schedule(400, 0.1, 0.9, [32000], warmup_iters=400) == pytest.approx((0.1, 0.9))


def test_iterations_step_schedule_and_per_epoch_test_error(prepared, tmp_path):
    out = tmp_path / "paper"
    run_train(
        prepared,
        out,
        "--schedule",
        "step",
        "--lr",
        0.1,
        "--mom",
        0.9,
        "--wd",
        1e-4,
        "--iterations",
        45,
        "--milestones",
        30,
        40,
        "--track-test",
        epochs=99,
    )
    m = pd.read_csv(out / "metrics.tsv", sep="\t")
    assert list(m.columns) == METRIC_COLUMNS + ["test_loss", "test_top1"]
    assert list(m["epoch"]) == [1, 2, 3]  # 45 iterations of 20 steps per epoch: the last epoch stops part-way
    sched = pd.read_csv(out / "schedule.tsv", sep="\t")
    assert (
        len(sched) == 45 and sched["lr"].iloc[29] == pytest.approx(0.1) and sched["lr"].iloc[30] == pytest.approx(0.01)
    )
    assert (sched["momentum"] == 0.9).all()
    assert m["test_top1"].between(0, 1).all() and m["train_top1"].between(0, 1).all()


def test_a_terminal_gets_a_progress_bar_and_a_job_log_one_line_per_epoch(prepared, tmp_path):
    import pty

    master, slave = pty.openpty()
    cmd = train_cmd(prepared, tmp_path / "tty", "--max-train", 1000, epochs=1)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=slave, timeout=300)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the pty is drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    bar = b"".join(chunks).decode(errors="replace")
    # tqdm: 10 steps of 100; the bar redraws at most every 0.1 s, so which steps it shows depends on speed
    assert p.returncode == 0 and "epoch 1/1" in bar and re.search(r"[1-9]\d*/10 \[", bar) and "it/s" in bar, bar
    log = run_train(prepared, tmp_path / "log", "--max-train", 1000, epochs=1).stderr
    assert not re.search(r"\d+/10 \[", log) and "it/s" not in log


def elite_metrics(path, top1_at_1):
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = {c: [0.5] * 3 for c in METRIC_COLUMNS}
    rows.update(epoch=[1, 2, 3], top1=[top1_at_1, 0.99, 0.99], top3=[1.0] * 3, top5=[1.0] * 3)  # top-1 <= top-3
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


@pytest.mark.slow
def test_a_child_below_the_elites_bar_stops_at_the_decision_epoch(prepared, tmp_path):
    high = [elite_metrics(tmp_path / f"e{i}" / "metrics.tsv", 0.95 + i / 100) for i in range(2)]
    stop = ["--stop-epoch", 1, "--stop-margin", 0.0, "--stop-against", *high, "--max-train", 1000]
    out = tmp_path / "stopped"
    p = run_train(prepared, out, *stop, epochs=3)
    res = json.loads((out / "result.json").read_text())
    rows = pd.read_csv(out / "metrics.tsv", sep="\t")
    assert res["status"] == "stopped" and res["epochs_completed"] == 1 and len(rows) == 1 and res["epochs"] == 3
    assert res["fitness"] == res["top1"] == rows["top1"].iloc[-1] < 0.95  # the worst elite sets the bar
    assert "stopped after epoch 1" in p.stdout and not (out / "checkpoint.pt").exists()
    low = [elite_metrics(tmp_path / "low" / "metrics.tsv", 0.0)]
    out2 = tmp_path / "goes_on"
    run_train(prepared, out2, *stop[:4], "--stop-against", *low, "--max-train", 1000, epochs=3)
    assert json.loads((out2 / "result.json").read_text())["epochs_completed"] == 3


def test_a_complete_run_is_kept_not_trained_again(prepared, tmp_path):
    out = tmp_path / "done"
    args = ("--max-train", 300, "--max-val", 100)
    run_train(prepared, out, *args, epochs=1)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".lock"}
    p = run_train(prepared, out, *args, epochs=1)  # Snakemake reran the job, or another workflow's did
    assert "is complete" in p.stdout and "kept, not trained again" in p.stdout and "epoch 1/1" not in p.stdout
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".lock"} == before
    p = subprocess.run(train_cmd(prepared, out, *args, "--lr", 0.1, epochs=1), capture_output=True, text=True)
    assert p.returncode == 1 and "trained with other lr" in p.stderr  # never overwritten by other settings


def test_a_second_writer_waits_for_the_run_s_holder_and_then_keeps_its_result(prepared, tmp_path):
    out = tmp_path / "shared"
    args = ("--max-train", 1000, "--max-val", 100)
    env = {**os.environ, "RESNET_GA_TEST_STEP_DELAY": "0.05"}
    first = subprocess.Popen(train_cmd(prepared, out, *args, epochs=2), stdout=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "settings.json").exists():
        time.sleep(0.05)
    second = subprocess.run(train_cmd(prepared, out, *args, epochs=2), capture_output=True, text=True, timeout=300)
    first.wait(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert "is held by train on host" in second.stdout and "kept, not trained again" in second.stdout
    assert len(pd.read_csv(out / "metrics.tsv", sep="\t")) == 2  # one row per epoch: one writer


def test_label_smoothing_cutout_and_no_augmentation_train(prepared, tmp_path):
    runs = {}
    for name, extra in {
        "smooth": ["--label-smoothing", 0.1],
        "cutout": ["--cutout", 8],
        "plain": ["--crop-pad", 0, "--no-flip"],
    }.items():
        out = tmp_path / name
        run_train(prepared, out, "--lr", 0.05, "--max-train", 500, "--max-val", 100, *extra, epochs=1)
        runs[name] = pd.read_csv(out / "metrics.tsv", sep="\t")["train_loss"].iloc[0]
        assert json.loads((out / "result.json").read_text())["status"] == "ok"
    assert len(set(runs.values())) == 3  # each setting changes the numbers


def test_cutout_zeroes_a_square_and_no_flip_draws_the_same_crops():
    from data import Augment, augment_params, cutout, epoch_generator

    x = torch.ones(4, 3, 16, 16)
    c = cutout(x, torch.tensor([[0.5, 0.5]] * 4), 6)
    assert int((c == 0).sum()) == 4 * 3 * 36 and c[:, :, 0, 0].eq(1).all()
    a, b = (augment_params(8, epoch_generator(1, 0), Augment(flip=f)) for f in (True, False))
    assert torch.equal(a[0], b[0]) and not b[1].any() and a[2] is None


def test_deterministic_kernels_on_cuda_without_importing_the_compiler():
    """set_determinism for a CUDA run: the kernels' switch is on, and without torch.compile the compiler
    stack (1.0-1.2 s of every GPU job's start) is not imported; with it, the compiler's flag is set too.
    The switches are device-independent, so this runs on a CPU-only machine (in a fresh process: the
    imports are what is measured)."""
    code = (
        "import sys, torch, engine\n"
        "engine.set_determinism(True, 'cuda')\n"
        "assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic\n"
        "assert 'torch._inductor.config' not in sys.modules, 'compiler imported'\n"
        "engine.set_determinism(True, 'cuda', compiling=True)\n"
        "import torch._inductor.config as c\n"
        "assert c.deterministic\n"
    )
    p = run_python(code)
    assert p.returncode == 0, p.stderr


def test_a_metrics_row_that_does_not_fit_on_the_disk_names_the_file(tmp_path, monkeypatch):
    """ENOSPC at the flush of an append carries no file name: the error line must name metrics.tsv."""
    import errno

    import train
    from util import error_line

    class Full:
        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def write(self, text):
            pass

        def flush(self):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(train, "open", Full, raising=False)
    path = tmp_path / "metrics.tsv"
    with pytest.raises(OSError) as e:
        train.append_row(path, "1\t0.5\n")
    assert error_line(e.value) == f"{path}: No space left on device"
