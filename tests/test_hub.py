"""A class on the course hub, for real: JupyterHub, Unix accounts, kernels, nbgrader's exchange.

The module starts the hub (tools/instructor/hub/course_hub.py) for four students and an
instructor, runs the lesson of benchmarks/class_on_hub.py on a small subset of the data, then
tries, from the students' own kernels, what a class must not be able to do. At the end it stops
the hub and checks that no process, account, cgroup or folder of the class is left.
"""
from __future__ import annotations

import csv
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
import pytest
import requests

from benchmarks import class_on_hub
from benchmarks.hub_client import HubUser, Kernel, KernelDied
from conftest import REPO, skip_if_missing
from tools.instructor.hub import cgroups, course_hub, settings

pytestmark = pytest.mark.slow

STUDENTS = [f"lenet-ci{i}" for i in range(1, 5)]
INSTRUCTOR = "lenet-citeacher"
PORT = 8795
EXAMPLES = 300


def missing() -> str | None:
    if os.geteuid() != 0:
        return "the course hub needs root (it makes accounts)"
    if not shutil.which("configurable-http-proxy"):
        return "configurable-http-proxy is not installed (npm install -g configurable-http-proxy)"
    if shutil.which("jupyterhub") is None and not (Path(course_hub.BIN) / "jupyterhub").exists():
        return "JupyterHub is not installed (pip install -r requirements-hub.txt)"
    taken = [name for name in [*STUDENTS, INSTRUCTOR] if course_hub.account_exists(name)]
    return f"accounts exist already: {', '.join(taken)}" if taken else None


@pytest.fixture(scope="module")
def hub():
    """A running course hub for the test class; afterwards, nothing of it is left."""
    skip_if_missing(missing())
    folder = Path(tempfile.mkdtemp(prefix="lenet-hub-test-"))
    os.chmod(folder, 0o755)
    (folder / "class.txt").write_text("\n".join(STUDENTS) + "\n")
    hub_dir = folder / "hub"
    servers: list[psutil.Process] = []
    try:
        course_hub.start(folder / "class.txt", INSTRUCTOR, hub_dir, port=PORT)
        parents = [Path(p) for p in json.loads((hub_dir / "state.json").read_text())["parents"]]
        servers = [psutil.Process(int(json.loads((hub_dir / "state.json").read_text())["pid"])),
                   psutil.Process(int((hub_dir / "proxy.pid").read_text()))]
        yield hub_dir
    finally:
        if servers and servers[0].is_running():  # what the hub started: the idle culler, the users' servers
            servers += servers[0].children(recursive=True)
        if (hub_dir / "state.json").exists():
            course_hub.stop(hub_dir, remove_class=True)
        shutil.rmtree(folder, ignore_errors=True)
    left = [p.info for p in psutil.process_iter(["pid", "username", "cmdline"]) if p.info["username"] in
            [*STUDENTS, INSTRUCTOR]] + [p.pid for p in servers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], f"processes left behind: {left}"
    assert not any(course_hub.account_exists(name) for name in [*STUDENTS, INSTRUCTOR])
    assert not any(Path(f"/home/{name}").exists() for name in [*STUDENTS, INSTRUCTOR])
    assert not any(parent.exists() for parent in parents), "cgroups left behind"
    assert not hub_dir.exists()
    assert os.stat(REPO / "notebooks").st_mode & 0o005 == 0o005, "the checkout was not opened again"


@pytest.fixture(scope="module")
def lesson(hub):
    """The lesson, graded: what benchmarks/class_on_hub.py measures, for the test class."""
    return class_on_hub.simulate(hub, EXAMPLES, [])


def passwords(hub_dir: Path) -> dict[str, str]:
    with open(hub_dir / "accounts.csv", newline="", encoding="utf-8") as file:
        return {row["user"]: row["password"] for row in csv.DictReader(file)}


def at_hub(hub_dir: Path, name: str) -> HubUser:
    """``name`` logged in, with their server running."""
    people = json.loads((hub_dir / "class.json").read_text())
    user = HubUser(f"http://{people['ip']}:{people['port']}", name, passwords(hub_dir)[name])
    user.log_in()
    user.start_server()
    return user


def kernel_of(user: HubUser, notebook: str) -> Kernel:
    user.save_notebook(notebook, nbformat.v4.new_notebook())
    return user.open_kernel(notebook)


def printed(outputs) -> str:
    return "".join(output.get("text", "") for output in outputs)


def attempts(kernel: Kernel, code_per_path: dict[str, str]) -> dict[str, str]:
    """Try each ``code`` (a statement using ``path``) in the kernel: 'done', 'denied' or the error's name."""
    code = (f"import json, os, shutil\n_tried = {{}}\nfor path, code in {code_per_path!r}.items():\n"
            f"    try:\n        exec(code, {{'path': path, 'os': os, 'shutil': shutil}})\n        _tried[path] = 'done'\n"
            f"    except PermissionError:\n        _tried[path] = 'denied'\n"
            f"    except Exception as error:\n        _tried[path] = type(error).__name__\n"
            f"print(json.dumps(_tried))")
    outputs, error = kernel.execute(code)
    assert not error, error
    return json.loads(printed(outputs))


