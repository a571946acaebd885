"""The framework-neutral names the book's code calls (d2l.size, d2l.argmax, ...), checked against torch's own calls."""
import numpy as np
import pytest
import torch

import d2l_local as d2l

X = torch.tensor([[1.0, 5.0, 2.0], [7.0, 0.5, 3.0]])


def test_constants_and_constructors_are_torchs():
    assert (d2l.float32, d2l.int32, d2l.int64) == (torch.float32, torch.int32, torch.int64)
    assert (d2l.tensor, d2l.zeros, d2l.ones, d2l.arange) == (torch.tensor, torch.zeros, torch.ones, torch.arange)
    assert (d2l.concat, d2l.stack) == (torch.cat, torch.stack)


def test_reductions_with_and_without_an_axis():
    assert d2l.size(X) == 6 and d2l.size(torch.zeros(0, 4)) == 0
    assert int(d2l.argmax(X)) == 3  # over the flattened tensor
    assert d2l.argmax(X, axis=1).tolist() == [1, 0] and d2l.argmax(X, axis=0).tolist() == [1, 0, 1]
    assert float(d2l.reduce_sum(X)) == 18.5 and d2l.reduce_sum(X, axis=0).tolist() == [8.0, 5.5, 5.0]
    assert float(d2l.reduce_mean(X)) == pytest.approx(18.5 / 6)
    assert d2l.reduce_mean(X, axis=1).tolist() == pytest.approx([8 / 3, 10.5 / 3])


def test_conversions():
    assert d2l.astype(X, torch.int64).tolist() == [[1, 5, 2], [7, 0, 3]]
    assert d2l.reshape(X, 3, 2).tolist() == [[1.0, 5.0], [2.0, 7.0], [0.5, 3.0]]
    assert d2l.reshape(X, (6,)).shape == (6,)
    grad = X.clone().requires_grad_()
    array = d2l.numpy(grad * 2)  # detached: no error although it needs grad
    assert isinstance(array, np.ndarray) and array.tolist() == (X * 2).tolist()
