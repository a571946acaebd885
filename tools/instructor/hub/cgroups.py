"""Per-student memory and CPU limits with Linux control groups (cgroup v1, as root).

Each student's server and everything it starts (kernels, grading, shells) run in a memory
cgroup and a cpu cgroup of their own, under ``lenet-hub-<tag>/`` below the hub's own cgroups
(the tag tells hubs on one machine apart). When a
student's processes together pass the memory limit, the kernel's out-of-memory killer stops
the largest of them (their kernel), and no one else's; a kernel that loops forever gets at
most ``cpus`` cores. Where this cannot work, ``problem()`` says why and the hub runs without limits.
"""
from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "lenet-hub"
PERIOD_US = 100_000  # the CPU quota's period


def own_cgroup(controller: str) -> Path | None:
    """This process's cgroup folder for a cgroup v1 ``controller`` ('memory', 'cpu'), or None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            folder = CGROUP_ROOT / controller / path.lstrip("/")
            return folder if folder.is_dir() else None
    return None


def problem() -> str:
    """Why per-student limits cannot be enforced here, or '' when they can."""
    if os.geteuid() != 0:
        return "the hub does not run as root"
    for controller in ("memory", "cpu"):
        folder = own_cgroup(controller)
        if folder is None:
            return (f"no cgroup v1 '{controller}' controller (cgroup v2 machines: use systemdspawner, "
                    f"or Zero to JupyterHub, which sets the same limits on Kubernetes)")
        if not os.access(folder, os.W_OK):
            return f"{folder} is not writable"
    return ""


class StudentLimits:
    """One account's memory and cpu cgroups: made before its server starts, removed after it stops."""

    def __init__(self, user: str, parents: list[Path] | None = None) -> None:
        self.user = user
        self.folders = [parent / user for parent in (parents or hub_parents())]

    @property
    def memory(self) -> Path:
        return self.folders[0]

    def create(self, memory_bytes: int, cpus: float) -> None:
        """Make the cgroups (again) with these limits."""
        memory, cpu = self.folders
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
        (memory / "memory.limit_in_bytes").write_text(str(int(memory_bytes)))
        try:  # with swap accounting, swap must not stretch the limit either
            (memory / "memory.memsw.limit_in_bytes").write_text(str(int(memory_bytes)))
        except OSError:
            pass
        (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * PERIOD_US)))

    def join(self, pid: int = 0) -> None:
        """Put process ``pid`` (0: this one) into the cgroups; its children inherit them."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(pid or os.getpid()))

    def pids(self) -> set[int]:
        """The processes in the memory cgroup now."""
        try:
            return {int(pid) for pid in (self.memory / "cgroup.procs").read_text().split()}
        except OSError:
            return set()

    def oom_kills(self) -> int:
        """How many processes the out-of-memory killer stopped in this cgroup."""
        for line in (self.memory / "memory.oom_control").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def remove(self, wait: float = 10.0) -> None:
        """Kill what is left in the cgroups, then remove them."""
        deadline = time.monotonic() + wait
        while self.pids() and time.monotonic() < deadline:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        for folder in self.folders:
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass


def hub_parents(hub: str | None = None) -> list[Path]:
    """The folders that hold the students' memory and cpu cgroups of the hub in folder ``hub`` (default:
    $LENET_HUB_DIR, which the hub runs with), below this process's own: one pair per hub on the machine."""
    tag = hashlib.sha1(str(hub or os.environ.get("LENET_HUB_DIR", "")).encode()).hexdigest()[:8]
    return [own / f"{PARENT}-{tag}" for own in (own_cgroup("memory"), own_cgroup("cpu")) if own]


def remove_all(parents: list[Path], wait: float = 10.0) -> None:
    """Remove every student's cgroups below ``parents``, and ``parents`` (when the hub stops)."""
    users = {folder.name for parent in parents if parent.is_dir() for folder in parent.iterdir() if folder.is_dir()}
    for user in sorted(users):
        StudentLimits(user, parents).remove(wait)
    for parent in parents:
        if parent.is_dir():
            parent.rmdir()
