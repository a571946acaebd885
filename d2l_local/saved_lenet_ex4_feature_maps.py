"""Code saved from notebooks/en/lenet_ex4_feature_maps.ipynb (cells marked #@save).

Written by tools/sync_d2l_local.py: edit the notebook, then run that script.
"""
import math

import torch
from torch import nn

import d2l_local as d2l


def _is_elementwise(layer):
    """True for layers that keep the shape of a feature map: activations and batch norm."""
    return (type(layer).__module__ == 'torch.nn.modules.activation'
            or isinstance(layer, (nn.BatchNorm2d, nn.Identity)))


def feature_maps(net, X):
    """Return the activations of each convolution block of `net` (an nn.Sequential) for images `X`.

    A block is a Conv2d plus the batch norm and activation layers right after it; the
    result holds one CPU tensor of shape (batch, channels, height, width) per block.
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
    maps, was_training = [], net.training
    net.eval()
    try:
        with torch.no_grad():
            out = X.to(device=device, dtype=torch.float32)
            for i, layer in enumerate(layers[:ends[-1] + 1]):
                out = layer(out)
                if i in ends:
                    maps.append(out.detach().cpu().contiguous())
    finally:
        net.train(was_training)
    return maps


def pick_examples(data_iter, classes, indices=None, names=None):
    """Return (X, titles): for each class in `classes`, its `indices[i]`-th example in `data_iter`.

    Classes are given by name (see `names`, Fashion-MNIST's by default) or by number.
    """
    names = list(names) if names is not None else d2l.get_fashion_mnist_labels(range(10))
    classes = [classes] if isinstance(classes, (str, int)) else list(classes)
    indices = [0] * len(classes) if indices is None else list(indices)
    if len(indices) != len(classes):
        raise ValueError(f'got {len(classes)} classes but {len(indices)} indices; give one index per class')
    tensors = getattr(getattr(data_iter, 'dataset', None), 'tensors', None)
    if tensors is None:
        raise TypeError('data_iter must be an iterator from d2l.load_data_fashion_mnist or '
                        f'd2l.load_data_mnist, got {type(data_iter).__name__}')
    images, labels = tensors
    X, titles = [], []
    for cls, index in zip(classes, indices):
        if isinstance(cls, str):
            if cls not in names:
                raise ValueError(f'unknown class {cls!r}; choose one of {", ".join(names)}')
            cls = names.index(cls)
        elif isinstance(cls, bool) or not isinstance(cls, int) or not 0 <= cls < len(names):
            raise ValueError(f'class must be a name or a number from 0 to {len(names) - 1}, got {cls!r}')
        where = (labels == cls).nonzero().flatten()
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(where):
            raise ValueError(f'index for class {names[cls]!r} must be an int from 0 to {len(where) - 1} '
                             f'(this data has {len(where)} examples of it), got {index!r}')
        X.append(images[where[index]])
        titles.append(f'{names[cls]} #{index}')
    return torch.stack(X), titles


def plot_feature_maps(net, X, titles=None, blocks=(0, 1), cmap='viridis'):
    """Show input images beside the feature maps of two convolution blocks of `net`; return the Figure.

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
    fig = d2l.new_figure((0.75 * (2 + sum(cols)) + 0.4 * len(blocks), 1.5 * n + 1.0))
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


def feature_map_explorer(net, data_iter, classes=('pullover', 'coat'), names=None):
    """An ipywidgets panel: pick classes and example numbers, see their feature maps side by side."""
    import ipywidgets as widgets
    from IPython.display import display

    names = list(names) if names is not None else d2l.get_fashion_mnist_labels(range(10))
    counts = {name: int((data_iter.dataset.tensors[1] == i).sum()) for i, name in enumerate(names)}
    pickers = []
    for cls in classes:
        kind = widgets.Dropdown(options=names, value=cls, description='class',
                                layout=widgets.Layout(width='220px'))
        index = widgets.BoundedIntText(value=0, min=0, max=counts[cls] - 1, description='example #',
                                       layout=widgets.Layout(width='200px'))
        pickers.append((kind, index))
    out = widgets.Output()

    def redraw(change=None):
        for kind, index in pickers:
            index.max = counts[kind.value] - 1
        X, titles = pick_examples(data_iter, [k.value for k, _ in pickers], [i.value for _, i in pickers], names)
        fig = plot_feature_maps(net, X, titles)
        out.clear_output(wait=True)
        with out:
            display(fig)

    for kind, index in pickers:
        kind.observe(redraw, names='value')
        index.observe(redraw, names='value')
    redraw()
    controls = widgets.HBox([widgets.VBox([kind, index]) for kind, index in pickers])
    return widgets.VBox([controls, out])


__all__ = ['feature_maps', 'pick_examples', 'plot_feature_maps', 'feature_map_explorer']
