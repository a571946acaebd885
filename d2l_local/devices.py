"""Pick a compute device, check that a requested one is usable, and seed the random generators."""
from __future__ import annotations

import random

import torch


class DeviceUnavailableError(RuntimeError):
    """A device was requested that this machine cannot use."""


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def try_gpu(i: int = 0) -> torch.device:
    """Return CUDA device ``i`` if it exists, else Apple's MPS if available, else the CPU."""
    if torch.cuda.is_available() and i < torch.cuda.device_count():
        return torch.device(f"cuda:{i}")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def try_all_gpus() -> list[torch.device]:
    """Return every CUDA device, or ``[try_gpu()]`` when there is none."""
    if torch.cuda.is_available():
        return [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    return [try_gpu()]


def check_device(device: torch.device | str | int | None) -> torch.device:
    """Return ``device`` as a ``torch.device`` after checking this machine can use it.

    ``None`` means ``try_gpu()``. Raises ``ValueError`` for a name torch does not know
    and ``DeviceUnavailableError`` for a known device this machine lacks.
    """
    if device is None:
        return try_gpu()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:0', 'mps', or d2l.try_gpu() "
            f"to pick the best available one"
        ) from err
    hint = "Use d2l.try_gpu() to pick the best device this machine has, or device='cpu'."
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(f"{dev} was requested, but this machine has no usable CUDA GPU. {hint}")
        if (dev.index or 0) >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"{dev} was requested, but this machine has only {torch.cuda.device_count()} CUDA GPU(s). {hint}")
    elif dev.type == "mps" and not _mps_available():
        raise DeviceUnavailableError(f"{dev} (Apple GPU) was requested, but MPS is not available here. {hint}")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise DeviceUnavailableError(f"{dev} is not supported by this course's helpers. {hint}")
    return dev


def set_seed(seed: int = 0) -> None:
    """Seed Python's, NumPy's and torch's generators so a run can be repeated exactly on one machine."""
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    try:
        import numpy as np
        np.random.seed(seed)
    except ImportError:
        pass
