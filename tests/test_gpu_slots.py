import os
import subprocess
import time

import pytest

import gpu_slots
from helpers import script_cmd


def test_concurrent_processes_take_different_gpus(tmp_path):
    procs = [
        subprocess.Popen(
            script_cmd("gpu_slots.py", "--gpus", 4, "--dir", tmp_path, "--hold", 2), stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    slots = sorted(int(p.stdout.readline()) for p in procs)
    assert slots == [0, 1, 2, 3]
    for p in procs:
        p.wait()


def test_a_fifth_job_waits_until_a_gpu_is_free_and_a_killed_job_frees_its_gpu(tmp_path):
    holders = [
        subprocess.Popen(
            script_cmd("gpu_slots.py", "--gpus", 2, "--dir", tmp_path, "--hold", 60), stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    taken = {int(p.stdout.readline()): p for p in holders}
    assert set(taken) == {0, 1}
    waiter = subprocess.Popen(
        script_cmd("gpu_slots.py", "--gpus", 2, "--dir", tmp_path), stdout=subprocess.PIPE, text=True
    )
    time.sleep(1.0)
    assert waiter.poll() is None, "must wait while both GPUs are taken"
    taken[1].kill()  # SIGKILL: the kernel releases its lock
    assert int(waiter.stdout.readline()) == 1
    waiter.wait()
    taken[0].kill()
    for p in holders:
        p.wait()


def test_slurm_or_user_cuda_visible_devices_is_respected(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_GA_GPU_LOCK_DIR", str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert gpu_slots.choose_cuda_device(1) is None and gpu_slots.choose_cuda_device(8) is None
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert gpu_slots.choose_cuda_device(1) is None  # one GPU: nothing to choose
    assert gpu_slots.choose_cuda_device(2) == 0 and (tmp_path / "gpu0.lock").exists()


def test_several_visible_gpus_of_a_slurm_group_job_are_shared_out_by_locks(monkeypatch, tmp_path):
    """A group job given 2 GPUs runs 2 trainings at once: each takes one of its own GPUs, and the
    lock folder belongs to the allocation (indices count its GPUs, not the node's)."""
    monkeypatch.delenv("RESNET_GA_GPU_LOCK_DIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert gpu_slots.lock_dir() == tmp_path / "resnet-ga-gpu-locks-slurm4242"
    assert gpu_slots.choose_cuda_device(2) == 0 and gpu_slots.choose_cuda_device(2) == 1


def test_acquire_times_out_with_a_clear_error(tmp_path):
    holder = subprocess.Popen(
        script_cmd("gpu_slots.py", "--gpus", 1, "--dir", tmp_path, "--hold", 30), stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "0"
    with pytest.raises(TimeoutError, match="GPU slots"):
        gpu_slots.acquire(1, tmp_path, timeout=0.5, poll=0.1)
    holder.kill()
    holder.wait()


def test_a_planted_symlink_lock_file_is_refused_and_its_target_untouched(tmp_path):
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    thesis = tmp_path / "thesis.tex"
    thesis.write_text("years of work\n")
    (locks / "gpu0.lock").symlink_to(thesis)
    with pytest.raises(PermissionError, match="gpu0.lock"):
        gpu_slots.acquire(2, locks, timeout=0.5, poll=0.1)
    assert thesis.read_text() == "years of work\n"


@pytest.mark.parametrize("mode", [0o777, 0o775])
def test_a_lock_folder_others_can_write_is_refused(tmp_path, mode):
    locks = tmp_path / "shared"
    locks.mkdir()
    locks.chmod(mode)
    with pytest.raises(PermissionError, match="not a private folder"):
        gpu_slots.acquire(1, locks, timeout=0.5)
    assert not (locks / "gpu0.lock").exists()


def test_default_lock_folder_is_private(monkeypatch, tmp_path):
    monkeypatch.delenv("RESNET_GA_GPU_LOCK_DIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert gpu_slots.lock_dir() == tmp_path / "resnet-ga-gpu-locks"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setattr(gpu_slots.tempfile, "gettempdir", lambda: str(tmp_path))
    folder = gpu_slots.private_dir(gpu_slots.lock_dir())
    assert folder.name == f"resnet-ga-gpu-locks-{os.getuid()}" and (folder.stat().st_mode & 0o777) == 0o700


def test_k_slots_per_gpu_spread_over_gpus_then_fill_them(tmp_path):
    """jobs_per_gpu=2 on 2 GPUs: the first two jobs take different GPUs, four fit, a fifth waits."""

    def take():
        p = subprocess.Popen(
            script_cmd("gpu_slots.py", "--gpus", 2, "--slots", 2, "--dir", tmp_path, "--hold", 30),
            stdout=subprocess.PIPE,
            text=True,
        )
        return p, int(p.stdout.readline())

    holders = [take() for _ in range(4)]
    assert [gpu for _, gpu in holders] == [0, 1, 0, 1]
    waiter = subprocess.Popen(
        script_cmd("gpu_slots.py", "--gpus", 2, "--slots", 2, "--dir", tmp_path), stdout=subprocess.PIPE, text=True
    )
    time.sleep(1.0)
    assert waiter.poll() is None, "all four slots are taken"
    holders[3][0].kill()
    assert int(waiter.stdout.readline()) == 1
    for p, _ in holders:
        p.kill()
        p.wait()
    waiter.wait()


@pytest.mark.parametrize("where", ["missing/x", "a_file/x"])
def test_a_lock_folder_that_cannot_be_made_is_one_error_line_and_no_file(tmp_path, where):
    """RESNET_GA_GPU_LOCK_DIR under a missing folder (ENOENT) or through a file (ENOTDIR): one line
    naming the folder and the reason, exit 1, nothing made; in-process, a PermissionError (which
    engine.resolve_device turns into one line too)."""
    (tmp_path / "a_file").write_text("not a folder\n")
    before = sorted(tmp_path.rglob("*"))
    folder = tmp_path / where
    reason = "No such file or directory" if where.startswith("missing") else "Not a directory"
    env = {**os.environ, "RESNET_GA_GPU_LOCK_DIR": str(folder)}
    p = subprocess.run(script_cmd("gpu_slots.py", "--gpus", 2), capture_output=True, text=True, env=env, timeout=60)
    lines = p.stderr.splitlines()
    assert p.returncode == 1 and "Traceback" not in p.stderr and p.stdout == "", p.stderr
    assert len(lines) == 1 and lines[0].startswith(f"error: {folder}: ") and reason in lines[0], p.stderr
    with pytest.raises(PermissionError, match=reason):
        gpu_slots.acquire(2, folder, timeout=0.5)
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("args", [("--gpus", 0), ("--gpus", 2, "--slots", 0), ("--gpus", 1, "--hold", -1)])
def test_no_slot_to_wait_for_or_a_negative_hold_is_a_usage_error(tmp_path, args):
    p = subprocess.run(
        script_cmd("gpu_slots.py", *args, "--dir", tmp_path / "locks"), capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1 and "error:" in p.stderr, p.stderr
    assert not (tmp_path / "locks").exists()


def test_a_lock_folder_without_locks_is_an_error_not_a_wait(tmp_path, monkeypatch):
    import errno

    def no_locks(fd, how):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(gpu_slots.fcntl, "flock", no_locks)  # as on an NFS mount whose lock service is down
    t0 = time.monotonic()
    with pytest.raises(PermissionError, match=r"gpu0\S*: cannot lock the GPU lock file \(No locks available\)"):
        gpu_slots.acquire(1, tmp_path / "locks", timeout=30, poll=0.1)
    assert time.monotonic() - t0 < 5
