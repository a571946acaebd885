"""benchmarks/memory.py: which cells it runs, how it reads peaks, its table; never the figures themselves."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import nbformat
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))  # the benchmark scripts import each other as sibling modules
import memory  # noqa: E402


def _chapter():
    return nbformat.read(memory.CHAPTER, as_version=4)


def test_the_reference_trains_as_many_epochs_as_the_chapter():
    chapter = _chapter()
    assert memory.chapter_epochs(chapter) == 10
    shorter = memory.with_epochs(chapter, 2)
    assert memory.chapter_epochs(shorter) == 2 and memory.chapter_epochs(chapter) == 10  # a changed copy
    changed = [(a.source, b.source) for a, b in zip(chapter.cells, shorter.cells) if a.source != b.source]
    assert changed == [(a, a.replace("0.9, 10", "0.9, 2")) for a, _ in changed] and len(changed) == 1
    run = memory.reference_notebook(2, package=False).cells
    assert "run_reference(RunConfig(2, torch.device('cpu'))" in run[2].source
    for cell in run:
        compile(cell.source, "cell", "exec")
    assert "run_d2l_package(" in memory.reference_notebook(3, package=True).cells[2].source


def test_a_notebook_without_the_epochs_line_is_refused():
    with pytest.raises(ValueError, match="expected one 'lr, num_epochs = ...' line"):
        memory.with_epochs(memory.notebook_of(["lr, num_epochs = 0.1, 3", "lr, num_epochs = 0.1, 4"]), 1)


def test_kernels_run_this_checkout_on_the_cpu():
    env = memory.kernel_env()
    assert env["CUDA_VISIBLE_DEVICES"] == ""
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(REPO)
    assert "import d2l_local" in memory.import_cell(_chapter())


def test_peak_and_sampled_pss_see_a_child_process():
    assert memory.vm_hwm(os.getpid()) >= 10_000_000
    code = "import time; x = bytearray(80_000_000); time.sleep(1.5)"  # bytearray() writes its pages: resident
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        with memory.TreeSampler(os.getpid(), interval=0.05) as sampler:
            time.sleep(1.2)
    finally:
        child.wait()
    assert sampler.peak_children >= 1 and sampler.peak_pss >= 80_000_000


def test_table_names_each_run_in_megabytes():
    rows = [memory.MemoryResult("lenet.ipynb", "10", 912_300_000, 700_000_000, 0, 45.0, "lr, num_epochs = 0.9, 10"),
            memory.MemoryResult("reference", "10", 1_210_000_000, 1_400_000_000, 4, 90.0, "result = run_reference(")]
    lines = memory.format_table(rows).splitlines()
    assert lines[0].split()[:3] == ["kernel", "epochs", "peak"]
    assert lines[1].split()[:4] == ["lenet.ipynb", "10", "912", "MB"] and "lr, num_epochs" in lines[1]
    assert "1210 MB" in lines[2] and "1400 MB (4 children)" in lines[2]


@pytest.mark.slow
def test_measure_reports_the_kernel_peak_and_the_cell_that_set_it():
    pytest.importorskip("ipykernel")
    nb = memory.notebook_of(["x = 1", "big = bytearray(300_000_000)\ndel big", "y = 2"])
    result = memory.measure("tiny", "-", nb, REPO)
    assert result.peak_rss >= 300_000_000 and result.peak_cell == "big = bytearray(300_000_000)"
    assert result.peak_children == 0 and result.seconds > 0
