"""The user's own data: a folder of images (ImageFolder layout, any size), and a folder in the
CIFAR layout that is not the official archive (data.verify_md5: false)."""

import json

import numpy as np
import pytest

from data import DataError, prepare, write_synthetic
from helpers import SMOKE, copy_workflow, script_cmd, snakemake, write_image_folder


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("images"))


def test_image_folder_is_prepared_resized_with_sorted_class_names(images, tmp_path):
    out = prepare(images, tmp_path / "prep", "folder", image_size=24)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["classes"] == ["cat", "dog", "zebra"] and meta["num_classes"] == 3 and meta["image_size"] == 24
    x, y = np.load(out / "train_x.npy"), np.load(out / "train_y.npy")
    assert x.shape == (300, 3, 24, 24) and x.dtype == np.uint8 and sorted(set(y.tolist())) == [0, 1, 2]
    assert np.load(out / "test_x.npy").shape == (60, 3, 24, 24)


def test_a_class_missing_from_test_is_one_error_naming_it(images, tmp_path):
    import shutil

    data = shutil.copytree(images, tmp_path / "data")
    shutil.rmtree(data / "test" / "dog")
    with pytest.raises(DataError, match=r"test: no folder for class\(es\) dog"):
        prepare(data, tmp_path / "prep", "folder")


def test_an_unreadable_image_is_one_error_naming_the_file(images, tmp_path):
    import shutil
    import subprocess

    data = shutil.copytree(images, tmp_path / "data")
    bad = data / "train" / "cat" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    cmd = script_cmd("data.py", "prepare", "--data-dir", data, "--out", tmp_path / "prep", "--dataset", "folder")
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and str(bad) in p.stderr, p.stderr
    assert not (tmp_path / "prep" / "meta.json").exists()


def test_smoke_ga_on_an_image_folder_labels_the_report_by_folder_name(images, tmp_path):
    work = copy_workflow(tmp_path / "wf")
    (work / "mine.yaml").write_text(
        f"data: {{dataset: folder, data_dir: {json.dumps(str(images))}, image_size: 24, val_size: 60}}\n"
        "ga: {generations: 2}\n"
    )
    snakemake(work, *SMOKE, "mine.yaml")
    out = work / "results" / "smoke"
    assert json.loads((out / "data" / "prepared" / "folder" / "meta.json").read_text())["classes"] == [
        "cat",
        "dog",
        "zebra",
    ]
    assert (out / "plots" / "confusion_matrix.png").stat().st_size > 0
    snakemake(work, *SMOKE, "mine.yaml", "--report", work / "report.html")
    html = (work / "report.html").read_text(errors="replace")
    assert "cat, dog, zebra" in html  # the confusion matrix's caption names the classes


@pytest.mark.parametrize("verify, ok", [(False, True), (True, False)])
def test_cifar_layout_that_is_not_the_official_archive(tmp_path, verify, ok):
    raw = write_synthetic(tmp_path / "raw", n_train=600, n_test=100, seed=2)
    work = copy_workflow(tmp_path / "wf")
    config = f"data: {{dataset: cifar10, data_dir: {json.dumps(str(raw))}, verify_md5: {str(verify).lower()}}}\n"
    (work / "mine.yaml").write_text(config)
    target = "results/smoke/data/prepared/cifar10/meta.json"
    p = snakemake(work, target, *SMOKE, "mine.yaml", check=False)
    if ok:
        assert p.returncode == 0 and (work / target).exists(), p.stderr[-2000:]
        assert json.loads((work / target).read_text())["train_size"] == 600
    else:
        log = (work / "results" / "smoke" / "logs" / "prepare_data" / "cifar10.log").read_text()
        errors = [line for line in log.splitlines() if line.startswith("error:")]
        assert p.returncode != 0 and len(errors) == 1 and "md5 mismatch" in errors[0], log
        assert not (work / target).exists()