def test_a_class_runs_the_lesson_and_every_grade_is_the_expected_one(lesson):
    print(class_on_hub.report(lesson))
    assert class_on_hub.problems(lesson) == []
    assert lesson["requests"] > 10 * len(STUDENTS)
    assert {s["answers"] for s in lesson["per_student"]} == {"right", "wrong", "blank"}
    assert all(s["first_plot"] > 0 for s in lesson["per_student"])


def submission_of(hub_dir: Path, name: str) -> Path:
    inbound = hub_dir / "exchange" / settings.COURSE_ID / "inbound"
    found = sorted(inbound.glob(f"{name}+{class_on_hub.ASSIGNMENT}+*"))
    assert found, f"{name} has no submission in {inbound}"
    return found[-1]


def test_a_student_reads_nothing_of_the_others_the_instructor_or_the_solutions(hub, lesson):
    ann, bob = STUDENTS[0], STUDENTS[1]
    teacher = Path(pwd.getpwnam(INSTRUCTOR).pw_dir)
    private = [Path(pwd.getpwnam(bob).pw_dir), Path(pwd.getpwnam(bob).pw_dir) / class_on_hub.ASSIGNMENT /
               f"{class_on_hub.GRADED}.ipynb", teacher, teacher / "lenet-release" / "course" / "gradebook.db",
               teacher / "lenet-release" / "course" / "source" / class_on_hub.ASSIGNMENT / f"{class_on_hub.GRADED}.ipynb",
               teacher / "lenet-release" / "instructor" / "notebooks" / "en" / f"{class_on_hub.GRADED}.ipynb",
               hub / "exchange" / settings.COURSE_ID / "inbound", hub / "accounts.csv", hub / "admin-token",
               hub / "jupyterhub.sqlite", REPO / "notebooks" / "en" / f"{class_on_hub.GRADED}.ipynb", REPO / ".git",
               submission_of(hub, bob) / f"{class_on_hub.GRADED}.ipynb"]
    assert all(path.exists() for path in private)
    kernel = kernel_of(at_hub(hub, ann), "probe.ipynb")
    try:
        tried = attempts(kernel, {str(p): "os.listdir(path) if os.path.isdir(path) else open(path, 'rb').read(1)"
                                  for p in private[:-1]})
        # bob's submission: its name is secret (no one may list the inbound folder), but not its content
        assert tried == {str(p): "denied" for p in private[:-1]}
        own = attempts(kernel, {os.path.expanduser(f"~{ann}"): "os.listdir(path)",
                                str(REPO / "d2l_local" / "__init__.py"): "open(path).read(1)"})
        assert set(own.values()) == {"done"}  # the probe can read what it should, so 'denied' above means denied
    finally:
        kernel.close()


def test_a_student_cannot_replace_or_delete_another_submission(hub, lesson):
    ann, bob = STUDENTS[0], STUDENTS[1]
    theirs = submission_of(hub, bob)
    before = contents(theirs)
    kernel = kernel_of(at_hub(hub, ann), "probe.ipynb")
    try:
        notebook = str(theirs / f"{class_on_hub.GRADED}.ipynb")
        tried = attempts(kernel, {
            str(theirs): "os.rename(path, path + '-gone')",
            str(theirs) + "/": "shutil.rmtree(path)",
            notebook: "open(path, 'w').write('{}')",
            notebook + " ": "os.remove(path.strip())",
            str(theirs / "extra.ipynb"): "open(path, 'w').write('{}')",
            str(theirs / "figures" / "extra.ipynb"): "open(path, 'w').write('{}')",
            str(theirs / "figures" / "lenet.svg"): "os.remove(path)"})
        assert set(tried.values()) == {"denied"}, tried
    finally:
        kernel.close()
    assert contents(theirs) == before


