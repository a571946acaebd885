"""Smoke tests of the benchmarks/ scripts on a few batches: structure and values, never speed."""
import contextlib
import io
import re
import sys

import pytest
import torch

import d2l_local as d2l
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))  # the benchmark scripts import each other as sibling modules
import accuracy_seeds  # noqa: E402
from bench_train import format_report  # noqa: E402
from measure import accuracy_spread, count_training_flops, measure_sgemm_gflops  # noqa: E402
from course_path import run_course_path  # noqa: E402
from reference import decompressed_copy, reference_train, run_reference  # noqa: E402
from timed_run import LR, RunConfig, lenet  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:This DataLoader will create"),
              pytest.mark.filterwarnings("ignore:Attempting to set identical low and high xlims")]


def test_flop_count_matches_layer_shapes():
    flops = count_training_flops(lenet())
    # multiply-adds: conv1 6*28*28*25, conv2 16*10*10*150, fc 400*120 + 120*84 + 84*10
    forward_macs = 117_600 + 240_000 + 48_000 + 10_080 + 840
    assert flops.forward == 2 * forward_macs
    assert flops.backward == 2 * (2 * forward_macs - 117_600)  # conv1 needs no input gradient


def test_sgemm_rate_is_positive():
    assert measure_sgemm_gflops(torch.device("cpu"), size=64, trials=2) > 0


@pytest.mark.slow
def test_both_paths_on_a_few_batches(data_root):
    cfg = RunConfig(epochs=1, device=torch.device("cpu"), data_root=str(data_root), examples=512,
                    num_workers=2)
    with decompressed_copy(cfg.data_root) as root:
        ref = run_reference(cfg, root)
    ours = run_course_path(cfg)
    for run, path in ((ref, "reference"), (ours, "ours")):
        assert run.path == path
        assert run.train_examples == 512
        assert run.seconds > 0 and run.examples_per_sec > 0
        assert 0.0 <= run.test_acc <= 1.0
        assert run.reported_examples_per_sec > 0
    assert set(ref.phases) == {"load data", "wait for batches", "batch compute", "evaluate", "plot"}
    assert set(ours.phases) == {"load data", "train_ch6"}

    report = format_report([ref], [ours], [100.0], count_training_flops(lenet()), torch.device("cpu"))
    assert report.splitlines()[1].startswith("reference")
    assert report.splitlines()[2].startswith("ours")
    assert "speed-up" in report and "roofline" in report


def test_ours_computes_what_the_reference_computes(fashion):
    """Same seed, same batches: the reference loop and d2l_local's train_ch6 end with the same model.

    So the benchmark compares like with like; their accuracies differ only through the
    batch orders their random streams draw.
    """
    train_iter, test_iter = (d2l.TensorBatches(batches.stored_images[:1024], batches.labels[:1024], 256)
                             for batches in fashion)  # unshuffled: no random stream involved
    d2l.set_seed(0)
    reference_net = lenet()
    reference_acc, _, _ = reference_train(reference_net, train_iter, test_iter, 2, LR, torch.device("cpu"))
    d2l.set_seed(0)
    our_net = lenet()
    with contextlib.redirect_stdout(io.StringIO()):
        history = d2l.train_ch6(our_net, train_iter, test_iter, 2, LR, torch.device("cpu"))
    assert history.test_acc[-1] == reference_acc
    for ours, ref in zip(our_net.parameters(), reference_net.parameters()):
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)  # layouts differ, so rounding may too


def test_accuracy_spread_reports_the_gap_of_means_and_its_standard_error():
    line = accuracy_spread([0.78, 0.80], [0.80, 0.82])
    # both sds are 0.01414; the standard error of the gap is sqrt(2 * 0.0002 / 2) = 0.01414
    assert "reference mean 0.7900 (sd 0.0141)" in line and "ours mean 0.8100 (sd 0.0141)" in line
    assert "gap of means +0.0200, standard error 0.0141" in line


@pytest.mark.slow
def test_accuracy_seeds_trains_both_paths_per_seed(data_root, capsys):
    accuracy_seeds.main(["--seeds", "2", "--epochs", "1", "--examples", "512", "--jobs", "2",
                         "--device", "cpu", "--data-root", str(data_root)])
    out = capsys.readouterr().out
    for path in ("reference", "ours"):
        for seed in (0, 1):
            assert re.search(rf"^{path} seed {seed}: 0\.\d{{4}}$", out, re.M)
        assert re.search(rf"^{path} +2 seeds: median 0\.\d{{4}}, range", out, re.M)
    assert "gap of the medians (ours - reference)" in out and "standard error" in out


def test_accuracy_seeds_rejects_a_single_seed():
    with pytest.raises(SystemExit):
        accuracy_seeds.parse_args(["--seeds", "1"])
