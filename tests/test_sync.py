"""d2l_local/saved/ must hold exactly the #@save cells of the notebooks; the sync tool must catch drift."""
from __future__ import annotations

import ast
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import d2l_local
from conftest import REPO

sys.path.insert(0, str(REPO))  # the tools as the package tools/, the name mutmut gives their mutants
from tools.maintainer import sync_d2l_local as sync  # noqa: E402

EXERCISES = sorted((REPO / "notebooks" / "en").glob("lenet_ex*.ipynb"))


def _cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def test_d2l_local_matches_the_notebooks_and_they_are_clean():
    assert sync.check() == [], "run python tools/maintainer/sync_d2l_local.py"


def test_train_ch6_stays_book_sized():
    lines = inspect.getsource(d2l_local.train_ch6).rstrip("\n").splitlines()
    assert lines[0].startswith("def train_ch6(net, train_iter, test_iter, num_epochs, lr, device")
    assert len(lines) <= 35, f"train_ch6 has {len(lines)} lines; the book's loop fits in 35"


def reading_path_lines() -> dict[str, int]:
    """The lines a student reads to follow train_ch6: what it is made of, blank lines left out.

    ``train_ch6`` and ``evaluate_accuracy_gpu`` (the chapter's cells) and ``d2l_local/training.py``
    (what train_ch6 keeps while it trains). The other helpers it calls are each explained by the
    comment on their line: the safety nets (``check_device``, ``check_classifier``, safety.py) and
    the book's ``Animator``.
    """
    def non_blank(text: str) -> int:
        return sum(1 for line in text.splitlines() if line.strip())
    return {"train_ch6": non_blank(inspect.getsource(d2l_local.train_ch6)),
            "evaluate_accuracy_gpu": non_blank(inspect.getsource(d2l_local.evaluate_accuracy_gpu)),
            "training.py": non_blank((REPO / "d2l_local" / "training.py").read_text(encoding="utf-8"))}


def test_the_chapters_reading_path_stays_short():
    if "MUTANT_UNDER_TEST" in os.environ:
        pytest.skip("under mutmut, training.py is its instrumented copy, not the code a student reads")
    lines = reading_path_lines()
    assert sum(lines.values()) <= 150, f"the reading path from train_ch6 is {lines}: keep it under 150 lines"


@pytest.mark.parametrize("notebook", EXERCISES, ids=lambda p: p.stem)
def test_exercise_saves_little_and_stands_alone(notebook):
    """At most 60 lines of #@save code, and every d2l.NAME it uses comes from the chapter or a hand-written module."""
    saved = [_source(c) for c in _cells(notebook) if c["cell_type"] == "code" and _source(c).startswith("#@save")]
    assert sum(len(s.strip().splitlines()) - 1 for s in saved) <= 60
    used = set()
    for cell in _cells(notebook):
        if cell["cell_type"] == "code":
            code = "\n".join(line for line in _source(cell).splitlines() if not line.lstrip().startswith(("%", "!")))
            used |= {node.attr for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Attribute)
                     and isinstance(node.value, ast.Name) and node.value.id == "d2l"}
    assert used, "an exercise that uses nothing from d2l_local?"
    for name in sorted(used):
        assert hasattr(d2l_local, name), f"{notebook.name} uses d2l.{name}, which d2l_local does not define"
        module = getattr(getattr(d2l_local, name), "__module__", None) or "d2l_local"
        if module.startswith("d2l_local.saved."):
            assert module == "d2l_local.saved.lenet", f"{notebook.name} uses d2l.{name}, saved by another exercise"


