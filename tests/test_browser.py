"""The notebooks in JupyterLab, in a real browser: what students see must work, not only nbval's kernel.

For each English notebook: start JupyterLab on 127.0.0.1 (fixed token, free port) over a
copy of the course with outputs stripped, open the notebook in headless Debian Chromium
through Playwright, Run All, wait until the status bar's kernel is idle and no cell is
queued, save from the browser, and check what rendered. The kernels of Run All train on the
first RUN_ALL_EXAMPLES examples of each split (``D2L_MAX_EXAMPLES``): what the browser shows
does not depend on how much data a run sees, and nbval runs every notebook on the whole data
set. The checks:

* every code cell ran and none shows an error;
* a training cell shows its live plot as one image, redrawn in place (never two at once),
  and ends with the ``loss ..., train acc ..., test acc ...`` line;
* every ipywidget rendered as a widget view (no "Error displaying widget");
* no matplotlib figure reached the page as its text repr instead of an image;
* the course's settings override is in force (no Jupyter news toast).

A self-test runs the same checks on a deliberately broken notebook and requires each defect
to be reported, so the checks are known to be able to fail.

Two tests press the notebook toolbar's stop button ("Interrupt the kernel") during the
chapter's ``train_ch6``, in small notebooks they write next to the course copy: once while
the live plot is being redrawn (the cell ends with the ``Training interrupted: ...`` line, its
one plot and a KeyboardInterrupt, Run All stops, the kernel lives on and the next cell runs),
and on steps slowed to SLOW_STEP_SECONDS, once (the running step finishes and counts) and
twice (the second press ends the cell at once, without that step).

A full-page screenshot of each notebook goes to screenshots/ (git-ignored).

Needs Debian's ``chromium`` and the ``playwright`` package (requirements-test.txt); never
``playwright install``. Without them the test skips, except under CI, where it fails.
Set BROWSER_TEST_TIMEOUT (seconds per notebook, default 1200) on a slow machine.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import browser_helpers as bh
from conftest import skip_if_missing
from d2l_local.datasets import DATA_DIR_ENV
from d2l_local.loaders import MAX_EXAMPLES_ENV

pytestmark = pytest.mark.slow

REPO = bh.REPO
NOTEBOOKS = sorted((REPO / "notebooks" / "en").glob("*.ipynb"))
SCREENSHOTS = REPO / "screenshots"
TIMEOUT = float(os.environ.get("BROWSER_TEST_TIMEOUT", "1200"))
RUN_ALL_EXAMPLES = 12_000  # examples per split for Run All: a fifth of Fashion-MNIST's training set

# train_ch6's last line; not an interrupted run's summary, which reads "... last train loss ...".
TRAIN_LINE = re.compile(r"(?<!train )loss (\d+\.\d+), train acc (\d+\.\d+), test acc (\d+\.\d+)")
# A training run started at the top level of a cell (not a definition, not inside a callback).
TRAIN_CALL = re.compile(r"^(?!def\s|#)(?=\S).*\btrain_ch6\(", re.M)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
FIGURE_REPR = re.compile(r"<Figure size \d+x\d+ with \d+ Axes>")
# A cell that builds an ipywidgets panel: imports ipywidgets, or calls one of d2l_local's explorers.
USES_WIDGETS = re.compile(r"^\s*(import ipywidgets|from ipywidgets\b)|\bd2l\.\w+_explorer\(", re.M)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        text = out.get("text") or out.get("data", {}).get("text/plain", "")
        parts.append("".join(text) if isinstance(text, list) else text)
    return "".join(parts)


def _has_widget_output(cell: dict) -> bool:
    return any(WIDGET_MIME in out.get("data", {}) for out in cell.get("outputs", []))


def _data_dir() -> str | None:
    """D2L_DATA_DIR for the kernels, made absolute (they run in the copy's notebook folder).

    Without it the kernels find the data as the course does (its data/ folder, Debian's package).
    """
    value = os.environ.get(DATA_DIR_ENV)
    return str(Path(value).expanduser().resolve()) if value else None


def _lab(tmp_path_factory, extra_env: dict[str, str]):
    """JupyterLab over a stripped copy of the course, with the course's settings override applied."""
    skip_if_missing(bh.missing_browser_reason())
    work = tmp_path_factory.mktemp("jupyterlab")
    root = work / "course"
    originals = bh.make_course_copy(root)
    overrides = json.loads(bh.OVERRIDES.read_text(encoding="utf-8"))
    bh.write_user_settings(work / "user-settings", overrides, bh.TEST_SETTINGS)
    data_dir = _data_dir()
    server = bh.JupyterLab(root, work, {**({DATA_DIR_ENV: data_dir} if data_dir else {}), **extra_env})
    server.originals = originals
    try:
        server.start()
        yield server
    finally:
        server.stop()  # also when a test failed or was interrupted


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab whose kernels train on the whole data set (the stop-button tests need long runs)."""
    yield from _lab(tmp_path_factory, {})


@pytest.fixture(scope="module")
def lab_subset(tmp_path_factory):
    """JupyterLab whose kernels train on the first RUN_ALL_EXAMPLES examples of each split.

    Run All checks what the browser shows (live plots redrawn in place, widgets, no errors),
    which does not depend on how much data a run trains on; nbval runs every notebook on the
    whole data set and compares its outputs with the stored ones.
    """
    yield from _lab(tmp_path_factory, {MAX_EXAMPLES_ENV: str(RUN_ALL_EXAMPLES)})


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    """Headless Debian Chromium with a fresh profile, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=bh.CHROMIUM, headless=True, args=bh.CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900}, timeout=120_000)
        try:
            yield context
        finally:
            context.close()


