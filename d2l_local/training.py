"""The bookkeeping of a training run: on-device sums, the history, and the safety nets.

``train_ch6`` stays book-shaped because everything that is not the book's loop lives
here: ``check_classifier`` tries one batch before training, and ``TrainingRun`` keeps
the sums and the history and turns an interrupt or a nan loss into a clean stop.
"""
from __future__ import annotations

import math
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn


class TrainingDivergedError(FloatingPointError):
    """Training went off the rails (the loss exploded), so further steps would be wasted."""


class NonFiniteLossError(TrainingDivergedError):
    """The training loss became nan or inf, so further steps would only spread it."""


class LossExplodedError(TrainingDivergedError):
    """The training loss stayed far above its starting value: finite, but diverging."""


EXPLODED_FACTOR = 10  # a sustained loss this many times the starting (or chance) loss is divergence
EXPLODED_WINDOW = 20  # judged on the median of this many recent batches (at least half of them)


@dataclass
class TrainHistory:
    """What a training run produced so far; ``d2l.last_history()`` returns the latest one.

    ``epoch`` holds the x position (fractional inside an epoch) of each train point;
    ``test_acc`` has one value per completed epoch. ``status`` is ``'running'``,
    ``'finished'``, ``'interrupted'`` or ``'diverged'``.
    """

    num_epochs: int
    device: str
    epoch: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    steps: int = 0
    examples: int = 0
    status: str = "running"
    seconds: float = 0.0

    @property
    def examples_per_sec(self) -> float:
        """Training examples per second of wall time, data, evaluation and plotting included."""
        return self.examples / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """One line saying what completed, for the end of an interrupted or failed run."""
        last = ""
        if self.train_loss:
            last = f"; last train loss {self.train_loss[-1]:.3f}, train acc {self.train_acc[-1]:.3f}"
        if self.test_acc:
            last += f", test acc {self.test_acc[-1]:.3f}"
        if self.status == "diverged":
            weights = "The weights are no longer usable: create the net again before retraining"
        else:
            weights = f"The net keeps the weights of step {self.steps}"
        return (f"Training {self.status}: {len(self.test_acc)} of {self.num_epochs} epochs and {self.steps} "
                f"steps completed{last}. {weights}; d2l.last_history() holds the numbers so far.")


_LAST_HISTORY: TrainHistory | None = None


def last_history() -> TrainHistory | None:
    """The history of the most recent training run, finished or not (``None`` before any run)."""
    return _LAST_HISTORY


