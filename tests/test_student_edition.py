"""The student edition: solution cells blanked, no solution in the package, and it runs top to bottom.

What counts as a solution is read from the raw notebook JSON here (the ``solution`` tag),
not from the edition tool's own helpers, so a bug in the tool cannot hide itself.
"""
import ast
import json
import os
import re
import subprocess
import sys

import nbformat
import pytest

from conftest import REPO

TOOL = REPO / "tools" / "build_student_edition.py"
LANGUAGES = ("en", "zh")
EXERCISES = ["lenet_ex1_max_pooling", "lenet_ex2_improve", "lenet_ex3_mnist", "lenet_ex4_feature_maps"]


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _tagged_solution(cell) -> bool:
    return "solution" in cell.get("metadata", {}).get("tags", [])


def _notebooks(language):
    return sorted((REPO / "notebooks" / language).glob("*.ipynb"))


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    result = subprocess.run([sys.executable, str(TOOL), "--out", str(out)], capture_output=True, text=True,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr
    return out / "notebooks"


def _pairs(student):
    for language in LANGUAGES:
        for source in _notebooks(language):
            yield source, student / language / source.name


def test_every_notebook_is_written_and_valid(student):
    pairs = list(_pairs(student))
    assert len(pairs) == 2 * (1 + len(EXERCISES))
    for _, target in pairs:
        nbformat.validate(nbformat.read(target, as_version=4))


def test_exercises_have_solutions_in_both_languages():
    for name in EXERCISES:
        tags = {}
        for language in LANGUAGES:
            cells = json.loads((REPO / "notebooks" / language / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
            tags[language] = [_tagged_solution(c) for c in cells]
            assert any(_tagged_solution(c) and c["cell_type"] == "code" for c in cells), f"{language}/{name}"
        assert tags["en"] == tags["zh"], f"{name}: solution tags differ between en and zh"


def test_non_solution_cells_unchanged_and_solutions_blank(student):
    for source, target in _pairs(student):
        original = json.loads(source.read_text(encoding="utf-8"))
        built = json.loads(target.read_text(encoding="utf-8"))
        assert built["metadata"] == original["metadata"]
        assert [c.get("id") for c in built["cells"]] == [c.get("id") for c in original["cells"]]
        for before, after in zip(original["cells"], built["cells"]):
            if not _tagged_solution(before):
                assert after == before, f"{target}: non-solution cell {before.get('id')} changed"
                continue
            assert after["metadata"] == before["metadata"] and after["cell_type"] == before["cell_type"]
            marker = "Your turn" if source.parent.name == "en" else "轮到你了"
            assert marker in _source(after), f"{target}: cell {before['id']} has no placeholder"
            if after["cell_type"] == "code":
                assert after["outputs"] == [] and after["execution_count"] is None


def test_no_solution_text_left_in_any_cell_kind(student):
    """Every line of 12+ characters that only solution cells (code or markdown) hold is gone from the edition."""
    for source, target in _pairs(student):
        original = json.loads(source.read_text(encoding="utf-8"))
        text = target.read_text(encoding="utf-8")
        given = "\n".join(_source(c) for c in original["cells"] if not _tagged_solution(c))
        solution_lines = {line.strip() for c in original["cells"] if _tagged_solution(c)
                          for line in _source(c).splitlines() if len(line.strip()) >= 12}
        assert solution_lines or source.stem == "lenet", f"{source.name}: an exercise without solution text"
        for line in solution_lines - {line.strip() for line in given.splitlines()}:
            assert json.dumps(line, ensure_ascii=False)[1:-1] not in text, f"{target}: solution line {line!r} leaked"


def test_no_widget_state_or_solution_outputs_are_stored(student):
    for _, target in _pairs(student):
        nb = json.loads(target.read_text(encoding="utf-8"))
        assert "widgets" not in nb["metadata"], f"{target}: stored widget state"


def _solution_names() -> dict[str, str]:
    """Top-level names that solution code cells define, each with where."""
    names = {}
    for language in LANGUAGES:
        for path in _notebooks(language):
            for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
                if cell["cell_type"] != "code" or not _tagged_solution(cell):
                    continue
                for node in ast.parse(_source(cell)).body:
                    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                        names[node.name] = f"{language}/{path.name}"
                    elif isinstance(node, ast.Assign):
                        for target in node.targets:
                            for name in ast.walk(target):
                                if isinstance(name, ast.Name):
                                    names[name.id] = f"{language}/{path.name}"
    return names


def test_no_solution_cell_is_saved_and_no_solution_name_is_in_the_package(student):
    for language in LANGUAGES:
        for path in _notebooks(language):
            for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
                if _tagged_solution(cell):
                    assert not _source(cell).lstrip().startswith("#@save"), f"{path}: a saved solution"
    names = _solution_names()
    assert {"max_lenet", "recipe", "max_history"} <= set(names)
    probe = "import json, d2l_local; print(json.dumps(sorted(dir(d2l_local))))"
    exported = set(json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                             cwd=student, check=True).stdout))
    leaked = {name: where for name, where in names.items() if name in exported}
    assert not leaked, f"names defined in solution cells are importable from d2l_local: {leaked}"


@pytest.mark.slow
def test_the_english_student_edition_runs_top_to_bottom(student, tmp_path):
    """Answers empty and exercise 2 never run: every notebook still runs, and exercise 3 says what it uses."""
    from nbclient import NotebookClient

    env_before = os.environ.get("D2L_WORK_DIR")
    os.environ["D2L_WORK_DIR"] = str(tmp_path / "work")  # no network saved by exercise 2
    try:
        outputs = {}
        for path in sorted((student / "en").glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            NotebookClient(nb, timeout=900, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            outputs[path.stem] = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                                           for o in c.outputs if o.output_type == "stream")
    finally:
        if env_before is None:
            os.environ.pop("D2L_WORK_DIR")
        else:
            os.environ["D2L_WORK_DIR"] = env_before
    assert set(outputs) == {"lenet", *EXERCISES}
    assert "exercise 2" in outputs["lenet_ex3_mnist"] and "instead" in outputs["lenet_ex3_mnist"]
    assert "test acc" in outputs["lenet_ex3_mnist"]  # the stand-in network trained on MNIST


# --- the tool on a small notebook written here, checked against its raw JSON --------------------------

sys.path.insert(0, str(REPO))  # the tools as the package tools/, the name mutmut gives their mutants
from tools import build_student_edition as edition  # noqa: E402


def _notebook(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _cell(kind: str, source: str, tags: list[str] | None = None, cell_id: str = "c") -> dict:
    cell = {"cell_type": kind, "id": cell_id, "metadata": {"tags": tags} if tags else {}, "source": source}
    if kind == "code":
        cell.update(execution_count=3, outputs=[{"output_type": "stream", "name": "stdout", "text": "42\n"}])
    return cell


SMALL = [
    _cell("markdown", "# Exercise", cell_id="title"),
    _cell("code", "answer = 6 * 7\nprint(answer)", ["solution"], "code-sol"),
    _cell("markdown", "The answer is 42 because six times seven.", ["solution", "other"], "md-sol"),
    _cell("code", "print('given')", ["other"], "given"),
    _cell("raw", "raw text", cell_id="raw"),
]


@pytest.fixture
def small_course(tmp_path):
    notebooks = tmp_path / "notebooks"
    for language in LANGUAGES:
        (notebooks / language).mkdir(parents=True)
        nbformat.write(nbformat.from_dict(_notebook(SMALL)), notebooks / language / "ex.ipynb")
    markdown = dict(_cell("markdown", "![fig](attachment:a.png) my answer", ["solution"], "att"),
                    attachments={"a.png": {"image/png": "iVBORw0KGgo="}})
    nbformat.write(nbformat.from_dict(_notebook([markdown])), notebooks / "en" / "att.ipynb")
    return notebooks


def test_solution_cells_of_both_kinds_are_blanked_and_the_rest_copied(small_course, tmp_path):
    written = edition.build(tmp_path / "out", small_course)
    out = tmp_path / "out" / "notebooks"
    assert sorted((p.relative_to(out).as_posix(), n) for p, n in written) == [
        ("en/att.ipynb", 1), ("en/ex.ipynb", 2), ("zh/ex.ipynb", 2)]
    for language, (code, markdown) in (("en", ("# Your turn: write your solution here.\n# (The worked solution is "
                                               "in the instructor edition of this notebook.)",
                                               "*Your turn: write your answer here.*")),
                                       ("zh", ("# 轮到你了：在这里写出你的解答。\n# （参考解答在本笔记本的教师版中。）",
                                               "*轮到你了：在这里写下你的回答。*"))):
        original = json.loads((small_course / language / "ex.ipynb").read_text(encoding="utf-8"))
        built = json.loads((out / language / "ex.ipynb").read_text(encoding="utf-8"))
        assert built["metadata"] == original["metadata"]
        title, code_cell, md_cell, given, raw = ({**c, "source": _source(c)} for c in built["cells"])
        assert [title, given, raw] == [{**original["cells"][i], "source": _source(original["cells"][i])}
                                       for i in (0, 3, 4)]
        assert code_cell == {**original["cells"][1], "source": code, "outputs": [], "execution_count": None}
        assert md_cell == {**original["cells"][2], "source": markdown}
    (att,) = json.loads((out / "en" / "att.ipynb").read_text(encoding="utf-8"))["cells"]
    assert "attachments" not in att and _source(att) == "*Your turn: write your answer here.*"


def test_a_solution_tag_on_a_raw_cell_is_refused(small_course, tmp_path):
    path = small_course / "zh" / "ex.ipynb"
    nbformat.write(nbformat.from_dict(_notebook([_cell("raw", "x", ["solution"], "bad")])), path)
    with pytest.raises(ValueError, match=r"^cell 'bad' is tagged 'solution' but is a raw cell; only code and markdown "
                                         r"cells can be solutions$"):
        edition.build(tmp_path / "out", small_course)


def test_a_language_without_notebooks_is_an_error(small_course, tmp_path):
    for path in (small_course / "zh").iterdir():
        path.unlink()
    with pytest.raises(FileNotFoundError, match=rf"^no notebooks found in {re.escape(str(small_course / 'zh'))}$"):
        edition.build(tmp_path / "out", small_course)


def test_main_writes_where_asked_and_says_what_it_did(small_course, tmp_path, monkeypatch, capsys):
    build = edition.build
    monkeypatch.setattr(edition, "build", lambda out: build(out, small_course))
    assert edition.main(["--out", str(tmp_path / "mine")]) == 0
    out = tmp_path / "mine" / "notebooks"
    assert capsys.readouterr().out.splitlines() == [
        f"{out / 'en' / 'att.ipynb'}: 1 solution cell(s) replaced", f"{out / 'en' / 'ex.ipynb'}: 2 solution cell(s) replaced",
        f"{out / 'zh' / 'ex.ipynb'}: 2 solution cell(s) replaced", f"student edition: 3 notebooks in {out}"]
    assert edition.DEFAULT_OUT == REPO / "build" / "student"


def test_main_writes_to_build_student_by_default_and_has_help(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(edition, "build", lambda out: seen.append(out) or [])
    assert edition.main([]) == 0 and seen == [REPO / "build" / "student"]
    assert capsys.readouterr().out == f"student edition: 0 notebooks in {REPO / 'build' / 'student' / 'notebooks'}\n"
    with pytest.raises(SystemExit):
        edition.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert "Build the student edition of the course: every notebook, without the worked solutions." in out
    assert "output folder (default: build/student)" in out
