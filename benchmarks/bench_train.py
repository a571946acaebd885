"""End-to-end training benchmark for issue 4: the d2l package's LeNet path versus ``d2l_local``.

This file prints the report and reads the command line. The two paths are in
``reference.py`` (the d2l package's code path, re-implemented, or with ``--reference d2l``
the installed package) and ``course_path.py`` (``d2l_local`` as the chapter notebook calls it);
``measure.py`` times them in alternating pairs and computes the roofline and the
accuracy statistics; ``timed_run.py`` holds what both paths share. ``README.md`` beside
this file explains the figures.

Run ``python benchmarks/bench_train.py`` (3 pairs x 10 epochs) or ``--quick`` (1 pair x 1 epoch).
The data is found as ``d2l_local`` finds it: ``--data-root``, else ``$D2L_DATA_DIR``, else its defaults.
"""
from __future__ import annotations

import argparse
import os
import statistics
import warnings

import torch

import d2l_local as d2l
from measure import (SGEMM_SIZE, FlopCount, accuracy_spread, count_training_flops, median_accuracy_gap,
                     timed_pairs)
from reference import decompressed_copy, run_d2l_package, run_reference
from timed_run import BATCH_SIZE, LR, RunConfig, RunResult, lenet

SPEEDUP_BAR, SPEEDUP_GOAL = 2.5, 4.0


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or "unknown"


def _spread(values: list[float], fmt: str) -> str:
    """The smallest and largest value as ``min-max``."""
    return f"{format(min(values), fmt)}-{format(max(values), fmt)}"


def format_report(ref: list[RunResult], ours: list[RunResult], gflops: list[float], flops: FlopCount,
                  device: torch.device) -> str:
    """The results table, speed-up, accuracy check and roofline as printable text."""
    lines = [f"{'path':<10} {'median s':>9} {'min-max s':>13} {'e2e ex/s':>9} {'self-reported ex/s':>19}"
             f"  test acc per run"]
    for runs in (ref, ours):
        secs = [r.seconds for r in runs]
        reported = [r.reported_examples_per_sec for r in runs if r.reported_examples_per_sec]
        median_reported = f"{statistics.median(reported):,.0f}" if reported else "-"
        lines.append(f"{runs[0].path:<10} {statistics.median(secs):>9.1f} {_spread(secs, '.1f'):>13} "
                     f"{statistics.median(r.examples_per_sec for r in runs):>9,.0f} {median_reported:>19}  "
                     + " ".join(f"{r.test_acc:.4f}" for r in runs))
    pair_ratios = [r.seconds / o.seconds for r, o in zip(ref, ours)]
    speedup = statistics.median(r.seconds for r in ref) / statistics.median(o.seconds for o in ours)
    pair_median = statistics.median(pair_ratios)
    verdict = ("meets the 4x goal" if pair_median >= SPEEDUP_GOAL else
               "meets the 2.5x bar" if pair_median >= SPEEDUP_BAR else "misses the 2.5x bar")
    lines.append(f"speed-up (reference time / ours): {speedup:.2f}x from the medians; {pair_median:.2f}x median of "
                 f"pairs ({', '.join(f'{x:.2f}' for x in pair_ratios)}): {verdict}")
    ref_accs, our_accs = [r.test_acc for r in ref], [o.test_acc for o in ours]
    lines.append(median_accuracy_gap(ref_accs, our_accs))
    if len(ref) > 1 and len(ours) > 1:
        lines.append(accuracy_spread(ref_accs, our_accs))
    rate = statistics.median(gflops)
    roofline = rate * 1e9 / flops.total
    ours_rate = statistics.median(o.examples_per_sec for o in ours)
    where = f"{torch.get_num_threads()} threads" if device.type == "cpu" else str(device)
    lines.append(f"roofline: fp32 SGEMM {SGEMM_SIZE}x{SGEMM_SIZE} torch.mm on {where}: {rate:.0f} GFLOP/s "
                 f"(median of {len(gflops)}, range {_spread(gflops, '.0f')}); LeNet {flops.total / 1e6:.2f} MFLOP "
                 f"per training example (forward {flops.forward / 1e6:.2f} + backward {flops.backward / 1e6:.2f})")
    lines.append(f"          -> {roofline:,.0f} examples/s; ours reaches {100 * ours_rate / roofline:.1f}% of it")
    for runs in (ref, ours):
        middle = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
        parts = ", ".join(f"{name} {sec:.1f}" for name, sec in middle.phases.items())
        lines.append(f"{middle.path} time split (median run, s): total {middle.seconds:.1f} = {parts}"
                     + (" + other" if middle.path == "reference" else ""))
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the defaults that depend on ``--quick`` filled in."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run: 1 epoch, 1 pair (unless given)")
    parser.add_argument("--epochs", type=int, help="epochs per run (default 10, or 1 with --quick)")
    parser.add_argument("--repeats", type=int, help="alternating reference/ours pairs (default 3, or 1 with --quick)")
    parser.add_argument("--device", help="device to train on (default d2l_local.try_gpu())")
    parser.add_argument("--reference", choices=("reimplemented", "d2l"), default="reimplemented",
                        help="reference path: reference.py's re-implementation of d2l, or the installed d2l package")
    parser.add_argument("--data-root", help="folder holding FashionMNIST (default: d2l_local's search order)")
    parser.add_argument("--examples", type=int, help="use only the first N train and test examples (smoke runs)")
    args = parser.parse_args(argv)
    args.epochs = args.epochs or (1 if args.quick else 10)
    args.repeats = args.repeats or (1 if args.quick else 3)
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the pairs, printing a line after each, then the report."""
    args = parse_args(argv)
    # Expected on small machines and one-epoch runs; they would only clutter the report.
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    warnings.filterwarnings("ignore", message="Attempting to set identical low and high xlims")
    device = d2l.check_device(args.device)
    cfg = RunConfig(args.epochs, device, args.data_root, args.examples)
    run_ref = run_d2l_package if args.reference == "d2l" else run_reference
    flops = count_training_flops(lenet())
    print(f"LeNet on Fashion-MNIST: {cfg.epochs} epoch(s), batch {BATCH_SIZE}, lr {LR}, seeds 0-{args.repeats - 1}, "
          f"{args.repeats} pair(s) of reference ({args.reference}) then ours")
    print(f"torch {torch.__version__} | {torch.get_num_threads()} threads | CPU {cpu_model()} "
          f"({os.cpu_count()} logical cores) | device {device}", flush=True)
    ref, ours, gflops = [], [], []
    with decompressed_copy(cfg.data_root) as data_root:
        for number, pair in enumerate(timed_pairs(cfg, args.repeats, run_ref, data_root), start=1):
            ref.append(pair.reference)
            ours.append(pair.ours)
            gflops.append(pair.sgemm_gflops)
            print(f"pair {number}/{args.repeats}: reference {ref[-1].seconds:.1f} s (acc {ref[-1].test_acc:.4f}), "
                  f"ours {ours[-1].seconds:.1f} s (acc {ours[-1].test_acc:.4f}), SGEMM {gflops[-1]:.0f} GFLOP/s",
                  flush=True)
    print()
    print(format_report(ref, ours, gflops, flops, device))


if __name__ == "__main__":
    main()
