"""The course hub's pieces that need no running hub: its settings, the exchange's rules, the kernel's note."""
from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from conftest import REPO, skip_if_missing
from tools.instructor.hub import course_hub, exchange, kernel_notes, settings

HUB = REPO / "tools" / "instructor" / "hub"


def bytes_of(size: str) -> float:
    """A Kubernetes-style size with JupyterHub's meaning of its suffixes (K, M, G: powers of 1024)."""
    units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
    return float(size[:-1]) * units[size[-1]] if size[-1] in units else float(size)


def test_z2jh_values_say_what_the_local_hub_does():
    values = yaml.safe_load((HUB / "z2jh-values.yaml").read_text())
    user = values["singleuser"]
    assert bytes_of(user["memory"]["guarantee"]) == settings.MEMORY_GUARANTEE
    assert bytes_of(user["memory"]["limit"]) == settings.MEMORY_LIMIT
    assert user["cpu"]["limit"] == settings.CPU_LIMIT
    assert user["extraEnv"] == settings.threads(settings.CPU_LIMIT) == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    assert (values["cull"]["timeout"], values["cull"]["every"]) == (settings.CULL_IDLE_SERVER, settings.CULL_EVERY)
    culling = user["extraFiles"]["kernel-culling"]["data"]["MappingKernelManager"]
    assert (culling["cull_idle_timeout"], culling["cull_interval"]) == (settings.CULL_IDLE_KERNEL,
                                                                        settings.CULL_KERNEL_EVERY)
    assert culling["cull_busy"] and culling["cull_connected"]
    mount = user["storage"]["extraVolumeMounts"][0]["mountPath"]
    assert f'c.Exchange.root = "{mount}"' in user["extraFiles"]["nbgrader-config"]["stringData"]
    assert settings.MEMORY_GUARANTEE < settings.MEMORY_LIMIT


