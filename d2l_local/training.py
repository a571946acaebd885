"""What ``train_ch6`` keeps while it trains: sums on the device, and the history of the run.

The safety nets it calls (an interrupt that waits for the end of a step, a nan or exploding
loss that stops training with advice) live in ``safety.py``; the loop reads without them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from . import safety


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


_LAST_HISTORY: TrainHistory | None = None


def last_history() -> TrainHistory | None:
    """The history of the most recent training run, finished or not (``None`` before any run)."""
    return _LAST_HISTORY


class TrainingRun:
    """Context manager for one training loop: this epoch's sums, the history, and the safety nets.

    ``add_batch`` adds a step's loss and correct predictions to sums that stay on the device,
    so a GPU never waits for the host between steps; ``read`` copies them to the host when
    the plot needs them.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, num_epochs: int, num_batches: int, animator=None) -> None:
        device = optimizer.param_groups[0]["params"][0].device
        self.history = TrainHistory(num_epochs, str(device))
        self.num_batches, self.animator = num_batches, animator
        self.losses = safety.LossWatch(optimizer, num_batches)  # stops training on a nan or exploding loss
        self.interrupt = safety.InterruptGuard()  # the stop button lets the current step finish
        self._new_epoch()

    def _new_epoch(self) -> None:
        self.batches, self.examples = 0, 0
        self.loss_sum, self.correct = 0.0, 0  # tensors on the device once the first batch is added

    @property
    def epochs_done(self) -> float:
        """Where the run is, in epochs: 1.5 is the middle of the second epoch."""
        return len(self.history.test_acc) + self.batches / self.num_batches

    @property
    def examples_per_sec(self) -> float:
        return self.history.examples_per_sec

    def __enter__(self) -> TrainingRun:
        global _LAST_HISTORY
        _LAST_HISTORY = self.history
        self.interrupt.__enter__()
        self._started = time.perf_counter()
        return self

    @torch.no_grad()
    def add_batch(self, loss: torch.Tensor, y_hat: torch.Tensor, y: torch.Tensor) -> None:
        """Count a completed step; raise ``KeyboardInterrupt`` here if an interrupt was asked for."""
        self.losses.add(loss, y_hat)  # on the CPU a nan loss stops training here
        self.loss_sum += loss.detach() * y.numel()  # the mean loss times the batch size
        self.correct += (y_hat.argmax(dim=1) == y).sum()
        self.batches += 1
        self.examples += y.numel()
        self.history.steps += 1
        self.history.examples += y.numel()
        if self.interrupt.requested:  # keep the last point in the history and on the plot, then stop
            loss, acc = self.read()
            if self.animator is not None:
                self.animator.add(self.epochs_done, (loss, acc, None))
            raise KeyboardInterrupt("training stopped after a completed step")

    def read(self) -> tuple[float, float]:
        """Return this epoch's (mean loss, accuracy) so far, copied to the host, and record them in the history."""
        self.losses.check()
        loss, acc = float(self.loss_sum) / self.examples, float(self.correct) / self.examples
        self.history.epoch.append(self.epochs_done)
        self.history.train_loss.append(loss)
        self.history.train_acc.append(acc)
        return loss, acc

    def add_test_acc(self, test_acc: float) -> None:
        """Close the epoch with its test accuracy."""
        self.history.test_acc.append(test_acc)
        self._new_epoch()
        self.losses.new_epoch()

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.interrupt.__exit__(exc_type, exc, tb)
        self.history.seconds = time.perf_counter() - self._started
        self.history.status = safety.status_after(exc_type)
        safety.report_stop(self.history, self.animator, exc_type)  # after a stop: the plot and a summary
        return False
