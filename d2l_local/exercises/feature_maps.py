"""What LeNet sees (exercise 4): the feature maps of its convolution blocks, and the examples to feed it.

``pick_examples`` and ``class_counts`` read any iterable of ``(X, y)`` batches: the course's
loaders (read straight from their tensors), a torch ``DataLoader`` or a plain list of batches.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from numbers import Integral

import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F

from ..datasets import FASHION_MNIST_LABELS
from ..loaders import Batches, as_float_images
from ..metrics import evaluating
from ..plotting import new_figure


def _is_elementwise(layer: nn.Module) -> bool:
    """True for layers that keep the shape of a feature map: activations and batch norm."""
    return (type(layer).__module__ == 'torch.nn.modules.activation'
            or isinstance(layer, (nn.BatchNorm2d, nn.Identity)))


def feature_maps(net: nn.Sequential, X: torch.Tensor) -> list[torch.Tensor]:
    """Return one CPU tensor (batch, channels, height, width) per convolution block of ``net``, to look at.

    A block is a Conv2d plus the batch norm and activation layers right after it. The
    network runs in eval mode without gradients; its train/eval mode is restored after.
    """
    if not isinstance(net, nn.Sequential):
        raise TypeError(f'feature_maps needs an nn.Sequential such as LeNet, got {type(net).__name__}')
    if not torch.is_tensor(X) or X.ndim != 4:
        shape = tuple(X.shape) if torch.is_tensor(X) else type(X).__name__
        raise ValueError(f'X must be a batch of images shaped (batch, channels, height, width), got {shape}')
    layers = list(net)
    ends = []  # index of the last layer of each convolution block
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Conv2d):
            j = i
            while j + 1 < len(layers) and _is_elementwise(layers[j + 1]):
                j += 1
            ends.append(j)
    if not ends:
        raise ValueError('the network has no Conv2d layer, so it has no feature maps to show')
    device = next(net.parameters()).device
    maps = []
    with evaluating(net):
        out = X.to(device=device, dtype=torch.float32)
        for i, layer in enumerate(layers[:ends[-1] + 1]):
            out = layer(out)
            if i in ends:
                maps.append(out.detach().cpu().contiguous())
    return maps


def _stored(data_iter: object) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The ``(images, labels)`` tensors a loader holds in its own order (``d2l.TensorBatches``), else None.

    The images as stored: uint8 pixels for the course's loaders, made float by ``as_float_images`` once picked.
    """
    images = getattr(data_iter, 'stored_images', None)
    if images is None:
        images = getattr(data_iter, 'images', None)
    labels = getattr(data_iter, 'labels', None)
    if torch.is_tensor(images) and torch.is_tensor(labels) and labels.ndim == 1 and len(images) == len(labels):
        return images, labels
    return None


def _batches(data_iter: Batches) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield the ``(X, y)`` batches of ``data_iter`` with ``y`` as a 1-d tensor, or say what is wrong with them."""
    try:
        batches = iter(data_iter)
    except TypeError:
        raise TypeError('data_iter must be an iterable of (X, y) batches, such as a loader from '
                        f'd2l.load_data_fashion_mnist or a torch DataLoader, got {type(data_iter).__name__}') from None
    for batch in batches:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError(f'data_iter must yield (X, y) batches, got a {type(batch).__name__}')
        X, y = batch
        y = torch.as_tensor(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f'each batch needs one label per image: got {len(X)} images and labels '
                             f'shaped {tuple(y.shape)}')
        yield X, y


def _check_labels(labels: torch.Tensor, num_classes: int) -> None:
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        bad = int(labels.min()) if int(labels.min()) < 0 else int(labels.max())
        raise ValueError(f'labels must be class numbers from 0 to {num_classes - 1}, found {bad}')


def class_counts(data_iter: Batches, num_classes: int = 10) -> list[int]:
    """Return how many examples of each class ``data_iter`` holds, to know how far each class can be browsed."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or num_classes < 1:
        raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')
    stored = _stored(data_iter)
    parts = [stored[1]] if stored is not None else [y for _, y in _batches(data_iter)]
    counts = torch.zeros(num_classes, dtype=torch.int64)
    for y in parts:
        y = y.long()
        _check_labels(y, num_classes)
        counts += torch.bincount(y, minlength=num_classes).cpu()
    return counts.tolist()


