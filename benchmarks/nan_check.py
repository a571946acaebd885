"""The cost of checking the loss for nan at every step on the CPU, as ``train_ch6`` does there.

On the CPU, ``d2l.TrainingRun`` reads each batch's loss (``float(loss)``) so that a nan
or inf stops training at the step that made it; on a GPU it does not (that read would
make the host wait for the device at every step) and nan is found at the next plot
update. This script trains the chapter's LeNet with ``train_ch6`` on the CPU with the
per-step check on and off, in pairs in one process (so a busy machine slows both alike;
the order within a pair alternates), and prints the training throughput of each run and
the median over pairs of the cost: how much slower the run with the check was than its partner.

Run ``python benchmarks/nan_check.py`` (6 pairs of 2 epochs, about 3 minutes on a 2-core CPU).
"""
from __future__ import annotations

import argparse
import statistics
from unittest import mock

import torch

import d2l_local as d2l
from timed_run import BATCH_SIZE, LR, lenet


def run_class(check_every_step: bool) -> type[d2l.TrainingRun]:
    """``d2l.TrainingRun`` with its per-step nan check forced on or off."""

    class Run(d2l.TrainingRun):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.losses.check_every_step = check_every_step

    return Run


def throughput(check_every_step: bool, epochs: int, seed: int, data: tuple) -> float:
    """Training examples per second of one ``train_ch6`` run (its own timer: data loading left out)."""
    d2l.set_seed(seed)
    with mock.patch.object(d2l, "TrainingRun", run_class(check_every_step)), d2l.hidden_animators(), \
            mock.patch("builtins.print"):
        history = d2l.train_ch6(lenet(), *data, epochs, LR, torch.device("cpu"))
    return history.examples_per_sec


def main(argv: list[str] | None = None) -> dict[bool, list[float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=6, help="pairs of runs (default 6)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (default 2)")
    args = parser.parse_args(argv)
    data = d2l.load_data_fashion_mnist(BATCH_SIZE)
    rates: dict[bool, list[float]] = {True: [], False: []}
    print(f"train_ch6 on the CPU, LeNet, batch {BATCH_SIZE}, {args.epochs} epochs a run, "
          f"{torch.get_num_threads()} threads")
    for pair in range(args.pairs):
        for check in ((True, False) if pair % 2 == 0 else (False, True)):
            rates[check].append(throughput(check, args.epochs, pair, data))
        print(f"pair {pair}: nan check every step {rates[True][-1]:,.0f} examples/s, "
              f"at plot updates only {rates[False][-1]:,.0f} examples/s", flush=True)
    costs = [100 * (off - on) / off for on, off in zip(rates[True], rates[False])]
    print(f"median: every step {statistics.median(rates[True]):,.0f}, plot updates only "
          f"{statistics.median(rates[False]):,.0f} examples/s; the per-step check costs "
          f"{statistics.median(costs):+.1f}% of training throughput (median over pairs; "
          f"pairs range {min(costs):+.1f}% to {max(costs):+.1f}%)")
    return rates


if __name__ == "__main__":
    main()
