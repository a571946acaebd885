"""Bookkeeping and safety nets for training loops: history, on-device metrics, checks, interrupts."""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field

import torch
from torch import nn


class NonFiniteLossError(FloatingPointError):
    """The training loss became nan or inf, so further steps would only spread it."""


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
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        global _LAST_HISTORY
        _LAST_HISTORY = self

    def add_train_point(self, x: float, loss: float, acc: float) -> None:
        self.epoch.append(x)
        self.train_loss.append(loss)
        self.train_acc.append(acc)

    def finish(self, status: str) -> None:
        self.status = status
        self.seconds = time.perf_counter() - self.started

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


class EpochMetrics:
    """Sum the loss and correct predictions of an epoch on the device; read them with one sync.

    Keeping the sums on the device means the training loop never waits for the GPU
    between batches; ``read()`` copies them to the host only when the plot needs them.
    """

    def __init__(self, epoch: int, num_batches: int) -> None:
        self.epoch, self.num_batches = epoch, num_batches
        self.losses: list[torch.Tensor] = []  # batch loss times batch size, one per batch
        self.correct: list[torch.Tensor] = []
        self.count = 0

    @torch.no_grad()
    def add(self, loss: torch.Tensor, y_hat: torch.Tensor, y: torch.Tensor) -> None:
        self.losses.append(loss.detach() * y.numel())
        self.correct.append((y_hat.argmax(dim=1) == y).sum())
        self.count += y.numel()

    def read(self) -> tuple[float, float]:
        """Return (mean loss, accuracy) so far; raise ``NonFiniteLossError`` if any loss was nan/inf."""
        losses = torch.stack(self.losses)
        total_loss, correct = torch.stack([losses.sum(), torch.stack(self.correct).sum().to(losses.dtype)]).tolist()
        if total_loss != total_loss or abs(total_loss) == float("inf"):
            bad = int((~torch.isfinite(losses)).nonzero()[0])
            value = losses[bad].item()
            raise NonFiniteLossError(
                f"The training loss became {value} in epoch {self.epoch + 1}, batch {bad + 1} of "
                f"{self.num_batches}, so training stopped. The usual cause is a learning rate that is "
                f"too large for this model: try a smaller lr (the chapter uses 0.9 for LeNet). "
                f"Inputs containing nan or inf do the same."
            )
        return total_loss / self.count, correct / self.count


def check_classifier(net: nn.Module, data_iter, device: torch.device) -> None:
    """Run one batch through ``net`` and fail early, with a clear message, if it cannot be trained as a classifier."""
    X, y = next(iter(data_iter))
    X, y = X.to(device), y.to(device)
    if y.dtype.is_floating_point or y.dtype == torch.bool or y.ndim != 1:
        raise ValueError(f"labels must be a 1-D tensor of integer class indices; got dtype {y.dtype}, shape {tuple(y.shape)}")
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            out = net(X)
    except RuntimeError as err:
        raise ValueError(
            f"the net cannot process a batch of shape {tuple(X.shape)}: {err}. Check that each layer's "
            f"input size matches the previous layer's output (print the shapes layer by layer)."
        ) from err
    finally:
        net.train(was_training)
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


class StepGuard:
    """Context manager for a training loop: stops cleanly on Ctrl-C or a kernel interrupt.

    The first interrupt lets the current optimizer step finish, then ``step_done()``
    raises ``KeyboardInterrupt``, so the weights are never half-updated. A second
    interrupt stops at once. When the loop ends by an interrupt or a nan loss, the plot
    is brought up to date and a one-line summary is printed before the error goes on.
    """

    def __init__(self, history: TrainHistory, animator=None) -> None:
        self.history, self.animator = history, animator
        self.interrupt_requested = False
        self._old_handler = None

    def _on_sigint(self, signum, frame) -> None:
        if self.interrupt_requested:
            raise KeyboardInterrupt
        self.interrupt_requested = True

    def __enter__(self) -> StepGuard:
        if threading.current_thread() is threading.main_thread():
            self._old_handler = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def step_done(self, batch_size: int) -> None:
        """Count a completed step; raise ``KeyboardInterrupt`` here if one was requested."""
        self.history.steps += 1
        self.history.examples += batch_size
        if self.interrupt_requested:
            raise KeyboardInterrupt("training stopped after a completed step")

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._old_handler is not None:
            signal.signal(signal.SIGINT, self._old_handler)
        if exc_type is None:
            self.history.finish("finished")
            return False
        self.history.finish("diverged" if issubclass(exc_type, NonFiniteLossError) else "interrupted")
        if issubclass(exc_type, (KeyboardInterrupt, NonFiniteLossError)):
            if self.animator is not None:
                self.animator.flush()
            print(self.history.summary())
        return False