def check_run(stored: dict, run: bh.NotebookRun) -> tuple[list[str], list[str]]:
    """Compare one run with the stored notebook; return (problems, notes for the log)."""
    problems, notes = [], []
    cells = stored.get("cells", [])
    if len(run.cells) != len(cells):
        return [f"the page shows {len(run.cells)} cells, the notebook has {len(cells)}"], notes
    saved_cells = (run.saved or {}).get("cells", [])
    if run.saved is None:
        problems.append("the notebook could not be saved from the browser, so errors were checked on the page only")
    elif len(saved_cells) != len(cells):
        problems.append(f"the saved notebook has {len(saved_cells)} cells, expected {len(cells)}")
        saved_cells = []

    if "Error displaying widget" in run.page_text:
        problems.append("the page shows 'Error displaying widget'")
    if "Loading widget..." in run.page_text:
        problems.append("a widget is still 'Loading widget...' after the run")
    if "official Jupyter news" in run.page_text:
        problems.append("the Jupyter news toast is showing: jupyter/overrides.json was not applied")

    widget_views = 0
    for i, (cell, seen) in enumerate(zip(cells, run.cells)):
        if cell.get("cell_type") != "code":
            continue
        label = f"cell {i}"
        src = _source(cell)
        if src.strip() and not re.fullmatch(r"\[\d+\]:", seen["prompt"]):
            problems.append(f"{label} did not run (prompt {seen['prompt']!r}): {src.strip().splitlines()[0][:80]}")
        saved = saved_cells[i] if saved_cells else {}
        for out in saved.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"{label} shows an error: {out.get('ename')}: {out.get('evalue')}")
        if "Traceback (most recent call last)" in seen["text"] and not saved_cells:
            problems.append(f"{label} shows a traceback")

        # A matplotlib figure that reached the page as its text repr was never drawn (no
        # image formatter was active: e.g. a bare matplotlib.figure.Figure before pyplot ran).
        if figure_text := FIGURE_REPR.search(seen["text"]):
            problems.append(f"{label} shows a figure as text ({figure_text.group(0)}), not as an image")

        widget_views += seen["widgets"]
        if seen["widgetErrors"]:
            problems.append(f"{label} shows a widget that failed to render: {seen['text'].strip()[:120]!r}")
        elif _has_widget_output(cell) or _has_widget_output(saved):
            if not seen["widgets"]:
                problems.append(f"{label} should show an ipywidget but no widget view rendered "
                                f"(text shown: {seen['text'].strip()[:120]!r})")

        # A training cell: it trained when stored, it starts train_ch6, or it trained in this run.
        lines = TRAIN_LINE.findall(seen["text"])
        if TRAIN_LINE.search(_output_text(cell)) or TRAIN_CALL.search(src) or lines:
            # Each training run owns one live plot, redrawn in place: a cell with one run
            # shows exactly one image; one with n runs (a sweep) at most n, never more at once.
            runs = max(len(lines), 1)
            stats = run.image_stats.get(i, {"renders": 0, "maxImages": 0})
            if not 1 <= seen["images"] <= runs:
                problems.append(f"{label} (training, {runs} run(s)) shows {seen['images']} images; "
                                f"expected one live plot per run")
            if stats["maxImages"] > runs:
                problems.append(f"{label} (training) held {stats['maxImages']} images at once: "
                                f"the plot stacked instead of updating in place")
            if stats["renders"] < 2:
                problems.append(f"{label} (training) drew its plot {stats['renders']} time(s); "
                                f"a live plot is redrawn as training goes")
            if not lines:
                problems.append(f"{label} (training) has no final 'loss ..., train acc ..., test acc ...' line")
            else:
                loss, train_acc, test_acc = lines[-1]
                notes.append(f"{label}: {len(lines)} run(s), plot drawn {stats['renders']} times in place; "
                             f"last: loss {loss}, train acc {train_acc}, test acc {test_acc}")

    if any(USES_WIDGETS.search(_source(c)) for c in cells if c.get("cell_type") == "code") and not widget_views:
        problems.append("the notebook imports ipywidgets but no widget view rendered anywhere")
    return problems, notes


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_jupyterlab(notebook: Path, lab_subset, browser, capsys):
    lab = lab_subset
    relpath = notebook.relative_to(REPO).as_posix()
    stored = lab.originals.get(relpath)
    if stored is None:
        pytest.fail(f"{relpath} was not copied for JupyterLab (unreadable, or not a course file for git)")
    shot = SCREENSHOTS / f"{notebook.parent.name}-{notebook.stem}.png"
    run = bh.run_notebook(browser, lab, relpath, shot, timeout=TIMEOUT)

    problems = [run.problem] if run.problem else []
    notes: list[str] = []
    if not run.problem:
        found, notes = check_run(stored, run)
        problems += found
    with capsys.disabled():
        print(f"\n[browser] {relpath}: Run All took {run.run_seconds:.0f} s "
              f"({run.total_seconds:.0f} s with loading and screenshot); "
              f"screenshot: {run.screenshot or 'none (failed)'}")
        for note in notes:
            print(f"[browser]   {note}")
    assert not problems, (f"{relpath} in JupyterLab:\n  - " + "\n  - ".join(problems)
                          + f"\nscreenshot: {run.screenshot}\n--- JupyterLab log (tail) ---\n{lab.log_tail()}")