def class_names(names: Sequence[str] | None) -> list[str]:
    """The class names to use: ``names``, else Fashion-MNIST's."""
    return list(names) if names is not None else list(FASHION_MNIST_LABELS)


def class_number(cls: str | int, names: Sequence[str]) -> int:
    """The number of a class given by name or number, checked against ``names``."""
    if isinstance(cls, str):
        if cls not in names:
            raise ValueError(f'unknown class {cls!r}; choose one of {", ".join(names)}')
        return names.index(cls)
    if isinstance(cls, bool) or not isinstance(cls, Integral) or not 0 <= cls < len(names):
        raise ValueError(f'class must be a name or a number from 0 to {len(names) - 1}, got {cls!r}')
    return int(cls)


def _index_error(name: str, index: object, count: int) -> ValueError:
    if count == 0:
        return ValueError(f'this data has no examples of class {name!r}')
    return ValueError(f'index for class {name!r} must be an int from 0 to {count - 1} '
                      f'(this data has {count} examples of it), got {index!r}')


def pick_examples(data_iter: Batches, classes: str | int | Sequence[str | int],
                  indices: Sequence[int] | None = None,
                  names: Sequence[str] | None = None) -> tuple[torch.Tensor, list[str]]:
    """Return ``(X, titles)``: for each class, its ``indices[i]``-th example in the data's order, to show it.

    Classes are given by name (see ``names``, Fashion-MNIST's by default) or by number.
    The course's loaders are read in their stored order (even a shuffled train loader);
    other iterables are read batch by batch, once, stopping when every example is found.
    """
    names = class_names(names)
    classes = [classes] if isinstance(classes, (str, Integral)) else list(classes)
    indices = [0] * len(classes) if indices is None else list(indices)
    if len(indices) != len(classes):
        raise ValueError(f'got {len(classes)} classes but {len(indices)} indices; give one index per class')
    wanted = [(class_number(cls, names), index) for cls, index in zip(classes, indices)]
    for cls, index in wanted:
        if isinstance(index, bool) or not isinstance(index, Integral) or index < 0:
            raise _index_error(names[cls], index, class_counts(data_iter, len(names))[cls])
    wanted = [(cls, int(index)) for cls, index in wanted]
    stored = _stored(data_iter)
    picked: list[torch.Tensor | None] = [None] * len(wanted)
    if stored is not None:
        images, labels = stored
        for k, (cls, index) in enumerate(wanted):
            where = (labels == cls).nonzero().flatten()
            if index >= len(where):
                raise _index_error(names[cls], index, len(where))
            picked[k] = as_float_images(images[where[index]])
    else:
        seen = [0] * len(names)  # examples of each class in the batches read so far
        pending = set(range(len(wanted)))
        for X, y in _batches(data_iter):
            for cls in {wanted[k][0] for k in pending}:
                where = (y == cls).nonzero().flatten()
                for k in [k for k in pending if wanted[k][0] == cls and wanted[k][1] < seen[cls] + len(where)]:
                    picked[k] = X[where[wanted[k][1] - seen[cls]]]
                    pending.discard(k)
                seen[cls] += len(where)
            if not pending:
                break
        if pending:  # the data ran out, so `seen` holds the full count of each class still wanted
            cls, index = wanted[min(pending)]
            raise _index_error(names[cls], index, seen[cls])
    X = torch.stack(picked)
    resize = getattr(data_iter, 'resize', None)
    if stored is not None and resize is not None:  # the loader resizes its batches on the fly: so do we
        X = F.interpolate(X, size=resize, mode='bilinear', antialias=True, align_corners=False)
    return X, [f'{names[cls]} #{index}' for cls, index in wanted]


