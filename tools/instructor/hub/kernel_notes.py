"""An IPython extension for students' kernels on the course hub: say why the last kernel died.

When a student's processes pass their memory limit, the kernel is stopped by the machine's
out-of-memory killer and JupyterLab only says that it died. This extension, loaded by every
kernel the hub starts, counts those stops in the student's memory cgroup; if the count grew
since the last kernel started, the first cell the student runs prints what happened and what
to do, in English and Chinese.
"""
from __future__ import annotations

import sys
from pathlib import Path

SEEN = Path.home() / ".cache" / "lenet-hub" / "oom-kills-seen"
CGROUP_ROOT = Path("/sys/fs/cgroup/memory")


def memory_cgroup() -> Path | None:
    """This process's cgroup v1 memory folder, or None."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return CGROUP_ROOT / path.lstrip("/")
    return None


def oom_kills(folder: Path) -> int:
    """How many processes the out-of-memory killer stopped in the memory cgroup ``folder``."""
    for line in (folder / "memory.oom_control").read_text().splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return 0


def message(limit_bytes: int) -> str:
    """What a student reads after their kernel was stopped for memory."""
    gb = limit_bytes / 1024 ** 3
    return (f"Your previous kernel was stopped: together, your notebooks used more than the {gb:.1f} GB of memory "
            f"that each account has on this hub, so the largest process (a kernel) was ended. Its variables are "
            f"gone: run the notebook again from the top. To need less memory, shut down the kernels of notebooks you "
            f"are not using (Kernel > Shut Down Kernel), use a smaller batch_size, or set D2L_MAX_EXAMPLES.\n"
            f"你上一个内核被停止了：你的笔记本一共用了超过本服务器每个账户 {gb:.1f} GB 的内存上限，占内存最多的进程（内核）被结束。"
            f"它的变量都已丢失：请从头再运行一遍笔记本。要少用内存，可以关闭不用的笔记本的内核（Kernel > Shut Down Kernel）、"
            f"减小 batch_size，或设置 D2L_MAX_EXAMPLES。")


def load_ipython_extension(ip) -> None:
    folder = memory_cgroup()
    if folder is None or not (folder / "memory.oom_control").exists():
        return
    count = oom_kills(folder)
    seen = int(SEEN.read_text()) if SEEN.exists() else 0
    SEEN.parent.mkdir(parents=True, exist_ok=True)
    SEEN.write_text(str(count))
    if count <= seen:
        return
    text = message(int((folder / "memory.limit_in_bytes").read_text()))

    def tell(*args) -> None:
        print(text, file=sys.stderr)
        ip.events.unregister("pre_run_cell", tell)

    ip.events.register("pre_run_cell", tell)
