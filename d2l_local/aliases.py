"""Framework-neutral tensor helpers that the d2l book's code calls as ``d2l.<name>``.

The book writes its saved code once for several frameworks, so it says
``d2l.size(y)`` or ``d2l.argmax(y_hat, axis=1)`` instead of calling PyTorch directly.
These are the PyTorch meanings of the names its image-classification chapters use.
"""
from __future__ import annotations

import torch

float32, int32, int64 = torch.float32, torch.int32, torch.int64
tensor, zeros, ones, arange, concat, stack = torch.tensor, torch.zeros, torch.ones, torch.arange, torch.cat, torch.stack


def size(x: torch.Tensor) -> int:
    """Number of elements."""
    return x.numel()


def argmax(x: torch.Tensor, axis: int | None = None) -> torch.Tensor:
    return x.argmax(dim=axis)


def astype(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return x.type(dtype)


def reduce_sum(x: torch.Tensor, axis: int | None = None) -> torch.Tensor:
    return x.sum() if axis is None else x.sum(dim=axis)


def reduce_mean(x: torch.Tensor, axis: int | None = None) -> torch.Tensor:
    return x.mean() if axis is None else x.mean(dim=axis)


def reshape(x: torch.Tensor, *shape) -> torch.Tensor:
    return x.reshape(*shape)


def numpy(x: torch.Tensor):
    """A NumPy array of ``x`` (detached, on the CPU)."""
    return x.detach().cpu().numpy()