def plot_feature_maps(net: nn.Sequential, X: torch.Tensor, titles: Sequence[str] | None = None,
                      blocks: Sequence[int] = (0, 1), cmap: str = 'viridis') -> Figure:
    """Show input images beside the feature maps of two convolution blocks of ``net``, to compare what it sees.

    Each input gets one band: the image, then every channel of each chosen block laid
    out in two rows. Each block has one colour bar shared by all inputs, so the maps
    of different inputs can be compared value for value.
    """
    if not torch.is_tensor(X) or X.ndim != 4 or X.shape[1] != 1:
        shape = tuple(X.shape) if torch.is_tensor(X) else type(X).__name__
        raise ValueError(f'X must be grey-scale images shaped (batch, 1, height, width), got {shape}')
    n = X.shape[0]
    if not 1 <= n <= 6:
        raise ValueError(f'show between 1 and 6 images at a time, got {n}')
    if titles is not None and len(titles) != n:
        raise ValueError(f'got {len(titles)} titles for {n} images')
    maps = feature_maps(net, X)
    blocks = list(blocks)
    for b in blocks:
        if isinstance(b, bool) or not isinstance(b, int) or not 0 <= b < len(maps):
            raise ValueError(f'block {b!r} does not exist: the network has {len(maps)} convolution '
                             f'block(s), numbered 0 to {len(maps) - 1}')
    cols = [math.ceil(maps[b].shape[1] / 2) for b in blocks]  # two rows of maps per input and block
    fig = new_figure((0.75 * (2 + sum(cols)) + 0.4 * len(blocks), 1.5 * n + 1.0))
    parts = fig.subfigures(1, 1 + len(blocks), width_ratios=[2] + cols, wspace=0.04)
    inputs = parts[0].subplots(n, 1, squeeze=False)[:, 0]
    for r, ax in enumerate(inputs):
        ax.imshow(X[r, 0].detach().cpu().numpy(), cmap='gray')
        ax.set_title(titles[r] if titles is not None else f'input {r}', fontsize=10)
        ax.set_axis_off()
    parts[0].suptitle('input', fontsize=10)
    for part, b, c in zip(parts[1:], blocks, cols):
        m = maps[b].numpy()
        vmin, vmax = float(m.min()), float(m.max())
        axes = part.subplots(2 * n, c, squeeze=False)
        for r in range(n):
            for k in range(2 * c):
                ax = axes[2 * r + k // c, k % c]
                ax.set_xticks([])
                ax.set_yticks([])
                if k >= m.shape[1]:
                    ax.set_axis_off()  # odd channel count: leave the last panel empty
                    continue
                image = ax.imshow(m[r, k], cmap=cmap, vmin=vmin, vmax=vmax)
                ax.text(0.04, 0.96, str(k), transform=ax.transAxes, fontsize=6, color='white',
                        va='top', ha='left')
        part.suptitle(f'block {b + 1}: {m.shape[1]} maps of {m.shape[2]}x{m.shape[3]} pixels', fontsize=10)
        part.colorbar(image, ax=axes, location='bottom', shrink=0.9, aspect=25, label=f'block {b + 1} activation')
    return fig


def plot_filters(weight: torch.Tensor, title: str = 'the first layer\'s filters') -> Figure:
    """Draw each filter of a first convolution layer (``weight`` of shape (out, 1, k, k)) as a k x k image.

    Red is positive, blue negative, white zero, on one colour scale shared by all filters
    and shown by the colour bar; the figure is returned, so a cell that ends with the call shows it.
    """
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4 or weight.shape[1] != 1:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f'need the weight of a convolution with one input channel, shape (out, 1, k, k); got {shape}')
    kernels = weight.detach().cpu()[:, 0]
    limit = float(kernels.abs().max()) or 1.0
    fig = new_figure((1.1 * len(kernels) + 1.2, 1.9))
    axes = fig.subplots(1, len(kernels), squeeze=False)[0]
    for k, ax in enumerate(axes):
        image = ax.imshow(kernels[k].numpy(), cmap='RdBu_r', vmin=-limit, vmax=limit)
        ax.set_title(f'filter {k}', fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes, label='weight', shrink=0.8)
    fig.suptitle(title, fontsize=10)
    return fig
