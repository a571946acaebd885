"""The offline data finder: search order, IDX checks, and the errors a student sees."""
from __future__ import annotations

import gzip
import os
import urllib.error
import urllib.request

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


def test_download_lands_only_after_it_is_checked(isolated, monkeypatch):
    monkeypatch.undo()
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(datasets, "DEFAULT_DATA_DIR", isolated / "default")
    blank = datasets.DatasetSpec("FashionMNIST", (str(isolated / "debian"),), "dataset-fashion-mnist")
    from pathlib import Path

    _fake_torchvision(monkeypatch, lambda raw: make_dataset(Path(raw)))
    files = datasets.find_dataset(blank, root=isolated / "dl")
    assert sorted(p.name for p in (isolated / "dl").rglob("*.gz")) == sorted(f + ".gz" for f in FILES)
    assert files[FILES[0]] == isolated / "dl" / "FashionMNIST" / "raw" / (FILES[0] + ".gz")
    assert [p.name for p in (isolated / "dl").iterdir()] == ["FashionMNIST"]  # staging folder removed


def test_damaged_download_writes_nothing(isolated, monkeypatch):
    monkeypatch.undo()
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(datasets, "DEFAULT_DATA_DIR", isolated / "default")
    blank = datasets.DatasetSpec("FashionMNIST", (str(isolated / "debian"),), "dataset-fashion-mnist")
    from pathlib import Path

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
