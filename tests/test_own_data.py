"""The user's own data: a folder of images (ImageFolder layout, any size), and a folder in the
CIFAR layout that is not the official archive (data.verify_md5: false)."""

import json
import os

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


def test_a_symlink_loop_and_hidden_folders_are_read_once_with_the_right_labels(images, tmp_path):
    import os
    import shutil

    data = shutil.copytree(images, tmp_path / "data")
    os.symlink("..", data / "train" / "cat" / "loop")  # a link farm's loop: train/cat/loop/dog/... is not "cat"
    os.symlink(data / "train" / "dog", data / "train" / "zebra" / "dogs")  # another class's folder
    (data / "train" / ".ipynb_checkpoints").mkdir()  # not a class
    (data / "train" / "cat" / ".DS_Store").write_bytes(b"junk")
    out = prepare(data, tmp_path / "prep", "folder", image_size=24)
    meta = json.loads((out / "meta.json").read_text())
    y = np.load(out / "train_y.npy")
    plain = prepare(images, tmp_path / "plain", "folder", image_size=24)
    assert meta["classes"] == ["cat", "dog", "zebra"] and meta["train_size"] == 300
    assert np.array_equal(y, np.load(plain / "train_y.npy"))
    assert np.array_equal(np.load(out / "train_x.npy"), np.load(plain / "train_x.npy"))


def test_the_same_file_in_two_classes_is_refused(images, tmp_path):
    import os
    import shutil

    data = shutil.copytree(images, tmp_path / "data")
    first = sorted((data / "train" / "dog").iterdir())[0]
    os.symlink(first, data / "train" / "cat" / "zz_also_a_dog.png")
    with pytest.raises(DataError, match=r"dog/\d+.png: the same file as .*cat/zz_also_a_dog.png, in class cat"):
        prepare(data, tmp_path / "prep", "folder")


def test_a_test_image_reached_from_train_is_refused(images, tmp_path):
    import os
    import shutil

    data = shutil.copytree(images, tmp_path / "data")
    os.symlink("../../test/dog", data / "train" / "dog" / "more")  # a link farm that reaches into test/
    with pytest.raises(
        DataError, match=r"test/dog/\S+: the same file as .*train/dog/more/\S+: an image in both splits"
    ):
        prepare(data, tmp_path / "prep", "folder")


@pytest.mark.parametrize("sub, link", [("zebra", "dog"), ("cat", "zebra")])  # link's class read before, after sub's
def test_a_folder_in_two_classes_is_one_error_naming_both(images, tmp_path, sub, link):
    import os
    import shutil
    import subprocess

    data = shutil.copytree(images, tmp_path / "data")
    (data / "train" / sub / "sub").mkdir()
    for f in sorted((data / "train" / sub).glob("*.png"))[:3]:
        f.rename(data / "train" / sub / "sub" / f.name)
    os.symlink(f"../{sub}/sub", data / "train" / link / "link")  # sub's images, reachable from link's class too
    prep = tmp_path / "prep"
    p = subprocess.run(
        script_cmd("data.py", "prepare", "--data-dir", data, "--out", prep, "--dataset", "folder"),
        capture_output=True,
        text=True,
    )
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and p.stderr.startswith("error:"), p.stderr
    both = f"two classes ({', '.join(sorted((sub, link)))})"  # in the order they are read
    assert f"{sub}/sub" in p.stderr and f"{link}/link" in p.stderr and both in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and [f.name for f in prep.iterdir()] == [".lock"]  # the run lock, no output


def test_16_bit_and_float_images_are_scaled_and_32_bit_ones_refused(images, tmp_path):
    import shutil

    from PIL import Image

    import images as image_folders

    gray = (np.arange(40 * 40).reshape(40, 40) * 40).astype(np.uint16)  # 0 .. 63960 of 65535
    Image.fromarray(gray).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as im:
        assert im.mode.startswith("I;16")
        rgb = np.asarray(image_folders.to_rgb8(im, "g16.png"))
    assert rgb.dtype == np.uint8 and rgb[..., 0].max() == round(63960 * 255 / 65535) and rgb[0, 0, 0] == 0
    assert np.array_equal(rgb[..., 0], rgb[..., 2])  # gray: the same in every channel, not near-white
    # a 16-bit PGM (maxval 1000 here): PIL reads it as mode I, scaled to 0..65535 by its maxval
    pgm = tmp_path / "g16.pgm"
    pgm.write_bytes(b"P5 2 1 1000\n" + np.array([0, 1000], ">u2").tobytes())
    with Image.open(pgm) as im:
        assert im.mode == "I" and list(np.asarray(image_folders.to_rgb8(im, "g16.pgm"))[0, :, 0]) == [0, 255]
    f = Image.fromarray(np.linspace(0, 1, 1600, dtype=np.float32).reshape(40, 40), "F")
    assert np.asarray(image_folders.to_rgb8(f, "f.tif"))[..., 0].max() == 255
    with pytest.raises(DataError, match="float image with values outside"):
        image_folders.to_rgb8(Image.fromarray(np.full((4, 4), 3.0, np.float32), "F"), "f.tif")
    with pytest.raises(DataError, match="32-bit or signed integer image"):
        image_folders.to_rgb8(Image.fromarray(np.full((4, 4), 7, np.int32), "I"), "i.tif")
    data = shutil.copytree(images, tmp_path / "data")
    shutil.copy(tmp_path / "g16.png", data / "train" / "cat" / "zz_16bit.png")
    out = prepare(data, tmp_path / "prep", "folder", image_size=40)
    x = np.load(out / "train_x.npy")
    assert x.shape[0] == 301 and x[100 - 1 + 1].max() > 200  # the 16-bit image, last of cat, scaled to 8 bits


