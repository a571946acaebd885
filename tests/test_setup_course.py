"""tools/setup_course.py and the JupyterLab settings it installs (jupyter/overrides.json)."""
import json
import types
import sys
from pathlib import Path

import pytest

import conftest
from conftest import REPO

sys.path.insert(0, str(REPO))  # the tools as the package tools/, the name mutmut gives their mutants
from tools import setup_course  # noqa: E402


def test_setup_course_merges_overrides(tmp_path):
    """tools/setup_course.py adds the course's settings to an existing overrides.json, keeping the rest."""
    (tmp_path / "overrides.json").write_text(json.dumps({"@other/ext:plugin": {"x": 1}}), encoding="utf-8")
    assert setup_course.install_overrides(tmp_path)
    merged = json.loads((tmp_path / "overrides.json").read_text(encoding="utf-8"))
    ours = json.loads(setup_course.OVERRIDES.read_text(encoding="utf-8"))
    assert merged["@other/ext:plugin"] == {"x": 1}
    for plugin, values in ours.items():
        assert merged[plugin] == values


def test_course_overrides_match_jupyterlab_schemas():
    """Every setting in jupyter/overrides.json names a real plugin and setting, with a valid value.

    (JupyterLab silently ignores overrides for plugins it does not have, so a typo would
    only show as a popup in class.)
    """
    jsonschema = pytest.importorskip("jsonschema")
    from jupyterlab.commands import get_app_dir

    schemas = Path(get_app_dir()) / "schemas"
    overrides = json.loads(setup_course.OVERRIDES.read_text(encoding="utf-8"))
    assert overrides, "jupyter/overrides.json is empty"
    for plugin, values in overrides.items():
        package, _, name = plugin.partition(":")
        schema_file = schemas / package / f"{name}.json"
        assert schema_file.is_file(), f"{plugin}: JupyterLab has no such plugin ({schema_file} missing)"
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
        unknown = set(values) - set(schema.get("properties", {}))
        assert not unknown, f"{plugin}: unknown settings {sorted(unknown)}"
        jsonschema.validate(values, schema)


def test_install_overrides_writes_a_new_file_and_replaces_broken_json(tmp_path, capsys):
    ours = json.loads(setup_course.OVERRIDES.read_text(encoding="utf-8"))
    assert setup_course.install_overrides(tmp_path / "new" / "settings")
    written = (tmp_path / "new" / "settings" / "overrides.json").read_text(encoding="utf-8")
    assert written == json.dumps(ours, indent=2) + "\n"  # readable, for a student who opens it
    (tmp_path / "overrides.json").write_text("{not json", encoding="utf-8")
    assert setup_course.install_overrides(tmp_path)
    assert json.loads((tmp_path / "overrides.json").read_text(encoding="utf-8")) == ours
    out = capsys.readouterr().out
    assert f"[settings] warning: {tmp_path / 'overrides.json'} is not valid JSON; replacing it\n" in out
    assert f"[settings] course settings installed in {tmp_path / 'overrides.json'} (reload" in out


def test_install_overrides_keeps_other_settings_of_the_same_plugin(tmp_path):
    plugin = "@jupyterlab/notebook-extension:tracker"
    (tmp_path / "overrides.json").write_text(json.dumps({plugin: {"kernelShutdown": False, "mine": 1}}),
                                             encoding="utf-8")
    setup_course.install_overrides(tmp_path)
    merged = json.loads((tmp_path / "overrides.json").read_text(encoding="utf-8"))[plugin]
    assert merged["mine"] == 1 and merged["kernelShutdown"] is True


