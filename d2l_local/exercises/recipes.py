"""A training recipe (optimizer, schedule, initialisation, augmentation) run by the chapter's ``train_ch6``.

There is one training loop, ``d2l.train_ch6``. A ``Recipe`` only decides what goes into
it: ``make_optimizer`` builds the optimizer (a one-cycle schedule steps itself after
every optimizer step), ``RandomFlips`` wraps the training batches, and the
initialisation is ``train_ch6``'s ``init`` argument.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from ..devices import check_device
from ..loaders import Batches
from ..training import TrainHistory

_OPTIMIZERS = ('sgd', 'adamw')
_SCHEDULES = ('constant', 'onecycle')


def _kaiming_relu(weight: torch.Tensor) -> torch.Tensor:
    return nn.init.kaiming_uniform_(weight, nonlinearity='relu')


# What train_ch6 applies to the weight of every Linear and Conv2d layer (None keeps PyTorch's own).
INIT_SCHEMES: dict[str, Callable[[torch.Tensor], torch.Tensor] | None] = {
    'xavier': nn.init.xavier_uniform_, 'kaiming': _kaiming_relu, 'default': None}


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass
class Recipe:
    """How to train a network: the defaults are the chapter's (SGD, lr 0.9, 10 epochs, Xavier init).

    optimizer: 'sgd' (Nesterov momentum when ``momentum`` > 0) or 'adamw' (``momentum`` is
    not used); schedule: 'constant' or 'onecycle' (warm up to ``lr``, then anneal towards
    zero); init: 'xavier', 'kaiming' (for ReLU networks) or 'default' (keep PyTorch's own
    initialisation); augment: mirror a random half of each training batch left to right.
    """

    lr: float = 0.9
    num_epochs: int = 10
    optimizer: str = 'sgd'
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = 'constant'
    init: str = 'xavier'
    augment: bool = False

    def __post_init__(self) -> None:
        if not _is_real(self.lr) or not self.lr > 0:
            raise ValueError(f'lr must be a positive number, got {self.lr!r}')
        if isinstance(self.num_epochs, bool) or not isinstance(self.num_epochs, int) or self.num_epochs < 1:
            raise ValueError(f'num_epochs must be a positive int, got {self.num_epochs!r}')
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}")
        if not _is_real(self.momentum) or not 0 <= self.momentum < 1:
            raise ValueError(f'momentum must be a number from 0 (none) up to but not including 1, '
                             f'got {self.momentum!r}')
        if not _is_real(self.weight_decay) or not self.weight_decay >= 0:
            raise ValueError(f'weight_decay must be a number >= 0, got {self.weight_decay!r}')
        if self.schedule not in _SCHEDULES:
            raise ValueError(f"schedule must be 'constant' or 'onecycle', got {self.schedule!r}")
        if self.init not in INIT_SCHEMES:
            raise ValueError(f"init must be 'xavier', 'kaiming' or 'default', got {self.init!r}")
        if not isinstance(self.augment, bool):
            raise ValueError(f'augment must be True or False, got {self.augment!r}')


def random_flip(X: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror a random half of the images in the batch ``X`` (N, C, H, W) left to right.

    A label-preserving change for clothes: a mirrored shoe is still a shoe. Each image is
    flipped with probability 1/2, drawn from ``generator`` if given, else from torch's
    generator for ``X``'s device. Returns a new tensor; ``X`` is unchanged.
    """
    if not torch.is_tensor(X) or X.ndim != 4:
        shape = tuple(X.shape) if torch.is_tensor(X) else type(X).__name__
        raise ValueError(f'random_flip needs a batch of images of shape (N, C, H, W), got {shape}')
    if generator is None:
        flip = torch.rand(X.shape[0], device=X.device) < 0.5
    else:
        flip = (torch.rand(X.shape[0], generator=generator, device=generator.device) < 0.5).to(X.device)
    return torch.where(flip.view(-1, 1, 1, 1), X.flip(3), X)


class RandomFlips:
    """The batches of ``data_iter`` with ``random_flip`` applied to the images; labels stay paired."""

    def __init__(self, data_iter: Batches) -> None:
        self.data_iter = data_iter

    def __len__(self) -> int:
        return len(self.data_iter)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for X, y in self.data_iter:
            yield random_flip(X), y


def make_optimizer(net: nn.Module, recipe: Recipe, steps_per_epoch: int | None = None) -> torch.optim.Optimizer:
    """The optimizer of ``recipe`` over ``net``'s parameters (build it after moving ``net`` to its device).

    For the 'onecycle' schedule it also builds ``OneCycleLR(max_lr=recipe.lr,
    total_steps=recipe.num_epochs * steps_per_epoch, cycle_momentum=False)`` and steps it
    after every optimizer step, so a plain training loop follows the schedule. After the
    last scheduled step the learning rate stays at the schedule's final (smallest) value.
    """
    _check_recipe(recipe)
    if recipe.optimizer == 'sgd':
        opt: torch.optim.Optimizer = torch.optim.SGD(
            net.parameters(), lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.momentum > 0,
            weight_decay=recipe.weight_decay)
    else:
        opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    if recipe.schedule == 'onecycle':
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise ValueError(f"the 'onecycle' schedule needs steps_per_epoch, the number of batches per epoch "
                             f"(len(train_iter)), as a positive int; got {steps_per_epoch!r}")
        total_steps = recipe.num_epochs * steps_per_epoch
        scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=total_steps,
                                                        cycle_momentum=False)

        def step_schedule(optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
            if scheduler.last_epoch < total_steps - 1:  # the lr of the last step is the schedule's end
                scheduler.step()

        opt.register_step_post_hook(step_schedule)
    return opt


def _check_recipe(recipe: object) -> None:
    if not isinstance(recipe, Recipe):
        raise TypeError(f'expected a d2l.Recipe, e.g. d2l.Recipe(lr=0.1, num_epochs=2), got {type(recipe).__name__}')


def train_with_recipe(net: nn.Module, train_iter: Batches, test_iter: Batches, recipe: Recipe,
                      device: torch.device | str | None = None) -> TrainHistory:
    """Train ``net`` with ``d2l.train_ch6`` as ``recipe`` says; return the run's ``d2l.TrainHistory``.

    ``device=None`` picks ``d2l.try_gpu()``. Prints and plots what ``train_ch6`` prints and plots.
    """
    from ..saved.lenet import train_ch6  # generated code: imported when needed, after the package

    _check_recipe(recipe)
    device = check_device(device)
    net.to(device, memory_format=torch.channels_last)  # as train_ch6 does: the optimizer sees the final tensors
    data = RandomFlips(train_iter) if recipe.augment else train_iter
    opt = make_optimizer(net, recipe, len(data))
    return train_ch6(net, data, test_iter, recipe.num_epochs, recipe.lr, device, optimizer=opt,
                     init=INIT_SCHEMES[recipe.init])
