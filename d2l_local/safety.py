"""train_ch6's safety nets: they stop a run cleanly and say why; the chapter's loop reads without them.

``check_classifier`` tries one batch before training. ``LossWatch`` stops training on a nan,
inf or exploding loss, with advice on the learning rate. ``InterruptGuard`` lets the stop
button finish the current step. ``report_stop`` brings the plot up to date and prints what
completed when a run stopped early.
"""
from __future__ import annotations

import math
import signal
import statistics
import threading

import torch
from torch import nn

from .metrics import evaluating


class TrainingDivergedError(FloatingPointError):
    """Training went off the rails (the loss exploded), so further steps would be wasted."""


class NonFiniteLossError(TrainingDivergedError):
    """The training loss became nan or inf, so further steps would only spread it."""


class LossExplodedError(TrainingDivergedError):
    """The training loss stayed far above its starting value: finite, but diverging."""


EXPLODED_FACTOR = 10  # a sustained loss this many times the starting (or chance) loss is divergence
EXPLODED_WINDOW = 20  # judged on the median of this many recent batches (at least half of them)


def check_classifier(net: nn.Module, data_iter, device: torch.device) -> None:
    """Run one batch through ``net`` and fail early, with a clear message, if it cannot be trained as a classifier."""
    X, y = next(iter(data_iter))
    X, y = X.to(device), y.to(device)
    if y.dtype.is_floating_point or y.dtype == torch.bool or y.ndim != 1:
        raise ValueError(f"labels must be a 1-D tensor of integer class indices; got dtype {y.dtype}, shape {tuple(y.shape)}")
    try:
        with evaluating(net):
            out = net(X)
    except RuntimeError as err:
        raise ValueError(
            f"the net cannot process a batch of shape {tuple(X.shape)}: {err}. Check that each layer's "
            f"input size matches the previous layer's output (print the shapes layer by layer)."
        ) from err
    if out.ndim != 2 or out.shape[0] != X.shape[0]:
        raise ValueError(
            f"the net's output has shape {tuple(out.shape)} for a batch of {X.shape[0]} examples; training "
            f"needs (batch, num_classes), e.g. ({X.shape[0]}, 10). Check the last layer(s)."
        )
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= out.shape[1]):
        raise ValueError(
            f"the labels run from {int(y.min())} to {int(y.max())}, but the net scores only {out.shape[1]} "
            f"classes (0-{out.shape[1] - 1}). Make the last layer output one score per class."
        )


