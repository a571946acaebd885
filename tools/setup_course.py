"""Set up this course on one machine and open it in JupyterLab.

    python tools/setup_course.py              # install, configure, check the data, open JupyterLab
    python tools/setup_course.py --check      # only report what is missing; installs and writes nothing

Steps, each with its own message:

1. install the course's packages (requirements.txt) into the Python running this script;
2. install the course's JupyterLab settings (jupyter/overrides.json: no news popup, no
   extension manager, line numbers, kernels shut down with their notebook) into this
   environment's JupyterLab settings folder;
3. check that the Fashion-MNIST files can be found offline (and say how to get them if not);
4. start JupyterLab on notebooks/en/lenet.ipynb.

Arguments after ``--`` go to JupyterLab, e.g. ``python tools/setup_course.py -- --port 8890``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "requirements.txt"
OVERRIDES = REPO / "jupyter" / "overrides.json"
FIRST_NOTEBOOK = "notebooks/en/lenet.ipynb"


def say(step: str, message: str) -> None:
    print(f"[{step}] {message}", flush=True)


def install_packages() -> bool:
    say("install", f"pip install -r {REQUIREMENTS.name} into {sys.prefix}")
    if sys.prefix == sys.base_prefix:
        say("install", "note: this is not a virtual environment; "
                       "`python -m venv .venv` first keeps the course apart from other projects")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-r", str(REQUIREMENTS)], cwd=REPO)
    if done.returncode != 0:
        say("install", f"FAILED (pip exit code {done.returncode}); see pip's message above")
        return False
    return True


def settings_dir() -> Path:
    """The JupyterLab application settings folder of this environment (where overrides.json goes)."""
    try:
        from jupyterlab.commands import get_app_dir
        return Path(get_app_dir()) / "settings"
    except ImportError:  # JupyterLab not installed yet: its default place
        return Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings"


def install_overrides(target_dir: Path | None = None) -> bool:
    """Merge the course's settings into ``target_dir/overrides.json``, keeping other entries there."""
    target = (target_dir or settings_dir()) / "overrides.json"
    ours = json.loads(OVERRIDES.read_text(encoding="utf-8"))
    merged = {}
    if target.is_file():
        try:
            merged = json.loads(target.read_text(encoding="utf-8"))
        except ValueError:
            say("settings", f"warning: {target} is not valid JSON; replacing it")
    for plugin, values in ours.items():
        merged.setdefault(plugin, {}).update(values)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    except OSError as err:
        say("settings", f"FAILED to write {target} ({err.strerror or err}); use a virtual environment "
                        f"you own, or copy {OVERRIDES} there by hand")
        return False
    say("settings", f"course settings installed in {target} (reload JupyterLab's page to see them)")
    return True


def overrides_installed() -> bool:
    target = settings_dir() / "overrides.json"
    try:
        have = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        have = {}
    ours = json.loads(OVERRIDES.read_text(encoding="utf-8"))
    ok = all(have.get(plugin, {}).get(k) == v for plugin, values in ours.items() for k, v in values.items())
    say("settings", f"course settings {'are' if ok else 'are NOT'} in {target}")
    return ok


def check_data(download: bool) -> bool:
    """Report where Fashion-MNIST is, or how to get it; download only when asked."""
    sys.path.insert(0, str(REPO))  # the checkout's d2l_local, installed or not
    try:
        from d2l_local.datasets import FASHION_MNIST, DatasetNotFoundError, find_dataset
    except ImportError as err:
        say("data", f"cannot check the data: {err}. Install the packages first (run without --no-install/--check)")
        return False
    try:
        files = find_dataset(FASHION_MNIST, download=download)
    except DatasetNotFoundError as err:
        say("data", str(err))
        if not download:
            say("data", "Or run `python tools/setup_course.py --download-data` once while online. "
                        "(The notebook also downloads it on first use when the machine is online.)")
        return False
    folder = Path(next(iter(files.values()))).parent
    say("data", f"Fashion-MNIST found in {folder}")
    return True


def launch(lab_args: list[str]) -> int:
    # The server's root is the whole course (so ../zh and the README are reachable); its
    # landing page is the first notebook. (A file argument would root it in notebooks/en.)
    cmd = [sys.executable, "-m", "jupyterlab", f"--LabApp.default_url=/lab/tree/{FIRST_NOTEBOOK}", *lab_args]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in lab_args:
        cmd.append("--allow-root")  # e.g. in a container; JupyterLab refuses root otherwise
        say("launch", "note: running as root (JupyterLab needs --allow-root for that; added)")
    say("launch", f"starting JupyterLab in {REPO} on {FIRST_NOTEBOOK} (Ctrl+C twice to stop)")
    try:
        return subprocess.call(cmd, cwd=REPO)
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    lab_args = argv[argv.index("--") + 1:] if "--" in argv else []
    own_args = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Arguments after -- are passed to JupyterLab.")
    parser.add_argument("--no-install", action="store_true", help="skip pip install -r requirements.txt")
    parser.add_argument("--no-launch", action="store_true", help="do not start JupyterLab at the end")
    parser.add_argument("--download-data", action="store_true",
                        help="download Fashion-MNIST (about 30 MB) if no local copy is found")
    parser.add_argument("--check", action="store_true",
                        help="only report: install nothing, write nothing, download nothing, launch nothing; "
                             "exit code 1 when something is missing")
    args = parser.parse_args(own_args)

    if args.check:
        ok = overrides_installed()
        ok = check_data(download=False) and ok
        say("check", "all set" if ok else "something is missing: see above")
        return 0 if ok else 1

    if not args.no_install and not install_packages():
        return 1
    install_overrides()
    data_ok = check_data(download=args.download_data)
    if args.no_launch:
        say("done", "set up" + ("" if data_ok else " (without local data: see [data] above)"))
        return 0
    return launch(lab_args)


if __name__ == "__main__":
    sys.exit(main())
