"""Start and stop a course hub on this machine: JupyterHub for a class, with real accounts.

    sudo python tools/instructor/hub/course_hub.py start --class class.txt --instructor NAME [--dir /srv/lenet-hub]
    sudo python tools/instructor/hub/course_hub.py stop [--dir /srv/lenet-hub] [--remove-class]

``start`` makes a Unix account for each name in the class list (one per line; ``#`` starts a
comment) and for the instructor, with a new random password each (written to
``DIR/accounts.csv``, readable by root only); builds the releases into the instructor's
``~/lenet-release`` (tools/instructor/release.py) and puts the student release in each
student's ``~/lenet-course``; makes nbgrader's exchange (``DIR/exchange``) and releases the
assignments ``lenet-en`` and ``lenet-zh`` into it; writes the users' Jupyter settings; and
starts JupyterHub (jupyterhub_config.py here) with configurable-http-proxy. It needs root: the
hub starts each user's server as that user, in cgroups that hold their memory and CPU limits.

``stop`` stops the hub, every user's server and kernel, and removes the cgroups; accounts,
homes and the exchange stay for the next lesson. ``--remove-class`` also deletes the accounts
that ``start`` made (with their homes) and the hub's folder.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make this checkout's tools/ and d2l_local importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tools import setup_course  # noqa: E402
from tools.instructor import release  # noqa: E402
from tools.instructor.hub import cgroups, settings  # noqa: E402

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
DEFAULT_DIR = Path("/srv/lenet-hub")
NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")  # what useradd accepts by default, and JupyterHub keeps as is
START_WAIT = 90  # seconds for the hub to answer after it starts


class HubError(Exception):
    """Something that stops start or stop, said so that the instructor can fix it."""


def read_class(path: Path) -> list[str]:
    """The user names in a class list: one per line, blank lines and ``#`` comments skipped."""
    names = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
    names = [name for name in names if name]
    bad = [name for name in names if not NAME.match(name)]
    if bad:
        raise HubError(f"{path}: not a valid user name: {', '.join(bad)} (lowercase letters, digits, '-' and '_', "
                       f"starting with a letter, at most 31 characters)")
    if len(set(names)) != len(names):
        raise HubError(f"{path}: a name appears twice")
    if not names:
        raise HubError(f"{path}: no names in the class list")
    return names


def account_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; raise HubError with its output when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise HubError(f"{' '.join(command[:4])} ... failed (exit {done.returncode}): "
                       f"{(done.stderr or done.stdout).strip()[-500:]}")
    return done


