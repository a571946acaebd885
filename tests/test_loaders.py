"""Loader batches: shapes, dtypes, shuffling, resizing and argument checks."""
from __future__ import annotations

import pytest
import torch

import d2l_local as d2l


def test_batches_look_like_the_books(fashion):
    train_iter, test_iter = fashion
    assert len(train_iter) == 235 and len(test_iter) == 40
    X, y = next(iter(train_iter))
    assert X.shape == (256, 1, 28, 28) and X.dtype == torch.float32
    assert y.shape == (256,) and y.dtype == torch.int64
    assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0 and float(X.max()) > 0.9
    sizes = [len(y) for _, y in test_iter]
    assert sum(sizes) == 10000 and sizes[-1] == 10000 - 39 * 256


def test_training_order_changes_each_epoch_and_test_order_does_not(fashion):
    train_iter, test_iter = fashion
    first, second = (next(iter(train_iter))[1] for _ in range(2))
    assert not torch.equal(first, second)
    assert torch.equal(next(iter(test_iter))[1], next(iter(test_iter))[1])
    labels = torch.cat([y for _, y in train_iter])
    assert torch.equal(torch.bincount(labels), torch.full((10,), 6000))  # every example once per epoch


def test_seed_fixes_the_order(fashion):
    train_iter, _ = fashion
    d2l.set_seed(3)
    a = next(iter(train_iter))[1]
    d2l.set_seed(3)
    assert torch.equal(a, next(iter(train_iter))[1])


def test_resize_per_batch(data_root):
    _, test_iter = d2l.load_data_fashion_mnist(32, resize=64, root=data_root)
    X, _ = next(iter(test_iter))
    assert X.shape == (32, 1, 64, 64) and X.dtype == torch.float32
    _, test_iter = d2l.load_data_fashion_mnist(8, resize=(32, 24), root=data_root)
    assert next(iter(test_iter))[0].shape == (8, 1, 32, 24)


@pytest.mark.parametrize("bad", [0, -5])
def test_non_positive_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        d2l.load_data_fashion_mnist(bad)


@pytest.mark.parametrize("bad", [2.5, "256", None, True])
def test_non_integer_batch_size(bad):
    with pytest.raises(TypeError, match="batch_size must be a positive integer"):
        d2l.load_data_fashion_mnist(bad)


@pytest.mark.parametrize("bad", ["64", 2.0, (32,), (32, 32, 3), [True, 3]])
def test_resize_of_the_wrong_type(bad):
    with pytest.raises(TypeError, match="resize must be None, an int or a pair of ints"):
        d2l.load_data_fashion_mnist(256, resize=bad)


def test_resize_must_be_positive():
    with pytest.raises(ValueError, match="resize must be positive"):
        d2l.load_data_fashion_mnist(256, resize=(0, 28))
