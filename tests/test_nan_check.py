"""benchmarks/nan_check.py: the switch it flips really moves when a nan is caught; never the timings."""
from __future__ import annotations

import sys
import types

import pytest
import torch

import d2l_local as d2l

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))  # the benchmark scripts import each other as sibling modules
import nan_check  # noqa: E402


def _cpu_run(cls):
    param = types.SimpleNamespace(device=torch.device("cpu"))
    optimizer = types.SimpleNamespace(param_groups=[{"params": [param], "lr": 0.1}])
    return cls(optimizer, num_epochs=1, num_batches=10)


def _add(run, loss):
    run.add_batch(torch.tensor(loss), torch.zeros(2, 10), torch.tensor([0, 1]))


@pytest.mark.parametrize("check", [True, False])
def test_the_switch_decides_whether_a_nan_stops_the_step_or_the_read(check):
    run = _cpu_run(nan_check.run_class(check))
    assert run.losses.check_every_step is check
    nan_message = r"became nan in epoch 1, batch 2 of 10"
    with pytest.raises(d2l.NonFiniteLossError, match=nan_message), run:
        _add(run, 1.0)
        _add(run, float("nan"))  # with the check on, training stops here
        assert not check and run.batches == 2
        run.read()  # with it off, here
    assert run.history.status == "diverged" and run.history.steps == (1 if check else 2)
