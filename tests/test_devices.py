"""try_gpu's fallbacks and check_device's errors, with CUDA and MPS simulated where absent."""
from __future__ import annotations

import types

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


def test_set_seed_seeds_python_numpy_and_torch():
    import random

    import numpy as np

    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    expected = (random.random(), float(np.random.rand()), float(torch.rand(())))
    for other in (0, 6):
        d2l.set_seed(other)
        assert (random.random(), float(np.random.rand()), float(torch.rand(()))) != expected
    d2l.set_seed(5)
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == expected
    d2l.set_seed()  # the default seed is 0
    random_0 = random.random()
    random.seed(0)
    assert random_0 == random.random()


@pytest.mark.parametrize("name, device", [("cpu", "cpu"), (torch.device("cpu"), "cpu")])
def test_a_usable_device_is_returned_as_a_torch_device(name, device):
    got = d2l.check_device(name)
    assert isinstance(got, torch.device) and got == torch.device(device)


def test_cuda_by_index_within_the_count(no_accelerators, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert d2l.check_device("cuda:1") == torch.device("cuda:1")  # the last one there is
    assert d2l.check_device(0) == torch.device("cuda:0")  # torch reads an int as a CUDA index
    assert d2l.check_device("cuda") == torch.device("cuda")
    with pytest.raises(d2l.DeviceUnavailableError, match=r"^cuda:2 was requested, but this machine has only 2 CUDA "
                                                         r"GPU\(s\)\. Use d2l\.try_gpu\(\) to pick the best device"):
        d2l.check_device("cuda:2")


def test_mps_on_a_mac(no_accelerators, monkeypatch):
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert d2l.check_device("mps") == torch.device("mps")


@pytest.mark.parametrize("name", ["meta", "xpu"])
def test_a_device_type_the_course_does_not_support(name):
    with pytest.raises(d2l.DeviceUnavailableError, match=rf"^{name} is not supported by this course's helpers\. "
                                                         r"Use d2l\.try_gpu\(\)"):
        d2l.check_device(name)


def test_unknown_device_types_say_what_to_use():
    with pytest.raises(ValueError, match=r"^unknown device 'gpu0': use 'cpu', 'cuda', 'cuda:0', 'mps', or "
                                         r"d2l\.try_gpu\(\) to pick the best available one$"):
        d2l.check_device("gpu0")
    with pytest.raises(ValueError, match=r"^unknown device 2\.5"):
        d2l.check_device(2.5)


def test_mps_availability_follows_torch(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert devices._mps_available() is False
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert devices._mps_available() is True
    old_torch = types.SimpleNamespace(backends=types.SimpleNamespace())  # a torch from before the MPS backend
    monkeypatch.setattr(devices, "torch", old_torch)
    assert devices._mps_available() is False


def test_plain_cuda_needs_just_one_gpu(no_accelerators, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert d2l.check_device("cuda") == torch.device("cuda") and d2l.check_device("cuda:0") == torch.device("cuda:0")
