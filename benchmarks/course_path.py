"""The path under test: ``d2l_local``'s loader and ``train_ch6``, called as ``notebooks/en/lenet.ipynb`` calls them.

Its plot renders as it would in a notebook (a PNG at most once a second); the rendered
images are discarded, as are its printed lines.
"""
from __future__ import annotations

import contextlib
import io
import time
from unittest import mock

import d2l_local as d2l
from d2l_local import datasets as d2l_datasets
from timed_run import BATCH_SIZE, LR, RunConfig, RunResult, lenet, synchronize


def discard_display(*objs: object, **kwargs: object) -> None:
    """Stand-in for IPython's ``display`` outside a kernel: the image is already rendered, drop it."""


def run_course_path(cfg: RunConfig) -> RunResult:
    """One timed run of ``d2l_local``'s loader and ``train_ch6``, plotting as in a notebook."""
    d2l.set_seed(cfg.seed)
    net = lenet()
    d2l_datasets.forget_read_splits()  # read and decode the files each run, as a fresh kernel does
    data_device = None if cfg.device.type == "cpu" else cfg.device  # on an accelerator the data lives there
    printed = io.StringIO()
    start = time.perf_counter()
    with (contextlib.redirect_stdout(printed),
          mock.patch.object(d2l.plotting, "in_notebook", return_value=True),
          mock.patch("IPython.display.display", discard_display)):
        train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size=BATCH_SIZE, root=cfg.data_root,
                                                            device=data_device)
        if cfg.examples is not None:
            train_iter, test_iter = first_examples(train_iter, cfg.examples), first_examples(test_iter, cfg.examples)
        loaded = time.perf_counter()
        history = d2l.train_ch6(net, train_iter, test_iter, cfg.epochs, LR, cfg.device)
        synchronize(cfg.device)
    seconds = time.perf_counter() - start
    return RunResult("ours", seconds, len(train_iter.labels) * cfg.epochs, history.test_acc[-1],
                     history.examples_per_sec, {"load data": loaded - start, "train_ch6": history.seconds})


def first_examples(batches: d2l.TensorBatches, n: int) -> d2l.TensorBatches:
    """The same batches over the first ``n`` examples only (for short smoke runs)."""
    return d2l.TensorBatches(batches.stored_images[:n], batches.labels[:n], batches.batch_size,
                            shuffle=batches.shuffle)
