"""Mini-batch iterators over in-memory image tensors, and the course's two dataset loaders.

Each split is read into memory once and kept as the files hold it, uint8 pixels 0-255
(Fashion-MNIST's training set takes 47 MB so, 188 MB as float32); batches are slices of
that tensor, converted to float32 in [0, 1] as they are cut, so there is no per-image
conversion and no worker process to wait for. The loaders keep the very tensors that
``d2l_local.datasets`` caches, so a process holds one copy of each split however many
loaders it makes.

The environment variable ``D2L_MAX_EXAMPLES`` (unset normally) keeps only the first N
examples of each split. The grader sets it where a question is about code, not about a
trained result, so that grading a notebook trains on a small subset in seconds.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from numbers import Integral

import torch
from torch.nn import functional as F

from .datasets import FASHION_MNIST, MNIST, DatasetSpec, load_split_tensors

Size = int | tuple[int, int]
MAX_EXAMPLES_ENV = "D2L_MAX_EXAMPLES"
Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]  # what train_ch6 reads: a loader of (X, y) batches


def as_float_images(X: torch.Tensor) -> torch.Tensor:
    """``X`` as float32 in [0, 1] if it holds uint8 pixels 0-255 (a new tensor, same device); any other ``X`` as it is.

    The same arithmetic as torchvision's ``ToTensor`` (convert, then divide by 255), so
    the values agree with it bit for bit.
    """
    return X.to(torch.float32).div_(255) if X.dtype == torch.uint8 else X


class _ExampleDataset(torch.utils.data.TensorDataset):
    """``TensorBatches.dataset``: indexing gives ``(image, label)`` as the batches hold them, images float."""

    def __getitem__(self, index):
        X, y = super().__getitem__(index)
        return as_float_images(X), y


class TensorBatches:
    """Iterate over ``(X, y)`` mini-batches of in-memory tensors, like a ``DataLoader``.

    ``images`` is ``(N, C, H, W)``, float (batches are slices of it) or uint8 pixels
    0-255, a quarter of the memory: each batch is then converted to float32 in [0, 1]
    when it is cut, on the device the images are on (see ``as_float_images``).
    ``shuffle=True`` draws a new order each epoch from torch's global generator, so
    ``torch.manual_seed`` (or ``d2l.set_seed``) makes the order reproducible.
    ``resize`` resizes each batch on the fly (bilinear, antialiased).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 shuffle: bool = False, resize: Size | None = None) -> None:
        self.stored_images, self.labels = images, labels
        self.batch_size = _check_batch_size(batch_size)
        self.shuffle = shuffle
        self.resize = _check_resize(resize)

    @property
    def images(self) -> torch.Tensor:
        """All examples as the batches hold them before resizing: float (float32 in [0, 1] from uint8 pixels).

        From uint8 pixels this is a new tensor at each use (188 MB for Fashion-MNIST's
        training set): slice ``stored_images`` instead where memory matters, and change
        neither in place (the loaders share ``stored_images`` with the dataset cache).
        """
        return as_float_images(self.stored_images)

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, device=self.labels.device) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                X = self.stored_images[start:start + self.batch_size]
                y = self.labels[start:start + self.batch_size]
            else:
                idx = order[start:start + self.batch_size]
                X, y = self.stored_images[idx], self.labels[idx]
            X = as_float_images(X)
            if self.resize is not None:
                X = F.interpolate(X, size=self.resize, mode="bilinear", antialias=True, align_corners=False)
            yield X, y

    @property
    def dataset(self) -> torch.utils.data.TensorDataset:
        """The underlying examples, for code that reads ``loader.dataset``; images come out float, one at a time."""
        return _ExampleDataset(self.stored_images, self.labels)


def _check_batch_size(batch_size: object) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral):
        raise TypeError(f"batch_size must be a positive integer, got {batch_size!r} of type {type(batch_size).__name__}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    return int(batch_size)


def _check_resize(resize: object) -> tuple[int, int] | None:
    if resize is None:
        return None
    if isinstance(resize, Integral) and not isinstance(resize, bool):
        resize = (resize, resize)
    if (isinstance(resize, (tuple, list)) and len(resize) == 2
            and all(isinstance(s, Integral) and not isinstance(s, bool) for s in resize)):
        if min(resize) <= 0:
            raise ValueError(f"resize must be positive, got {resize}")
        return (int(resize[0]), int(resize[1]))
    raise TypeError(f"resize must be None, an int or a pair of ints (height, width), got {resize!r}")


def max_examples() -> int | None:
    """The number of examples per split that ``D2L_MAX_EXAMPLES`` allows, or None when it is unset or empty."""
    value = os.environ.get(MAX_EXAMPLES_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) == 0:
        raise ValueError(f"{MAX_EXAMPLES_ENV} must be a positive whole number of examples, got {value!r}")
    return int(value)


def _load(spec: DatasetSpec, batch_size: int, resize: Size | None, root: str | os.PathLike | None,
          device: torch.device | str | None) -> tuple[TensorBatches, TensorBatches]:
    batch_size, resize = _check_batch_size(batch_size), _check_resize(resize)
    loaders, limit = [], max_examples()
    for train in (True, False):
        images, labels = load_split_tensors(spec, train, root)  # the cached tensors: no copy on the CPU
        images, labels = images[:limit], labels[:limit]  # views: still no copy
        loaders.append(TensorBatches(images.to(device).unsqueeze(1), labels.to(device), batch_size,
                                     shuffle=train, resize=resize))
    return loaders[0], loaders[1]


def load_data_fashion_mnist(batch_size: int, resize: Size | None = None, root: str | os.PathLike | None = None,
                            device: torch.device | str | None = None) -> tuple[TensorBatches, TensorBatches]:
    """Return ``(train_iter, test_iter)`` over Fashion-MNIST, found offline first (see ``d2l_local.datasets``).

    Batches are ``X`` float32 ``(B, 1, 28, 28)`` in [0, 1] (or resized) and ``y`` int64.
    ``device`` keeps the whole dataset on that device (useful on a GPU).
    """
    return _load(FASHION_MNIST, batch_size, resize, root, device)


def load_data_mnist(batch_size: int, resize: Size | None = None, root: str | os.PathLike | None = None,
                    device: torch.device | str | None = None) -> tuple[TensorBatches, TensorBatches]:
    """Return ``(train_iter, test_iter)`` over MNIST digits; same search, checks and batches as Fashion-MNIST."""
    return _load(MNIST, batch_size, resize, root, device)
