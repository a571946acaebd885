"""End-to-end training benchmark for issue 4: the d2l package's LeNet path versus ``d2l_local``.

Both paths train the chapter's LeNet on Fashion-MNIST (Xavier-uniform init, SGD with
lr 0.9, batch 256) and are timed end to end: data loading, training,
evaluation and plotting. They run in alternating pairs in one process, so a busy
machine slows both alike and the ratio stays fair. Pair i uses seed i for both paths:
accuracy after 10 epochs of sigmoid LeNet moves by a few points with the batch order,
so the accuracy check compares medians over several seeds.

* **reference** re-implements the d2l package's code path: a ``DataLoader`` with 4
  worker processes over torchvision's ``FashionMNIST`` with per-image ``ToTensor``;
  a training loop that copies the loss and the correct count to the host after every
  batch; a plot redrawn and rendered to SVG five times per epoch and after each
  evaluation (what the notebook's inline SVG backend does); an evaluation loop with a
  host copy per batch. ``--reference d2l`` runs the installed d2l package instead.
* **ours** calls ``d2l_local.load_data_fashion_mnist`` and ``d2l_local.train_ch6`` as
  ``notebooks/en/lenet.ipynb`` does. Its plot renders as it would in a notebook
  (a PNG at most once a second); the rendered images are discarded, as are its printed lines.

The roofline is the measured fp32 SGEMM rate (square 1024 x 1024 ``torch.mm`` on the
benchmark device) divided by LeNet's FLOPs per training example, counted from the layer shapes.

Run ``python benchmarks/bench_train.py`` (3 pairs x 10 epochs) or ``--quick`` (1 pair x 1 epoch).
The data is found as ``d2l_local`` finds it: ``--data-root``, else ``$D2L_DATA_DIR``, else its defaults.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import io
import os
import re
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import torch
from torch import nn

import d2l_local as d2l
from d2l_local import datasets as d2l_datasets

BATCH_SIZE = 256
LR = 0.9
SGEMM_SIZE = 1024
ACCURACY_TOLERANCE = 0.03
SPEEDUP_BAR, SPEEDUP_GOAL = 2.5, 4.0
LEGEND = ("train loss", "train acc", "test acc")


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


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one training example in the conv and linear layers (a multiply-add counts 2)."""

    forward: int
    backward: int

    @property
    def total(self) -> int:
        return self.forward + self.backward


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


def count_training_flops(net: nn.Module, image_shape: tuple[int, ...] = (1, 28, 28)) -> FlopCount:
    """Count conv/linear FLOPs per training example from the shapes one forward pass produces.

    Backward computes the weight gradients (as many multiply-adds as forward) and the
    input gradients (as many again, except for the first layer, whose input needs none).
    Pooling, sigmoid, bias and the loss are elementwise and left out.
    """
    macs: list[int] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
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


def synchronize(device: torch.device) -> None:
    """Wait until queued work on ``device`` has finished, so the clock measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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


# ---------------------------------------------------------------- reference: the d2l code path

class SvgPlot:
    """A d2l-style animated plot: each ``add`` redraws the figure and renders it to SVG in memory.

    The notebook's inline backend renders the figure as SVG (``bbox_inches='tight'``)
    on every ``display``; here the SVG goes to a buffer that is thrown away.
    """

    def __init__(self, num_epochs: int) -> None:
        from matplotlib.figure import Figure

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


def reference_evaluate(net: nn.Module, data_iter, device: torch.device) -> float:
    """Test accuracy with a host copy per batch, as d2l's ``evaluate_accuracy_gpu``."""
    net.eval()
    sums = HostSums(2)
    with torch.no_grad():
        for X, y in data_iter:
            X, y = X.to(device), y.to(device)
            sums.add(count_correct(net(X), y), y.numel())
    return sums.data[0] / sums.data[1]


def reference_train(net: nn.Module, train_iter, test_iter, num_epochs: int, lr: float,
                    device: torch.device) -> tuple[float, float, dict[str, float]]:
    """Train as d2l's ``train_ch6`` does; return (final test accuracy, examples/s it would print, phase seconds).

    Like d2l, the printed rate times only the batch computations. The phases split the
    rest: waiting for the loader (worker start-up included), evaluation and plotting.
    """
    def init_weights(m: nn.Module) -> None:
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
            optimizer.zero_grad()
            X, y = X.to(device), y.to(device)
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            optimizer.step()
            with torch.no_grad():
                sums.add(l * X.shape[0], count_correct(y_hat, y), X.shape[0])
            compute += time.perf_counter() - tic
            if (i + 1) % plot_every == 0 or i == num_batches - 1:
                plot.add(epoch + (i + 1) / num_batches, (sums.data[0] / sums.data[2], sums.data[1] / sums.data[2], None))
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
    redraws = []

    def render_svg(fig, *args, **kwargs) -> None:
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


