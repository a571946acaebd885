"""Measurement: runs timed in alternating pairs, the SGEMM roofline, LeNet's FLOP count, accuracy statistics.

The two paths run in alternating pairs in one process, so a busy machine slows both
alike and the ratio stays fair. Pair i uses seed i for both paths: accuracy after 10
epochs of sigmoid LeNet moves by a few points with the batch order, so the accuracy
check compares medians over several seeds.

The roofline is the measured fp32 SGEMM rate (square 1024 x 1024 ``torch.mm`` on the
benchmark device) divided by LeNet's FLOPs per training example, counted from the layer shapes.
"""
from __future__ import annotations

import dataclasses
import io
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from course_path import run_course_path
from timed_run import BATCH_SIZE, RunConfig, RunResult, lenet, synchronize

SGEMM_SIZE = 1024
ACCURACY_TOLERANCE = 0.03


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one training example in the conv and linear layers (a multiply-add counts 2)."""

    forward: int
    backward: int

    @property
    def total(self) -> int:
        """Forward plus backward FLOPs."""
        return self.forward + self.backward


@dataclass(frozen=True)
class Pair:
    """One alternating pair: the SGEMM rate measured just before it, then the reference run and ours."""

    sgemm_gflops: float
    reference: RunResult
    ours: RunResult


def count_training_flops(net: nn.Module, image_shape: tuple[int, ...] = (1, 28, 28)) -> FlopCount:
    """Count conv/linear FLOPs per training example from the shapes one forward pass produces.

    Backward computes the weight gradients (as many multiply-adds as forward) and the
    input gradients (as many again, except for the first layer, whose input needs none).
    Pooling, sigmoid, bias and the loss are elementwise and left out.
    """
    macs: list[int] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        """Note the multiply-adds of one conv or linear layer for one example."""
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        else:
            per_output = module.in_features
        macs.append(output[0].numel() * per_output)

    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    hooks = [m.register_forward_hook(record) for m in layers]
    try:
        with torch.no_grad():
            net(torch.zeros(1, *image_shape))
    finally:
        for hook in hooks:
            hook.remove()
    forward = 2 * sum(macs)
    return FlopCount(forward=forward, backward=forward + forward - 2 * macs[0])


def measure_sgemm_gflops(device: torch.device, size: int = SGEMM_SIZE, trials: int = 5) -> float:
    """Median fp32 GFLOP/s of square ``size`` x ``size`` ``torch.mm`` on ``device`` (torch's thread count on a CPU)."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    torch.mm(a, b)  # warm up
    per_trial = 10
    rates = []
    for _ in range(trials):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(per_trial):
            torch.mm(a, b)
        synchronize(device)
        rates.append(2 * size ** 3 * per_trial / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates)


def warm_up(device: torch.device) -> None:
    """Pay one-time costs before timing: torchvision's import and matplotlib's first PNG and SVG renders."""
    import torchvision  # noqa: F401
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.5, 2.5))
    fig.add_subplot().plot([0, 1], [0, 1])
    for fmt in ("png", "svg"):
        fig.savefig(io.BytesIO(), format=fmt)
    lenet().to(device)(torch.zeros(BATCH_SIZE, 1, 28, 28, device=device)).sum().backward()
    synchronize(device)


def timed_pairs(cfg: RunConfig, repeats: int, run_reference: Callable[[RunConfig, Path], RunResult],
                data_root: Path) -> Iterator[Pair]:
    """Warm up, then yield ``repeats`` pairs: SGEMM rate, reference run, our run, pair i with seed i."""
    warm_up(cfg.device)
    for seed in range(repeats):
        gflops = measure_sgemm_gflops(cfg.device)
        pair_cfg = dataclasses.replace(cfg, seed=seed)
        reference = run_reference(pair_cfg, data_root)
        yield Pair(gflops, reference, run_course_path(pair_cfg))


def median_accuracy_gap(ref_accs: list[float], our_accs: list[float]) -> str:
    """The gap of the two paths' median final test accuracies, judged against the tolerance."""
    gap = statistics.median(our_accs) - statistics.median(ref_accs)
    verdict = "within" if abs(gap) <= ACCURACY_TOLERANCE else "OUTSIDE"
    return f"gap of the medians (ours - reference): {gap:+.4f} ({verdict} the {ACCURACY_TOLERANCE} tolerance)"


def accuracy_spread(ref_accs: list[float], our_accs: list[float]) -> str:
    """Each path's mean and standard deviation of final test accuracy, and the gap of the means with its standard error.

    A gap within about two standard errors is run-to-run noise.
    """
    ref_mean, our_mean = statistics.fmean(ref_accs), statistics.fmean(our_accs)
    ref_sd, our_sd = statistics.stdev(ref_accs), statistics.stdev(our_accs)
    gap_se = (ref_sd ** 2 / len(ref_accs) + our_sd ** 2 / len(our_accs)) ** 0.5
    return (f"test accuracy spread: reference mean {ref_mean:.4f} (sd {ref_sd:.4f}), ours mean {our_mean:.4f} "
            f"(sd {our_sd:.4f}); gap of means {our_mean - ref_mean:+.4f}, standard error {gap_se:.4f}")
