"""Shared fixtures: where the real datasets are, small IDX files made on the spot, and the Chinese messages."""
from __future__ import annotations

import gzip
import os
import re
import string
from pathlib import Path

import pytest
import torch

import d2l_local as d2l
from d2l_local import datasets, loaders

REPO = Path(__file__).resolve().parent.parent
if Path(d2l.__file__).resolve().parent != REPO / "d2l_local":
    raise pytest.UsageError(f"d2l_local is imported from {Path(d2l.__file__).parent}, not from this checkout "
                            f"({REPO}); run: python -m pip install --no-deps -e {REPO}")


def find_real_data(spec: datasets.DatasetSpec) -> Path | None:
    """The folder holding ``spec``'s real files, found as the course finds them (no download).

    The course looks in ``$D2L_DATA_DIR``, then its own ``data/`` folder, then Debian's
    package; the folder returned is what ``root=`` takes (the one above ``NAME/raw/``).
    """
    try:
        files = datasets.find_dataset(spec, download=False)
    except datasets.DatasetNotFoundError:
        return None
    folder = next(iter(files.values())).parent
    return folder.parent.parent if (folder.name, folder.parent.name) == ("raw", spec.name) else folder


def skip_if_missing(missing: str | None) -> None:
    """Skip a test that cannot run here (``missing`` says why); under CI, where every test must run, fail it."""
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: CI must run this test", pytrace=False)
        pytest.skip(missing)


def _require(spec: datasets.DatasetSpec) -> Path:
    root = find_real_data(spec)
    skip_if_missing(None if root is not None else f"real {spec.name} not found where the course looks "
            f"(${datasets.DATA_DIR_ENV}, {datasets.DEFAULT_DATA_DIR}, Debian's package)")
    return root


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder holding the real Fashion-MNIST."""
    return _require(datasets.FASHION_MNIST)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The folder holding the real MNIST."""
    return _require(datasets.MNIST)


@pytest.fixture(scope="session")
def fashion(data_root):
    """The chapter's loaders over the real Fashion-MNIST, batch size 256."""
    return d2l.load_data_fashion_mnist(256, root=data_root)


@pytest.fixture(scope="module")
def small(fashion):
    """512 training and 256 test examples of the real data, in batches of 128 (each test module its own)."""
    train, test = fashion
    return (d2l.TensorBatches(train.stored_images[:512], train.labels[:512], 128, shuffle=True),
            d2l.TensorBatches(test.stored_images[:256], test.labels[:256], 128))


def pytest_collection_modifyitems(items):
    """Notebooks run through nbval are slow: ``-m "not slow"`` leaves them out."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)


def write_idx(path: Path, data: torch.Tensor, magic: int | None = None, compress: bool | None = None) -> Path:
    """Write ``data`` (uint8) as an IDX file; gzip it when the name ends in .gz."""
    data = data.to(torch.uint8)
    if magic is None:
        magic = datasets.IMAGES_MAGIC if data.ndim == 3 else datasets.LABELS_MAGIC
    header = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in data.shape)
    raw = header + data.numpy().tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress if compress is not None else path.suffix == ".gz":
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


def make_dataset(folder: Path, n_train: int = 12, n_test: int = 6, suffix: str = ".gz") -> Path:
    """Write a tiny but well-formed four-file dataset into ``folder``; return it."""
    g = torch.Generator().manual_seed(0)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = datasets.SPLIT_FILES[split]
        write_idx(folder / f"{images}{suffix}", torch.randint(0, 256, (n, 28, 28), generator=g))
        write_idx(folder / f"{labels}{suffix}", torch.arange(n) % 10)
    return folder


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No env var, an empty default folder, no Debian folder, and no download: a blank machine."""
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(datasets, "DEFAULT_DATA_DIR", tmp_path / "default")
    spec = datasets.DatasetSpec("FashionMNIST", (str(tmp_path / "debian"),), "dataset-fashion-mnist")
    monkeypatch.setattr(datasets, "FASHION_MNIST", spec)
    monkeypatch.setattr(loaders, "FASHION_MNIST", spec)

    def offline(*args, **kwargs):
        raise AssertionError("this test must not download")

    monkeypatch.setattr(datasets, "_download", offline)
    return tmp_path


CJK = re.compile(r"[\u4e00-\u9fff]")  # a Chinese character


def placeholders(text: str) -> list[tuple[str, str | None, str | None]]:
    """The ``{blanks}`` of a message with their conversion and format: ``{count:,}`` is ``('count', None, ',')``."""
    return sorted((name, conversion, spec) for _, name, spec, conversion in string.Formatter().parse(text) if name)


@pytest.fixture
def chinese():
    """The messages in Chinese, as in a notebook that called ``d2l.use_language('zh')``; English again after."""
    before = d2l.language()
    d2l.use_language("zh")
    yield
    d2l.use_language(before)
