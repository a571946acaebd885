"""LeNet-style networks built from a few choices (exercise 2), and a parameter count.

``lenet_variant()`` with its defaults builds exactly the chapter's LeNet (61,706
parameters); every argument changes one design decision of it.
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {'sigmoid': nn.Sigmoid, 'tanh': nn.Tanh, 'relu': nn.ReLU,
                                           'leaky_relu': nn.LeakyReLU, 'gelu': nn.GELU}
POOLING: dict[str, type[nn.Module]] = {'avg': nn.AvgPool2d, 'max': nn.MaxPool2d}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def lenet_variant(channels: Sequence[int] = (6, 16), kernel_size: int = 5, activation: str = 'sigmoid',
                  pooling: str = 'avg', dense: Sequence[int] = (120, 84), batch_norm: bool = False,
                  same_padding: bool = False, num_classes: int = 10, image_size: int = 28) -> nn.Sequential:
    """A LeNet-style network; the defaults build exactly the chapter's LeNet.

    One convolution block (conv, optional batch norm, activation, 2x2 pooling) per entry
    of ``channels``, then one hidden dense layer per entry of ``dense``, then the output
    layer. The first convolution keeps the image size; the later ones shrink it by
    ``kernel_size - 1`` pixels unless ``same_padding`` is true. With batch norm the
    convolutions have no bias (the batch norm's shift replaces it).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f'activation must be one of {", ".join(ACTIVATIONS)}, got {activation!r}')
    if pooling not in POOLING:
        raise ValueError(f"pooling must be 'avg' or 'max', got {pooling!r}")
    channels, dense = list(channels), list(dense)
    for name, values in (('channels', channels), ('dense', dense)):
        if any(not _is_int(v) or v < 1 for v in values):
            raise ValueError(f'{name} must be a list of positive ints, got {values}')
    if not channels:
        raise ValueError('need at least one convolution layer (channels must not be empty)')
    if not _is_int(kernel_size) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f'kernel_size must be an odd positive int (3, 5, 7, ...), got {kernel_size!r}')
    Act, Pool = ACTIVATIONS[activation], POOLING[pooling]
    layers: list[nn.Module] = []
    size, c_in = image_size, 1
    for i, c in enumerate(channels):
        padding = kernel_size // 2 if i == 0 or same_padding else 0
        size = (size + 2 * padding - kernel_size + 1) // 2  # after the convolution and the pooling
        if size < 1:
            raise ValueError(f'with {len(channels)} convolution layers of kernel size {kernel_size} the '
                             f'feature maps shrink to nothing at layer {i + 1}; use fewer layers, a smaller '
                             f'kernel or same_padding=True')
        layers.append(nn.Conv2d(c_in, c, kernel_size, padding=padding, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(c))
        layers += [Act(), Pool(kernel_size=2, stride=2)]
        c_in = c
    layers.append(nn.Flatten())
    width = c_in * size * size
    for d in dense:
        layers += [nn.Linear(width, d), Act()]
        width = d
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def num_params(net: nn.Module) -> int:
    """Number of trainable parameters of ``net`` (frozen ones, with ``requires_grad=False``, do not count)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
