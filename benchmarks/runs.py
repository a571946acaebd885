"""What one timed training run is, for both paths: the chapter's settings, the model, the run's inputs and results.

Both paths train the chapter's LeNet on Fashion-MNIST (Xavier-uniform init, SGD with
lr 0.9, batch 256) and are timed end to end: data loading, training, evaluation and plotting.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

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


def lenet() -> nn.Sequential:
    """The chapter's LeNet, layer for layer as in ``notebooks/en/lenet.ipynb``."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def synchronize(device: torch.device) -> None:
    """Wait until queued work on ``device`` has finished, so the clock measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