def as_user(name: str, *command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run ``command`` as the account ``name`` in ``cwd``, with ``env`` added to a plain environment."""
    home = pwd.getpwnam(name).pw_dir
    settings_env = [f"{key}={value}" for key, value in env.items()]
    return run("runuser", "-u", name, "--", "env", f"HOME={home}", f"USER={name}", f"PATH={BIN}:/usr/bin:/bin",
               *settings_env, *command, cwd=cwd)


def chown_tree(path: Path, name: str) -> None:
    user = pwd.getpwnam(name)
    for folder, _, files in os.walk(path):
        os.chown(folder, user.pw_uid, user.pw_gid)
        for file in files:
            os.lchown(os.path.join(folder, file), user.pw_uid, user.pw_gid)


def make_accounts(names: list[str], hub: Path, created: list[str]) -> None:
    """Create each missing account with a private home and a random password; list them in accounts.csv."""
    rows = []
    for name in names:
        if account_exists(name):
            if name not in created:
                rows.append((name, "(an existing account: its own password)"))
                continue
        else:
            run("useradd", "--create-home", "--shell", "/bin/bash", name)
            created.append(name)
        password = secrets.token_urlsafe(12)
        run("chpasswd", input=f"{name}:{password}\n")
        os.chmod(pwd.getpwnam(name).pw_dir, stat.S_IRWXU)  # nobody else may read a student's home
        rows.append((name, password))
    accounts = hub / "accounts.csv"
    accounts.touch(mode=0o600)
    with open(accounts, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([("user", "password"), *rows])


def write_jupyter_settings(hub: Path, course_root: Path) -> None:
    """The students' and the instructor's Jupyter settings, and the kernel that says why the last one died."""
    exchange = {"root": str(hub / "exchange")}
    for who in ("student", "instructor"):
        folder = hub / f"{who}-config"
        folder.mkdir(exist_ok=True)
        lines = ["# nbgrader's settings on the course hub, written by tools/instructor/hub/course_hub.py.",
                 "import sys", f"sys.path.insert(0, {str(release.REPO)!r})", "c = get_config()",
                 f"c.Exchange.root = {exchange['root']!r}",
                 "c.ExchangeFactory.submit = 'tools.instructor.hub.exchange.OwnSubmit'",
                 "c.ExchangeFactory.collect = 'tools.instructor.hub.exchange.CheckedCollect'"]
        if who == "instructor":
            lines.append(f"c.CourseDirectory.root = {str(course_root)!r}")
        (folder / "nbgrader_config.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
        server = {"MappingKernelManager": {"cull_idle_timeout": settings.CULL_IDLE_KERNEL,
                                           "cull_interval": settings.CULL_KERNEL_EVERY,
                                           "cull_busy": True, "cull_connected": True}}
        if who == "student":  # the grading tools are the instructor's
            server["ServerApp"] = {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": False,
                                                           "nbgrader.server_extensions.course_list": False}}
            lab = folder / "labconfig"
            lab.mkdir(exist_ok=True)
            (lab / "page_config.json").write_text(json.dumps({"disabledExtensions": {
                "@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:course-list": True,
                "@jupyter/nbgrader:create-assignment": True}}, indent=2), encoding="utf-8")
        (folder / "jupyter_server_config.json").write_text(json.dumps(server, indent=2), encoding="utf-8")
    kernel = hub / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True, exist_ok=True)
    extension = hub / "jupyter" / "kernel-extension"
    extension.mkdir(exist_ok=True)
    shutil.copy(HERE / "kernel_notes.py", extension / "lenet_kernel_notes.py")
    (kernel / "kernel.json").write_text(json.dumps({
        "display_name": "Python 3 (ipykernel)", "language": "python",
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.extensions=lenet_kernel_notes"],
        "env": {"PYTHONPATH": str(extension)},
        "metadata": {"debugger": True}}, indent=2), encoding="utf-8")


def check_reachable(name: str, hub: Path) -> None:
    """Fail early, and say why, if other accounts cannot run this Python, the course or its data."""
    data = os.environ.get("D2L_DATA_DIR")
    try:
        as_user(name, sys.executable, "-c", f"import os, d2l_local, jupyterhub, nbgrader; os.listdir({str(hub)!r})" +
                (f"; assert os.listdir({data!r})" if data else ""), cwd=Path("/"), env={})
    except HubError as error:
        raise HubError(f"the account {name} cannot use this course's Python ({sys.executable} -> "
                       f"{os.path.realpath(sys.executable)}), its packages, the hub's folder {hub} or D2L_DATA_DIR: "
                       f"every folder on the way must let others pass (python tools/instructor/hub/reachable_python.py "
                       f"does it for the Python; chmod o+rx for the others). {error}")


# What the class's accounts must be able to read in the course's checkout: the package their kernels
# import (and its data folder) and the hub's code their servers import. The rest (the notebooks with their worked solutions,
# git's history, the tests, build/) is closed to them while the hub runs.
OPEN_TO_ALL = {".": {"d2l_local", "tools", "data"}, "tools": {"__init__.py", "instructor"},
               "tools/instructor": {"__init__.py", "hub", "release.py", "grading"}}


def close_repository() -> dict[str, int]:
    """Take every other account's access to the checkout's other files away; return their modes, to restore."""
    closed = {}
    for folder, keep in OPEN_TO_ALL.items():
        for entry in (release.REPO / folder).iterdir():
            mode = stat.S_IMODE(entry.lstat().st_mode)
            if entry.name not in keep and not entry.is_symlink() and mode & stat.S_IRWXO:
                closed[str(entry)] = mode
                entry.chmod(mode & ~stat.S_IRWXO)
    return closed


def reopen_repository(closed: dict[str, int]) -> None:
    for path, mode in closed.items():
        if os.path.exists(path):
            os.chmod(path, mode)


def releases(instructor: str) -> Path:
    """Where the instructor's releases and nbgrader course folder are: ~/lenet-release."""
    return Path(pwd.getpwnam(instructor).pw_dir) / "lenet-release"


def hand_out(hub: Path, students: list[str], instructor: str) -> None:
    """Build the releases for the instructor, copy the student release into each home, fill the exchange."""
    built = releases(instructor)
    if not (built / "course" / "gradebook.db").exists():  # a gradebook already there is the class's: keep it
        release.build(built)
        chown_tree(built, instructor)
    for name in students:
        course = Path(pwd.getpwnam(name).pw_dir) / settings.COURSE_FOLDER
        if not course.exists():  # on a restart, the student's own edits stay
            shutil.copytree(built / "student", course)
            chown_tree(course, name)
    exchange = hub / "exchange"
    exchange.mkdir(exist_ok=True)
    os.chmod(exchange, 0o1777)  # everyone may make their course folder; no one may remove another's
    config = {"JUPYTER_CONFIG_PATH": str(hub / "instructor-config")}
    for language in release.LANGUAGES:
        as_user(instructor, str(BIN / "nbgrader"), "release_assignment", release.assignment(language), "--force",
                cwd=built / "course", env=config)
    inbound = exchange / settings.COURSE_ID / "inbound"
    os.chmod(inbound, os.stat(inbound).st_mode | stat.S_ISVTX)  # a submission can be renamed by its owner only


def wait_for_hub(url: str, log: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HubError(f"JupyterHub exited with code {process.returncode}; the end of {log}:\n"
                           + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
        try:
            with urllib.request.urlopen(f"{url}/hub/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise HubError(f"JupyterHub did not answer at {url} within {START_WAIT} s; see {log}")


def start(class_list: Path, instructor: str, hub: Path, port: int = settings.HUB_PORT, ip: str = "127.0.0.1") -> str:
    """Set up the class and start the hub; return its address."""
    if os.geteuid() != 0:
        raise HubError("run it as root (sudo): the hub makes accounts and starts each user's server as that user")
    proxy = shutil.which("configurable-http-proxy")
    if not proxy:
        raise HubError("configurable-http-proxy is missing: npm install -g configurable-http-proxy")
    if not (BIN / "jupyterhub").exists():
        raise HubError(f"JupyterHub is not installed in {sys.prefix}: pip install -r requirements-hub.txt")
    students = read_class(class_list)
    if not NAME.match(instructor) or instructor in students:
        raise HubError(f"the instructor's name {instructor!r} must be a valid user name that is not in the class list")
    hub.mkdir(parents=True, exist_ok=True)
    os.chmod(hub, 0o755)  # users read their settings and reach the exchange here; secrets inside are root's
    state_file = hub / "state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {"created": []}
    if state.get("pid") and _alive(state["pid"]):
        raise HubError(f"a hub from {hub} is already running (pid {state['pid']}): stop it first")
    make_accounts([*students, instructor], hub, state["created"])
    state["closed"] = {**close_repository(), **state.get("closed", {})}
    state_file.write_text(json.dumps(state))
    check_reachable(instructor, hub)
    write_jupyter_settings(hub, releases(instructor) / "course")
    hand_out(hub, students, instructor)
    setup_course.install_overrides()
    (hub / "class.json").write_text(json.dumps({"students": students, "instructor": instructor,
                                                "ip": ip, "port": port}), encoding="utf-8")
    token = hub / "admin-token"
    if not token.exists():
        token.touch(mode=0o600)
        token.write_text(secrets.token_hex(32))
    database = hub / "jupyterhub.sqlite"
    database.touch(mode=0o600)  # the hub's users and tokens: root's alone
    log = hub / "hub.log"
    env = {**os.environ, "LENET_HUB_DIR": str(hub), "PATH": f"{BIN}:{Path(proxy).parent}:{os.environ.get('PATH', '')}"}
    with open(log, "ab") as out:
        process = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")], cwd=hub,
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_default_interrupt)
    state.update(pid=process.pid, parents=[str(p) for p in cgroups.hub_parents(str(hub))], instructor=instructor,
                 students=students)
    state_file.write_text(json.dumps(state))
    url = f"http://{ip}:{port}"
    try:
        wait_for_hub(url, log, process)
    except HubError:
        stop(hub)
        raise
    return url


def _default_interrupt() -> None:
    """In the hub's process: SIGINT stops as usual, even when ``start`` ran in the background (``&`` ignores it).
    The hub stops its servers and services with SIGINT first; ignored, each would wait out its timeout."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False  # a child of this process (a test's or the benchmark's hub) that has just ended
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def descendants(pid: int) -> list[int]:
    """The processes that ``pid`` started, and theirs: the hub's proxy, its services and the users' servers."""
    parents: dict[int, list[int]] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat_file.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _end(pid: int, wait: float, group: bool = True) -> None:
    """SIGTERM to ``pid`` (its process group if ``group``), then SIGKILL if it lives ``wait`` seconds on."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            (os.killpg if group else os.kill)(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def stop(hub: Path, remove_class: bool = False) -> None:
    """Stop the hub and everything its users run; with ``remove_class``, delete what start made."""
    state_file = hub / "state.json"
    if not state_file.exists():
        raise HubError(f"no course hub in {hub} (no state.json)")
    state = json.loads(state_file.read_text())
    if state.get("pid"):
        started = descendants(state["pid"])
        _end(state["pid"], wait=30)  # the hub stops the users' servers, its services and the proxy as it shuts down
        for pid in started:  # what it could not stop in time, such as the idle culler, which runs in its own session
            if _alive(pid):
                _end(pid, wait=5, group=False)
    proxy = hub / "proxy.pid"
    if proxy.exists() and proxy.read_text().strip().isdigit() and _alive(int(proxy.read_text())):
        _end(int(proxy.read_text()), wait=5, group=False)
    for name in [*state.get("students", []), *([state["instructor"]] if state.get("instructor") else [])]:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    cgroups.remove_all([Path(p) for p in state.get("parents", [])])
    reopen_repository(state.pop("closed", {}))
    state["pid"] = None
    state_file.write_text(json.dumps(state))
    if remove_class:
        for name in state["created"]:
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
            if account_exists(name):
                run("userdel", "--remove", name)
        shutil.rmtree(hub)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start", help="make the class's accounts, hand out the course, start the hub")
    start_parser.add_argument("--class", dest="class_list", type=Path, required=True,
                              help="the class list: one user name per line")
    start_parser.add_argument("--instructor", required=True, help="the instructor's user name")
    start_parser.add_argument("--port", type=int, default=settings.HUB_PORT, help="the hub's port (default: %(default)s)")
    start_parser.add_argument("--ip", default="127.0.0.1",
                              help="the address to listen on (default: %(default)s; 0.0.0.0 for the whole network)")
    stop_parser = commands.add_parser("stop", help="stop the hub and every user's server")
    stop_parser.add_argument("--remove-class", action="store_true",
                             help="also delete the accounts start made, with their homes, and the hub's folder")
    for sub in (start_parser, stop_parser):
        sub.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the hub's folder (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            url = start(args.class_list, args.instructor, args.dir.resolve(), args.port, args.ip)
            limits = cgroups.problem()
            print(f"The course hub is running at {url}.\nPasswords: {args.dir / 'accounts.csv'} (root only).\n"
                  + (f"Memory and CPU limits are NOT enforced: {limits}." if limits else
                     f"Each student: at most {settings.MEMORY_LIMIT / settings.GIB:g} GB of memory and "
                     f"{settings.CPU_LIMIT:g} core.") + f"\nStop it with: {Path(__file__).name} stop --dir {args.dir}")
        else:
            stop(args.dir.resolve(), args.remove_class)
            print("The course hub is stopped." + (" Its accounts and folder are removed." if args.remove_class else ""))
    except HubError as error:
        print(f"course_hub: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
