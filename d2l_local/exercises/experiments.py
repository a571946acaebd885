"""Comparing training runs: plots and tables of histories, and runs of LeNet variants described by a dict.

A run's settings are ``lenet_variant``'s arguments (``ARCH_KEYS``) plus ``Recipe``'s
fields, e.g. ``{'activation': 'relu', 'pooling': 'max', 'lr': 0.1, 'num_epochs': 2}``;
each run is trained by ``train_with_recipe``, that is by the chapter's ``train_ch6``.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import redirect_stdout
from dataclasses import fields
from typing import Any

import torch
from matplotlib.figure import Figure
from torch import nn

from ..devices import check_device, set_seed
from ..loaders import Batches
from ..plotting import Animator, hidden_animators, new_figure
from .recipes import Recipe, train_with_recipe
from ..training import TrainHistory
from .variants import lenet_variant, num_params

ARCH_KEYS = ('channels', 'kernel_size', 'activation', 'pooling', 'dense', 'batch_norm', 'same_padding')
_RECIPE_KEYS = tuple(f.name for f in fields(Recipe))
_DEFAULT_EPOCHS = 2  # a run explores: 2 epochs unless its settings say otherwise


def _check_runs(histories: Iterable[TrainHistory], labels: Iterable[str]) -> tuple[list[TrainHistory], list[str]]:
    """Check that ``histories`` and ``labels`` describe the same, non-empty list of runs with an epoch each."""
    histories, labels = list(histories), list(labels)
    if not histories:
        raise ValueError('need at least one training history')
    if len(histories) != len(labels):
        raise ValueError(f'got {len(histories)} histories but {len(labels)} labels; give one label per run')
    for h, label in zip(histories, labels):
        if not isinstance(h, TrainHistory):
            raise TypeError(f'run {label!r}: expected a d2l.TrainHistory (what train_ch6 returns), '
                            f'got {type(h).__name__}')
        if not h.train_loss or not h.test_acc:
            raise ValueError(f'run {label!r} has no completed epoch to show')
    return histories, [str(label) for label in labels]


def plot_histories(histories: Iterable[TrainHistory], labels: Iterable[str], title: str | None = None) -> Figure:
    """Plot the loss and accuracy curves of several training runs on shared axes; return the Figure.

    Left: the training loss; right: the training accuracy (dashed) and the test accuracy
    after each epoch (dots), one colour per run. One legend under both plots names the
    runs, so long labels (the explorer's) never squeeze the plots.
    """
    from matplotlib.lines import Line2D

    histories, labels = _check_runs(histories, labels)
    fig = new_figure(figsize=(8, 2.6 + 0.2 * (len(labels) + 2)))  # the plots, then one legend line per entry
    ax_loss, ax_acc = fig.subplots(1, 2, sharex=True)
    for i, (h, label) in enumerate(zip(histories, labels)):
        color = f'C{i % 10}'
        ax_loss.plot(h.epoch, h.train_loss, color=color, label=label)
        ax_acc.plot(h.epoch, h.train_acc, '--', color=color)
        ax_acc.plot(range(1, len(h.test_acc) + 1), h.test_acc, 'o-', color=color)
    ax_loss.set(xlabel='epoch', ylabel='training loss')
    ax_acc.set(xlabel='epoch', ylabel='accuracy')
    for ax in (ax_loss, ax_acc):
        ax.grid(True)
    styles = [Line2D([], [], color='grey', linestyle='--', label='train accuracy (right)'),
              Line2D([], [], color='grey', marker='o', label='test accuracy (right)')]
    fig.legend(handles=[*ax_loss.lines, *styles], loc='outside lower center', fontsize='small', frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def results_table(histories: Iterable[TrainHistory], labels: Iterable[str]) -> str:
    """A text table with the final train loss, train acc and test acc of each run.

    No times: runs made one after another on a shared machine are no speed comparison.
    """
    histories, labels = _check_runs(histories, labels)
    width = max(len('run'), *(len(label) for label in labels))
    lines = [f'{"run":<{width}}  train loss  train acc  test acc']
    for h, label in zip(histories, labels):
        lines.append(f'{label:<{width}}  {h.train_loss[-1]:10.3f}  {h.train_acc[-1]:9.3f}  {h.test_acc[-1]:8.3f}')
    return '\n'.join(lines)


def train_seeds(build: Callable[[], nn.Module], train_iter: Batches, test_iter: Batches, num_epochs: int,
                lr: float, seeds: Iterable[int], device: torch.device | str | None = None) -> list[TrainHistory]:
    """Train a fresh ``build()`` with ``train_ch6`` once per seed, quietly; return the histories in order.

    Each run starts with ``d2l.set_seed(seed)``, so a seed gives the same weights and batch
    order as a visible run started the same way.
    """
    from ..saved.lenet import train_ch6  # generated code: imported when needed, after the package

    histories = []
    for seed in seeds:
        set_seed(seed)
        net = build()
        printed = io.StringIO()
        try:
            with hidden_animators(), redirect_stdout(printed):
                histories.append(train_ch6(net, train_iter, test_iter, num_epochs, lr, check_device(device)))
        except BaseException:
            print(printed.getvalue(), end='')  # what went wrong stays visible
            raise
    return histories


def seeds_table(runs: Mapping[str, Sequence[TrainHistory]], seeds: Sequence[int]) -> str:
    """A text table of final test accuracy per seed for each kind of run, with the mean and the range."""
    seeds = list(seeds)
    for label, histories in runs.items():
        _check_runs(histories, [label] * len(histories))
        if len(histories) != len(seeds):
            raise ValueError(f'{label!r} has {len(histories)} runs for {len(seeds)} seeds')
    width = max(len('run'), *(len(label) for label in runs))
    lines = [f'{"run":<{width}}  ' + '  '.join(f'{f"seed {s}":>7}' for s in seeds) + '    mean  range']
    for label, histories in runs.items():
        accs = [h.test_acc[-1] for h in histories]
        lines.append(f'{label:<{width}}  ' + '  '.join(f'{a:7.3f}' for a in accs)
                     + f'  {sum(accs) / len(accs):6.3f}  {min(accs):.3f}-{max(accs):.3f}')
    return '\n'.join(lines)


def describe(settings: Mapping[str, Any]) -> str:
    """A short label for a run, e.g. 'relu max 6-16 k5 d120-84 bn lr0.1 2ep'.

    Names the activation, pooling, channels, kernel size and hidden dense layers, then
    only what differs from the defaults (same padding, batch norm, optimizer, momentum,
    weight decay, schedule, init, flips), then the learning rate and the epochs.
    """
    s = settings
    dense = s.get('dense', (120, 84))
    parts = [s.get('activation', 'sigmoid'), s.get('pooling', 'avg'),
             '-'.join(map(str, s.get('channels', (6, 16)))), f"k{s.get('kernel_size', 5)}",
             'd' + '-'.join(map(str, dense)) if dense else 'd-']
    if s.get('same_padding'):
        parts.append('same')
    if s.get('batch_norm'):
        parts.append('bn')
    if s.get('optimizer', 'sgd') == 'adamw':
        parts.append('adamw')
    elif s.get('momentum'):
        parts.append(f"mom{s['momentum']:g}")
    if s.get('weight_decay'):
        parts.append(f"wd{s['weight_decay']:g}")
    if s.get('schedule', 'constant') == 'onecycle':
        parts.append('1cycle')
    if s.get('init', 'xavier') != 'xavier':
        parts.append(s['init'])
    if s.get('augment'):
        parts.append('flip')
    parts += [f"lr{s.get('lr', Recipe.lr):g}", f"{s.get('num_epochs', _DEFAULT_EPOCHS)}ep"]
    return ' '.join(parts)


def _build(settings: Mapping[str, Any]) -> tuple[nn.Sequential, Recipe]:
    """The network and the recipe that ``settings`` describe; a ValueError names any unknown key."""
    unknown = set(settings) - set(ARCH_KEYS) - set(_RECIPE_KEYS) - {'label'}
    if unknown:
        raise ValueError(f'unknown setting(s) {", ".join(sorted(map(str, unknown)))}; use '
                         f'{", ".join(ARCH_KEYS + _RECIPE_KEYS)} or label')
    recipe = Recipe(**{'num_epochs': _DEFAULT_EPOCHS, **{k: settings[k] for k in _RECIPE_KEYS if k in settings}})
    net = lenet_variant(**{k: settings[k] for k in ARCH_KEYS if k in settings})
    return net, recipe


def _train(net: nn.Module, recipe: Recipe, settings: dict[str, Any], train_iter: Batches, test_iter: Batches,
           runs: list[dict] | None, device, quiet: bool) -> dict[str, Any]:
    if quiet:
        printed = io.StringIO()
        try:
            with hidden_animators(), redirect_stdout(printed):
                history = train_with_recipe(net, train_iter, test_iter, recipe, device)
        except BaseException:
            print(printed.getvalue(), end='')  # what went wrong (e.g. an interrupted run's summary) stays visible
            raise
    else:
        history = train_with_recipe(net, train_iter, test_iter, recipe, device)
    run = {'label': str(settings.get('label') or describe(settings)), 'settings': settings,
           'params': num_params(net), 'history': history}
    if runs is not None:
        runs.append(run)
    return run


def explore_run(settings: Mapping[str, Any], train_iter: Batches, test_iter: Batches, runs: list[dict] | None = None,
                device: torch.device | str | None = None, quiet: bool = False) -> dict[str, Any]:
    """Build and train one LeNet variant described by the dict ``settings``; append the run to ``runs``.

    Keys: ``lenet_variant``'s (``ARCH_KEYS``), ``Recipe``'s fields ('num_epochs' defaults to 2
    here) and an optional 'label' (else ``describe(settings)``). ``quiet=True`` trains
    without printing or plotting. Returns ``{'label', 'settings', 'params', 'history'}``.
    """
    settings = dict(settings)
    net, recipe = _build(settings)
    return _train(net, recipe, settings, train_iter, test_iter, runs, device, quiet)


def runs_table(runs: Sequence[Mapping[str, Any]]) -> str:
    """A text table of explored runs: parameters, final train loss and test accuracy ('-' if none yet)."""
    if not runs:
        return 'no runs yet'
    width = max(len('run'), *(len(r['label']) for r in runs))
    lines = [f'{"run":<{width}}  params  train loss  test acc']
    for r in runs:
        h = r['history']
        loss = f'{h.train_loss[-1]:10.3f}' if h.train_loss else f'{"-":>10}'
        acc = f'{h.test_acc[-1]:8.3f}' if h.test_acc else f'{"-":>8}'
        lines.append(f"{r['label']:<{width}}  {r['params']:6d}  {loss}  {acc}")
    return '\n'.join(lines)


def sweep(configs: Iterable[Mapping[str, Any]], train_iter: Batches, test_iter: Batches, num_epochs: int = 2,
          device: torch.device | str | None = None) -> list[dict[str, Any]]:
    """Train one run per settings dict in ``configs``, showing their test accuracy live; return the runs.

    Every config is checked before the first one trains. Each trains quietly for
    ``num_epochs`` (unless its settings say otherwise); one plot shows the test accuracy
    after each epoch of every run, labelled as in ``runs_table``.
    """
    settings = [{'num_epochs': num_epochs, **config} for config in configs]
    for s in settings:
        s['label'] = s.get('label') or describe(s)
    built = [_build(s) for s in settings]
    longest = max((recipe.num_epochs for _, recipe in built), default=num_epochs)
    animator = Animator(xlabel='epoch', ylabel='test accuracy', xlim=[0.9, longest + 0.1],
                        legend=[s['label'] for s in settings], figsize=(6, 3),
                        fmts=[f'C{i % 10}o-' for i in range(len(settings))])
    runs: list[dict[str, Any]] = []
    for i, (s, (net, recipe)) in enumerate(zip(settings, built)):
        run = _train(net, recipe, s, train_iter, test_iter, runs, device, quiet=True)
        for epoch, acc in enumerate(run['history'].test_acc, start=1):
            animator.add(epoch, [acc if j == i else None for j in range(len(settings))])
    animator.flush()
    return runs
