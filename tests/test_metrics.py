"""accuracy, Accumulator and Timer behave like the book's."""
from __future__ import annotations

import time

import pytest
import torch

import d2l_local as d2l


def test_accuracy_counts_correct_predictions():
    y_hat = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert d2l.accuracy(y_hat, torch.tensor([1, 0, 0])) == 2.0
    assert d2l.accuracy(torch.tensor([1, 1]), torch.tensor([1, 0])) == 1.0  # already class indices


def test_accumulator_sums_and_resets():
    acc = d2l.Accumulator(3)
    acc.add(1, 2.5, torch.tensor(3))
    acc.add(1, 0.5, 1)
    assert acc.data == [2.0, 3.0, 4.0] and acc[1] == 3.0
    acc.reset()
    assert acc.data == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="holds 3 sums but add\\(\\) got 2 values"):
        acc.add(1, 2)


def test_timer_records_intervals():
    timer = d2l.Timer()
    time.sleep(0.01)
    first = timer.stop()
    timer.start()
    second = timer.stop()
    assert first >= 0.009 and second < first
    assert timer.sum() == pytest.approx(first + second)
    assert timer.avg() == pytest.approx((first + second) / 2)
    assert timer.cumsum() == pytest.approx([first, first + second])
