"""Code saved from notebooks/en/lenet_ex1_max_pooling.ipynb (cells marked #@save).

Written by tools/sync_d2l_local.py: edit the notebook, then run that script.
"""
import torch
from torch import nn
import d2l_local as d2l


def lenet(pooling='avg'):
    """The chapter's LeNet; `pooling` is 'avg' (as in the chapter) or 'max'."""
    layers = {'avg': nn.AvgPool2d, 'max': nn.MaxPool2d}
    if pooling not in layers:
        raise ValueError(f"pooling must be 'avg' or 'max', got {pooling!r}")
    Pool = layers[pooling]
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        Pool(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        Pool(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def _check_runs(histories, labels):
    """Check that `histories` and `labels` describe the same, non-empty list of finished runs."""
    histories, labels = list(histories), list(labels)
    if not histories:
        raise ValueError('need at least one training history')
    if len(histories) != len(labels):
        raise ValueError(f'got {len(histories)} histories but {len(labels)} labels; give one label per run')
    for h, label in zip(histories, labels):
        if not isinstance(h, d2l.TrainHistory):
            raise TypeError(f'run {label!r}: expected a d2l.TrainHistory (what train_ch6 returns), '
                            f'got {type(h).__name__}')
        if not h.train_loss or not h.test_acc:
            raise ValueError(f'run {label!r} has no completed epoch to show')
    return histories, [str(label) for label in labels]


def plot_histories(histories, labels, title=None):
    """Plot the loss and accuracy curves of several training runs on shared axes; return the Figure."""
    histories, labels = _check_runs(histories, labels)
    fig = d2l.new_figure(figsize=(8, 3))
    ax_loss, ax_acc = fig.subplots(1, 2, sharex=True)
    for i, (h, label) in enumerate(zip(histories, labels)):
        color = f'C{i % 10}'
        ax_loss.plot(h.epoch, h.train_loss, color=color, label=label)
        ax_acc.plot(h.epoch, h.train_acc, '--', color=color, label=f'{label}, train')
        ax_acc.plot(range(1, len(h.test_acc) + 1), h.test_acc, 'o-', color=color, label=f'{label}, test')
    ax_loss.set(xlabel='epoch', ylabel='training loss')
    ax_acc.set(xlabel='epoch', ylabel='accuracy')
    for ax in (ax_loss, ax_acc):
        ax.grid(True)
        ax.legend(fontsize='small')
    if title:
        fig.suptitle(title)
    return fig


def results_table(histories, labels):
    """Return a text table with the final train loss, train acc, test acc and training time of each run."""
    histories, labels = _check_runs(histories, labels)
    width = max(len('run'), *(len(label) for label in labels))
    lines = [f'{"run":<{width}}  train loss  train acc  test acc  time (s)']
    for h, label in zip(histories, labels):
        lines.append(f'{label:<{width}}  {h.train_loss[-1]:10.3f}  {h.train_acc[-1]:9.3f}  '
                     f'{h.test_acc[-1]:8.3f}  {h.seconds:8.1f}')
    return '\n'.join(lines)


__all__ = ['lenet', 'plot_histories', 'results_table']