def contents(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder``, by its path inside it."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_a_submission_made_in_another_students_name_is_not_collected(hub, lesson):
    ann, bob = STUDENTS[0], STUDENTS[1]
    collected = pwd.getpwnam(INSTRUCTOR).pw_dir + f"/lenet-release/course/submitted/{bob}/{class_on_hub.ASSIGNMENT}"
    before = Path(collected, f"{class_on_hub.GRADED}.ipynb").read_bytes()
    inbound = hub / "exchange" / settings.COURSE_ID / "inbound"
    forged = inbound / f"{bob}+{class_on_hub.ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+forged"
    kernel = kernel_of(at_hub(hub, ann), "probe.ipynb")
    try:  # ann writes a newer "submission" in bob's name, with an empty notebook
        outputs, error = kernel.execute(
            f"import os, shutil\nos.mkdir({str(forged)!r})\nfor name in os.listdir('{class_on_hub.ASSIGNMENT}'):\n"
            f"    if name.endswith('.ipynb'):\n        open(os.path.join({str(forged)!r}, name), 'w').write('{{}}')\n"
            f"open(os.path.join({str(forged)!r}, 'timestamp.txt'), 'w').write('2099-01-01 00:00:00.000000 UTC')\n")
        assert not error, error
    finally:
        kernel.close()
    try:
        assert forged.exists() and forged.stat().st_uid == pwd.getpwnam(ann).pw_uid
        done = subprocess.run(["runuser", "-u", INSTRUCTOR, "--", "env", f"HOME={pwd.getpwnam(INSTRUCTOR).pw_dir}",
                               f"JUPYTER_CONFIG_PATH={hub / 'instructor-config'}",
                               str(course_hub.BIN / "nbgrader"), "collect", class_on_hub.ASSIGNMENT, "--update"],
                              cwd=Path(collected).parents[2], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"claims to come from {bob} but belongs to {ann}" in done.stdout + done.stderr
        assert Path(collected, f"{class_on_hub.GRADED}.ipynb").read_bytes() == before
    finally:
        shutil.rmtree(forged, ignore_errors=True)


def kernel_process(user: str, kernel: Kernel) -> psutil.Process:
    """The process of ``kernel``, found by the account that runs it and its connection file."""
    for process in psutil.process_iter(["username", "cmdline"]):
        if process.info["username"] == user and any(kernel.kernel_id in part for part in process.info["cmdline"] or []):
            return process
    raise LookupError(f"no process for kernel {kernel.kernel_id} of {user}")


def test_a_kernel_that_eats_memory_dies_alone_and_its_student_is_told_why(hub):
    skip_if_missing(cgroups.problem() or None)
    ann, bob = STUDENTS[2], STUDENTS[3]
    hungry, other = at_hub(hub, ann), at_hub(hub, bob)
    theirs, calm = kernel_of(hungry, "hog.ipynb"), kernel_of(other, "calm.ipynb")
    limits = cgroups.StudentLimits(ann, [Path(p) for p in json.loads((hub / "state.json").read_text())["parents"]])
    kills = limits.oom_kills()
    try:
        with pytest.raises(KernelDied):
            theirs.execute("hog = []\nwhile True:\n    hog.append(b'\\x01' * (64 * 2 ** 20))", timeout=120)
        assert limits.oom_kills() == kills + 1
        assert requests.get(f"{hungry.hub}/hub/health", timeout=10).status_code == 200
        hungry.request("GET", f"{hungry.server}/api/status")  # ann's server lived through it
        outputs, error = calm.execute("print(sum(range(10 ** 6)))", timeout=60)
        assert (printed(outputs), error) == ("499999500000\n", "")
        deadline = time.monotonic() + 60
        while hungry.request("GET", f"{hungry.server}/api/kernels/{theirs.kernel_id}").json()["execution_state"] \
                != "idle" and time.monotonic() < deadline:
            time.sleep(0.5)
        again = Kernel(hungry, theirs.kernel_id, theirs.session_id)  # as JupyterLab reconnects after a restart
        outputs, error = again.execute("print('back')", timeout=60)
        said = printed(outputs)
        assert "Your previous kernel was stopped" in said and "2.0 GB" in said and "back\n" in said
        assert not error
        again.socket.close()
    finally:
        theirs.close()
        calm.close()


def test_a_kernel_that_loops_forever_gets_one_core_and_can_be_interrupted(hub):
    skip_if_missing(cgroups.problem() or None)
    ann = STUDENTS[2]
    user = at_hub(hub, ann)
    kernel = kernel_of(user, "loop.ipynb")
    limits = cgroups.StudentLimits(ann, [Path(p) for p in json.loads((hub / "state.json").read_text())["parents"]])
    try:
        process = kernel_process(ann, kernel)
        assert process.pid in {int(pid) for pid in (limits.folders[1] / "cgroup.procs").read_text().split()}
        assert int((limits.folders[1] / "cpu.cfs_quota_us").read_text()) == int(settings.CPU_LIMIT * cgroups.PERIOD_US)
        request = kernel.send("while True:\n    pass")
        process.cpu_percent(None)
        time.sleep(4)
        used = process.cpu_percent(None)
        assert 10 < used <= 100 * settings.CPU_LIMIT * 1.1, f"the looping kernel used {used:.0f}% of a core"
        assert requests.get(f"{user.hub}/hub/health", timeout=10).status_code == 200
        user.request("POST", f"{user.server}/api/kernels/{kernel.kernel_id}/interrupt")
        _, error = kernel.collect(request, timeout=60)
        assert error.startswith("KeyboardInterrupt")
    finally:
        kernel.close()