def test_the_local_hub_writes_the_same_culling_and_exchange(tmp_path):
    course_hub.write_jupyter_settings(tmp_path, tmp_path / "course")
    for who in ("student", "instructor"):
        server = json.loads((tmp_path / f"{who}-config" / "jupyter_server_config.json").read_text())
        culling = server["MappingKernelManager"]
        assert culling == {"cull_idle_timeout": settings.CULL_IDLE_KERNEL, "cull_interval": settings.CULL_KERNEL_EVERY,
                           "cull_busy": True, "cull_connected": True}
        config = (tmp_path / f"{who}-config" / "nbgrader_config.py").read_text()
        assert f"c.Exchange.root = {str(tmp_path / 'exchange')!r}" in config
        assert "exchange.OwnSubmit" in config and "exchange.CheckedCollect" in config
    student = json.loads((tmp_path / "student-config" / "jupyter_server_config.json").read_text())
    assert student["ServerApp"]["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is False
    assert "ServerApp" not in json.loads((tmp_path / "instructor-config" / "jupyter_server_config.json").read_text())
    kernel = json.loads((tmp_path / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    assert "--IPKernelApp.extensions=lenet_kernel_notes" in kernel["argv"]
    assert (Path(kernel["env"]["PYTHONPATH"]) / "lenet_kernel_notes.py").read_text() == \
        (HUB / "kernel_notes.py").read_text()


@pytest.mark.parametrize("text, problem", [
    ("ann\nAnn\n", "not a valid user name: Ann"),
    ("ann\nann\n", "appears twice"),
    ("# nobody yet\n\n", "no names"),
    ("ann; rm -rf /\n", "not a valid user name"),
])
def test_a_bad_class_list_is_refused_with_the_reason(tmp_path, text, problem):
    path = tmp_path / "class.txt"
    path.write_text(text)
    with pytest.raises(course_hub.HubError, match=problem):
        course_hub.read_class(path)


def test_a_class_list_keeps_names_in_order_without_comments(tmp_path):
    path = tmp_path / "class.txt"
    path.write_text("# group A\nann\n\nbob   # late joiner\ncai_2\n")
    assert course_hub.read_class(path) == ["ann", "bob", "cai_2"]


def test_start_refuses_a_non_root_user_before_touching_anything(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(course_hub.HubError, match="as root"):
        course_hub.start(tmp_path / "class.txt", "teacher", tmp_path / "hub")
    assert not (tmp_path / "hub").exists()


def test_collect_skips_a_submission_its_named_student_does_not_own(tmp_path):
    skip_if_missing(None if os.geteuid() == 0 else "changing a file's owner needs root")
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    own = inbound / "root+lenet-en+2026-12-05 10:00:00.000000 UTC+abc"
    forged = inbound / "root+lenet-en+2026-12-05 11:00:00.000000 UTC+def"  # newer, but made by someone else
    other = inbound / "nobody+lenet-en+2026-12-05 09:00:00.000000 UTC+ghi"
    for folder in (own, forged, other):
        folder.mkdir()
    shutil.chown(forged, "nobody")
    shutil.chown(other, "nobody")
    linked = inbound / "nobody+lenet-en+2026-12-05 12:00:00.000000 UTC+jkl"
    linked.symlink_to(other)
    collect = exchange.CheckedCollect()
    records = [collect._path_to_record(str(path)) for path in (own, forged, other, linked)]
    kept = [r["filename"] for r in records if not r["username"].startswith(exchange.FORGED)]
    assert kept == [own.name, other.name]


def test_a_submission_is_writable_by_its_owner_only(tmp_path, monkeypatch):
    submit = exchange.OwnSubmit()
    submit.inbound_path, submit.assignment_filename = str(tmp_path), "ann+lenet-en+now+xyz"
    folder = tmp_path / submit.assignment_filename

    def nbgraders_copy(self):  # what nbgrader's own submit leaves: every folder open to everyone
        (folder / "figures").mkdir(parents=True)
        for path in (folder, folder / "figures"):
            os.chmod(path, 0o777)

    monkeypatch.setattr(exchange.ExchangeSubmit, "copy_files", nbgraders_copy)
    submit.copy_files()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "figures").stat().st_mode) == 0o755


class FakeShell:
    """What the extension uses of IPython: its events."""

    def __init__(self) -> None:
        self.callbacks: list = []

    class Events:
        def __init__(self, shell) -> None:
            self.shell = shell

        def register(self, name, callback):
            assert name == "pre_run_cell"
            self.shell.callbacks.append(callback)

        def unregister(self, name, callback):
            self.shell.callbacks.remove(callback)

    @property
    def events(self):
        return FakeShell.Events(self)


def fake_cgroup(folder: Path, kills: int, limit: int = 2 * 1024 ** 3) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "memory.oom_control").write_text(f"oom_kill_disable 0\nunder_oom 0\noom_kill {kills}\n")
    (folder / "memory.limit_in_bytes").write_text(str(limit))
    return folder


def test_the_first_cell_after_a_memory_kill_says_why_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(kernel_notes, "SEEN", tmp_path / "seen")
    cgroup = fake_cgroup(tmp_path / "cgroup", kills=0)
    monkeypatch.setattr(kernel_notes, "memory_cgroup", lambda: cgroup)
    shell = FakeShell()
    kernel_notes.load_ipython_extension(shell)  # the first kernel: nothing happened yet
    assert shell.callbacks == []
    fake_cgroup(cgroup, kills=1)
    kernel_notes.load_ipython_extension(shell)  # the kernel started after the kill
    assert len(shell.callbacks) == 1
    shell.callbacks[0]()
    said = capsys.readouterr().err
    assert "previous kernel was stopped" in said and "2.0 GB" in said and "内存" in said
    assert shell.callbacks == []  # said once, not at every cell
    kernel_notes.load_ipython_extension(shell)  # a later restart with no new kill says nothing
    assert shell.callbacks == []


def test_reachable_python_opens_passage_only_where_it_is_closed(tmp_path, monkeypatch):
    from tools.instructor.hub import reachable_python

    private = tmp_path / "private"
    python = private / "pyenv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    private.chmod(0o700)
    for name, value in (("executable", str(python)), ("base_prefix", str(python.parents[1])),
                        ("prefix", str(python.parents[1]))):
        monkeypatch.setattr(reachable_python.sys, name, value)
    assert private in reachable_python.closed_folders()
    assert python.parent not in reachable_python.closed_folders()  # 755 already: left alone
    above = {folder: folder.stat().st_mode for folder in tmp_path.parents}  # pytest's own folders: put back after
    try:
        reachable_python.main()
        assert stat.S_IMODE(private.stat().st_mode) == 0o701  # passage for others, no listing
        assert private not in reachable_python.closed_folders()
    finally:
        for folder, mode in above.items():
            folder.chmod(mode)
