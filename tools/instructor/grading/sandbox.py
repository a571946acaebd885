"""Run a student's kernel in a bubblewrap sandbox: it sees only what grading needs and writes only its scratch.

bubblewrap (``bwrap``, Flatpak's sandbox; Debian's package ``bubblewrap``) was chosen over
a container engine because it needs no daemon and no image, works for an unprivileged
instructor where the kernel allows user namespaces, and does the three things grading needs:

* a private view of the files: Python, the course's ``d2l_local`` and the data, read-only,
  and the student's scratch folder, writable; the course folder (sources, solutions,
  gradebook, other submissions) and every home folder are simply not there;
* a private process tree (PID namespace): when the kernel ends, every process it started
  ends with it, detached or not;
* no network and no shared memory with the host (the kernel talks to nbgrader over
  Unix sockets in a runtime folder).

When the grader runs as root, the kernel also runs as the unprivileged user ``nobody``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

NOBODY = 65534
KERNEL_NAME = "lenet-sandbox"
NAMESPACES = ["--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
              "--die-with-parent", "--new-session"]
SYSTEM = [Path("/usr"), Path("/etc")]


def as_root() -> bool:
    """Whether this grader runs as root (then the kernel runs as ``nobody``)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _folders_to_reach(path: Path) -> list[str]:
    """bwrap arguments that create ``path``'s parent folders, traversable by anyone (as the host's usually are)."""
    args = []
    for parent in reversed(path.parents):
        if parent != Path("/"):
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def mounts(readable: list[Path], writable: list[Path]) -> list[str]:
    """bwrap arguments for the sandbox's file system: the system, ``readable`` read-only, ``writable`` writable."""
    args = []
    for top in ("/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for bind, paths in (("--ro-bind", SYSTEM + [p for p in readable if p.exists()]), ("--bind", writable)):
        for path in sorted(_as_seen(paths)):
            args += [*_folders_to_reach(path), bind, str(path), str(path)]
    return args + ["--proc", "/proc", "--dev", "/dev"]


def _as_seen(paths: list[Path]) -> set[Path]:
    """Each path as written and, when a link leads elsewhere, where it leads: the kernel may be told either."""
    return {seen for path in paths for seen in (Path(os.path.abspath(path)), path.resolve())}


def problem() -> str:
    """Why this machine cannot run a kernel in the sandbox, or '' when it can (it tries a real one)."""
    if not sys.platform.startswith("linux"):
        return f"sandboxing needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian and Ubuntu: sudo apt-get install bubblewrap)"
    user = [] if as_root() else ["--unshare-user"]
    try:
        result = subprocess.run(["bwrap", *user, *NAMESPACES, *mounts([Path(sys.prefix), Path(sys.base_prefix)], []),
                                 sys.executable, "-c", "pass"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not be started ({error})"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        return f"bubblewrap cannot create a sandbox here ({last}); user namespaces may be disabled"
    return ""


def prepare(folder: Path) -> Path:
    """Make ``folder`` a real, empty-or-kept folder the kernel may write; never follow a link left in it.

    A student's kernel can leave a symbolic link where the grader expects a folder; it is
    removed, so that nothing the grader does next (binding, clearing, reading) leaves the scratch.
    """
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        folder.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    if as_root():
        os.chown(folder, NOBODY, NOBODY, follow_symlinks=False)
    return folder


def clear(folder: Path) -> Path:
    """``folder`` emptied (see ``prepare``, which also removes a link or a file left in its place)."""
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
    return prepare(folder)


def kernel_spec(readable: list[Path], writable: list[Path], home: Path, env: dict[str, str]) -> dict:
    """A Jupyter kernel spec whose kernel runs in the sandbox with only ``env`` as its environment."""
    python = sys.executable
    setenv = [arg for key, value in sorted({"HOME": str(home), "TMPDIR": str(home), "MPLCONFIGDIR": str(home),
                                             "XDG_CACHE_HOME": str(home), "LANG": "C.UTF-8",
                                             "PATH": f"{Path(python).parent}:/usr/bin:/bin", **env}.items())
              for arg in ("--setenv", key, value)]
    readable = [Path(sys.prefix), Path(sys.base_prefix), *readable]
    sandbox = ["bwrap", *NAMESPACES, *mounts(readable, writable), "--clearenv", *setenv, "--chdir", str(home)]
    if as_root():
        # bwrap sets the sandbox up as root; the kernel itself then runs as nobody, with no capability left.
        # The connection file nbgrader wrote is readable by root only, so root copies it for nobody first.
        start = (f'install -o {NOBODY} -g {NOBODY} -m 600 "$1" "$HOME/connection.json" && shift && '
                 f'exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups --inh-caps=-all '
                 f'--bounding-set=-all --no-new-privs "{python}" -m ipykernel_launcher -f "$HOME/connection.json" "$@"')
        keep = [arg for cap in ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "SETUID", "SETGID", "SETPCAP") for arg in ("--cap-add", f"CAP_{cap}")]
        argv = [*sandbox, "--cap-drop", "ALL", *keep, "--", "/bin/sh", "-c", start, KERNEL_NAME, "{connection_file}"]
    else:
        argv = ["bwrap", "--unshare-user", "--cap-drop", "ALL", *sandbox[1:], "--",
                python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    return {"argv": argv, "display_name": "Python 3 (grading sandbox)", "language": "python",
            "interrupt_mode": "message"}


def write_kernel(jupyter_path: Path, spec: dict) -> None:
    """Install ``spec`` as the kernel ``KERNEL_NAME`` under ``jupyter_path`` (a folder on JUPYTER_PATH)."""
    folder = jupyter_path / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
