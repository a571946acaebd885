"""The offline data finder: search order, IDX checks, and the errors a student sees."""
from __future__ import annotations

import errno
import gzip
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

import d2l_local as d2l
from d2l_local import datasets
from conftest import make_dataset, write_idx

FILES = datasets.ALL_FILES


def spec():
    return datasets.FASHION_MNIST


def test_root_argument_comes_first(isolated, monkeypatch):
    make_dataset(isolated / "env" / "FashionMNIST" / "raw")
    make_dataset(isolated / "mine" / "FashionMNIST" / "raw")
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(isolated / "env"))
    found = datasets.find_dataset(spec(), root=isolated / "mine")
    assert found[FILES[0]].parent == isolated / "mine" / "FashionMNIST" / "raw"


def test_env_var_then_default_then_debian(isolated, monkeypatch):
    make_dataset(isolated / "debian")  # flat layout, as the Debian package installs it
    assert datasets.find_dataset(spec())[FILES[0]].parent == isolated / "debian"
    make_dataset(isolated / "default" / "FashionMNIST" / "raw")
    assert datasets.find_dataset(spec())[FILES[0]].parent == isolated / "default" / "FashionMNIST" / "raw"
    make_dataset(isolated / "env" / "FashionMNIST")
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(isolated / "env"))
    assert datasets.find_dataset(spec())[FILES[0]].parent == isolated / "env" / "FashionMNIST"


def test_uncompressed_files_are_read(isolated):
    make_dataset(isolated / "plain", suffix="")
    train_iter, test_iter = d2l.load_data_fashion_mnist(4, root=isolated / "plain")
    X, y = next(iter(test_iter))
    assert X.shape == (4, 1, 28, 28) and y.tolist() == [0, 1, 2, 3]
    assert len(train_iter) == 3


def test_missing_everywhere_names_each_place_and_three_fixes(isolated):
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.find_dataset(spec(), root=isolated / "nowhere", download=False)
    msg = str(info.value)
    for place in ("nowhere", "default", "debian"):
        assert place in msg
    assert "folder does not exist" in msg
    assert "Connect to the internet" in msg
    assert f"Set {datasets.DATA_DIR_ENV}" in msg
    assert "apt-get install dataset-fashion-mnist" in msg


def test_one_missing_file_is_named(isolated):
    folder = make_dataset(isolated / "data" / "FashionMNIST" / "raw")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(datasets.DatasetNotFoundError, match=r"missing t10k-labels-idx1-ubyte\[\.gz\]"):
        d2l.load_data_fashion_mnist(8, root=isolated / "data")


def test_truncated_gzip_is_named(isolated):
    folder = make_dataset(isolated / "data")
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(datasets.CorruptDatasetError, match="train-images-idx3-ubyte.gz is damaged or truncated"):
        d2l.load_data_fashion_mnist(8, root=folder)


def test_wrong_magic_number(isolated):
    folder = make_dataset(isolated / "data")
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", torch.arange(6), magic=0x00000803)
    with pytest.raises(datasets.CorruptDatasetError, match="t10k-labels-idx1-ubyte.gz is not an IDX labels file"):
        d2l.load_data_fashion_mnist(8, root=folder)


def test_wrong_image_size(isolated):
    folder = make_dataset(isolated / "data")
    write_idx(folder / "train-images-idx3-ubyte.gz", torch.zeros(12, 32, 32))
    with pytest.raises(datasets.CorruptDatasetError, match=r"holds 32x32 images, expected 28x28"):
        d2l.load_data_fashion_mnist(8, root=folder)


def test_header_disagrees_with_size(isolated):
    folder = make_dataset(isolated / "data")
    path = folder / "train-labels-idx1-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-3]))  # a well-formed gzip of a cut-short file
    with pytest.raises(datasets.CorruptDatasetError, match="train-labels-idx1-ubyte.gz has 17 bytes.*truncated"):
        d2l.load_data_fashion_mnist(8, root=folder)


def test_image_and_label_counts_must_agree(isolated):
    folder = make_dataset(isolated / "data")
    write_idx(folder / "train-labels-idx1-ubyte.gz", torch.arange(11) % 10)
    with pytest.raises(datasets.CorruptDatasetError, match="12 images but .* 11 labels"):
        d2l.load_data_fashion_mnist(8, root=folder)


