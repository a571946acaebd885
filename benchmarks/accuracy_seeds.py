"""Final test accuracy of the benchmark's two paths over many seeds, untimed, to judge the accuracy bar.

Sigmoid LeNet's test accuracy after 10 epochs moves by a few points with the batch
order, so the handful of seeds in a timed benchmark run cannot tell a real difference
from noise. This script trains each path (``reference.run_reference`` and
``course_path.run_course_path``, the functions ``bench_train.py`` times) for seeds 0..N-1 in parallel
worker processes and compares the two distributions. The reference runs with
``num_workers=0``: a ``DataLoader`` draws the same batch order with or without worker
processes, so its accuracy is unchanged and the cores go to training.

Run ``python benchmarks/accuracy_seeds.py --seeds 40 --jobs 12`` on a machine with many
cores: a run takes 5-50 s next to a GPU (the reference's per-image conversion is the slow
part) and a minute or two on one CPU core.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import statistics
import warnings
from pathlib import Path

import torch

import d2l_local as d2l
from measure import accuracy_spread, median_accuracy_gap
from course_path import run_course_path
from reference import decompressed_copy, run_reference
from timed_run import RunConfig

PATHS = ("reference", "ours")


def train_once(path: str, cfg: RunConfig, decompressed_root: Path) -> float:
    """Final test accuracy of one run of ``path`` (in a worker process with one compute thread)."""
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="Attempting to set identical low and high xlims")
    run = run_reference(cfg, decompressed_root) if path == "reference" else run_course_path(cfg)
    return run.test_acc


def summarize(accs: dict[str, list[float]]) -> str:
    """Per-path median and range, the gap of the medians against the tolerance, and the gap of the means."""
    lines = [f"{path:<10} {len(a):>3} seeds: median {statistics.median(a):.4f}, range {min(a):.4f}-{max(a):.4f}"
             for path, a in accs.items()]
    lines.append(median_accuracy_gap(accs["reference"], accs["ours"]))
    lines.append(accuracy_spread(accs["reference"], accs["ours"]))
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, checked: at least two seeds and one worker process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 for each path (default 20)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="worker processes (default: one per core)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per run (default 10)")
    parser.add_argument("--device", help="device to train on (default d2l_local.try_gpu())")
    parser.add_argument("--data-root", help="folder holding FashionMNIST (default: d2l_local's search order)")
    parser.add_argument("--examples", type=int, help="use only the first N train and test examples (smoke runs)")
    args = parser.parse_args(argv)
    if args.seeds < 2 or args.jobs < 1:
        parser.error("--seeds needs at least 2 (for a standard deviation) and --jobs at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    """Train both paths for every seed in worker processes, printing each result, then the summary."""
    args = parse_args(argv)
    device = d2l.check_device(args.device)
    print(f"final test accuracy after {args.epochs} epoch(s), seeds 0-{args.seeds - 1}, on {device}, "
          f"{args.jobs} worker processes", flush=True)
    accs: dict[str, list[float]] = {path: [] for path in PATHS}
    spawn = multiprocessing.get_context("spawn")  # CUDA cannot be used in forked children
    with (decompressed_copy(args.data_root) as decompressed_root,
          concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=spawn) as pool):
        futures = {}
        for seed in range(args.seeds):
            cfg = RunConfig(args.epochs, device, args.data_root, args.examples, num_workers=0, seed=seed)
            for path in PATHS:
                futures[pool.submit(train_once, path, cfg, decompressed_root)] = (path, seed)
        for future in concurrent.futures.as_completed(futures):
            path, seed = futures[future]
            accs[path].append(future.result())
            print(f"{path} seed {seed}: {accs[path][-1]:.4f}", flush=True)
    print()
    print(summarize(accs))


if __name__ == "__main__":
    main()