class TrainingRun:
    """Context manager for one training loop: sums, history, interrupts and nan losses.

    ``add_batch`` adds a batch's loss and correct predictions to sums kept on the
    device, so a GPU never waits for the host between steps; ``read`` copies them to
    the host when the plot needs them. A nan or inf loss stops training: on the CPU at
    the step that produced it (checking costs nothing there), on a GPU at the next
    ``read``, so the GPU never waits for the host between reads. So does a loss that
    explodes while staying finite: at a ``read``, when the median loss of the last
    ``EXPLODED_WINDOW`` batches is over ``EXPLODED_FACTOR`` times the larger of the first
    batch's loss and the loss of guessing (ln of the number of classes). The first interrupt (the kernel's stop button, Ctrl-C) lets the current
    step finish and stops at ``add_batch``, so the weights are never half-updated; a
    second interrupt stops at once. Either way the plot is brought up to date and a
    one-line summary is printed before the error goes on.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, num_epochs: int, num_batches: int, animator=None) -> None:
        self.optimizer, self.num_batches, self.animator = optimizer, num_batches, animator
        device = optimizer.param_groups[0]["params"][0].device
        self.history = TrainHistory(num_epochs, str(device))
        self.check_every_step = device.type == "cpu"
        self.interrupt_requested = False
        self._old_handler = None
        self._started = 0.0
        self._start_loss: float | None = None  # the first batch's mean loss, or chance if larger
        self._chance_loss: float | None = None  # ln(number of classes): the loss of guessing
        self._recent: list[float] = []  # mean losses of the latest batches that were read
        self._new_epoch()

    def _new_epoch(self) -> None:
        self.epoch_batches = 0
        # Per batch: its loss times its size, and its correct predictions, written into two
        # tensors made once per epoch. (Two new small tensors a step, kept all epoch, would sit
        # between the large short-lived ones and fragment the CPU heap: 0.8 GB more in 2 epochs.)
        self._losses: torch.Tensor | None = None
        self._correct: torch.Tensor | None = None
        self._sizes: list[int] = []
        self._unread = 0  # index of the first batch of this epoch not read yet

    @property
    def x(self) -> float:
        """Where the run is, in epochs: 1.5 is the middle of the second epoch."""
        return len(self.history.test_acc) + self.epoch_batches / self.num_batches

    @property
    def examples_per_sec(self) -> float:
        return self.history.examples_per_sec

    def __enter__(self) -> TrainingRun:
        global _LAST_HISTORY
        _LAST_HISTORY = self.history
        if threading.current_thread() is threading.main_thread():
            self._old_handler = signal.signal(signal.SIGINT, self._on_sigint)
        self._started = time.perf_counter()
        return self

    def _on_sigint(self, signum, frame) -> None:
        if self.interrupt_requested:
            raise KeyboardInterrupt
        self.interrupt_requested = True

    @torch.no_grad()
    def add_batch(self, loss: torch.Tensor, y_hat: torch.Tensor, y: torch.Tensor) -> None:
        """Count a completed step; raise ``KeyboardInterrupt`` here if one was requested."""
        i = self.epoch_batches
        if self._losses is None or i == len(self._losses):  # the first batch, or more than len(data_iter)
            self._make_room(loss)
        self._losses[i] = loss.detach() * y.numel()
        self._correct[i] = (y_hat.argmax(dim=1) == y).sum()
        self._sizes.append(y.numel())
        self.epoch_batches += 1
        if self._chance_loss is None:
            self._chance_loss = math.log(y_hat.shape[1]) if y_hat.ndim == 2 and y_hat.shape[1] > 1 else 0.0
        if self.check_every_step and not math.isfinite(value := float(self._losses[i])):
            self._raise_non_finite(i, value)
        self.history.steps += 1
        self.history.examples += y.numel()
        if self.interrupt_requested:
            loss, acc = self.read()  # keep the last point in the history and on the plot
            if self.animator is not None:
                self.animator.add(self.x, (loss, acc, None))
            raise KeyboardInterrupt("training stopped after a completed step")

    def _make_room(self, loss: torch.Tensor) -> None:
        """Give the per-batch buffers room for the rest of the epoch (at least one more batch)."""
        more = max(self.num_batches - self.epoch_batches, 1)
        losses, correct = loss.new_zeros(more), torch.zeros(more, dtype=torch.int64, device=loss.device)
        if self._losses is not None:
            losses, correct = torch.cat([self._losses, losses]), torch.cat([self._correct, correct])
        self._losses, self._correct = losses, correct

    def read(self) -> tuple[float, float]:
        """Return this epoch's (mean loss, accuracy) so far and record them in the history.

        One copy from the device (the sums and the losses of the batches since the last
        read). Raises ``NonFiniteLossError`` if a loss was nan or inf, ``LossExplodedError``
        if the loss has exploded.
        """
        done = self.epoch_batches
        losses = self._losses[:done]
        sums = torch.stack([losses.sum(), self._correct[:done].sum().to(losses.dtype)])
        total_loss, correct, *unread = torch.cat([sums, losses[self._unread:]]).tolist()
        if not math.isfinite(total_loss):
            bad = int((~torch.isfinite(losses)).nonzero()[0])
            self._raise_non_finite(bad, losses[bad].item())
        self._check_not_exploded([v / n for v, n in zip(unread, self._sizes[self._unread:])])
        self._unread = done
        count = sum(self._sizes)
        loss, acc = total_loss / count, correct / count
        self.history.epoch.append(self.x)
        self.history.train_loss.append(loss)
        self.history.train_acc.append(acc)
        return loss, acc

    def _check_not_exploded(self, batch_losses: list[float]) -> None:
        """Raise ``LossExplodedError`` when the recent losses stay far above the starting loss."""
        if self._start_loss is None:
            self._start_loss = max(batch_losses[0], self._chance_loss)
        self._recent = (self._recent + batch_losses)[-EXPLODED_WINDOW:]
        median = statistics.median(self._recent)
        if len(self._recent) >= EXPLODED_WINDOW // 2 and median > EXPLODED_FACTOR * self._start_loss:
            raise LossExplodedError(
                f"The training loss exploded: its median over the last {len(self._recent)} batches is "
                f"{median:.3g}, more than {EXPLODED_FACTOR} times its starting value {self._start_loss:.3g} "
                f"(epoch {len(self.history.test_acc) + 1}, batch {self.epoch_batches} of {self.num_batches}), "
                f"so training stopped. {self._lr_advice()}")

    def _lr_advice(self) -> str:
        lr = self.optimizer.param_groups[0]["lr"]
        return (f"The usual cause is a learning rate too large for this model: lr is {lr:g} here. Create the "
                f"net again and try a smaller one, e.g. lr={lr / 10:g} (the chapter uses 0.9 for LeNet).")

    def _raise_non_finite(self, batch: int, value: float) -> None:
        raise NonFiniteLossError(
            f"The training loss became {value} in epoch {len(self.history.test_acc) + 1}, batch {batch + 1} of "
            f"{self.num_batches}, so training stopped. {self._lr_advice()} Inputs containing nan or inf "
            f"do the same.")

    def add_test_acc(self, test_acc: float) -> None:
        """Close the epoch with its test accuracy."""
        self.history.test_acc.append(test_acc)
        self._new_epoch()

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._old_handler is not None:
            signal.signal(signal.SIGINT, self._old_handler)
        self.history.seconds = time.perf_counter() - self._started
        if exc_type is None:
            self.history.status = "finished"
            return False
        self.history.status = "diverged" if issubclass(exc_type, TrainingDivergedError) else "interrupted"
        if issubclass(exc_type, (KeyboardInterrupt, TrainingDivergedError)):
            if self.animator is not None:
                self.animator.flush()
            print(self.history.summary())
        return False


@contextmanager
def evaluating(net: nn.Module) -> Iterator[nn.Module]:
    """Run ``net`` in eval mode inside the block, without gradients, and give it back in the mode it had."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            yield net
    finally:
        net.train(was_training)


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
