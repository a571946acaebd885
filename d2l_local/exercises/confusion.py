"""Error analysis of a trained classifier: its confusion matrix, the pairs it mixes up, and examples it gets wrong."""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing

import torch
from matplotlib.figure import Figure
from torch import nn

from ..loaders import Batches
from ..metrics import evaluating
from ..plotting import new_figure


def _predictions(net: nn.Module, data_iter: Batches):
    """Yield ``(X, y, predicted)`` for every batch, with the net in eval mode (its mode is restored after)."""
    device = next(net.parameters()).device
    with evaluating(net):
        for X, y in data_iter:
            yield X, y, net(X.to(device)).argmax(dim=1).cpu()


def confusion_matrix(net: nn.Module, data_iter: Batches, num_classes: int = 10) -> torch.Tensor:
    """Count, for every true class (row) and predicted class (column), the examples of ``data_iter``."""
    counts = torch.zeros(num_classes * num_classes, dtype=torch.int64)
    for _, y, predicted in _predictions(net, data_iter):
        y = y.cpu()
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise ValueError(f'labels must be 0-{num_classes - 1}, got a label of {int(y.max())}')
        counts += torch.bincount(y * num_classes + predicted, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def most_confused(matrix: torch.Tensor, names: Sequence[str], k: int = 5) -> str:
    """A text list of the ``k`` largest off-diagonal counts: 'true -> predicted: count (share of the true class)'."""
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(names):
        raise ValueError(f'need a square matrix with one row per name; got shape {tuple(matrix.shape)} '
                         f'for {len(names)} names')
    off = matrix.clone()
    off.fill_diagonal_(-1)
    totals = matrix.sum(dim=1)
    lines = []
    for flat in off.flatten().argsort(descending=True, stable=True)[:k].tolist():
        true, predicted = divmod(flat, matrix.shape[1])
        count = int(matrix[true, predicted])
        lines.append(f'{names[true]} -> {names[predicted]}: {count} ({count / max(int(totals[true]), 1):.1%} '
                     f'of the {names[true]} images)')
    return '\n'.join(lines)


def plot_confusion_matrix(matrix: torch.Tensor, names: Sequence[str]) -> Figure:
    """Draw the confusion matrix with its counts; rows are the true classes, columns the predictions."""
    n = matrix.shape[0]
    fig = new_figure((7, 6))
    ax = fig.subplots()
    image = ax.imshow(matrix.numpy(), cmap='Blues')
    limit = float(matrix.max())
    for i in range(n):
        for j in range(n):
            value = int(matrix[i, j])
            ax.text(j, i, str(value), ha='center', va='center', fontsize=8,
                    color='white' if value > limit / 2 else 'black')
    ax.set_xticks(range(n), names, rotation=45, ha='right')
    ax.set_yticks(range(n), names)
    ax.set(xlabel='predicted class', ylabel='true class')
    fig.colorbar(image, ax=ax, label='test images')
    return fig


def misclassified(net: nn.Module, data_iter: Batches, names: Sequence[str], n: int = 8) -> tuple[torch.Tensor, list[str]]:
    """The first ``n`` examples ``net`` gets wrong, with titles 'predicted (true)'."""
    images, titles = [], []
    with closing(_predictions(net, data_iter)) as batches:  # restores the net's mode even when stopping early
        for X, y, predicted in batches:
            for i in (predicted != y.cpu()).nonzero().flatten().tolist():
                images.append(X[i].cpu())
                titles.append(f'{names[int(predicted[i])]}\n({names[int(y[i])]})')
                if len(images) == n:
                    return torch.stack(images), titles
    if not images:
        raise ValueError('the net classifies every example correctly: nothing to show')
    return torch.stack(images), titles