@pytest.mark.slow
def test_prepare_streams_into_its_arrays(tmp_path):
    """Peak memory of the prepare step within ~2x its arrays (it held a float64 copy, 8x, before; 3.3x
    with int64 scratch for the channel statistics). VmHWM, the peak of this process's own memory: the
    getrusage maximum is inherited across fork and exec, so it would report this test's own peak."""
    import subprocess
    import sys

    from data import write_synthetic

    raw = write_synthetic(tmp_path / "raw", n_train=40000, n_test=2000, seed=0)
    peak = "print([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')][0])"
    code = "import sys; sys.path.insert(0, sys.argv[1]); from data import prepare; "
    code += f"prepare(*sys.argv[2:4], 'synthetic'); {peak}"
    base = subprocess.run([sys.executable, "-c", f"import numpy, pandas; {peak}"], capture_output=True, text=True)
    scripts = str(script_cmd("data.py")[1]).rsplit("/", 1)[0]
    p = subprocess.run(
        [sys.executable, "-c", code, scripts, str(raw.parent), str(tmp_path / "prep")], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    arrays_kb = sum((tmp_path / "prep" / n).stat().st_size for n in ("train_x.npy", "test_x.npy")) / 1024
    grown_kb = int(p.stdout.split()[-1]) - int(base.stdout.split()[-1])
    assert 0 < grown_kb < 2.2 * arrays_kb, (grown_kb, arrays_kb)


@pytest.mark.slow
def test_smoke_ga_on_an_image_folder_labels_the_report_by_folder_name(images, tmp_path):
    work = copy_workflow(tmp_path / "wf")
    (work / "mine.yaml").write_text(
        f"data: {{dataset: folder, data_dir: {json.dumps(str(images))}, image_size: 24, val_size: 60}}\n"
        "ga: {generations: 2}\nsearch: {methods: [ga]}\n"
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


@pytest.mark.slow
def test_an_image_added_to_a_class_folder_is_one_error_until_the_data_is_prepared_again(images, tmp_path):
    """Snakemake compares a folder input's own mtime: an image added under train/cat/ (not to data_dir
    itself) would leave the prepared data stale. The config check names the folder and the fix."""
    import shutil

    data = shutil.copytree(images, tmp_path / "my images")
    work = copy_workflow(tmp_path / "wf")
    config = {"data": {"dataset": "folder", "data_dir": str(data), "image_size": 24, "val_size": 60}}
    (work / "mine.yaml").write_text(json.dumps(config))  # JSON is YAML
    target = "results/smoke/data/prepared/folder/meta.json"
    snakemake(work, target, *SMOKE, "mine.yaml")
    assert "Nothing to be done" in snakemake(work, target, *SMOKE, "mine.yaml", "-n").stdout
    before = json.loads((work / target).read_text())["train_size"]
    shutil.copy(data / "train" / "cat" / "00000.png", data / "train" / "cat" / "new.png")
    p = snakemake(work, target, *SMOKE, "mine.yaml", "-n", check=False)
    errors = [line for line in (p.stdout + p.stderr).splitlines() if "error:" in line]
    assert p.returncode != 0 and len(errors) == 1 and "Traceback" not in p.stderr, p.stdout + p.stderr
    assert f"{data / 'train' / 'cat'} changed after the data was prepared" in errors[0] and "touch" in errors[0]
    os.utime(data)  # the fix the line names: touch data_dir
    snakemake(work, target, *SMOKE, "mine.yaml")
    assert json.loads((work / target).read_text())["train_size"] == before + 1
    assert "Nothing to be done" in snakemake(work, target, *SMOKE, "mine.yaml", "-n").stdout


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