def _code(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


BROKEN_NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}},
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "A notebook with one of each defect the test must catch."},
        _code("import base64\nfrom IPython.display import Image, display\n"
              "PNG = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/HwADAgH/"
              "pQ8Y1wAAAABJRU5ErkJggg==')\n"
              "def train_ch6():  # a 'live plot' that stacks a second image instead of updating the first\n"
              "    print('training on cpu')\n"
              "    display(Image(data=PNG, format='png'))\n"
              "    display(Image(data=PNG, format='png'))\n"
              "    print('loss 0.500, train acc 0.800, test acc 0.800')\n"
              "train_ch6()"),
        _code("import ipywidgets as widgets\nwidgets.IntSlider(value=3, description='epochs')"),
        _code("from IPython.display import display\n"
              "display({'application/vnd.jupyter.widget-view+json':\n"
              "         {'model_id': 'no-such-model', 'version_major': 2, 'version_minor': 0}}, raw=True)"),
        _code("from matplotlib.figure import Figure\nfig = Figure(figsize=(2, 1))\nfig.subplots()\nfig"),
        _code("1 / 0"),
        _code("print('not reached: Run All stops at the error above')"),
    ],
}


def test_checks_catch_a_broken_notebook(lab, browser):
    """The same checks must fail a notebook with a stacked plot, a broken widget, a figure shown
    as text and an error.

    Its working slider must pass, so the widget check is known to see real widget views.
    """
    relpath = "browser-selftest/broken.ipynb"
    path = lab.root_dir / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(BROKEN_NOTEBOOK, indent=1), encoding="utf-8")
    run = bh.run_notebook(browser, lab, relpath, SCREENSHOTS / "selftest-broken.png", timeout=300)
    assert run.problem is None, f"the broken notebook did not run to its error: {run.problem}"
    problems, _ = check_run(BROKEN_NOTEBOOK, run)
    report = "\n".join(problems)
    for expected in ("held 2 images at once", "shows 2 images", "Error displaying widget",
                     "cell 4 shows a figure as text", "cell 5 shows an error: ZeroDivisionError",
                     "cell 6 did not run"):
        assert expected in report, f"the checks missed {expected!r}; they reported:\n{report}"
    assert run.cells[2]["widgets"] >= 1 and "cell 2 " not in report, f"the working slider failed:\n{report}"