@pytest.fixture
def copy_of_repo(tmp_path, monkeypatch):
    """The notebooks and d2l_local copied to a temporary tree the sync tool is pointed at."""
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("*.cfg"))
    shutil.copytree(REPO / "d2l_local", tmp_path / "d2l_local", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(sync, "REPO", tmp_path)
    monkeypatch.setattr(sync, "NOTEBOOKS", tmp_path / "notebooks")
    monkeypatch.setattr(sync, "SOURCE_NOTEBOOKS", tmp_path / "notebooks" / "en")
    monkeypatch.setattr(sync, "PACKAGE", tmp_path / "d2l_local")
    return tmp_path


@pytest.fixture
def code_only(copy_of_repo, monkeypatch):
    """The copied tree with nbstripout left out (seconds per call): for tests about the generated code alone."""
    monkeypatch.setattr(sync, "unclean_notebooks", lambda: [])
    monkeypatch.setattr(sync, "clean_notebooks", lambda: None)
    return copy_of_repo


def _edit_notebook(notebook: Path, edit) -> None:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    edit(nb["cells"])
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _edit_saved_cell(notebook: Path, old: str, new: str) -> None:
    def edit(cells):
        cell = next(c for c in cells if _source(c).startswith("#@save") and old in _source(c))
        cell["source"] = _source(cell).replace(old, new)
    _edit_notebook(notebook, edit)


def _add_code_cell(notebook: Path, source: str, tags: list[str] | None = None) -> None:
    cell = {"cell_type": "code", "id": "added", "metadata": {"tags": tags} if tags else {},
            "execution_count": 1, "outputs": [], "source": source}
    _edit_notebook(notebook, lambda cells: cells.append(cell))


def test_generated_module_names_each_definitions_notebook_and_cell(copy_of_repo):
    text = (copy_of_repo / "d2l_local" / "saved" / "lenet.py").read_text(encoding="utf-8")
    assert text.startswith('"""Generated from notebooks/en/lenet.ipynb by tools/maintainer/sync_d2l_local.py: do not edit.')
    cells = _cells(copy_of_repo / "notebooks" / "en" / "lenet.ipynb")
    expected = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code" and _source(cell).startswith("#@save"):
            for node in ast.parse(_source(cell)).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    expected.append((node.name, f"# From notebooks/en/lenet.ipynb, cell {index} (id {cell['id']!r})"))
    assert [name for name, _ in expected] == ["lenet", "evaluate_accuracy_gpu", "train_ch6"]
    lines = text.splitlines()
    for name, comment in expected:
        line = next(i for i, line in enumerate(lines) if line.startswith(f"def {name}("))
        assert lines[line - 1] == comment
    assert f"__all__ = {[name for name, _ in expected]!r}" in text


def test_editing_a_saved_cell_is_drift(code_only):
    _edit_saved_cell(code_only / "notebooks" / "en" / "lenet.ipynb", "lr=lr", "lr=lr, momentum=0.5")
    assert sync.check() == ["d2l_local/saved/lenet.py differs from the #@save cells of the notebooks"]
    sync.sync()
    assert sync.check() == []
    assert "momentum=0.5" in (code_only / "d2l_local" / "saved" / "lenet.py").read_text(encoding="utf-8")


def test_editing_d2l_local_by_hand_is_drift(code_only, capsys):
    path = code_only / "d2l_local" / "saved" / "lenet.py"
    path.write_text(path.read_text(encoding="utf-8").replace("lr=lr", "lr=2 * lr"), encoding="utf-8")
    assert sync.check() == ["d2l_local/saved/lenet.py differs from the #@save cells of the notebooks"]
    assert sync.main(["--check"]) == 1
    assert "Run: python tools/maintainer/sync_d2l_local.py" in capsys.readouterr().out


def test_an_indentation_only_edit_is_drift(code_only):
    """Same tokens, same behaviour, other indentation: the generated file must still match byte for byte."""
    path = code_only / "d2l_local" / "saved" / "lenet.py"
    text = path.read_text(encoding="utf-8")
    assert "\n        nn.AvgPool2d(kernel_size=2, stride=2),\n" in text
    path.write_text(text.replace("\n        nn.AvgPool2d(kernel_size=2, stride=2),\n",
                                 "\n            nn.AvgPool2d(kernel_size=2, stride=2),\n", 1), encoding="utf-8")
    assert sync.check() == ["d2l_local/saved/lenet.py differs from the #@save cells of the notebooks"]


def test_a_new_saved_function_is_exported(code_only):
    _edit_saved_cell(code_only / "notebooks" / "en" / "lenet.ipynb", "def evaluate_accuracy_gpu",
                     "def count_parameters(net):\n    return sum(p.numel() for p in net.parameters())\n\n\n"
                     "def evaluate_accuracy_gpu")
    assert "d2l_local/saved/__init__.py differs from the #@save cells of the notebooks" in sync.check()
    sync.sync()
    init = (code_only / "d2l_local" / "saved" / "__init__.py").read_text(encoding="utf-8")
    assert "from .lenet import lenet, count_parameters, evaluate_accuracy_gpu, train_ch6" in init
    assert "'count_parameters'" in init.split("__all__")[1]


def test_a_module_without_a_notebook_is_stale(code_only):
    (code_only / "d2l_local" / "saved" / "gone.py").write_text("x = 1\n")
    assert "d2l_local/saved/gone.py has no notebook #@save cells behind it" in sync.check()
    sync.sync()
    assert not (code_only / "d2l_local" / "saved" / "gone.py").exists()


def test_a_name_saved_by_two_notebooks_is_refused(copy_of_repo, capsys):
    _add_code_cell(copy_of_repo / "notebooks" / "en" / "lenet_ex1_max_pooling.ipynb",
                   "#@save\ndef evaluate_accuracy_gpu(net, data_iter):\n    return 1.0\n")
    [problem] = sync.check()
    assert problem.startswith("'evaluate_accuracy_gpu' is defined twice: in notebooks/en/lenet.ipynb, cell ")
    assert "notebooks/en/lenet_ex1_max_pooling.ipynb, cell " in problem
    assert sync.main([]) == 1
    assert "defined twice" in capsys.readouterr().err


def test_a_saved_name_that_a_hand_written_module_defines_is_refused(copy_of_repo):
    _add_code_cell(copy_of_repo / "notebooks" / "en" / "lenet_ex1_max_pooling.ipynb",
                   "#@save\ndef try_gpu(i=0):\n    return 'cpu'\n")
    [problem] = sync.check()
    assert problem.startswith("'try_gpu' is defined twice: in d2l_local/devices.py and in notebooks/en/")


def test_a_saved_solution_is_refused(copy_of_repo):
    _add_code_cell(copy_of_repo / "notebooks" / "en" / "lenet_ex1_max_pooling.ipynb",
                   "#@save\ndef answer():\n    return 42\n", tags=["solution"])
    [problem] = sync.check()
    assert "is tagged 'solution' and marked #@save" in problem and "lenet_ex1_max_pooling.ipynb" in problem
    with pytest.raises(sync.SyncError, match="must never ship in d2l_local"):
        sync.sync()
    assert not any("def answer(" in p.read_text(encoding="utf-8") for p in (copy_of_repo / "d2l_local").rglob("*.py"))


def test_without_nbstripout_the_check_says_so_instead_of_passing(monkeypatch, capsys):
    real = sync.importlib.util.find_spec
    monkeypatch.setattr(sync.importlib.util, "find_spec", lambda name: None if name == "nbstripout" else real(name))
    message = ("nbstripout is not installed, so volatile notebook metadata cannot be found or stripped: "
               "pip install -r requirements-test.txt")
    with pytest.raises(sync.SyncError, match=f"^{message}$"):
        sync.unclean_notebooks()
    with pytest.raises(sync.SyncError, match=f"^{message}$"):
        sync.clean_notebooks()
    assert sync.main(["--check"]) == 1 and capsys.readouterr().err == f"error: {message}\n"


def test_volatile_metadata_is_found_and_stripped_outputs_kept(copy_of_repo):
    zh = copy_of_repo / "notebooks" / "zh" / "lenet.ipynb"
    before = json.loads(zh.read_text(encoding="utf-8"))

    def stamp(cells):
        cells[1]["metadata"]["execution"] = {"iopub.execute_input": "2026-11-28T07:01:51.864051Z"}
    _edit_notebook(zh, stamp)
    assert sync.check() == ["notebooks/zh/lenet.ipynb holds volatile metadata (execution timestamps, widget state)"]
    sync.sync()
    assert sync.check() == []
    after = json.loads(zh.read_text(encoding="utf-8"))
    assert after["cells"] == before["cells"]  # outputs, counts and ids are kept, the stamp is gone


def test_defined_names_reads_public_top_level_definitions_with_their_first_line():
    code = ("import torch\n\n@decorator\n@other\ndef shown(x):\n    inner = 1\n    return x\n\n"
            "class Net:\n    pass\n\nLIMIT: int = 3\na = b = 2\n_private = 1\nx.attr = 5\nasync def later():\n    pass\n")
    assert sync.defined_names(code) == [("shown", 3), ("Net", 9), ("LIMIT", 12), ("a", 13), ("b", 13),
                                        ("later", 16)]
    assert sync.module_name(Path("notebooks/en/my-chapter.ipynb")) == "my_chapter"


def test_saved_cells_skip_other_cells_and_drop_the_marker(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "#@save\nnot code"},
             {"cell_type": "code", "id": "a", "metadata": {}, "source": ["\n", "#@save\n", "def f():\n", "    return 1\n"]},
             {"cell_type": "code", "id": "b", "metadata": {}, "source": "x = 1  #@save"},
             {"cell_type": "code", "id": "c", "metadata": {}, "source": ""},
             {"cell_type": "code", "id": "d", "metadata": {"tags": ["other"]}, "source": " #@save \n\ny = 2\n\n"}]
    notebook.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    monkey = [(c.index, c.cell_id, c.code) for c in sync.saved_cells(notebook)]
    assert monkey == [(1, "a", "def f():\n    return 1"), (4, "d", "y = 2")]
    del cells[4]["id"]  # notebooks older than nbformat 4.5 have no cell ids
    notebook.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    assert [c.cell_id for c in sync.saved_cells(notebook)] == ["a", "?"]


