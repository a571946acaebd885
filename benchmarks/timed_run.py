"""What one timed training run is, for both paths: the chapter's settings, the model, the run's inputs and results.

Both paths train the chapter's LeNet on Fashion-MNIST (Xavier-uniform init, SGD with
lr 0.9, batch 256) and are timed end to end: data loading, training, evaluation and plotting.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from d2l_local import lenet  # noqa: F401  (the chapter's LeNet, as the notebook saves it: both paths train it)

BATCH_SIZE = 256
LR = 0.9


@dataclass(frozen=True)
class RunConfig:
    """What one training run does; ``examples`` keeps only the first N train and test examples."""

    epochs: int
    device: torch.device
    data_root: str | None = None
    examples: int | None = None
    num_workers: int = 4
    seed: int = 0  # both paths of a pair start from the same weights


@dataclass
class RunResult:
    """One timed run of one path."""

    path: str
    seconds: float
    train_examples: int  # examples per epoch times epochs
    test_acc: float
    reported_examples_per_sec: float | None  # the number the path prints about itself
    phases: dict[str, float] = field(default_factory=dict)  # seconds spent in named parts of the run

    @property
    def examples_per_sec(self) -> float:
        """Training examples per second of end-to-end wall time."""
        return self.train_examples / self.seconds


def synchronize(device: torch.device) -> None:
    """Wait until queued work on ``device`` has finished, so the clock measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