def test_install_overrides_says_when_it_cannot_write(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert setup_course.install_overrides(blocker / "settings") is False
    assert capsys.readouterr().out.startswith(f"[settings] FAILED to write {blocker / 'settings' / 'overrides.json'} (")


def test_check_reports_what_is_missing_and_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(setup_course, "settings_dir", lambda: tmp_path)
    monkeypatch.setenv("D2L_DATA_DIR", str(tmp_path / "no-data"))
    from d2l_local import datasets

    monkeypatch.setattr(datasets, "DEFAULT_DATA_DIR", tmp_path / "default")
    monkeypatch.setattr(datasets, "FASHION_MNIST", datasets.DatasetSpec("FashionMNIST", (str(tmp_path / "deb"),), "x"))
    assert setup_course.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert f"[settings] course settings are NOT in {tmp_path / 'overrides.json'}\n" in out
    assert "[data] FashionMNIST was not found on this machine" in out and "--download-data" in out
    assert out.endswith("[check] something is missing: see above\n")
    setup_course.install_overrides(tmp_path)
    conftest.make_dataset(tmp_path / "no-data")
    capsys.readouterr()
    assert setup_course.main(["--check"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"[settings] course settings are in {tmp_path / 'overrides.json'}",
        f"[data] Fashion-MNIST found in {tmp_path / 'no-data'}", "[check] all set"]


def test_no_install_no_launch_configures_and_stops(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(setup_course, "settings_dir", lambda: tmp_path)
    monkeypatch.setattr(setup_course, "check_data", lambda download: download is False)
    monkeypatch.setattr(setup_course.subprocess, "run", lambda *a, **k: pytest.fail("must not install"))
    assert setup_course.main(["--no-install", "--no-launch"]) == 0
    assert capsys.readouterr().out.endswith("[done] set up\n")
    monkeypatch.setattr(setup_course, "check_data", lambda download: False)
    assert setup_course.main(["--no-install", "--no-launch"]) == 0
    assert capsys.readouterr().out.endswith("[done] set up (without local data: see [data] above)\n")


def test_launch_opens_the_first_notebook_with_the_arguments_after_the_separator(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(setup_course, "settings_dir", lambda: tmp_path)
    monkeypatch.setattr(setup_course, "check_data", lambda download: True)
    monkeypatch.setattr(setup_course.subprocess, "call", lambda cmd, cwd: calls.append((cmd, cwd)) or 7)
    monkeypatch.setattr(setup_course.os, "geteuid", lambda: 1000)
    assert setup_course.main(["--no-install", "--", "--port", "8890"]) == 7
    (cmd, cwd), = calls
    assert cwd == REPO and cmd == [sys.executable, "-m", "jupyterlab",
                                   "--LabApp.default_url=/lab/tree/notebooks/en/lenet.ipynb", "--port", "8890"]
    monkeypatch.setattr(setup_course.os, "geteuid", lambda: 0)
    setup_course.main(["--no-install"])
    assert calls[-1][0][-1] == "--allow-root"
    assert "[launch] note: running as root (JupyterLab needs --allow-root for that; added)\n" in capsys.readouterr().out


def test_install_runs_pip_on_the_requirements_and_stops_when_it_fails(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(setup_course.subprocess, "run",
                        lambda cmd, cwd: calls.append(cmd) or types.SimpleNamespace(returncode=calls_rc.pop(0)))
    calls_rc = [0, 2]
    assert setup_course.install_packages() is True
    assert calls[0] == [sys.executable, "-m", "pip", "install", "-r", str(REPO / "requirements.txt")]
    assert setup_course.main(["--no-launch"]) == 1
    assert "[install] FAILED (pip exit code 2); see pip's message above" in capsys.readouterr().out


@pytest.mark.parametrize("in_venv", [True, False])
def test_install_says_where_it_installs_and_suggests_a_venv_outside_one(monkeypatch, capsys, in_venv):
    monkeypatch.setattr(setup_course.sys, "base_prefix", "/elsewhere" if in_venv else setup_course.sys.prefix)
    monkeypatch.setattr(setup_course.subprocess, "run", lambda cmd, cwd: types.SimpleNamespace(returncode=0))
    assert setup_course.install_packages() is True
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"[install] pip install -r requirements.txt into {sys.prefix}"
    note = ("[install] note: this is not a virtual environment; `python -m venv .venv` first keeps the course apart "
            "from other projects")
    assert lines[1:] == ([] if in_venv else [note])


def test_settings_dir_is_jupyterlabs_or_its_default(monkeypatch):
    from jupyterlab.commands import get_app_dir

    assert setup_course.settings_dir() == Path(get_app_dir()) / "settings"
    monkeypatch.setitem(sys.modules, "jupyterlab.commands", None)  # JupyterLab not installed yet
    assert setup_course.settings_dir() == Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings"


def test_download_data_is_passed_on_and_ctrl_c_ends_jupyterlab_quietly(tmp_path, monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(setup_course, "settings_dir", lambda: tmp_path)
    monkeypatch.setattr(setup_course, "check_data", lambda download: asked.append(download) or True)

    def interrupted(cmd, cwd):
        raise KeyboardInterrupt

    monkeypatch.setattr(setup_course.subprocess, "call", interrupted)
    assert setup_course.main(["--no-install", "--download-data"]) == 0 and asked == [True]
    assert "[launch] starting JupyterLab in" in capsys.readouterr().out


@pytest.mark.parametrize("download", [True, False])
def test_check_data_downloads_only_when_asked_and_reads_this_checkout(monkeypatch, tmp_path, capsys, download):
    from d2l_local import datasets

    asked = []

    def find(spec, download):
        asked.append((spec.name, download))
        return {"a": tmp_path / "FashionMNIST" / "raw" / "a.gz"}

    monkeypatch.setattr(datasets, "find_dataset", find)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert setup_course.check_data(download) is True
    assert asked == [("FashionMNIST", download)] and sys.path[0] == str(REPO)
    assert capsys.readouterr().out == f"[data] Fashion-MNIST found in {tmp_path / 'FashionMNIST' / 'raw'}\n"


def test_check_data_without_data_says_how_to_get_it(monkeypatch, capsys):
    from d2l_local import datasets

    def missing(spec, download):
        raise datasets.DatasetNotFoundError("FashionMNIST was not found")

    monkeypatch.setattr(datasets, "find_dataset", missing)
    assert setup_course.check_data(False) is False
    assert capsys.readouterr().out.splitlines() == [
        "[data] FashionMNIST was not found",
        "[data] Or run `python tools/setup_course.py --download-data` once while online. (The notebook also "
        "downloads it on first use when the machine is online.)"]
    assert setup_course.check_data(True) is False
    assert capsys.readouterr().out == "[data] FashionMNIST was not found\n"


def test_arguments_come_from_the_command_line_and_help_lists_them(monkeypatch, capsys):
    monkeypatch.setattr(setup_course, "overrides_installed", lambda: True)
    monkeypatch.setattr(setup_course, "check_data", lambda download: False)
    monkeypatch.setattr(sys, "argv", ["setup_course.py", "--check"])
    assert setup_course.main() == 1 and capsys.readouterr().out == "[check] something is missing: see above\n"
    with pytest.raises(SystemExit):
        setup_course.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in ("Set up this course on one machine and open it in JupyterLab.", "do not start JupyterLab at the end",
                 "skip pip install -r requirements.txt", "download Fashion-MNIST (about 30 MB) if no local copy is found",
                 "only report: install nothing, write nothing, download nothing, launch nothing; exit code 1 when "
                 "something is missing", "Arguments after -- are passed to JupyterLab."):
        assert text in out, text


def test_without_the_packages_the_data_check_says_to_install_them_first(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "d2l_local.datasets", None)  # as if torch (and so d2l_local) were missing
    assert setup_course.check_data(download=False) is False
    out = capsys.readouterr().out
    assert out.startswith("[data] cannot check the data: ") and out.endswith(
        ". Install the packages first (run without --no-install/--check)\n")
