"""The student edition: solution cells blanked, no solution in the package, and it runs top to bottom.

What counts as a solution is read from the raw notebook JSON here (the ``solution`` tag),
not from the edition tool's own helpers, so a bug in the tool cannot hide itself.
"""
import ast
import json
import os
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