def test_main_writes_the_changes_and_names_them(code_only, capsys):
    _edit_saved_cell(code_only / "notebooks" / "en" / "lenet.ipynb", "lr=lr", "lr=lr / 2")
    assert sync.main([]) == 0
    assert capsys.readouterr().out == "updated d2l_local/saved/lenet.py\n"
    assert "lr=lr / 2" in (code_only / "d2l_local" / "saved" / "lenet.py").read_text(encoding="utf-8")
    assert sync.main([]) == 0 and capsys.readouterr().out == ""
    assert sync.main(["--check"]) == 0 and capsys.readouterr().out == ""


def test_a_notebook_that_stops_saving_leaves_no_module(code_only):

    def unsave(cells):
        for cell in cells:
            if cell["cell_type"] == "code" and _source(cell).startswith("#@save"):
                cell["source"] = _source(cell).replace("#@save\n", "", 1)
    _edit_notebook(code_only / "notebooks" / "en" / "lenet.ipynb", unsave)
    assert sorted(p.name for p in sync.sync()) == ["__init__.py", "lenet.py"]
    assert not (code_only / "d2l_local" / "saved" / "lenet.py").exists()
    init = (code_only / "d2l_local" / "saved" / "__init__.py").read_text(encoding="utf-8")
    assert init.endswith('do not edit."""\n\n__all__ = []\n')


def test_a_notebook_nbstripout_cannot_read_stops_the_sync(copy_of_repo):
    """The sync must not report success over a notebook it could not clean."""
    (copy_of_repo / "notebooks" / "en" / "broken.ipynb").write_text("not a notebook", encoding="utf-8")
    with pytest.raises(subprocess.CalledProcessError):
        sync.clean_notebooks()
