"""Machinery for tests/test_browser.py: a throw-away JupyterLab server and a notebook run in Chromium.

Kept apart from the assertions so that the steps (copy the course, start JupyterLab,
open a notebook, Run All, wait, save, screenshot) read in one place and can be driven
by hand when a run needs debugging::

    python -c "import sys; sys.path.insert(0, 'tests'); import browser_helpers as b; ..."
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OVERRIDES = REPO / "jupyter" / "overrides.json"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The flags a closed network needs: nothing may phone home, no GPU, no sandbox as root.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TOKEN = "course-browser-test"
# Settings used only by the test, on top of the course's overrides: the copy is never
# autosaved (the test saves once, on purpose) and the screenshot has no blank tail.
TEST_SETTINGS = {
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    "@jupyterlab/notebook-extension:tracker": {"scrollPastEnd": False},
}
# Paths a course copy never needs.
_SKIP_PARTS = {".git", "data", "screenshots", "build", "__pycache__", ".ipynb_checkpoints",
               ".pytest_cache", ".venv", "venv", "node_modules"}


def missing_browser_reason() -> str | None:
    """Why the browser test cannot run here, or None when Chromium and Playwright are both present."""
    problems = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        problems.append(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("Python package playwright is not installed (pip install -r requirements-test.txt)")
    return "; ".join(problems) or None


# ---------------------------------------------------------------------------------------
# The course copy JupyterLab serves
# ---------------------------------------------------------------------------------------

def _course_files(src: Path) -> list[Path]:
    """Files of the checkout, relative: git's view (tracked + untracked, not ignored) when it has one."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=src, capture_output=True, check=True, timeout=60).stdout
        files = [Path(p) for p in out.decode().split("\0") if p]
    except (OSError, subprocess.SubprocessError):
        files = [p.relative_to(src) for p in src.rglob("*") if p.is_file()]
    return [p for p in files if not _SKIP_PARTS.intersection(p.parts) and (src / p).is_file()]


