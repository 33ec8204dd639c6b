import hashlib
import os
import pickle
import subprocess

import numpy as np
import pytest
import torch
from torchvision.datasets import CIFAR10, CIFAR100

import data
from data import (
    DATASETS,
    DataError,
    augment_batch,
    augment_params,
    epoch_generator,
    load_prepared,
    make_synthetic,
    read_cifar,
    split_indices,
    write_cifar10_layout,
)
from helpers import script_cmd


def test_official_urls_and_md5s_are_torchvision_s():
    for ours, tv in ((DATASETS["cifar10"], CIFAR10), (DATASETS["cifar100"], CIFAR100)):
        assert ours["url"] == tv.url and ours["tgz_md5"] == tv.tgz_md5 and ours["folder"] == tv.base_folder
        assert [list(x) for x in ours["train"]] == tv.train_list
        assert [list(x) for x in ours["test"]] == tv.test_list
        assert ours["meta"] == (tv.meta["filename"], tv.meta["md5"])


def test_a_corrupted_download_is_one_error_line_and_not_kept(tmp_path, monkeypatch, capsys):
    """The real download code with the network stubbed out: an archive that fails torchvision's md5
    check (a proxy's error page, a cut transfer) is one `error:` line naming it and is removed, so the
    next try downloads afresh instead of meeting the same bad file."""
    import torchvision.datasets.utils as tv

    def fetch(url, path, *a, **k):
        open(path, "wb").write(b"<html>proxy</html>")

    monkeypatch.setattr(tv, "_is_remote_location_available", lambda: False)
    monkeypatch.setattr(tv, "_get_redirect_url", lambda url, max_hops: url)
    monkeypatch.setattr(tv, "_urlretrieve", fetch)
    assert data.main(["download", "--dataset", "cifar10", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    archive = tmp_path / "cifar-10-python.tar.gz"
    assert len(err) == 1 and err[0].startswith(f"error: {archive}: ") and "md5" in err[0], err
    assert not archive.exists()


def test_generated_data_has_the_official_layout(synthetic_raw):
    folder = synthetic_raw / "cifar-10-batches-py"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "batches.meta",
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
        "test_batch",
    ]
    d = data._load_pickle(folder / "data_batch_1", md5=None)  # the restricted reader the workflow uses
    assert d["data"].dtype == np.uint8 and d["data"].shape == (500, 3072) and len(d["labels"]) == 500


def test_read_roundtrip_through_the_real_reading_code(tmp_path):
    tx, ty, vx, vy = make_synthetic(300, 50, seed=3)
    write_cifar10_layout(tmp_path, tx, ty, vx, vy)
    classes, splits = read_cifar(tmp_path, "synthetic")
    rx, ry = (np.concatenate([b[i] for b in splits["train"]]) for i in (0, 1))
    assert np.array_equal(rx.reshape(300, 3072), tx) and np.array_equal(ry, ty) and len(splits["train"]) == 5
    assert np.array_equal(splits["test"][0][0].reshape(50, 3072), vx) and np.array_equal(splits["test"][0][1], vy)
    assert rx.shape == (300, 3, 32, 32) and len(classes) == 10
    # data_dir may also be the batch folder itself
    _, again = read_cifar(tmp_path / "cifar-10-batches-py", "synthetic")
    assert np.array_equal(np.concatenate([b[1] for b in again["train"]]), ty)


def test_synthetic_is_seeded():
    a, b = make_synthetic(50, 10, seed=1), make_synthetic(50, 10, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(make_synthetic(50, 10, seed=2)[0], a[0])


def test_prepare_and_memory_map(prepared):
    d = load_prepared(prepared)
    assert isinstance(d["train_x"], np.memmap) and d["train_x"].shape == (2500, 3, 32, 32)
    assert d["train_x"].dtype == np.uint8 and d["test_y"].shape == (500,)
    meta = d["meta"]
    assert meta["num_classes"] == 10 and len(meta["mean"]) == 3 and all(0 < s < 1 for s in meta["std"])
    assert meta["data_id"].startswith("synthetic-") and len(meta["data_id"]) == len("synthetic-") + 12
    xf = np.asarray(d["train_x"], dtype=np.float64) / 255  # the exact streaming sums agree with numpy's
    assert np.allclose(meta["mean"], xf.mean(axis=(0, 2, 3)), rtol=0, atol=1e-12)
    assert np.allclose(meta["std"], xf.std(axis=(0, 2, 3)), rtol=0, atol=1e-12)


def test_the_data_identity_follows_the_content(synthetic_raw, tmp_path):
    a = data.prepare(synthetic_raw, tmp_path / "a", "synthetic")
    b = data.prepare(synthetic_raw, tmp_path / "b", "synthetic")  # another folder, the same content
    assert data.read_meta(a)["data_id"] == data.read_meta(b)["data_id"]
    other = data.write_synthetic(tmp_path / "raw2", n_train=2500, n_test=500, seed=1)
    c = data.prepare(other.parent, tmp_path / "c", "synthetic")
    assert data.read_meta(c)["data_id"] != data.read_meta(a)["data_id"]


def test_prepare_refuses_a_split_the_data_cannot_give_before_writing(synthetic_raw, tmp_path):
    with pytest.raises(DataError, match=r"config key data.val_size: 2500 leaves no training images out of 2500"):
        data.prepare(synthetic_raw, tmp_path / "p", "synthetic", fit=(2500, 0, 100))
    with pytest.raises(DataError, match=r"config key train.batch_size: 3000 exceeds the 2000"):
        data.prepare(synthetic_raw, tmp_path / "p", "synthetic", fit=(500, 0, 3000))
    assert not (tmp_path / "p").exists()


def test_cli_prepare_reports_counts(synthetic_raw, tmp_path):
    p = subprocess.run(
        script_cmd(
            "data.py", "prepare", "--data-dir", synthetic_raw, "--out", tmp_path / "p", "--dataset", "synthetic"
        ),
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0 and "2500 train, 500 test, 10 classes" in p.stdout


def _one_line_error(args):
    p = subprocess.run(script_cmd("data.py", *args), capture_output=True, text=True)
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def _copy_raw(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst / "cifar-10-batches-py"


def test_truncated_batch_is_one_clear_error_naming_the_file(synthetic_raw, tmp_path):
    folder = _copy_raw(synthetic_raw, tmp_path / "raw")
    path = folder / "data_batch_3"
    path.write_bytes(path.read_bytes()[:1000])
    msg = _one_line_error(
        ["prepare", "--data-dir", tmp_path / "raw", "--out", tmp_path / "p", "--dataset", "synthetic"]
    )
    assert str(path) in msg and "unpickle" in msg
    assert not (tmp_path / "p" / "meta.json").exists()


def test_garbage_batch_is_reported(synthetic_raw, tmp_path):
    folder = _copy_raw(synthetic_raw, tmp_path / "raw")
    (folder / "test_batch").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(DataError, match="test_batch"):
        read_cifar(tmp_path / "raw", "synthetic")


def test_wrong_md5_names_the_file(synthetic_raw, tmp_path):
    # generated files are not the official ones: as "cifar10" they must fail the md5 check
    msg = _one_line_error(["prepare", "--data-dir", synthetic_raw, "--out", tmp_path / "p", "--dataset", "cifar10"])
    assert "batches.meta" in msg and "md5 mismatch" in msg


def test_wrong_shape_names_the_file(tmp_path):
    tx, ty, vx, vy = make_synthetic(100, 20, seed=0)
    folder = write_cifar10_layout(tmp_path, tx, ty, vx, vy)
    bad = {"labels": list(vy), "data": vx[:, :1024]}
    (folder / "test_batch").write_bytes(pickle.dumps(bad))
    with pytest.raises(DataError, match=r"test_batch: expected uint8 data of shape \(N, 3072\)"):
        read_cifar(tmp_path, "synthetic")


def test_missing_data_dir(tmp_path):
    msg = _one_line_error(["prepare", "--data-dir", tmp_path / "nope", "--out", tmp_path / "p"])
    assert str(tmp_path / "nope") in msg and "does not exist" in msg


def test_split_is_seeded_disjoint_and_complete():
    tr, va = split_indices(50000, 5000, seed=0)
    assert len(tr) == 45000 and len(va) == 5000
    assert not set(tr) & set(va) and len(set(tr) | set(va)) == 50000
    tr2, va2 = split_indices(50000, 5000, seed=0)
    assert np.array_equal(va, va2) and not np.array_equal(va, split_indices(50000, 5000, seed=1)[1])


def test_augmentation_shapes_and_determinism():
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    o1, f1, _ = augment_params(64, epoch_generator(5, 2))
    o2, f2, _ = augment_params(64, epoch_generator(5, 2))
    assert torch.equal(o1, o2) and torch.equal(f1, f2)
    assert o1.min() >= 0 and o1.max() <= 8 and 0 < f1.sum() < 64
    a = augment_batch(x, o1, f1)
    assert a.shape == x.shape and a.dtype == torch.uint8 and torch.equal(a, augment_batch(x, o2, f2))
    o3, _, _ = augment_params(64, epoch_generator(5, 3))
    assert not torch.equal(o1, o3)  # another epoch, other crops


def test_augmentation_is_pad_crop_flip():
    x = torch.randint(1, 256, (4, 3, 32, 32), dtype=torch.uint8)
    center = torch.full((4, 2), 4)
    no, yes = torch.zeros(4, dtype=torch.bool), torch.ones(4, dtype=torch.bool)
    assert torch.equal(augment_batch(x, center, no), x)
    assert torch.equal(augment_batch(x, center, yes), x.flip(3))
    shifted = augment_batch(x, torch.zeros(4, 2, dtype=torch.long), no)  # crop at the top-left corner
    assert not shifted[:, :, :4, :].any() and not shifted[:, :, :, :4].any()  # zero padding
    assert torch.equal(shifted[:, :, 4:, 4:], x[:, :, :28, :28])


def test_a_second_prepare_on_one_folder_waits_for_the_first(synthetic_raw, tmp_path):
    """Two workflows on one outdir both run the prepare step: the second waits for the first's lock
    (runlock.py) and writes nothing meanwhile; two started at once both succeed, leaving one whole
    folder and no temporary file (each writer's temporary names are its own)."""
    from test_runlock import holder

    out = tmp_path / "prepared"
    args = ["prepare", "--data-dir", synthetic_raw, "--out", out, "--dataset", "synthetic"]
    held = holder(out)
    try:
        waiting = subprocess.Popen(script_cmd("data.py", *args), stdout=subprocess.PIPE, text=True)
        assert waiting.stdout.readline().startswith("prepared is held by train on host ")
        assert sorted(p.name for p in out.iterdir()) == [".lock"]
    finally:
        held.kill()
        held.wait()
    assert waiting.wait(timeout=120) == 0 and "2500 train, 500 test" in waiting.stdout.read()
    both = [subprocess.Popen(script_cmd("data.py", *args), stdout=subprocess.DEVNULL) for _ in range(2)]
    assert [p.wait(timeout=120) for p in both] == [0, 0]
    assert sorted(p.name for p in out.iterdir()) == sorted([".lock", *data.PREPARED_FILES])
    assert load_prepared(out)["meta"]["train_size"] == 2500


def test_the_prepare_step_reads_the_raw_folder_only_after_its_writer_ends(tmp_path):
    """Another workflow's Snakemake finds the raw folder (a directory output) while this one's
    synthetic or download step still writes it: its prepare step waits for the writer's lock instead
    of failing on half a folder (as it once did in CI: 'no cifar-10-batches-py/test_batch found')."""
    from test_runlock import holder

    raw, out = tmp_path / "raw", tmp_path / "prepared"
    held = holder(raw)  # the writer: the folder exists, still empty
    try:
        args = ["prepare", "--data-dir", raw, "--out", out, "--dataset", "synthetic"]
        waiting = subprocess.Popen(script_cmd("data.py", *args), stdout=subprocess.PIPE, text=True)
        assert waiting.stdout.readline().startswith("raw is held by train on host ")
        data.write_synthetic(raw, n_train=600, n_test=100, seed=0)
    finally:
        held.kill()
        held.wait()
    assert waiting.wait(timeout=120) == 0 and "600 train, 100 test" in waiting.stdout.read()


def test_skipping_the_md5_check_on_the_official_files_keeps_their_identity(synthetic_raw, tmp_path, monkeypatch):
    """`data.verify_md5: false` cannot change a number: on the official files (here generated files
    whose md5s stand in for the official ones) the data keeps its name as its identity, so no run is
    renamed or retrained; on other bytes the identity is their hash, checked or not."""
    folder = data.find_folder(synthetic_raw, "cifar10")
    spec = data.DATASETS["cifar10"]
    md5 = {name: hashlib.md5((folder / name).read_bytes()).hexdigest() for name in os.listdir(folder)}
    official = {
        **spec,
        "train": [(n, md5[n]) for n, _ in spec["train"]],
        "test": [(n, md5[n]) for n, _ in spec["test"]],
        "meta": (spec["meta"][0], md5[spec["meta"][0]]),
    }
    monkeypatch.setitem(data.DATASETS, "cifar10", official)
    checked = data.read_meta(data.prepare(synthetic_raw, tmp_path / "a", "cifar10"))["data_id"]
    unchecked = data.read_meta(data.prepare(synthetic_raw, tmp_path / "b", "cifar10", verify_md5=False))["data_id"]
    assert checked == unchecked == "cifar10"
    monkeypatch.setitem(data.DATASETS, "cifar10", {**official, "test": [("test_batch", "0" * 32)]})
    other = data.read_meta(data.prepare(synthetic_raw, tmp_path / "c", "cifar10", verify_md5=False))["data_id"]
    assert other.startswith("cifar10-")