# ---------------------------------------------------------------------------------------
# The stop button during training (issue "Reliability in the classroom", item 3)
# ---------------------------------------------------------------------------------------

def _notebook(*cells: dict) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": BROKEN_NOTEBOOK["metadata"], "cells": list(cells)}


# The chapter's own train_ch6 and LeNet over the real Fashion-MNIST, as the chapter calls them.
STOP_NOTEBOOK = _notebook(
    {"cell_type": "markdown", "metadata": {},
     "source": "Written by tests/test_browser.py: the stop button during train_ch6."},
    _code("import d2l_local as d2l\n"
          "d2l.set_seed(0)\n"
          "train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size=256)"),
    _code("history = d2l.train_ch6(d2l.lenet(), train_iter, test_iter, 10, 0.9, d2l.try_gpu())"),
    _code("h = d2l.last_history()\nprint('after the stop:', h.status, h.steps)"),
)
STOP_TRAIN_CELL, STOP_NEXT_CELL = 2, 3

# A step long enough to press stop twice inside it: the chapter's LeNet behind a layer that,
# from step SLOW_FROM on, makes each training step last SLOW_STEP_SECONDS. It works them off
# in short slices, as a real step is a chain of short operations, and says when one starts.
SLOW_FROM, SLOW_STEP_SECONDS = 61, 15
SLOW_STEP_NOTEBOOK = _notebook(
    {"cell_type": "markdown", "metadata": {}, "source": "Written by tests/test_browser.py: stop once, then twice."},
    _code("import time\n"
          "from torch import nn\n"
          "import d2l_local as d2l\n"
          "d2l.set_seed(0)\n"
          "train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size=256)\n"
          f"SLOW_FROM, SLOW_STEP_SECONDS = {SLOW_FROM}, {SLOW_STEP_SECONDS}\n"
          "\n"
          "class SlowSteps(nn.Module):\n"
          "    \"\"\"Passes the images on; from step SLOW_FROM on, a training step takes SLOW_STEP_SECONDS.\"\"\"\n"
          "    def forward(self, X):\n"
          "        if self.training and d2l.last_history().steps + 1 >= SLOW_FROM:\n"
          "            print(f'slow step {d2l.last_history().steps + 1} started', flush=True)\n"
          "            end = time.monotonic() + SLOW_STEP_SECONDS\n"
          "            while time.monotonic() < end:\n"
          "                time.sleep(0.05)\n"
          "        return X\n"
          "\n"
          "def slow_lenet():\n"
          "    return nn.Sequential(SlowSteps(), d2l.lenet())"),
    _code("d2l.train_ch6(slow_lenet(), train_iter, test_iter, 10, 0.9, d2l.try_gpu())  # stopped once"),
    _code("h = d2l.last_history()\nprint('after one press:', h.status, h.steps)"),
    _code("d2l.train_ch6(slow_lenet(), train_iter, test_iter, 10, 0.9, d2l.try_gpu())  # stopped twice"),
    _code("h = d2l.last_history()\nprint('after two presses:', h.status, h.steps)"),
)