def strip_outputs(path: Path) -> None:
    """Remove stored outputs and execution counts, so everything seen later comes from this run."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    nb.get("metadata", {}).pop("widgets", None)  # saved widget state would render without a kernel
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def make_course_copy(dest: Path, src: Path = REPO) -> dict[str, dict]:
    """Copy the course to ``dest`` with the same relative layout, notebooks stripped of outputs.

    Returns each notebook as it was copied (with its stored outputs), by relative path, so a
    run is compared with the very version it ran even if the checkout changes meanwhile.
    """
    originals = {}
    for rel in _course_files(src):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, target)
        if target.suffix == ".ipynb":
            try:
                originals[rel.as_posix()] = json.loads(target.read_text(encoding="utf-8"))
            except ValueError:
                continue  # a notebook being written right now; the test reads it as it is
            strip_outputs(target)
    return originals


def write_user_settings(settings_dir: Path, *layers: dict) -> None:
    """Write ``{plugin id: {setting: value}}`` layers as JupyterLab user-settings files.

    A plugin id ``@scope/pkg:plugin`` lives in ``<dir>/@scope/pkg/plugin.jupyterlab-settings``;
    later layers win. This is how the test applies jupyter/overrides.json without touching
    the environment's own settings folder.
    """
    merged: dict[str, dict] = {}
    for layer in layers:
        for plugin, values in layer.items():
            merged.setdefault(plugin, {}).update(values)
    for plugin, values in merged.items():
        package, _, name = plugin.partition(":")
        path = settings_dir / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------
# JupyterLab
# ---------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A JupyterLab server on loopback, in its own process group, with private config folders."""

    def __init__(self, root_dir: Path, work_dir: Path, extra_env: dict[str, str] | None = None):
        self.root_dir, self.work_dir = root_dir, work_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = work_dir / "jupyterlab.log"
        self.settings_dir = work_dir / "user-settings"
        self.env = dict(os.environ)
        self.env.update({
            "JUPYTER_CONFIG_DIR": str(work_dir / "config"),  # no personal ~/.jupyter config
            "JUPYTER_RUNTIME_DIR": str(work_dir / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(self.settings_dir),
            "JUPYTERLAB_WORKSPACES_DIR": str(work_dir / "workspaces"),  # no saved tabs reopen
            "PYTHONUNBUFFERED": "1",
        })
        self.env.update(extra_env or {})
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", "--port-retries=0", f"--IdentityProvider.token={TOKEN}",
               f"--ServerApp.root_dir={self.root_dir}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI and containers run as root
        log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=self.root_dir, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        raise TimeoutError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def api(self, method: str, path: str, timeout: float = 10):
        req = urllib.request.Request(self.base + path, method=method,
                                     headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def lab_url(self, relpath: str) -> str:
        # ?reset: start from an empty workspace, so no tab from an earlier run reopens
        return f"{self.base}/lab/tree/{urllib.parse.quote(relpath)}?reset&token={TOKEN}"

    def shutdown_sessions(self, relpath: str | None = None) -> None:
        """Shut down the kernels of ``relpath`` (all when None), freeing CPU and memory."""
        try:
            for s in self.api("GET", "/api/sessions"):
                if relpath is None or s.get("path") == relpath:
                    self.api("DELETE", f"/api/sessions/{s['id']}", timeout=30)
        except (OSError, urllib.error.URLError, ValueError):
            pass

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.shutdown_sessions()
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


# ---------------------------------------------------------------------------------------
# One notebook in the browser
# ---------------------------------------------------------------------------------------

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the visible notebook, never a background tab
NOTEBOOK = f"{PANEL} .jp-Notebook"
DEAD_KERNEL_STATES = ("Dead",)

# Runs in the page: counts, per cell, how often an output image is (re)drawn and the most
# images the cell's outputs ever held at once, so a plot that stacks up even for a moment shows.
WATCH_IMAGES_JS = """
(nb) => {
  const stats = {};
  const cellOf = (node) => {
    const el = node.nodeType === 1 ? node : node.parentElement;
    const cell = el && el.closest('.jp-Cell');
    return cell ? [Array.from(nb.querySelectorAll('.jp-Cell')).indexOf(cell), cell] : [-1, null];
  };
  const note = (node) => {
    const [i, cell] = cellOf(node);
    if (i < 0) return;
    const s = stats[i] || (stats[i] = {renders: 0, maxImages: 0});
    s.renders += 1;
    s.maxImages = Math.max(s.maxImages, cell.querySelectorAll('.jp-OutputArea-output img').length);
  };
  const obs = new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'attributes' && r.target.tagName === 'IMG') note(r.target);
      for (const n of r.addedNodes || []) {
        if (n.nodeType !== 1) continue;
        if (n.tagName === 'IMG') note(n);
        else n.querySelectorAll('img').forEach(note);
      }
    }
  });
  obs.observe(nb, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
  window.__courseImageStats = stats;
}
"""

CELLS_JS = """
(nb) => Array.from(nb.querySelectorAll('.jp-Cell')).map((cell) => {
  const out = cell.querySelector('.jp-OutputArea');
  const prompt = cell.querySelector('.jp-InputArea-prompt');
  return {
    code: cell.classList.contains('jp-CodeCell'),
    prompt: prompt ? prompt.textContent.trim() : '',
    images: out ? out.querySelectorAll('.jp-OutputArea-output img').length : 0,
    // a rendered ipywidget is a view placed inside the output; a failed one marks the output itself
    widgets: out ? out.querySelectorAll('.jp-OutputArea-output > .jupyter-widgets').length : 0,
    widgetErrors: out ? out.querySelectorAll('.jp-OutputArea-output.jupyter-widgets').length : 0,
    text: out ? out.textContent : '',
  };
})
"""


@dataclass
class NotebookRun:
    """What one Run All left behind: the rendered cells, the saved model, timings."""

    relpath: str
    cells: list[dict] = field(default_factory=list)  # from CELLS_JS, one per notebook cell
    image_stats: dict[int, dict] = field(default_factory=dict)  # from WATCH_IMAGES_JS
    saved: dict | None = None  # the notebook as JupyterLab saved it after the run
    page_text: str = ""
    run_seconds: float = 0.0
    total_seconds: float = 0.0
    screenshot: Path | None = None
    problem: str | None = None  # set when the run itself could not finish


def kernel_state(page, name: str) -> str:
    """The kernel state the status bar shows for notebook ``name`` ('' while it shows none)."""
    item = page.locator(f'#jp-main-statusbar .jp-StatusBar-TextItem[title="Change kernel for {name}"]')
    if item.count() == 0:
        return ""
    text = item.first.text_content() or ""
    return text.rsplit("|", 1)[-1].strip() if "|" in text else ""


def _wait_kernel_idle(page, name: str, timeout: float) -> None:
    """Wait for the status bar's kernel state to read Idle: the one reliable "ready" signal.

    (The notebook's own execution indicator reads idle before a kernel even exists, and a
    Run All clicked then is silently dropped.)
    """
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog .jp-mod-accept")
        if dialog.count():  # e.g. "Select Kernel" when a notebook names no kernel: take the default
            dialog.first.click()
        state = kernel_state(page, name)
        if state == "Idle":
            return
        if state in DEAD_KERNEL_STATES:
            raise RuntimeError(f"the kernel of {name} died while starting: the status bar shows {state!r}")
        time.sleep(0.5)
    raise TimeoutError(f"the status bar never showed an idle kernel for {name} (last: {state!r})")


def _prompts(page) -> list[str]:
    return page.eval_on_selector(
        NOTEBOOK, "(nb) => Array.from(nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))"
                  ".map((p) => p.textContent.trim())")


def _click_run_all(page) -> None:
    page.locator("#jp-menu-panel .lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item", has_text=re.compile(r"^Run All Cells")).first.click()


def _run_all_and_wait(page, name: str, timeout: float) -> str | None:
    """Click Run > Run All Cells and wait until no cell is queued or running and the kernel is idle.

    Returns None when the run finished, else what went wrong."""
    if not _prompts(page):
        return None  # no code cell: nothing to run
    _click_run_all(page)
    start = time.monotonic()
    clicked_again = False
    quiet = 0
    while True:
        prompts = _prompts(page)
        state = kernel_state(page, name)
        started = any(p != "[ ]:" for p in prompts)
        if not started and not clicked_again and time.monotonic() - start > 20 and state == "Idle":
            _click_run_all(page)  # a click that came too early is dropped by JupyterLab: once more
            clicked_again = True
        if state in DEAD_KERNEL_STATES:
            return f"the kernel died: the status bar shows {state!r}"
        finished = started and state == "Idle" and not any(p == "[*]:" for p in prompts)
        quiet = quiet + 1 if finished else 0
        if quiet >= 3:  # idle and nothing pending for three polls in a row: done
            return None
        if time.monotonic() - start > timeout:
            return (f"not finished after {timeout:.0f} s: kernel {state!r}, prompts {prompts}; "
                    f"raise BROWSER_TEST_TIMEOUT if this machine is just slow")
        time.sleep(1.0)


def _save_and_read(page, lab: JupyterLab, relpath: str, timeout: float = 60) -> dict | None:
    """Save the notebook from the browser and return what JupyterLab wrote (its model after the run)."""
    path = lab.root_dir / relpath
    before = path.stat().st_mtime_ns
    page.locator(f'{PANEL} [data-jp-item-name="save"] jp-button').click()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.stat().st_mtime_ns != before:
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                pass  # caught mid-write
        time.sleep(0.5)
    return None


def _full_page_screenshot(page, path: Path) -> None:
    """Grow the window until the whole notebook fits, then take one full-page screenshot."""
    side = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if side.count():
        side.first.click()  # fold the file browser away: more room for the notebook
        page.wait_for_timeout(300)
    size = page.viewport_size or {"width": 1400, "height": 900}
    height = size["height"]
    # Off-screen cells count with an estimated height until they are drawn, so grow in steps
    # until nothing is left to scroll (or Chromium's image size limit is reached).
    for _ in range(6):
        extra = page.eval_on_selector(
            f"{PANEL} .jp-WindowedPanel-outer", "(el) => el.scrollHeight - el.clientHeight")
        if extra <= 0 or height >= 16000:
            break
        height = min(height + int(extra) + 40, 16000)
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(1500)  # let the layout and the newly visible cells render
    page.evaluate("document.querySelectorAll('.jp-WindowedPanel-outer').forEach((el) => el.scrollTo(0, 0))")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


def run_notebook(context, lab: JupyterLab, relpath: str, screenshot: Path,
                 timeout: float = 1200) -> NotebookRun:
    """Open ``relpath`` in JupyterLab, Run All, wait, save, and collect what rendered."""
    run = NotebookRun(relpath)
    name = Path(relpath).name
    t0 = time.monotonic()
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(lab.lab_url(relpath), wait_until="domcontentloaded", timeout=120_000)
        page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=120_000)
        _wait_kernel_idle(page, name, timeout=180)
        page.eval_on_selector(NOTEBOOK, WATCH_IMAGES_JS)
        t_run = time.monotonic()
        run.problem = _run_all_and_wait(page, name, timeout)
        run.run_seconds = time.monotonic() - t_run
        page.wait_for_timeout(500)  # the last display updates reach the page
        run.cells = page.eval_on_selector(NOTEBOOK, CELLS_JS)
        run.image_stats = {int(k): v for k, v in page.evaluate("window.__courseImageStats || {}").items()}
        run.page_text = page.locator("body").text_content() or ""
        if run.problem is None:
            run.saved = _save_and_read(page, lab, relpath)
    except Exception as err:  # noqa: BLE001 - reported by the test, with a screenshot
        run.problem = f"{type(err).__name__}: {err}"
    finally:
        try:
            _full_page_screenshot(page, screenshot)
            run.screenshot = screenshot
        except Exception:  # noqa: BLE001 - a failed screenshot must not hide the real result
            try:
                page.screenshot(path=str(screenshot))
                run.screenshot = screenshot
            except Exception:  # noqa: BLE001
                pass
        page.close()
        lab.shutdown_sessions(relpath)
        run.total_seconds = time.monotonic() - t0
    return run


# ---------------------------------------------------------------------------------------
# Driving single cells and the stop button, as a student does
# ---------------------------------------------------------------------------------------

RUN_ONE_PROMPT = re.compile(r"^\[(\d+)\]:$")  # the prompt of a cell that has run: "[7]:"
# The notebook toolbar's stop button ("Interrupt the kernel"): the square next to Run.
INTERRUPT_BUTTON = f'{PANEL} [data-jp-item-name="interrupt"] jp-button'


def open_notebook(context, lab: JupyterLab, relpath: str, timeout: float = 180):
    """Open ``relpath`` in a new page, wait for an idle kernel and start counting image redraws."""
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(lab.lab_url(relpath), wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=120_000)
    _wait_kernel_idle(page, Path(relpath).name, timeout=timeout)
    page.eval_on_selector(NOTEBOOK, WATCH_IMAGES_JS)
    return page


def cells(page) -> list[dict]:
    """What every cell shows now (CELLS_JS: prompt, images, output text), by cell index."""
    return page.eval_on_selector(NOTEBOOK, CELLS_JS)


def image_renders(page, index: int) -> int:
    """How often cell ``index`` has (re)drawn an output image since the page started watching."""
    stats = page.evaluate("window.__courseImageStats || {}")
    return int(stats.get(str(index), {}).get("renders", 0))


def execution_count(prompt: str) -> int | None:
    """The number in a prompt such as ``[7]:``; None while queued or running, or never run."""
    m = RUN_ONE_PROMPT.match(prompt)
    return int(m.group(1)) if m else None


def run_cell(page, index: int, timeout: float = 30) -> None:
    """Select cell ``index`` (click its prompt: command mode) and press Shift+Enter, as a student does.

    Returns once the cell is seen queued or running, or already showing a new execution count.
    """
    before = cells(page)[index]["prompt"]
    page.locator(f"{NOTEBOOK} .jp-Cell").nth(index).locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        prompt = cells(page)[index]["prompt"]
        if prompt == "[*]:" or (prompt != before and execution_count(prompt) is not None):
            return
        time.sleep(0.1)
    raise TimeoutError(f"cell {index} did not start within {timeout:.0f} s of Shift+Enter (prompt {prompt!r})")


def interrupt_kernel(page) -> None:
    """Press the notebook toolbar's stop button ("Interrupt the kernel")."""
    page.locator(INTERRUPT_BUTTON).click()


def wait_cell_finished(page, name: str, index: int, timeout: float) -> float:
    """Wait until cell ``index`` shows an execution count, no cell is queued or running and the
    status bar's kernel reads Idle (twice in a row); return the seconds waited.

    Raises TimeoutError (or RuntimeError for a dead kernel) with what the page showed.
    """
    start = time.monotonic()
    quiet = 0
    while True:
        shown = cells(page)
        prompts = [c["prompt"] for c in shown if c["code"]]
        state = kernel_state(page, name)
        if state in DEAD_KERNEL_STATES:
            raise RuntimeError(f"the kernel died: the status bar shows {state!r}")
        done = (execution_count(shown[index]["prompt"]) is not None and state == "Idle"
                and "[*]:" not in prompts)
        quiet = quiet + 1 if done else 0
        if quiet >= 2:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"cell {index} not finished after {timeout:.0f} s: kernel {state!r}, "
                               f"prompts {prompts}; its output ends: {shown[index]['text'][-300:]!r}")
        time.sleep(0.1)


def wait_for_text(page, index: int, pattern: re.Pattern, timeout: float) -> re.Match:
    """Wait until cell ``index``'s output text matches ``pattern``; return the match."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = cells(page)[index]["text"]
        if m := pattern.search(text):
            return m
        time.sleep(0.1)
    raise TimeoutError(f"cell {index} never showed {pattern.pattern!r} within {timeout:.0f} s; "
                       f"its output ends: {text[-300:]!r}")


def kernel_id(lab: JupyterLab, relpath: str) -> str | None:
    """The id of the kernel JupyterLab runs for ``relpath`` (a restart keeps it; a new kernel does not)."""
    for s in lab.api("GET", "/api/sessions"):
        if s.get("path") == relpath:
            return (s.get("kernel") or {}).get("id")
    return None
