"""The reference path: the d2l package's LeNet code path, re-implemented, or the installed d2l package itself.

``run_reference`` re-implements the d2l package's code path: a ``DataLoader`` with 4
worker processes over torchvision's ``FashionMNIST`` with per-image ``ToTensor``; a
training loop that copies the loss and the correct count to the host after every
batch; a plot redrawn and rendered to SVG five times per epoch and after each
evaluation (what the notebook's inline SVG backend does); an evaluation loop with a
host copy per batch. ``run_d2l_package`` (``--reference d2l``) runs the installed d2l package instead.
Both read the decompressed copy of the data that ``decompressed_copy`` makes.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import torch
from matplotlib.figure import Figure
from torch import nn

import d2l_local as d2l
from d2l_local import datasets as d2l_datasets
from timed_run import BATCH_SIZE, LR, RunConfig, RunResult, lenet, synchronize

LEGEND = ("train loss", "train acc", "test acc")
Batches = torch.utils.data.DataLoader | d2l.TensorBatches  # what the reference loop iterates over


class SvgPlot:
    """A d2l-style animated plot: each ``add`` redraws the figure and renders it to SVG in memory.

    The notebook's inline backend renders the figure as SVG (``bbox_inches='tight'``)
    on every ``display``; here the SVG goes to a buffer that is thrown away.
    """

    def __init__(self, num_epochs: int) -> None:
        self.fig = Figure(figsize=(3.5, 2.5))
        self.ax = self.fig.add_subplot()
        self.xlim = (1, num_epochs)
        self.X: list[list[float]] = [[] for _ in LEGEND]
        self.Y: list[list[float]] = [[] for _ in LEGEND]
        self.redraws = 0
        self.seconds = 0.0

    def add(self, x: float, ys: tuple[float | None, ...]) -> None:
        """Append the non-``None`` values at ``x``, then redraw and render."""
        start = time.perf_counter()
        for xs_i, ys_i, y in zip(self.X, self.Y, ys):
            if y is not None:
                xs_i.append(x)
                ys_i.append(y)
        self.ax.cla()
        for xs_i, ys_i, fmt in zip(self.X, self.Y, ("-", "m--", "g-.")):
            self.ax.plot(xs_i, ys_i, fmt)
        self.ax.set_xlabel("epoch")
        self.ax.set_xlim(self.xlim)
        self.ax.legend(LEGEND)
        self.ax.grid()
        self.fig.savefig(io.BytesIO(), format="svg", bbox_inches="tight")
        self.redraws += 1
        self.seconds += time.perf_counter() - start


class HostSums:
    """Running sums kept as Python floats; ``add`` copies each value to the host, as d2l's Accumulator does."""

    def __init__(self, n: int) -> None:
        self.data = [0.0] * n

    def add(self, *values: float | torch.Tensor) -> None:
        """Add one value to each sum, copying it to the host."""
        self.data = [total + float(v) for total, v in zip(self.data, values)]


