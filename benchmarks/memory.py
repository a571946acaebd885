"""Memory per student: the peak resident memory of a Jupyter kernel that runs the chapter, its exercises, or the d2l path.

How many students a JupyterHub node holds depends on how much memory each student's
kernel takes at its peak. Each run here starts a fresh ``python3`` kernel through
nbclient, on the CPU (``CUDA_VISIBLE_DEVICES`` empty), with this checkout's
``d2l_local`` first on its path, and runs the cells in order. After each cell it reads
the kernel's ``VmHWM`` from ``/proc/<pid>/status``: the most resident memory the process
has ever held, kept by the operating system, so no sampling interval can miss a short
spike, and it names the cell that set the peak. (Not ``ru_maxrss``, which GNU
``time -v`` prints: Linux carries it over from the launching process across fork and
exec, so a kernel started by a large process reports that process's size.) A thread also
samples the kernel and its child processes every 0.1 s with psutil and keeps the peak of
their summed PSS, which splits shared pages between the processes that map them: the d2l
path's four ``DataLoader`` worker processes count towards a student's memory too, and the
peak RSS of one process cannot see them.

What runs:

* ``imports``: only the chapter's import cell (torch, ``d2l_local``), the floor every kernel pays;
* ``lenet.ipynb``: the chapter notebook top to bottom, as a student runs it;
* ``reference``: ``reference.run_reference`` (the d2l package's code path, re-implemented;
  ``--reference d2l``: the installed d2l package) in a kernel of its own, for as many
  epochs as the chapter trains, so the comparison is like for like;
* with ``--notebooks all`` also each exercise notebook ``lenet_ex*.ipynb``, as written.

Run ``python benchmarks/memory.py`` (about 2.5 minutes on a 2-core CPU),
``--epochs 1`` (both the chapter and the reference train one epoch; the chapter's
``num_epochs`` is set in its cell), ``--notebooks all`` (about 10 minutes more).
Linux only (``/proc``). This process imports no torch, so it stays small beside the kernels.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks" / "en"
CHAPTER = NOTEBOOKS / "lenet.ipynb"
EPOCHS_LINE = re.compile(r"^(lr, num_epochs = [\d.]+, )(\d+)$", re.M)  # the chapter's training settings
PROBE_TAG = "MEMORY_PROBE "
# which d2l_local the kernel ran, if any (importing it here would add to a peak it did not reach)
PROBE_CELL = f"import sys\nprint({PROBE_TAG!r} + getattr(sys.modules.get('d2l_local'), '__file__', ''))"


@dataclass
class MemoryResult:
    """One kernel's run: what it ran and its peaks, in bytes."""

    name: str
    epochs: str
    peak_rss: int  # the kernel's VmHWM
    peak_tree_pss: int  # the largest sampled sum of PSS over the kernel and its children
    peak_children: int  # the most child processes seen at once
    seconds: float
    peak_cell: str  # the first line of the cell during which the peak RSS was reached


class TreeSampler:
    """Sample the PSS of a process and its descendants in a background thread; keep the peaks."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_pss = self.peak_children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        children = self.root.children(recursive=True)
        total = 0
        for proc in [self.root, *children]:
            try:
                total += proc.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass  # a worker that ended between the listing and the reading
        self.peak_pss = max(self.peak_pss, total)
        self.peak_children = max(self.peak_children, len(children))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._sample()
            except psutil.NoSuchProcess:
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def kernel_env() -> dict[str, str]:
    """The kernel's environment: CPU only, and this checkout's ``d2l_local`` ahead of any installed one."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def chapter_epochs(nb: nbformat.NotebookNode) -> int:
    """How many epochs the chapter notebook trains (its ``lr, num_epochs = ...`` line)."""
    found = [int(m.group(2)) for cell in nb.cells if cell.cell_type == "code"
             for m in EPOCHS_LINE.finditer(cell.source)]
    if len(found) != 1:
        raise ValueError(f"expected one 'lr, num_epochs = ...' line in {CHAPTER.name}, found {len(found)}")
    return found[0]


def with_epochs(nb: nbformat.NotebookNode, epochs: int) -> nbformat.NotebookNode:
    """The chapter notebook with its ``num_epochs`` set to ``epochs``."""
    chapter_epochs(nb)  # exactly one line to change
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = EPOCHS_LINE.sub(lambda m: m.group(1) + str(epochs), cell.source)
    return nb