# What train_ch6 prints when it stops for an interrupt (d2l.TrainHistory.summary).
INTERRUPTED_LINE = re.compile(
    r"Training interrupted: (\d+) of (\d+) epochs and (\d+) steps completed; "
    r"last train loss \d+\.\d+, train acc \d+\.\d+(?:, test acc \d+\.\d+)?\. "
    r"The net keeps the weights of step (\d+); d2l\.last_history\(\) holds the numbers so far\.")
FIRST_STOP_MESSAGE = "training stopped after a completed step"  # TrainingRun.add_batch's KeyboardInterrupt
STOP_WITHIN = 30.0  # seconds from the press until the training cell has ended


def _write_notebook(lab, relpath: str, nb: dict) -> None:
    path = lab.root_dir / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def _errors(saved: dict | None, index: int) -> list[tuple[str, str]]:
    """(ename, evalue) of each error output of cell ``index`` in the notebook JupyterLab saved."""
    assert saved is not None, "the notebook could not be saved from the browser"
    return [(o.get("ename"), o.get("evalue")) for o in saved["cells"][index].get("outputs", [])
            if o.get("output_type") == "error"]


def _close(page, lab, relpath: str, screenshot: Path) -> None:
    """Screenshot the page (for a failure's post-mortem), close it and shut its kernel down."""
    try:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot))
    except Exception:  # noqa: BLE001 - a failed screenshot must not hide the real result
        pass
    page.close()
    lab.shutdown_sessions(relpath)


def _check_stopped_cell(cell: dict, epochs: int = 10) -> int:
    """The checks every stopped training cell passes; returns the steps its summary reports."""
    text = cell["text"]
    lines = INTERRUPTED_LINE.findall(text)
    assert len(lines) == 1, f"expected one 'Training interrupted: ...' line, the cell shows:\n{text[-1500:]}"
    done_epochs, num_epochs, steps, weights_step = (int(v) for v in lines[0])
    assert num_epochs == epochs and done_epochs < epochs and steps == weights_step and steps > 0, lines[0]
    assert "KeyboardInterrupt" in text, f"no KeyboardInterrupt shown:\n{text[-1500:]}"
    assert not TRAIN_LINE.search(text), "the cell printed the final line of a finished run"
    assert cell["images"] == 1, f"the stopped cell shows {cell['images']} images; expected its one plot"
    return steps