def count_correct(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    """Number of correct predictions, copied to the host."""
    return float((y_hat.argmax(dim=1).type(y.dtype) == y).type(y.dtype).sum())


def reference_loaders(data_root: Path, batch_size: int, examples: int | None,
                      num_workers: int) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    """DataLoaders over torchvision's FashionMNIST with per-image ``ToTensor``, as d2l builds them."""
    import torchvision
    from torchvision import transforms

    loaders = []
    for train in (True, False):
        data = torchvision.datasets.FashionMNIST(str(data_root), train=train, transform=transforms.ToTensor())
        if examples is not None:
            data = torch.utils.data.Subset(data, range(min(examples, len(data))))
        loaders.append(torch.utils.data.DataLoader(data, batch_size, shuffle=train, num_workers=num_workers))
    return loaders[0], loaders[1]


def reference_evaluate(net: nn.Module, data_iter: Batches, device: torch.device) -> float:
    """Test accuracy with a host copy per batch, as d2l's ``evaluate_accuracy_gpu``."""
    net.eval()
    sums = HostSums(2)
    with torch.no_grad():
        for X, y in data_iter:
            X, y = X.to(device), y.to(device)
            sums.add(count_correct(net(X), y), y.numel())
    return sums.data[0] / sums.data[1]


def reference_train(net: nn.Module, train_iter: Batches, test_iter: Batches, num_epochs: int, lr: float,
                    device: torch.device) -> tuple[float, float, dict[str, float]]:
    """Train as d2l's ``train_ch6`` does; return (final test accuracy, examples/s it would print, phase seconds).

    Like d2l, the printed rate times only the batch computations. The phases split the
    rest: waiting for the loader (worker start-up included), evaluation and plotting.
    """
    def init_weights(m: nn.Module) -> None:
        """Xavier-uniform weights for linear and convolution layers, as the chapter initialises them."""
        if type(m) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)

    net.apply(init_weights)
    net.to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    plot = SvgPlot(num_epochs)
    num_batches = len(train_iter)
    plot_every = max(num_batches // 5, 1)  # d2l divides by num_batches // 5, which fails below 5 batches
    compute = waiting = evaluating = 0.0
    for epoch in range(num_epochs):
        sums = HostSums(3)  # loss sum, correct predictions, examples
        net.train()
        asked = time.perf_counter()
        for i, (X, y) in enumerate(train_iter):
            tic = time.perf_counter()
            waiting += tic - asked
            X, y = X.to(device), y.to(device)
            optimizer.zero_grad()
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            optimizer.step()
            with torch.no_grad():
                sums.add(l * X.shape[0], count_correct(y_hat, y), X.shape[0])
            compute += time.perf_counter() - tic
            if (i + 1) % plot_every == 0 or i == num_batches - 1:
                train_l, train_acc = sums.data[0] / sums.data[2], sums.data[1] / sums.data[2]
                plot.add(epoch + (i + 1) / num_batches, (train_l, train_acc, None))
            asked = time.perf_counter()
        tic = time.perf_counter()
        test_acc = reference_evaluate(net, test_iter, device)
        evaluating += time.perf_counter() - tic
        plot.add(epoch + 1, (None, None, test_acc))
    phases = {"wait for batches": waiting, "batch compute": compute, "evaluate": evaluating, "plot": plot.seconds}
    return test_acc, sums.data[2] * num_epochs / compute, phases


def run_reference(cfg: RunConfig, data_root: Path) -> RunResult:
    """One timed run of the re-implemented d2l path over decompressed files under ``data_root``."""
    d2l.set_seed(cfg.seed)
    net = lenet()
    start = time.perf_counter()
    train_iter, test_iter = reference_loaders(data_root, BATCH_SIZE, cfg.examples, cfg.num_workers)
    loaded = time.perf_counter()
    test_acc, reported, phases = reference_train(net, train_iter, test_iter, cfg.epochs, LR, cfg.device)
    synchronize(cfg.device)
    seconds = time.perf_counter() - start
    return RunResult("reference", seconds, len(train_iter.dataset) * cfg.epochs, test_acc, reported,
                     {"load data": loaded - start, **phases})


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run the block with ``path`` as the current directory."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def run_d2l_package(cfg: RunConfig, data_root: Path) -> RunResult:
    """One timed run of the installed d2l package's own functions, with its plots rendered to SVG in memory.

    d2l reads ``../data``, so the run starts in a folder beside ``data_root``. Its
    ``display`` calls render the figure as the notebook would and print nothing.
    """
    import IPython.display
    from d2l import torch as d2l_ref

    if cfg.examples is not None:
        raise ValueError("the d2l package path always uses the full dataset; drop --examples")
    redraws: list[float] = []

    def render_svg(fig: Figure, *args: object, **kwargs: object) -> None:
        """Stand-in for IPython's ``display``: render ``fig`` to SVG in memory and time it."""
        tic = time.perf_counter()
        fig.savefig(io.BytesIO(), format="svg", bbox_inches="tight")
        redraws.append(time.perf_counter() - tic)

    d2l.set_seed(cfg.seed)
    net = lenet()
    printed = io.StringIO()
    workdir = data_root.parent / "run"
    workdir.mkdir(exist_ok=True)
    start = time.perf_counter()
    with (contextlib.redirect_stdout(printed), working_directory(workdir),
          mock.patch.object(IPython.display, "display", render_svg),
          mock.patch.object(IPython.display, "clear_output", lambda wait=False: None)):
        train_iter, test_iter = d2l_ref.load_data_fashion_mnist(BATCH_SIZE)
        d2l_ref.train_ch6(net, train_iter, test_iter, cfg.epochs, LR, cfg.device)
        synchronize(cfg.device)
    seconds = time.perf_counter() - start
    d2l_ref.plt.close("all")
    text = printed.getvalue()
    test_acc = float(re.findall(r"test acc ([0-9.]+)", text)[-1])
    reported = float(re.findall(r"([0-9.]+) examples/sec", text)[-1])
    return RunResult("reference", seconds, len(train_iter.dataset) * cfg.epochs, test_acc, reported,
                     {"plot": sum(redraws)})


@contextlib.contextmanager
def decompressed_copy(data_root: str | None) -> Iterator[Path]:
    """Yield a temporary data root holding ``FashionMNIST/raw/`` with the four IDX files decompressed.

    torchvision only skips its download (and MD5 check) when the decompressed files
    exist. The files are found as ``d2l_local`` finds them; the copy is deleted afterwards.
    """
    files = d2l_datasets.find_dataset(d2l_datasets.FASHION_MNIST, data_root, download=False)
    with tempfile.TemporaryDirectory(prefix="bench-fashion-mnist-") as tmp:
        raw = Path(tmp) / "data" / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for stem, path in files.items():
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rb") as src, open(raw / stem, "wb") as dst:
                shutil.copyfileobj(src, dst)
        yield Path(tmp) / "data"
