"""Smoke test of benchmarks/bench_train.py on a few batches: structure and values, never speed."""
import importlib.util
import sys
from pathlib import Path

import pytest
import torch


BENCH_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_train.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_train", BENCH_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


bench = _load_bench()
pytestmark = [pytest.mark.filterwarnings("ignore:This DataLoader will create"),
              pytest.mark.filterwarnings("ignore:Attempting to set identical low and high xlims")]


def test_flop_count_matches_layer_shapes():
    flops = bench.count_training_flops(bench.lenet())
    # multiply-adds: conv1 6*28*28*25, conv2 16*10*10*150, fc 400*120 + 120*84 + 84*10
    forward_macs = 117_600 + 240_000 + 48_000 + 10_080 + 840
    assert flops.forward == 2 * forward_macs
    assert flops.backward == 2 * (2 * forward_macs - 117_600)  # conv1 needs no input gradient


def test_sgemm_rate_is_positive():
    assert bench.measure_sgemm_gflops(torch.device("cpu"), size=64, trials=2) > 0


def test_both_paths_on_a_few_batches(data_root):
    cfg = bench.RunConfig(epochs=1, device=torch.device("cpu"), data_root=str(data_root), examples=512,
                          num_workers=2)
    with bench.decompressed_copy(cfg.data_root) as root:
        ref = bench.run_reference(cfg, root)
    ours = bench.run_ours(cfg)
    for run, path in ((ref, "reference"), (ours, "ours")):
        assert run.path == path
        assert run.train_examples == 512
        assert run.seconds > 0 and run.examples_per_sec > 0
        assert 0.0 <= run.test_acc <= 1.0
        assert run.reported_examples_per_sec > 0
    assert set(ref.phases) == {"load data", "wait for batches", "batch compute", "evaluate", "plot"}
    assert set(ours.phases) == {"load data", "train_ch6"}

    report = bench.format_report([ref], [ours], [100.0], bench.count_training_flops(bench.lenet()),
                                 torch.device("cpu"))
    assert report.splitlines()[1].startswith("reference")
    assert report.splitlines()[2].startswith("ours")
    assert "speed-up" in report and "roofline" in report