def test_read_only_folder_when_a_download_is_needed(isolated, monkeypatch):
    monkeypatch.undo()  # keep the blank machine, but let the real download code run
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(datasets, "DEFAULT_DATA_DIR", isolated / "default")
    blank = datasets.DatasetSpec("FashionMNIST", (str(isolated / "debian"),), "dataset-fashion-mnist")
    readonly = "/proc/d2l-local-data"  # not writable, even for root
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.find_dataset(blank, root=readonly)
    msg = str(info.value)
    assert f"cannot write to {readonly}" in msg and "read-only" in msg
    assert f"Set {datasets.DATA_DIR_ENV} to a writable folder" in msg


def test_no_network_gives_one_clear_error_and_leaves_nothing(isolated, monkeypatch):
    monkeypatch.undo()
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(datasets, "DEFAULT_DATA_DIR", isolated / "default")

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no route to host (simulated)")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    blank = datasets.DatasetSpec("FashionMNIST", (str(isolated / "debian"),), "dataset-fashion-mnist")
    target = isolated / "target"
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.find_dataset(blank, root=target)
    msg = str(info.value)
    assert f"into {target} failed, no network?" in msg and "Connect to the internet" in msg
    assert info.value.__class__ is datasets.DatasetNotFoundError
    leftovers = [p for p in target.rglob("*")] if target.exists() else []
    assert leftovers == [], f"a failed download left {leftovers}"


def _fake_torchvision(monkeypatch, writer):
    """Replace torchvision's FashionMNIST download with ``writer(raw_dir)``."""
    import torchvision

    class FakeFashionMNIST:
        def __init__(self, root, train, download):
            writer(os.path.join(root, "FashionMNIST", "raw"))

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FakeFashionMNIST)


@pytest.fixture
def blank(isolated, monkeypatch) -> datasets.DatasetSpec:
    """FashionMNIST on a blank machine (as ``isolated``) whose download runs: through ``_fake_torchvision``."""
    monkeypatch.undo()
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(datasets, "DEFAULT_DATA_DIR", isolated / "default")
    return datasets.DatasetSpec("FashionMNIST", (str(isolated / "debian"),), "dataset-fashion-mnist")


def test_download_lands_only_after_it_is_checked(isolated, blank, monkeypatch):
    _fake_torchvision(monkeypatch, lambda raw: make_dataset(Path(raw)))
    files = datasets.find_dataset(blank, root=isolated / "dl")
    assert sorted(p.name for p in (isolated / "dl").rglob("*.gz")) == sorted(f + ".gz" for f in FILES)
    assert files[FILES[0]] == isolated / "dl" / "FashionMNIST" / "raw" / (FILES[0] + ".gz")
    assert [p.name for p in (isolated / "dl").iterdir()] == ["FashionMNIST"]  # staging folder removed