def test_stop_button_stops_training_cleanly(lab, browser, capsys):
    """Run All, press the toolbar's stop button once the live plot is being redrawn: the chapter's
    train_ch6 ends its current step, brings the plot up to date, prints the one-line summary and
    raises KeyboardInterrupt, so Run All stops; the kernel lives on and the next cell runs."""
    relpath = "browser-selftest/stop_training.ipynb"
    name = Path(relpath).name
    _write_notebook(lab, relpath, STOP_NOTEBOOK)
    page = bh.open_notebook(browser, lab, relpath)
    try:
        kernel = bh.kernel_id(lab, relpath)
        bh._click_run_all(page)
        t0 = time.monotonic()
        clicked_again = False
        # Under way: 'training on' is printed and the live plot has been drawn and redrawn.
        while (bh.image_renders(page, STOP_TRAIN_CELL) < 2
               or "training on" not in bh.cells(page)[STOP_TRAIN_CELL]["text"]):
            elapsed = time.monotonic() - t0
            assert elapsed < 300, f"the live plot never appeared:\n{bh.cells(page)[STOP_TRAIN_CELL]}"
            assert bh.kernel_state(page, name) not in bh.DEAD_KERNEL_STATES, "the kernel died while training"
            if (not clicked_again and elapsed > 20
                    and all(c["prompt"] == "[ ]:" for c in bh.cells(page) if c["code"])):
                bh._click_run_all(page)  # a click that came too early is dropped by JupyterLab: once more
                clicked_again = True
            time.sleep(0.2)
        under_way = time.monotonic() - t0
        renders = bh.image_renders(page, STOP_TRAIN_CELL)
        assert bh.cells(page)[STOP_TRAIN_CELL]["prompt"] == "[*]:", "training ended before the stop button was pressed"

        bh.interrupt_kernel(page)
        stop_seconds = bh.wait_cell_finished(page, name, STOP_TRAIN_CELL, timeout=STOP_WITHIN)
        shown = bh.cells(page)
        steps = _check_stopped_cell(shown[STOP_TRAIN_CELL])
        assert bh.image_renders(page, STOP_TRAIN_CELL) > renders, "the plot was not brought up to date after the stop"
        train_count = bh.execution_count(shown[STOP_TRAIN_CELL]["prompt"])
        assert bh.execution_count(shown[STOP_NEXT_CELL]["prompt"]) is None, (
            f"Run All went on after the interrupt: the next cell shows {shown[STOP_NEXT_CELL]['prompt']!r}")
        assert bh.kernel_state(page, name) == "Idle" and bh.kernel_id(lab, relpath) == kernel

        bh.run_cell(page, STOP_NEXT_CELL)
        bh.wait_cell_finished(page, name, STOP_NEXT_CELL, timeout=60)
        shown = bh.cells(page)
        assert f"after the stop: interrupted {steps}" in shown[STOP_NEXT_CELL]["text"], shown[STOP_NEXT_CELL]
        assert bh.execution_count(shown[STOP_NEXT_CELL]["prompt"]) == train_count + 1, (
            f"execution counts did not go on ({train_count} then {shown[STOP_NEXT_CELL]['prompt']}): "
            f"the kernel was restarted")
        assert bh.kernel_state(page, name) == "Idle" and bh.kernel_id(lab, relpath) == kernel

        # The error is the one train_ch6 raises after the step it let finish, nothing else.
        errors = _errors(bh._save_and_read(page, lab, relpath), STOP_TRAIN_CELL)
        assert errors == [("KeyboardInterrupt", FIRST_STOP_MESSAGE)], errors
        with capsys.disabled():
            print(f"\n[browser] stop button: pressed {under_way:.1f} s into training (plot drawn {renders} times); "
                  f"cell ended {stop_seconds:.1f} s later after {steps} steps")
    finally:
        _close(page, lab, relpath, SCREENSHOTS / "stop-button.png")