# ---------------------------------------------------------------- ours: d2l_local as the notebook calls it

def discard_display(*objs, **kwargs) -> None:
    """Stand-in for IPython's ``display`` outside a kernel: the image is already rendered, drop it."""


def run_ours(cfg: RunConfig) -> RunResult:
    """One timed run of ``d2l_local``'s loader and ``train_ch6``, plotting as in a notebook."""
    d2l.set_seed(cfg.seed)
    net = lenet()
    d2l_datasets._read_split_cached.cache_clear()  # read and decode the files each run, as a fresh kernel does
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
    return d2l.TensorBatches(batches.images[:n], batches.labels[:n], batches.batch_size, shuffle=batches.shuffle)


# ---------------------------------------------------------------- report

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


def _spread(values: list[float], fmt: str) -> str:
    return f"{format(min(values), fmt)}-{format(max(values), fmt)}"


def median_accuracy_gap(ref_accs: list[float], our_accs: list[float]) -> str:
    """The gap of the two paths' median final test accuracies, judged against the tolerance."""
    gap = statistics.median(our_accs) - statistics.median(ref_accs)
    verdict = "within" if abs(gap) <= ACCURACY_TOLERANCE else "OUTSIDE"
    return f"gap of the medians (ours - reference): {gap:+.4f} ({verdict} the {ACCURACY_TOLERANCE} tolerance)"


def accuracy_spread(ref_accs: list[float], our_accs: list[float]) -> str:
    """Mean and standard deviation of each path's final test accuracy, and the gap of the means
    with its standard error: a gap within about two standard errors is run-to-run noise."""
    ref_mean, our_mean = statistics.fmean(ref_accs), statistics.fmean(our_accs)
    ref_sd, our_sd = statistics.stdev(ref_accs), statistics.stdev(our_accs)
    gap_se = (ref_sd ** 2 / len(ref_accs) + our_sd ** 2 / len(our_accs)) ** 0.5
    return (f"test accuracy spread: reference mean {ref_mean:.4f} (sd {ref_sd:.4f}), ours mean {our_mean:.4f} "
            f"(sd {our_sd:.4f}); gap of means {our_mean - ref_mean:+.4f}, standard error {gap_se:.4f}")


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run: 1 epoch, 1 pair (unless given)")
    parser.add_argument("--epochs", type=int, help="epochs per run (default 10, or 1 with --quick)")
    parser.add_argument("--repeats", type=int, help="alternating reference/ours pairs (default 3, or 1 with --quick)")
    parser.add_argument("--device", help="device to train on (default d2l_local.try_gpu())")
    parser.add_argument("--reference", choices=("reimplemented", "d2l"), default="reimplemented",
                        help="reference path: this file's re-implementation of d2l, or the installed d2l package")
    parser.add_argument("--data-root", help="folder holding FashionMNIST (default: d2l_local's search order)")
    parser.add_argument("--examples", type=int, help="use only the first N train and test examples (smoke runs)")
    args = parser.parse_args(argv)
    args.epochs = args.epochs or (1 if args.quick else 10)
    args.repeats = args.repeats or (1 if args.quick else 3)
    return args


def main(argv: list[str] | None = None) -> None:
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
        warm_up(device)
        for pair in range(args.repeats):
            gflops.append(measure_sgemm_gflops(device))
            pair_cfg = dataclasses.replace(cfg, seed=pair)
            ref.append(run_ref(pair_cfg, data_root))
            ours.append(run_ours(pair_cfg))
            print(f"pair {pair + 1}/{args.repeats}: reference {ref[-1].seconds:.1f} s (acc {ref[-1].test_acc:.4f}), "
                  f"ours {ours[-1].seconds:.1f} s (acc {ours[-1].test_acc:.4f}), SGEMM {gflops[-1]:.0f} GFLOP/s",
                  flush=True)
    print()
    print(format_report(ref, ours, gflops, flops, device))


if __name__ == "__main__":
    main()