def test_damaged_download_writes_nothing(isolated, blank, monkeypatch):
    def damaged(raw):
        folder = make_dataset(Path(raw))
        (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b broken")

    _fake_torchvision(monkeypatch, damaged)
    with pytest.raises(datasets.CorruptDatasetError, match="nothing was written"):
        datasets.find_dataset(blank, root=isolated / "dl")
    assert list((isolated / "dl").rglob("*")) == []


def test_real_fashion_mnist_matches_its_readme(data_root):
    files = datasets.find_dataset(datasets.FASHION_MNIST, root=data_root, download=False)
    x, y = datasets.read_split(files["train-images-idx3-ubyte"], files["train-labels-idx1-ubyte"])
    assert x.shape == (60000, 28, 28) and x.dtype == torch.uint8
    assert y[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert d2l.get_fashion_mnist_labels(y[:3]) == ["ankle boot", "t-shirt", "t-shirt"]


def test_real_mnist_matches_its_readme(mnist_root):
    train_iter, test_iter = d2l.load_data_mnist(1000, root=mnist_root)
    assert len(train_iter) == 60 and len(test_iter) == 10
    assert test_iter.labels.shape == (10000,)
    assert train_iter.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


# --- the IDX reader against the bytes written, and its edges on both sides -----------------------------

def test_read_split_gives_back_the_written_pixels_and_labels(tmp_path):
    g = torch.Generator().manual_seed(1)
    pixels, labels = torch.randint(0, 256, (5, 28, 28), generator=g), torch.tensor([9, 0, 3, 9, 1])
    images_path = write_idx(tmp_path / "i.gz", pixels)
    labels_path = write_idx(tmp_path / "l", labels)  # one compressed, one not
    x, y = datasets.read_split(images_path, labels_path)
    assert x.dtype == torch.uint8 and torch.equal(x, pixels.to(torch.uint8))
    assert y.dtype == torch.int64 and y.tolist() == [9, 0, 3, 9, 1]


def test_a_rewritten_file_is_read_again(tmp_path):
    images_path = write_idx(tmp_path / "i", torch.zeros(2, 28, 28))
    labels_path = write_idx(tmp_path / "l", torch.tensor([1, 2]))
    assert datasets.read_split(images_path, labels_path)[1].tolist() == [1, 2]
    write_idx(labels_path, torch.tensor([3, 4]))
    os.utime(labels_path, ns=(1, 1))  # a new modification time even on a coarse clock
    assert datasets.read_split(images_path, labels_path)[1].tolist() == [3, 4]


def test_trailing_bytes_after_the_promised_data_are_refused(isolated):
    folder = make_dataset(isolated / "data", suffix="")
    path = folder / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(datasets.CorruptDatasetError, match=rf"{re.escape(str(path))} has 15 bytes of data but its "
                                                           r"header promises 14 \(6 labels\): the file is truncated "
                                                           r"or damaged"):
        d2l.load_data_fashion_mnist(8, root=folder)


def test_an_image_file_one_byte_short_is_refused(isolated):
    folder = make_dataset(isolated / "data", suffix="")
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(datasets.CorruptDatasetError, match=r"has 4719 bytes of data but its header promises 4720 "
                                                           r"\(6 images\)"):
        d2l.load_data_fashion_mnist(8, root=folder)


@pytest.mark.parametrize("shape", [(3, 28, 32), (3, 32, 28), (3, 27, 28)])
def test_images_of_another_size_are_refused(isolated, shape):
    folder = make_dataset(isolated / "data")
    write_idx(folder / "t10k-images-idx3-ubyte.gz", torch.zeros(shape))
    with pytest.raises(datasets.CorruptDatasetError, match=rf"holds {shape[1]}x{shape[2]} images, expected 28x28\. "
                                                           r"Replace it with the original file\."):
        d2l.load_data_fashion_mnist(8, root=folder)


def test_a_label_of_10_is_refused_and_9_accepted(isolated):
    folder = make_dataset(isolated / "data", n_train=12, n_test=6)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", torch.tensor([0, 9, 9, 1, 2, 3]))
    assert d2l.load_data_fashion_mnist(8, root=folder)[1].labels.tolist() == [0, 9, 9, 1, 2, 3]
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", torch.tensor([0, 10, 9, 1, 2, 3]))
    with pytest.raises(datasets.CorruptDatasetError, match=r"t10k-labels-idx1-ubyte\.gz has label 10; labels must "
                                                           r"be 0-9\."):
        d2l.load_data_fashion_mnist(8, root=folder)


@pytest.mark.parametrize("stem, kind, size", [("t10k-images-idx3-ubyte", "images", 15),
                                               ("t10k-labels-idx1-ubyte", "labels", 7)])
def test_a_file_shorter_than_its_header(isolated, stem, kind, size):
    folder = make_dataset(isolated / "data", suffix="")
    (folder / stem).write_bytes(b"\x00" * size)
    with pytest.raises(datasets.CorruptDatasetError, match=rf"{stem} is too short \({size} bytes\) to be an IDX "
                                                           rf"{kind} file\."):
        d2l.load_data_fashion_mnist(8, root=folder)


def test_a_header_alone_is_an_empty_split(tmp_path):
    images_path = write_idx(tmp_path / "i", torch.zeros(0, 28, 28))
    labels_path = write_idx(tmp_path / "l", torch.zeros(0))
    x, y = datasets.read_split(images_path, labels_path)
    assert x.shape == (0, 28, 28) and y.shape == (0,)


def test_the_wrong_magic_number_is_shown_in_hex(isolated):
    folder = make_dataset(isolated / "data")
    write_idx(folder / "t10k-images-idx3-ubyte.gz", torch.zeros(6, 28, 28), magic=0x00000801)
    with pytest.raises(datasets.CorruptDatasetError, match=r"t10k-images-idx3-ubyte\.gz is not an IDX images file: "
                                                           r"magic number 0x00000801, expected 0x00000803\."):
        d2l.load_data_fashion_mnist(8, root=folder)


# --- where the finder looks, and what it says -----------------------------------------------------------

def test_candidate_folders_in_order_with_their_reasons(monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(tmp_path / "env"))
    assert datasets.candidate_folders(datasets.FASHION_MNIST, tmp_path / "root") == [
        (tmp_path / "root", "root argument"), (tmp_path / "env", "$D2L_DATA_DIR"),
        (datasets.DEFAULT_DATA_DIR, "default data folder"),
        (Path("/usr/share/datasets/fashion-mnist"), "Debian package dataset-fashion-mnist")]
    monkeypatch.setenv(datasets.DATA_DIR_ENV, "")
    assert datasets.candidate_folders(datasets.MNIST, None) == [(datasets.DEFAULT_DATA_DIR, "default data folder")]
    assert datasets.download_target(None) == datasets.DEFAULT_DATA_DIR
    monkeypatch.setenv(datasets.DATA_DIR_ENV, "~/d2l")
    assert datasets.download_target(None) == Path.home() / "d2l"
    assert datasets.download_target("~/mine") == Path.home() / "mine"


def test_the_default_data_folder_is_the_checkouts_own():
    assert datasets.DEFAULT_DATA_DIR == Path(__file__).resolve().parent.parent / "data"


def test_an_incomplete_copy_is_reported_where_most_files_are(isolated):
    folder = isolated / "data"
    make_dataset(folder / "FashionMNIST" / "raw")
    for stem in FILES[1:]:
        (folder / "FashionMNIST" / "raw" / f"{stem}.gz").unlink()  # one file in the torchvision layout
    make_dataset(folder)
    (folder / f"{FILES[3]}.gz").unlink()  # three in the flat layout
    with pytest.raises(datasets.DatasetNotFoundError, match=rf"  - {re.escape(str(folder))} \(root argument\): "
                                                            rf"incomplete copy in {re.escape(str(folder))}: missing "
                                                            rf"{FILES[3]}\[\.gz\]\n"):
        datasets.find_dataset(spec(), root=folder, download=False)


def test_a_folder_without_the_dataset_and_the_offline_message(isolated):
    (isolated / "empty").mkdir()
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.find_dataset(spec(), root=isolated / "empty", download=False)
    lines = str(info.value).splitlines()
    assert lines[:3] == ["FashionMNIST was not found on this machine and could not be downloaded.", "Looked in:",
                         f"  - {isolated / 'empty'} (root argument): no FashionMNIST files"]
    assert "Download: not attempted (download=False)" in lines
    assert lines[-2] == ("  2. Set D2L_DATA_DIR to a folder that holds FashionMNIST/raw/ with the four files "
                         "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
                         "t10k-labels-idx1-ubyte.gz), e.g. export D2L_DATA_DIR=/path/to/data")
    assert lines[-3].startswith("  1. Connect to the internet and run this again; the files (about 30 MB)")
    assert lines[-1] == "  3. On Debian or Ubuntu: sudo apt-get install dataset-fashion-mnist"


def test_without_a_debian_package_the_message_says_where_to_copy_the_files(isolated):
    with pytest.raises(datasets.DatasetNotFoundError) as info:
        datasets.find_dataset(datasets.MNIST, root=isolated / "none", download=False)
    assert str(info.value).splitlines()[-1] == (f"  3. Copy the four files into {isolated / 'default' / 'MNIST' / 'raw'}"
                                                f" from a machine that has them.")


def test_gzip_preferred_over_the_plain_file(isolated):
    folder = make_dataset(isolated / "both", suffix=".gz")
    make_dataset(folder, suffix="")
    assert all(p.suffix == ".gz" for p in datasets.find_dataset(spec(), root=folder, download=False).values())


def test_every_fashion_mnist_label_has_its_name():
    assert d2l.get_fashion_mnist_labels(torch.arange(10)) == [
        "t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
    assert d2l.get_fashion_mnist_labels([9, 0]) == ["ankle boot", "t-shirt"]


@pytest.mark.parametrize("value, seconds", [("", 600.0), ("  ", 600.0), ("2.5", 2.5), (" 30 ", 30.0)])
def test_the_wait_limit_from_the_environment(monkeypatch, value, seconds):
    monkeypatch.setenv(datasets.DOWNLOAD_WAIT_ENV, value)
    assert datasets.download_wait_s() == seconds


def test_a_write_problem_without_an_os_reason_quotes_the_error(tmp_path):
    err = OSError("the file system said no")
    err.errno = errno.EROFS  # an errno but no strerror, as some file systems raise it
    assert datasets._write_problem(err, tmp_path, datasets.FASHION_MNIST) == (
        f"not possible: cannot write to {tmp_path} (the file system said no); it is read-only or not a folder. "
        f"Set D2L_DATA_DIR to a writable folder.")
    full = OSError(errno.ENOSPC, "No space left on device")
    assert datasets._write_problem(full, tmp_path, datasets.FASHION_MNIST) == (
        f"not possible: not enough free space on the disk holding {tmp_path} (No space left on device). Free about "
        f"90 MB there, or set D2L_DATA_DIR to a folder on a disk with room.")
    assert datasets._write_problem(OSError(errno.ECONNRESET, "reset"), tmp_path, datasets.FASHION_MNIST) is None


def test_the_lock_holder_as_written_or_nothing(tmp_path):
    lock = tmp_path / ".FashionMNIST.lock"
    assert datasets._holder(lock) == ""  # no file: nothing to say
    lock.write_text("")
    assert datasets._holder(lock) == ""  # an empty file, as a holder leaves it for a moment
    lock.write_bytes(b"\xff\xfe not utf-8")
    assert datasets._holder(lock) == ""
    lock.write_text(" pid 12 on lab-3\n")
    assert datasets._holder(lock) == " (pid 12 on lab-3)"


def test_a_staging_folder_that_cannot_be_removed_does_not_fail_the_download(isolated, blank, monkeypatch):
    """On Windows a file still open keeps its folder: the download still lands, and stale staging is skipped."""
    stale = isolated / "dl" / ".download-FashionMNIST-stale"
    (stale / "FashionMNIST").mkdir(parents=True)
    kept = []

    def stubborn_rmtree(path, ignore_errors=False, **kwargs):
        kept.append(Path(path).name)
        if not ignore_errors:
            raise PermissionError(errno.EACCES, "the folder is in use", str(path))

    monkeypatch.setattr(datasets.shutil, "rmtree", stubborn_rmtree)
    _fake_torchvision(monkeypatch, lambda raw: make_dataset(Path(raw)))
    files = datasets.find_dataset(blank, root=isolated / "dl")
    assert files[FILES[0]] == isolated / "dl" / "FashionMNIST" / "raw" / (FILES[0] + ".gz") and files[FILES[0]].is_file()
    assert kept[0] == stale.name and kept[1].startswith(".download-FashionMNIST-") and len(kept) == 2


def test_a_folder_that_cannot_be_made_keeps_the_systems_reason(tmp_path, monkeypatch):
    def refuse(target):
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr(datasets, "_make_dirs", refuse)
    with pytest.raises(datasets._CannotWrite) as info:
        datasets._download_once(datasets.FASHION_MNIST, tmp_path / "data")
    assert (info.value.errno, info.value.strerror) == (errno.EACCES, "Permission denied")
    assert datasets._write_problem(info.value, tmp_path / "data", datasets.FASHION_MNIST).startswith(
        f"not possible: cannot write to {tmp_path / 'data'} (Permission denied); it is read-only")


def test_forgetting_the_read_splits_reads_the_files_again(tmp_path):
    folder = make_dataset(tmp_path / "data")
    images, labels = folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz"
    first = datasets.read_split(images, labels)
    assert datasets.read_split(images, labels)[0] is first[0]  # kept in memory
    datasets.forget_read_splits()
    again = datasets.read_split(images, labels)
    assert again[0] is not first[0] and torch.equal(again[0], first[0])