def test_stop_lets_the_step_finish_and_a_second_press_stops_at_once(lab, browser, capsys):
    """With steps long enough to watch (SLOW_STEP_SECONDS each from step SLOW_FROM on), one press
    of the stop button lets the running step finish (the summary counts it), while a second press
    during that wind-down stops at once: the cell ends long before the step could have finished,
    the step is not counted, the run is still 'interrupted', and the kernel lives on."""
    relpath = "browser-selftest/stop_twice.ipynb"
    name = Path(relpath).name
    _write_notebook(lab, relpath, SLOW_STEP_NOTEBOOK)
    page = bh.open_notebook(browser, lab, relpath)
    started = re.compile(rf"slow step {SLOW_FROM} started")
    try:
        kernel = bh.kernel_id(lab, relpath)
        bh.run_cell(page, 1)
        bh.wait_cell_finished(page, name, 1, timeout=120)
        counts = [bh.execution_count(bh.cells(page)[1]["prompt"])]
        report = []
        for train_cell, presses in ((2, 1), (4, 2)):
            bh.run_cell(page, train_cell)
            bh.wait_for_text(page, train_cell, started, timeout=300)  # the slow step is under way
            assert bh.cells(page)[train_cell]["images"] == 1, "the live plot is not showing before the stop"
            bh.interrupt_kernel(page)
            pressed = time.monotonic()
            if presses == 2:
                time.sleep(1.0)  # "immediately" for a person; two presses too close would be one signal
                assert bh.cells(page)[train_cell]["prompt"] == "[*]:", (
                    "the cell ended within 1 s of the first press, inside a step of "
                    f"{SLOW_STEP_SECONDS} s: it did not wait for the step to finish")
                bh.interrupt_kernel(page)
                pressed = time.monotonic()
            stop_seconds = bh.wait_cell_finished(page, name, train_cell, timeout=STOP_WITHIN)
            shown = bh.cells(page)
            steps = _check_stopped_cell(shown[train_cell])
            assert f"slow step {SLOW_FROM + 1} started" not in shown[train_cell]["text"], "a further step began"
            if presses == 1:  # the step running at the press finished and counts
                assert steps == SLOW_FROM, f"one press: {steps} steps completed, expected {SLOW_FROM}"
            else:  # the step running at the presses was abandoned, seconds before its end
                assert steps == SLOW_FROM - 1, f"two presses: {steps} steps completed, expected {SLOW_FROM - 1}"
                assert stop_seconds < SLOW_STEP_SECONDS / 3, (
                    f"the cell ended {stop_seconds:.1f} s after the second press: it did not stop at once")
            counts.append(bh.execution_count(shown[train_cell]["prompt"]))
            bh.run_cell(page, train_cell + 1)
            bh.wait_cell_finished(page, name, train_cell + 1, timeout=60)
            text = bh.cells(page)[train_cell + 1]["text"]
            label = "after one press:" if presses == 1 else "after two presses:"
            assert f"{label} interrupted {steps}" in text, text
            counts.append(bh.execution_count(bh.cells(page)[train_cell + 1]["prompt"]))
            assert bh.kernel_state(page, name) == "Idle" and bh.kernel_id(lab, relpath) == kernel
            report.append(f"{presses} press(es): cell ended {time.monotonic() - pressed:.1f} s after the last "
                          f"press ({stop_seconds:.1f} s to idle), {steps} steps")
        assert counts == list(range(counts[0], counts[0] + 5)), f"execution counts {counts}: the kernel restarted"

        saved = bh._save_and_read(page, lab, relpath)
        assert _errors(saved, 2) == [("KeyboardInterrupt", FIRST_STOP_MESSAGE)], _errors(saved, 2)
        second = _errors(saved, 4)
        assert len(second) == 1 and second[0][0] == "KeyboardInterrupt" and second[0][1] != FIRST_STOP_MESSAGE, (
            f"two presses: expected the KeyboardInterrupt of the second press, got {second}")
        with capsys.disabled():
            print("\n[browser] stop twice: " + "; ".join(report))
    finally:
        _close(page, lab, relpath, SCREENSHOTS / "stop-twice.png")


def test_the_student_release_shows_the_chapters_figure(lab, browser, tmp_path):
    """The chapter of the unpacked student zip, opened in JupyterLab, shows its figure in each language."""
    import zipfile

    built = subprocess.run([sys.executable, str(REPO / "tools" / "instructor" / "release.py"), "build", "--out",
                            str(tmp_path / "release")], capture_output=True, text=True, cwd=REPO,
                           env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert built.returncode == 0, built.stdout + built.stderr
    unpacked = lab.root_dir / "unpacked-release"
    with zipfile.ZipFile(tmp_path / "release" / "lenet-course-student.zip") as packed:
        packed.extractall(unpacked)
    for language, figure in (("en", "lenet.svg"), ("zh", "lenet_zh.svg")):
        relpath = f"unpacked-release/notebooks/{language}/lenet.ipynb"
        page = bh.open_notebook(browser, lab, relpath)
        try:
            selector = f"{bh.NOTEBOOK} img[src*='{figure}']"
            page.wait_for_selector(selector, timeout=60_000)
            page.wait_for_function(f"[...document.querySelectorAll(\"{selector}\")].every(i => i.complete)",
                                   timeout=60_000)
            sizes = page.eval_on_selector_all(selector, "images => images.map(i => [i.naturalWidth, i.naturalHeight])")
            assert sizes == [[980, 300]], f"{language}: the figure {figure} did not load from the release: {sizes}"
        finally:
            _close(page, lab, relpath, SCREENSHOTS / f"release-{language}-figure.png")
