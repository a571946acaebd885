"""try_gpu's fallbacks and check_device's errors, with CUDA and MPS simulated where absent."""
from __future__ import annotations

import pytest
import torch

import d2l_local as d2l
from d2l_local import devices


@pytest.fixture
def no_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)


def test_cpu_when_nothing_else(no_accelerators):
    assert d2l.try_gpu() == torch.device("cpu")
    assert d2l.try_all_gpus() == [torch.device("cpu")]


def test_cuda_first(no_accelerators, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert d2l.try_gpu() == torch.device("cuda:0")
    assert d2l.try_gpu(1) == torch.device("cuda:1")
    assert d2l.try_gpu(2) == torch.device("mps")  # no third GPU: next best
    assert d2l.try_all_gpus() == [torch.device("cuda:0"), torch.device("cuda:1")]


def test_mps_when_no_cuda(no_accelerators, monkeypatch):
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert d2l.try_gpu() == torch.device("mps")


def test_try_gpu_returns_a_usable_device():
    assert d2l.check_device(d2l.try_gpu()) == d2l.try_gpu()
    torch.zeros(2, device=d2l.try_gpu()).sum()


def test_unknown_device_name():
    with pytest.raises(ValueError, match="unknown device 'gpu0'.*try_gpu"):
        d2l.check_device("gpu0")


def test_cuda_requested_without_cuda(no_accelerators):
    with pytest.raises(d2l.DeviceUnavailableError, match="cuda was requested, but this machine has no usable CUDA GPU"):
        d2l.check_device("cuda")


def test_cuda_index_too_high(no_accelerators, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(d2l.DeviceUnavailableError, match="cuda:3 was requested, but this machine has only 1 CUDA GPU"):
        d2l.check_device(torch.device("cuda:3"))


def test_mps_off_a_mac(no_accelerators):
    with pytest.raises(d2l.DeviceUnavailableError, match="mps \\(Apple GPU\\) was requested, but MPS is not available"):
        d2l.check_device(torch.device("mps"))


def test_none_means_best_available(no_accelerators):
    assert d2l.check_device(None) == torch.device("cpu")
