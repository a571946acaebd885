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


def test_accuracy_agrees_with_a_count_by_hand():
    g = torch.Generator().manual_seed(0)
    y_hat, y = torch.randn(50, 10, generator=g), torch.randint(0, 10, (50,), generator=g)
    by_hand = sum(int(max(range(10), key=lambda k: float(row[k])) == int(label)) for row, label in zip(y_hat, y))
    assert d2l.accuracy(y_hat, y) == float(by_hand) and 0 < by_hand < 50
    assert d2l.accuracy(torch.tensor([[2.0], [0.0]]), torch.tensor([2, 1])) == 1.0  # one column: the values themselves
    assert d2l.accuracy(torch.tensor([[0.2, 0.9]]), torch.tensor([1.0])) == 1.0  # float labels compared as floats


def test_accumulator_refuses_too_many_values():
    acc = d2l.Accumulator(1)
    with pytest.raises(ValueError, match=r"^Accumulator holds 1 sums but add\(\) got 2 values$"):
        acc.add(1, 2)
    acc.add(4)
    assert acc[0] == 4.0 and isinstance(acc[0], float)


def test_timer_with_a_fake_clock(monkeypatch):
    clock = iter([1.0, 3.0, 10.0, 10.5, 20.0])
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))
    timer = d2l.Timer()  # starts at 1.0
    assert timer.stop() == 2.0
    timer.start()  # 10.0
    assert timer.stop() == 0.5
    assert (timer.times, timer.sum(), timer.avg(), timer.cumsum()) == ([2.0, 0.5], 2.5, 1.25, [2.0, 2.5])
