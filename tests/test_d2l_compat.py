"""d2l_local as a drop-in for the d2l package: same results on the same inputs, and the book's code runs on it.

These tests need the d2l package (``pip install --no-deps d2l==1.0.3`` plus the modules it
imports); ``.ci/run`` installs it. Elsewhere they are skipped, but never under CI.
"""
from __future__ import annotations

import gzip
import inspect
import os
import re
import shutil

import pytest
import torch
from torch import nn

import d2l_local

try:
    from d2l import torch as d2l_ref
except ImportError:  # the package pins old releases; it is optional outside CI
    d2l_ref = None
    if os.environ.get("CI"):
        raise

pytestmark = pytest.mark.skipif(d2l_ref is None, reason="the d2l package is not installed")


def book_lenet() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def test_accuracy_and_accumulator_agree():
    g = torch.Generator().manual_seed(0)
    y_hat, y = torch.randn(64, 10, generator=g), torch.randint(0, 10, (64,), generator=g)
    assert d2l_local.accuracy(y_hat, y) == d2l_ref.accuracy(y_hat, y)
    ours, theirs = d2l_local.Accumulator(2), d2l_ref.Accumulator(2)
    for a, b in [(1, 2.5), (3.25, 4), (0.5, 0.125)]:
        ours.add(a, b)
        theirs.add(a, b)
    assert ours.data == theirs.data and ours[1] == theirs[1]


def test_evaluate_accuracy_gpu_agrees(fashion):
    _, test_iter = fashion
    torch.manual_seed(0)
    net = book_lenet()
    ours = d2l_local.evaluate_accuracy_gpu(net, test_iter)
    theirs = d2l_ref.evaluate_accuracy_gpu(net, test_iter)
    assert ours == pytest.approx(theirs, abs=1e-12)


@pytest.fixture
def d2l_data_dir(data_root, tmp_path, monkeypatch):
    """d2l reads ``../data`` through torchvision, which accepts decompressed IDX files without downloading."""
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in (data_root / "FashionMNIST" / "raw").glob("*.gz"):
        with gzip.open(gz) as src, open(raw / gz.stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")


def test_loader_batches_agree(fashion, d2l_data_dir):
    ref_train, ref_test = d2l_ref.load_data_fashion_mnist(256)
    train_iter, test_iter = fashion
    assert (len(train_iter), len(test_iter)) == (len(ref_train), len(ref_test))
    X_ref, y_ref = next(iter(ref_test))
    X, y = next(iter(test_iter))
    assert (X.shape, X.dtype, y.shape, y.dtype) == (X_ref.shape, X_ref.dtype, y_ref.shape, y_ref.dtype)
    assert torch.equal(X, X_ref) and torch.equal(y, y_ref)  # same pixels, same scaling, same order
    X_ref, y_ref = next(iter(ref_train))
    X, y = next(iter(train_iter))
    assert (X.shape, X.dtype, y.dtype) == (X_ref.shape, X_ref.dtype, y_ref.dtype)


def _final_line(out: str) -> tuple[float, float, float]:
    m = re.search(r"loss ([\d.]+), train acc ([\d.]+), test acc ([\d.]+)", out)
    assert m, out
    return float(m.group(1)), float(m.group(2)), float(m.group(3))


def test_the_books_own_lenet_code_runs_on_d2l_local(fashion, capsys):
    """The book's train_ch6 and evaluate_accuracy_gpu, taken from the d2l package, run with d2l_local as ``d2l``.

    The same code with the real d2l package as ``d2l``, same seed and same batches,
    must print the same numbers: d2l_local's helpers compute what the book's do.
    """
    train, test = fashion  # 3000 and 1000 examples: 12 batches, the last one smaller, 6 plotted points
    train_iter = d2l_local.TensorBatches(train.stored_images[:3000], train.labels[:3000], 256, shuffle=True)
    test_iter = d2l_local.TensorBatches(test.stored_images[:1000], test.labels[:1000], 256)
    results = []
    for helpers in (d2l_local, d2l_ref):
        namespace = {"torch": torch, "nn": nn, "d2l": helpers}
        for fn in (d2l_ref.evaluate_accuracy_gpu, d2l_ref.train_ch6):
            exec(inspect.getsource(fn), namespace)
        torch.manual_seed(0)
        namespace["train_ch6"](book_lenet(), train_iter, test_iter, 1, 0.9, d2l_local.try_gpu())
        out = capsys.readouterr().out
        results.append(_final_line(out))
        if helpers is d2l_local:
            assert "<Figure" not in out and "examples/sec on" in out
    (loss, train_acc, test_acc), reference = results
    assert (loss, train_acc, test_acc) == reference