class LossWatch:
    """Stop training when the loss becomes nan or inf, or explodes while staying finite.

    Each batch's loss is kept on the device. On the CPU it is checked at once (that costs
    nothing there); on a GPU at the next ``check``, so the GPU never waits for the host
    between reads. The loss has exploded when the median of the last ``EXPLODED_WINDOW``
    checked batches is over ``EXPLODED_FACTOR`` times the larger of the first batch's loss
    and the loss of guessing (ln of the number of classes).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, num_batches: int) -> None:
        self.optimizer, self.num_batches = optimizer, num_batches
        self.check_every_step = optimizer.param_groups[0]["params"][0].device.type == "cpu"
        self.epoch = 0
        self._start_loss: float | None = None  # the first batch's loss, or chance if larger
        self._chance_loss: float | None = None  # ln(number of classes): the loss of guessing
        self._recent: list[float] = []  # losses of the latest checked batches
        self.new_epoch()

    def new_epoch(self) -> None:
        self.epoch += 1
        self.batches = 0
        self._unchecked = 0  # index of the first batch of this epoch not checked yet
        # One tensor of losses per epoch, written in place. (A new small tensor a step, kept all
        # epoch, would sit between the large short-lived ones and fragment the CPU heap.)
        self._losses: torch.Tensor | None = None

    def add(self, loss: torch.Tensor, y_hat: torch.Tensor) -> None:
        """Keep a step's mean loss; on the CPU, stop at once if it is nan or inf."""
        if self._losses is None or self.batches == len(self._losses):  # the first batch, or more than announced
            more = loss.new_zeros(max(self.num_batches - self.batches, 1))
            self._losses = more if self._losses is None else torch.cat([self._losses, more])
        self._losses[self.batches] = loss.detach()
        self.batches += 1
        if self._chance_loss is None:
            self._chance_loss = math.log(y_hat.shape[1]) if y_hat.ndim == 2 and y_hat.shape[1] > 1 else 0.0
        if self.check_every_step and not math.isfinite(value := float(self._losses[self.batches - 1])):
            self._raise_non_finite(self.batches - 1, value)

    def check(self) -> None:
        """Raise ``NonFiniteLossError`` or ``LossExplodedError`` for the batches added since the last check."""
        losses = self._losses[self._unchecked:self.batches].tolist() if self.batches else []
        for i, value in enumerate(losses):
            if not math.isfinite(value):
                self._raise_non_finite(self._unchecked + i, value)
        self._unchecked = self.batches
        if not losses:
            return
        if self._start_loss is None:
            self._start_loss = max(losses[0], self._chance_loss)
        self._recent = (self._recent + losses)[-EXPLODED_WINDOW:]
        median = statistics.median(self._recent)
        if len(self._recent) >= EXPLODED_WINDOW // 2 and median > EXPLODED_FACTOR * self._start_loss:
            raise LossExplodedError(
                f"The training loss exploded: its median over the last {len(self._recent)} batches is "
                f"{median:.3g}, more than {EXPLODED_FACTOR} times its starting value {self._start_loss:.3g} "
                f"(epoch {self.epoch}, batch {self.batches} of {self.num_batches}), so training stopped. "
                f"{self._lr_advice()}")

    def _lr_advice(self) -> str:
        lr = self.optimizer.param_groups[0]["lr"]
        return (f"The usual cause is a learning rate too large for this model: lr is {lr:g} here. Create the "
                f"net again and try a smaller one, e.g. lr={lr / 10:g} (the chapter uses 0.9 for LeNet).")

    def _raise_non_finite(self, batch: int, value: float) -> None:
        raise NonFiniteLossError(
            f"The training loss became {value} in epoch {self.epoch}, batch {batch + 1} of "
            f"{self.num_batches}, so training stopped. {self._lr_advice()} Inputs containing nan or inf "
            f"do the same.")


class InterruptGuard:
    """Inside the block, the first interrupt (stop button, Ctrl-C) only sets ``requested``; a second stops at once.

    The training loop stops at the end of the step, so the weights are never half-updated.
    Outside the main thread no signal handler can be installed, and nothing changes.
    """

    def __init__(self) -> None:
        self.requested = False
        self._old_handler = None

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self._old_handler = signal.signal(signal.SIGINT, self.on_sigint)
        return self

    def on_sigint(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._old_handler is not None:
            signal.signal(signal.SIGINT, self._old_handler)
        return False


def stop_summary(history) -> str:
    """One line saying what a stopped run completed (``history`` is its ``TrainHistory``)."""
    last = ""
    if history.train_loss:
        last = f"; last train loss {history.train_loss[-1]:.3f}, train acc {history.train_acc[-1]:.3f}"
    if history.test_acc:
        last += f", test acc {history.test_acc[-1]:.3f}"
    if history.status == "diverged":
        weights = "The weights are no longer usable: create the net again before retraining"
    else:
        weights = f"The net keeps the weights of step {history.steps}"
    return (f"Training {history.status}: {len(history.test_acc)} of {history.num_epochs} epochs and "
            f"{history.steps} steps completed{last}. {weights}; d2l.last_history() holds the numbers so far.")


def status_after(exc_type: type[BaseException] | None) -> str:
    """A run's status once its block ends with ``exc_type``: finished, diverged or interrupted."""
    if exc_type is None:
        return "finished"
    return "diverged" if issubclass(exc_type, TrainingDivergedError) else "interrupted"


def report_stop(history, animator, exc_type: type[BaseException] | None) -> None:
    """After an interrupt or a divergence, draw the plot's latest points and print what completed."""
    if exc_type is not None and issubclass(exc_type, (KeyboardInterrupt, TrainingDivergedError)):
        if animator is not None:
            animator.flush()
        print(stop_summary(history))