def notebook_of(sources: list[str]) -> nbformat.NotebookNode:
    """A notebook made of these code cells."""
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def reference_notebook(epochs: int, package: bool) -> nbformat.NotebookNode:
    """A notebook whose kernel trains the reference path, as ``bench_train.py`` runs it, for ``epochs`` epochs."""
    run = "run_d2l_package" if package else "run_reference"
    return notebook_of([
        f"import sys, warnings\nsys.path.insert(0, {str(REPO / 'benchmarks')!r})\n"
        "warnings.filterwarnings('ignore', message='This DataLoader will create')",
        f"import torch\nfrom reference import decompressed_copy, {run}\nfrom runs import RunConfig\n"
        "copy = decompressed_copy(None)  # the data d2l_local finds ($D2L_DATA_DIR), decompressed for torchvision",
        f"result = {run}(RunConfig({epochs}, torch.device('cpu')), copy.__enter__())\n"
        "print(f'test acc {result.test_acc:.4f}, {result.seconds:.1f} s')",
        "copy.__exit__(None, None, None)",
    ])


def vm_hwm(pid: int) -> int:
    """The peak resident memory of process ``pid`` so far, in bytes (``VmHWM``, Linux)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def import_cell(nb: nbformat.NotebookNode) -> str:
    """The chapter's cell that imports torch and ``d2l_local``."""
    return next(c.source for c in nb.cells if c.cell_type == "code" and "import d2l_local" in c.source)


def measure(name: str, epochs: str, nb: nbformat.NotebookNode, cwd: Path, timeout: int = 1800) -> MemoryResult:
    """Run ``nb`` in a fresh kernel started in ``cwd``; return the kernel's peaks and the cell that set the peak RSS."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells.append(nbformat.v4.new_code_cell(PROBE_CELL))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    start = time.perf_counter()
    peaks = []  # VmHWM after each cell
    with client.setup_kernel(env=kernel_env()):
        pid = client.km.provisioner.pid
        with TreeSampler(pid) as sampler:
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
                peaks.append(vm_hwm(pid))
    seconds = time.perf_counter() - start
    # the cell that brought the peak within 5 MB of its final value (later cells may add a few pages)
    setter = next(cell for cell, after in zip(nb.cells, peaks) if after >= peaks[-1] - 5_000_000)
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    used = text.split(PROBE_TAG, 1)[1].strip()
    if used and Path(used).resolve().parent != REPO / "d2l_local":
        raise RuntimeError(f"the kernel imported d2l_local from {used}, not from {REPO}")
    return MemoryResult(name, epochs, peaks[-1], sampler.peak_pss, sampler.peak_children, seconds,
                        (setter.source.strip().splitlines() or [""])[0])


def format_table(results: list[MemoryResult]) -> str:
    """The results as a text table, in MB (10^6 bytes)."""
    lines = [f"{'kernel':<36} {'epochs':>10} {'peak RSS':>9} {'peak PSS with children':>24} {'wall':>6}  "
             f"peak reached in the cell"]
    for r in results:
        pss = f"{r.peak_tree_pss / 1e6:.0f} MB" + (f" ({r.peak_children} children)" if r.peak_children else "")
        lines.append(f"{r.name:<36} {r.epochs:>10} {r.peak_rss / 1e6:>6.0f} MB {pss:>24} {r.seconds:>5.0f}s  "
                     f"{r.peak_cell[:40]}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, help="epochs for the chapter and the reference (default: the chapter's)")
    parser.add_argument("--notebooks", choices=("chapter", "all"), default="chapter",
                        help="'all' also runs each exercise notebook, as written")
    parser.add_argument("--reference", choices=("reimplemented", "d2l", "none"), default="reimplemented",
                        help="the reference path: reference.py's re-implementation, the installed d2l package, or none")
    parser.add_argument("--data-root", help="folder holding FashionMNIST (default: d2l_local's search order)")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> list[MemoryResult]:
    """Run each kernel in turn, printing a line after each, then the table."""
    args = parse_args(argv)
    if args.data_root:
        os.environ["D2L_DATA_DIR"] = str(Path(args.data_root).resolve())  # the kernels inherit it
    chapter = nbformat.read(CHAPTER, as_version=4)
    epochs = args.epochs or chapter_epochs(chapter)
    runs = [("imports (torch, d2l_local)", "-", notebook_of([import_cell(chapter)])),
            (CHAPTER.name, str(epochs), with_epochs(chapter, epochs))]
    if args.notebooks == "all":
        runs += [(path.name, "as written", nbformat.read(path, as_version=4))
                 for path in sorted(NOTEBOOKS.glob("lenet_ex*.ipynb"))]
    print(f"peak memory of fresh CPU kernels (MB = 10^6 bytes); psutil {psutil.__version__}", flush=True)
    if args.reference != "none":
        name = "reference (" + ("d2l package" if args.reference == "d2l" else "d2l path re-implemented") + ")"
        runs.insert(2, (name, str(epochs), reference_notebook(epochs, args.reference == "d2l")))
    results = []
    for name, run_epochs, nb in runs:
        results.append(measure(name, run_epochs, nb, NOTEBOOKS))
        print(f"{name}: peak RSS {results[-1].peak_rss / 1e6:.0f} MB", flush=True)
    print()
    print(format_table(results))
    return results


if __name__ == "__main__":
    main()
