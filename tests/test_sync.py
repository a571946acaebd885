"""d2l_local must hold exactly the #@save cells of the notebooks; the check must catch drift."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import sync_d2l_local as sync  # noqa: E402


def test_d2l_local_matches_the_notebooks():
    assert sync.check() == [], "d2l_local drifted from the notebooks: run python tools/sync_d2l_local.py"


@pytest.fixture
def copy_of_repo(tmp_path, monkeypatch):
    """The notebooks and d2l_local copied to a temporary tree the sync tool is pointed at."""
    shutil.copytree(REPO / "notebooks" / "en", tmp_path / "notebooks" / "en")
    shutil.copytree(REPO / "d2l_local", tmp_path / "d2l_local", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(sync, "REPO", tmp_path)
    monkeypatch.setattr(sync, "NOTEBOOKS", tmp_path / "notebooks" / "en")
    monkeypatch.setattr(sync, "PACKAGE", tmp_path / "d2l_local")
    assert sync.check() == []
    return tmp_path


def _edit_saved_cell(notebook: Path, old: str, new: str) -> None:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if source.startswith("#@save") and old in source:
            cell["source"] = source.replace(old, new)
            break
    else:
        raise AssertionError(f"no #@save cell contains {old!r}")
    notebook.write_text(json.dumps(nb), encoding="utf-8")


def test_editing_a_saved_cell_is_drift(copy_of_repo):
    _edit_saved_cell(copy_of_repo / "notebooks" / "en" / "lenet.ipynb", "lr=lr", "lr=lr, momentum=0.5")
    assert sync.check() == ["d2l_local/saved_lenet.py differs from the #@save cells of the notebooks"]
    sync.sync()
    assert sync.check() == []
    assert "momentum=0.5" in (copy_of_repo / "d2l_local" / "saved_lenet.py").read_text()


def test_editing_d2l_local_by_hand_is_drift(copy_of_repo):
    path = copy_of_repo / "d2l_local" / "saved_lenet.py"
    path.write_text(path.read_text().replace("lr=lr", "lr=2 * lr"))
    assert sync.check() == ["d2l_local/saved_lenet.py differs from the #@save cells of the notebooks"]
    assert sync.main(["--check"]) == 1


def test_a_new_saved_function_is_exported(copy_of_repo):
    _edit_saved_cell(copy_of_repo / "notebooks" / "en" / "lenet.ipynb", "def evaluate_accuracy_gpu",
                     "def count_parameters(net):\n    return sum(p.numel() for p in net.parameters())\n\n\n"
                     "def evaluate_accuracy_gpu")
    problems = sync.check()
    assert "d2l_local/__init__.py differs from the #@save cells of the notebooks" in problems
    sync.sync()
    init = (copy_of_repo / "d2l_local" / "__init__.py").read_text()
    assert "import count_parameters, evaluate_accuracy_gpu, train_ch6" in init


def test_a_module_without_a_notebook_is_stale(copy_of_repo):
    (copy_of_repo / "d2l_local" / "saved_gone.py").write_text("x = 1\n")
    assert "d2l_local/saved_gone.py has no notebook #@save cells behind it" in sync.check()
