"""The releases that tools/instructor/release.py builds with nbgrader, and grading with them.

What counts as a solution or a check is read from the course notebooks' tags here, not from
the tool's helpers, so that a bug in the tool cannot hide itself. The grading tests hand in
a few notebooks (the worked solutions, the untouched release, wrong answers, broken files)
and grade them all in one run of the tool, which the tests then read.
"""
import ast
import csv
import json
import os
import re
import string
import subprocess
import sys
import time
import types
import zipfile

from pathlib import Path

import nbformat
import pytest

from conftest import REPO

TOOL = REPO / "tools" / "instructor" / "release.py"
LANGUAGES = ("en", "zh")
EXERCISES = ["lenet_ex1_max_pooling", "lenet_ex2_improve", "lenet_ex3_mnist", "lenet_ex4_feature_maps"]
GRADED = {"lenet_ex1_max_pooling": (3, 3), "lenet_ex2_improve": (4, 2), "lenet_ex3_mnist": (2, 5),
          "lenet_ex4_feature_maps": (2, 3)}  # points: (checks, written answers)
HIDDEN = "### BEGIN HIDDEN TESTS"
HIDDEN_BLOCK = re.compile(r"^### BEGIN HIDDEN TESTS\n.*?^### END HIDDEN TESTS\n?", re.S | re.M)


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _notebooks(language):
    return sorted((REPO / "notebooks" / language).glob("*.ipynb"))


def _run(*args, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, cwd=REPO, env=env,
                          **kwargs)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    result = _run("build", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _pairs(release):
    for language in LANGUAGES:
        for source in _notebooks(language):
            yield source, release / "student" / "notebooks" / language / source.name


def test_every_release_is_written_valid_and_counts_its_points(release):
    pairs = list(_pairs(release))
    assert len(pairs) == 2 * (1 + len(EXERCISES))
    for source, student in pairs:
        nbformat.validate(nbformat.read(student, as_version=4))
        instructor = release / "instructor" / "notebooks" / source.parent.name / source.name
        assert instructor.read_bytes() == source.read_bytes()
        graded = nbformat.read(release / "course" / "source" / f"lenet-{source.parent.name}" / source.name, 4)
        meta = [c.metadata["nbgrader"] for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade")]
        points = (sum(m["points"] for m in meta if not m["solution"]), sum(m["points"] for m in meta if m["solution"]))
        assert points == GRADED.get(source.stem, (0, 0)), source.name
    assert (release / "course" / "gradebook.db").exists()


def test_tags_agree_between_languages_and_every_exercise_has_solutions():
    for name in EXERCISES:
        tags = {language: [_tags(c) for c in _cells(REPO / "notebooks" / language / f"{name}.ipynb")]
                for language in LANGUAGES}
        assert tags["en"] == tags["zh"], f"{name}: tags differ between en and zh"
        assert any("solution" in t for t in tags["en"]), name


def test_student_release_holds_no_solution_no_hidden_check_no_output_and_every_public_check(release):
    """Every line of 12+ characters that only solution cells or hidden checks hold is gone; public checks stay."""
    for source, student in _pairs(release):
        original, text = _cells(source), student.read_text(encoding="utf-8")
        built = json.loads(text)
        released = {c.get("id"): _source(c) for c in built["cells"]}
        given = set()
        secret = set()
        for cell in original:
            lines = _source(cell).splitlines()
            if "solution" in _tags(cell):
                prompt = [] if cell["cell_type"] != "code" else \
                    lines[:next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))]
                given.update(line.strip() for line in prompt)  # what goes in the cell, kept above the stub
                secret.update(line.strip() for line in lines[len(prompt):] if len(line.strip()) >= 12)
            elif HIDDEN in _source(cell):
                public = HIDDEN_BLOCK.sub("", _source(cell))
                hidden = "".join(HIDDEN_BLOCK.findall(_source(cell)))
                given.update(line.strip() for line in public.splitlines())
                secret.update(line.strip() for line in hidden.splitlines() if len(line.strip()) >= 12)
                assert released[cell["id"]].strip() == public.strip(), f"{student}: public check {cell['id']} changed"
            else:
                given.update(line.strip() for line in lines)
        assert secret or source.stem == "lenet", f"{source.name}: an exercise without solution text"
        for line in secret - given:
            assert json.dumps(line, ensure_ascii=False)[1:-1] not in text, f"{student}: {line!r} leaked"
        assert "HIDDEN TESTS" not in text
        assert "widgets" not in built["metadata"], f"{student}: stored widget state"
        assert all(not c.get("outputs") for c in built["cells"]), f"{student}: stored outputs"


def _solution_names() -> dict[str, str]:
    """Top-level names that solution code cells define, each with where."""
    names = {}
    for language in LANGUAGES:
        for path in _notebooks(language):
            for cell in _cells(path):
                if cell["cell_type"] != "code" or "solution" not in _tags(cell):
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


def test_no_solution_cell_is_saved_and_no_solution_name_is_in_the_package():
    for language in LANGUAGES:
        for path in _notebooks(language):
            for cell in _cells(path):
                if "solution" in _tags(cell):
                    assert not _source(cell).lstrip().startswith("#@save"), f"{path}: a saved solution"
    names = _solution_names()
    assert {"max_lenet", "recipe", "max_history", "block1", "block2"} <= set(names)
    probe = "import json, d2l_local; print(json.dumps(sorted(dir(d2l_local))))"
    exported = set(json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                             cwd=REPO, check=True, env=dict(os.environ, PYTHONPATH=str(REPO))
                                             ).stdout))
    leaked = {name: where for name, where in names.items() if name in exported}
    assert not leaked, f"names defined in solution cells are importable from d2l_local: {leaked}"


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")  # a markdown link or image: [text](target)
NOT_FOR_STUDENTS = ("benchmarks/README.md", "../../README.md", "worked, tested solution", "student edition",
                    "经过测试的完整解答", "学生版")


def _unpack(release, folder):
    """The student zip, unpacked into ``folder`` (empty), as a student unpacks it."""
    folder.mkdir()
    assert not any(folder.iterdir())
    with zipfile.ZipFile(release / "lenet-course-student.zip") as packed:
        packed.extractall(folder)
    return folder


def test_the_unpacked_student_zip_holds_every_file_its_notebooks_link_to(release, tmp_path):
    root = _unpack(release, tmp_path / "student")
    notebooks = sorted(root.rglob("*.ipynb"))
    assert [p.relative_to(root).as_posix() for p in notebooks] == [
        f"notebooks/{language}/{name}.ipynb" for language in LANGUAGES for name in ["lenet", *EXERCISES]]
    checked = set()
    for path in notebooks:
        for cell in _cells(path):
            if cell["cell_type"] != "markdown":
                continue
            text = _source(cell)
            for phrase in NOT_FOR_STUDENTS:
                assert phrase not in text, f"{path.relative_to(root)}: {phrase!r} names what students do not have"
            for target in LINK.findall(text):
                if re.match(r"https?://", target) or target.startswith("#"):
                    continue
                linked = (path.parent / target.split("#")[0]).resolve()
                assert linked.is_relative_to(root.resolve()) and linked.is_file(), \
                    f"{path.relative_to(root)}: the link {target!r} leads to nothing in the release"
                checked.add(linked.relative_to(root.resolve()).as_posix())
    assert {"notebooks/en/figures/lenet.svg", "notebooks/zh/figures/lenet_zh.svg", "notebooks/zh/GLOSSARY.md",
            "notebooks/en/lenet_ex4_feature_maps.ipynb"} <= checked


def _has_code(source: str) -> bool:
    return any(line.strip() and not line.strip().startswith("#") for line in source.splitlines())


def test_no_release_code_cell_is_empty_without_a_prompt_above(release):
    """Each code cell a student fills in says what goes in it, below the markdown cell that asks for it."""
    stubs = 0
    for source, student in _pairs(release):
        cells = _cells(student)
        for i, cell in enumerate(cells):
            if cell["cell_type"] != "code" or _has_code(_source(cell)):
                continue
            where = f"{student.parent.name}/{student.name}, cell {i} ({cell.get('id')})"
            above = cells[i - 1] if i else None
            assert above is not None and above["cell_type"] == "markdown" \
                and "solution" not in _tags(above), f"{where}: an empty code cell with no question right above it"
            lines = _source(cell).splitlines()
            assert lines and re.match(r"# (Question|问题) \d", lines[0]), f"{where}: the cell does not say what goes in it"
            stubs += 1
    assert stubs == 2 * 11  # the code answers of exercises 1-4, in each language


def _run_release(folder, language, monkeypatch):
    """Run every notebook of ``language`` in the unpacked release; return (printed text, check verdicts) per notebook."""
    from nbclient import NotebookClient

    outputs, shown = {}, set()
    for path in sorted((folder / "notebooks" / language).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        outputs[path.stem] = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                                       for o in c.outputs if o.output_type == "stream")
        shown.update(o.data.get("text/plain", "") for c in nb.cells if "check" in c.metadata.get("tags", [])
                     for o in c.outputs if o.output_type == "execute_result")
    return outputs, shown


@pytest.mark.slow
def test_the_unpacked_student_zip_runs_top_to_bottom_and_says_what_is_missing(release, tmp_path, monkeypatch):
    """Unpacked into an empty folder, answers empty and exercise 2 never run: every notebook of both
    languages runs, every check says what is missing, and the Chinese checks say it in Chinese.

    Whether a notebook runs does not depend on how much data it trains on, so the
    notebooks train on 1,000 examples per split here.
    """
    folder = _unpack(release, tmp_path / "unpacked")
    monkeypatch.setenv("D2L_WORK_DIR", str(tmp_path / "work"))  # no network saved by exercise 2
    monkeypatch.setenv("D2L_MAX_EXAMPLES", "1000")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    outputs, shown = _run_release(folder, "en", monkeypatch)
    assert set(outputs) == {"lenet", *EXERCISES}
    assert "exercise 2" in outputs["lenet_ex3_mnist"] and "instead" in outputs["lenet_ex3_mnist"]
    assert "Question 1: not yet: name 'max_lenet' is not defined" in outputs["lenet_ex1_max_pooling"]
    assert "Question 2: not yet: name 'max_history' is not defined" in outputs["lenet_ex1_max_pooling"]
    assert "Question 1: not yet: X has shape (256, 1, 28, 28); one image for each of pullover, coat has shape " \
           "(2, 1, 28, 28)" in outputs["lenet_ex4_feature_maps"]
    assert "Question 1: not yet: name 'recipe' is not defined" in outputs["lenet_ex2_improve"]
    assert "Question 2: not yet: name 'recipe' is not defined" in outputs["lenet_ex2_improve"]
    assert "Question 1: not yet: name 'lenet_history' is not defined" in outputs["lenet_ex3_mnist"]
    assert "Question 3: not yet: name 'digit_recipe' is not defined" in outputs["lenet_ex3_mnist"]
    assert shown == set(), f"check cells show more than their verdict: {shown}"
    outputs, shown = _run_release(folder, "zh", monkeypatch)
    assert set(outputs) == {"lenet", *EXERCISES} and shown == set()
    assert "问题 1：还不对：name 'max_lenet' is not defined：请在上面的单元格中写出解答并运行" \
        in outputs["lenet_ex1_max_pooling"]
    assert "问题 1：还不对：X 的形状为 (256, 1, 28, 28)" in outputs["lenet_ex4_feature_maps"]
    assert "练习 2" in outputs["lenet_ex3_mnist"] and "所以这个笔记本改用" in outputs["lenet_ex3_mnist"]
    for name, text in outputs.items():
        for english in ("Question", "not yet", "right.", "write your answer", "instead", "Run exercise 2"):
            assert english not in text, f"zh/{name} prints {english!r}: {text[:3000]}"


# ---- grading: one run of the tool over every kind of submission ----

def _answers(name: str) -> dict[str, str]:
    """The worked solutions' code, by cell id."""
    return {c["id"]: _source(c) for c in _cells(REPO / "notebooks" / "en" / f"{name}.ipynb")
            if c["cell_type"] == "code" and "solution" in _tags(c)}


def _wrong(name: str, cell_id: str, old: str, new: str) -> dict[str, str]:
    answers = _answers(name)
    assert answers[cell_id].count(old) == 1, (cell_id, old)
    answers[cell_id] = answers[cell_id].replace(old, new)
    return answers


def _over_budget() -> dict[str, str]:
    """Exercise 2 with a dense layer of 120 units (110,626 parameters), trained for 2 epochs only."""
    answers = _wrong(EX2, "ex2-20", "nn.Linear(32 * 5 * 5, 96), nn.ReLU(),\n    nn.Linear(96, 10))",
                     "nn.Linear(32 * 5 * 5, 120), nn.ReLU(),\n    nn.Linear(120, 10))")
    answers["ex2-20"] = answers["ex2-20"].replace("num_epochs=10", "num_epochs=2")
    return answers


EX1, EX2, EX3, EX4 = GRADED
SUBMISSIONS = {  # student: {notebook: answers by cell id, or the raw bytes of a broken file}
    "solutions": {name: _answers(name) for name in GRADED},
    "blank": {name: {} for name in GRADED},
    "wrong": {EX1: _wrong(EX1, "ex1-03", "nn.MaxPool2d(kernel_size=2, stride=2),\n        nn.Conv2d(6",
                          "nn.AvgPool2d(kernel_size=2, stride=2),\n        nn.Conv2d(6"),
              EX2: _over_budget(),
              EX4: _wrong(EX4, "ex4-12", "block1, block2 = d2l.feature_maps(net, X)",
                          "block1, block2 = net[:2](X), net[:6](X)")},
    "seven": {EX1: _wrong(EX1, "ex1-03", "nn.Linear(84, 10)", "nn.Linear(84, 7)"),
              EX4: {"ex4-12": "raise RuntimeError('my own bug')"}},
    "broken": {EX1: b'{"cells": [', EX4: b""},
}


def _hand_in(course, student: str, name: str, answers) -> None:
    folder = course / "submitted" / student / "lenet-en"
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(answers, bytes):
        (folder / f"{name}.ipynb").write_bytes(answers)
        return
    nb = nbformat.read(course / "release" / "lenet-en" / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.get("id") in answers:
            cell.source = answers[cell.id]
    nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.fixture(scope="module")
def graded(release):
    """Grade every submission; return the tools' output, the grades by (student, notebook) and the course.

    The worked solutions are graded as an instructor grades them. The other submissions are
    graded in a second run on 2,000 examples per split (--max-examples), which saves minutes
    of exercise 2's training and changes none of their verdicts: the blank release and the
    broken files train nothing, and the wrong answers fail on their code or on an accuracy
    that fewer examples only lower.
    """
    course = release / "course"
    for student, notebooks in SUBMISSIONS.items():
        for name, answers in notebooks.items():
            _hand_in(course, student, name, answers)
    # A limit that a loaded CI machine cannot reach: the test is of the verdicts, not of the machine's speed.
    result = _run("grade", "--course", str(course), "--assignment", "lenet-en", "--student", "solutions",
                  "--timeout", "3000")
    assert result.returncode == 0, result.stdout + result.stderr
    others = [arg for student in SUBMISSIONS if student != "solutions" for arg in ("--student", student)]
    quick = _run("grade", "--course", str(course), "--assignment", "lenet-en", "--max-examples", "2000", *others)
    assert quick.returncode == 0, quick.stdout + quick.stderr
    result.stdout += quick.stdout
    with open(course / "grades.csv", encoding="utf-8") as file:
        rows = {(row["student"], row["notebook"]): row for row in csv.DictReader(file)}
    return result, rows, course


def _messages(course, student: str, name: str) -> list[str]:
    """The grader's verdicts on the questions of one notebook that are not right."""
    nb = nbformat.read(course / "autograded" / student / "lenet-en" / f"{name}.ipynb", as_version=4)
    return [line for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
            for o in c.outputs for line in o.get("text", "").splitlines() if not line.endswith(": right.")]


@pytest.mark.slow
def test_worked_solutions_score_full_marks_and_the_blank_release_zero(graded):
    _, rows, course = graded
    for name, (checks, written) in GRADED.items():
        assert (float(rows["solutions", name]["checks_score"]), rows["solutions", name]["error"]) == (checks, "")
        assert float(rows["blank", name]["checks_score"]) == 0 and float(rows["blank", name]["checks_max"]) == checks
        assert float(rows["blank", name]["written_max"]) == written
        assert _messages(course, "solutions", name) == []
    assert (course / "feedback" / "solutions" / "lenet-en" / f"{EX1}.html").exists()


@pytest.mark.slow
def test_wrong_answers_fail_with_the_message_that_names_the_mistake(graded):
    _, rows, course = graded
    assert _messages(course, "wrong", EX1)[0] == (
        "Question 1: not yet: layer 2 of your net is still nn.AvgPool2d; replace every pooling layer "
        "by nn.MaxPool2d")
    assert _messages(course, "wrong", EX4) == [
        "Question 1: not yet: the maps of block 2 you give are the output of layer 5 (AvgPool2d); block 2 "
        "ends with its activation, the output of layer 4 (Sigmoid)"]
    assert _messages(course, "seven", EX1)[0] == (
        "Question 1: not yet: your net outputs (1, 7) for an input of shape (1, 1, 28, 28); 10 classes "
        "need (1, 10)")
    feedback = (course / "feedback" / "wrong" / "lenet-en" / f"{EX4}.html").read_text(encoding="utf-8")
    assert "the maps of block 2 you give are the output of layer 5 (AvgPool2d)" in feedback
    budget, accuracy = _messages(course, "wrong", EX2)
    assert budget == "Question 1: not yet: your net has 110,626 parameters; the budget is at most 100,000"
    assert re.fullmatch(r"Question 2: not yet: your net ends at 0\.\d{4} test accuracy; the question "
                        r"asks for at least 0\.91", accuracy), accuracy
    assert float(rows["wrong", EX1]["checks_score"]) == 1  # question 2 (1 point) is still right
    assert float(rows["wrong", EX2]["checks_score"]) == 0
    assert float(rows["wrong", EX4]["checks_score"]) == 0


@pytest.mark.slow
def test_broken_submissions_get_their_own_error_and_the_others_are_graded(graded):
    result, rows, _ = graded
    assert rows["seven", EX4]["error"] == "cell 'ex4-12' raised RuntimeError: my own bug"
    assert float(rows["seven", EX4]["checks_score"]) == 0
    assert rows["broken", EX1]["error"].startswith("not a valid notebook (")
    assert rows["broken", EX4]["error"] == "the file is empty"
    assert rows["broken", EX1]["checks_score"] == ""
    assert len(rows) == len(SUBMISSIONS) * len(GRADED)
    assert "the file is empty" in result.stdout


@pytest.mark.slow
def test_a_notebook_that_runs_too_long_is_stopped(graded):
    _, _, course = graded
    _hand_in(course, "slow", EX4, {"ex4-12": "import time\ntime.sleep(600)"})
    result = _run("grade", "--course", str(course), "--assignment", "lenet-en", "--student", "slow",
                  "--timeout", "10")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stopped at the time limit of 10 s" in result.stdout
    with open(course / "grades.csv", encoding="utf-8") as file:
        rows = {(row["student"], row["notebook"]): row for row in csv.DictReader(file)}
    assert rows["slow", EX4]["error"].startswith("stopped at the time limit of 10 s")
    assert float(rows["slow", EX4]["checks_score"]) == 0
    assert float(rows["solutions", EX2]["checks_score"]) == 4  # the earlier grades are kept


# ---- the tags that tools/instructor/release.py turns into nbgrader's metadata ----

sys.path.insert(0, str(REPO))  # the tools as the package tools/, the name mutmut gives their mutants
from tools.instructor import release as release_tool  # noqa: E402
from tools.instructor.grading import verdicts  # noqa: E402


def _cell(kind: str, *tags: str) -> nbformat.NotebookNode:
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make("x = 1", id="c1")
    cell.metadata["tags"] = list(tags)
    return cell


@pytest.mark.parametrize("kind, tags, expected", [
    ("code", ("check", "points-2"), {"grade": True, "solution": False, "locked": True, "points": 2}),
    ("code", ("solution",), {"grade": False, "solution": True, "locked": False}),
    ("markdown", ("solution", "points-3"), {"grade": True, "solution": True, "locked": False, "points": 3}),
    ("markdown", (), None),
])
def test_tags_become_nbgrader_metadata(kind, tags, expected):
    meta = release_tool.nbgrader_metadata(_cell(kind, *tags))
    if expected is None:
        assert meta is None
    else:
        assert meta == {"schema_version": 3, "grade_id": "c1", "task": False, **expected}


@pytest.mark.parametrize("kind, tags, message", [
    ("code", ("check",), "a check is a code cell with a points-N tag"),
    ("markdown", ("check", "points-1"), "a check is a code cell with a points-N tag"),
    ("code", ("solution", "points-2"), "code answers are graded by their check cells"),
    ("code", ("points-2",), "has points but is neither a check nor a solution"),
    ("code", ("check", "points-1", "points-2"), "has 2 points tags"),
])
def test_inconsistent_tags_are_refused(kind, tags, message):
    with pytest.raises(ValueError, match=message):
        release_tool.nbgrader_metadata(_cell(kind, *tags))


def test_prose_of_a_worked_solution_is_left_out_of_the_graders_copy():
    nb = nbformat.v4.new_notebook()
    nb.cells = [_cell("markdown", "solution"), _cell("code", "solution"), _cell("markdown", "solution", "points-3"),
                _cell("code", "check", "points-2"), _cell("code", "solution", "demo")]
    nb.cells[1].source = "# Question 1: x.\nx = 1"
    assert release_tool.to_source(nb) == 5
    assert [(c.cell_type, "nbgrader" in c.metadata) for c in nb.cells] == [("code", True), ("markdown", True),
                                                                            ("code", True)]
    assert nb.cells[0].source == "# Question 1: x.\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"


# ---- the tool on a small course written here, checked against its raw JSON ----

def _raw_cell(kind: str, source: str, tags: list[str], cell_id: str) -> dict:
    cell = {"cell_type": kind, "id": cell_id, "metadata": {"tags": tags} if tags else {}, "source": source}
    if kind == "code":
        cell.update(execution_count=3, outputs=[{"output_type": "stream", "name": "stdout", "text": "42\n"}])
    return cell


SMALL = [
    _raw_cell("markdown", "# Exercise\n\n**Question 1**: compute the answer.", [], "title"),
    _raw_cell("code", "# Question 1: compute answer.\nanswer = 6 * 7\nprint(answer)", ["solution"], "code-sol"),
    _raw_cell("markdown", "Six times seven, worked out.", ["solution"], "prose-sol"),
    _raw_cell("code", "print(answer / 7)", ["solution", "demo"], "demo-sol"),
    _raw_cell("code", "assert answer == 42, 'answer should be 42'\n### BEGIN HIDDEN TESTS\nassert answer > 41\n"
                      "### END HIDDEN TESTS", ["check", "points-2"], "check-1"),
    _raw_cell("markdown", "Because six sevens make forty-two.\n\n**Rubric**: 1 point.", ["solution", "points-1"],
              "written"),
    _raw_cell("code", "print('given')", [], "given"),
]


def _write_course(root, cells_by_language: dict[str, list[dict]]):
    notebooks = root / "notebooks"
    for language, cells in cells_by_language.items():
        (notebooks / language).mkdir(parents=True)
        nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                          "language": "python"}},
              "nbformat": 4, "nbformat_minor": 5}
        (notebooks / language / "ex.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return notebooks


@pytest.fixture(autouse=True)
def small_course_is_judged(monkeypatch):
    """The small course's check cell has a verdict, as build requires of every check cell."""
    monkeypatch.setitem(verdicts.QUESTIONS, "ex", SMALL_VERDICTS)


SMALL_VERDICTS = {"check-1": ("1", lambda answers: None)}


@pytest.fixture(scope="module")
def small_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    notebooks = _write_course(root, {language: SMALL for language in LANGUAGES})
    (notebooks / "figures").mkdir()
    (notebooks / "figures" / "f.svg").write_text("<svg/>", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(verdicts.QUESTIONS, "ex", SMALL_VERDICTS)
        totals = release_tool.build(root / "out", notebooks)
    return notebooks, root / "out", totals


def test_a_check_cell_without_a_verdict_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(verdicts.QUESTIONS, "ex", {})
    notebooks = _write_course(tmp_path, {language: SMALL for language in LANGUAGES})
    with pytest.raises(ValueError, match=r"^en/ex\.ipynb: no verdict for the check cell\(s\) 'check-1': add one to "
                                         r"QUESTIONS in tools/instructor/grading/verdicts\.py"):
        release_tool.build(tmp_path / "out", notebooks)


def test_small_course_student_release_against_the_raw_json(small_release):
    notebooks, out, totals = small_release
    assert totals == {"en": {"ex": 3}, "zh": {"ex": 3}}
    for language in LANGUAGES:
        original = json.loads((notebooks / language / "ex.ipynb").read_text(encoding="utf-8"))
        assert (out / "instructor" / "notebooks" / language / "ex.ipynb").read_text(encoding="utf-8") == \
            (notebooks / language / "ex.ipynb").read_text(encoding="utf-8")
        built = json.loads((out / "student" / "notebooks" / language / "ex.ipynb").read_text(encoding="utf-8"))
        cells = {c["id"]: c for c in built["cells"]}
        # worked-solution prose and the demonstration left out
        assert list(cells) == ["title", "code-sol", "check-1", "written", "given"]
        assert _source(cells["title"]) == _source(original["cells"][0])
        assert _source(cells["given"]) == "print('given')"
        assert _source(cells["code-sol"]) == "# Question 1: compute answer.\n" + release_tool.STUBS[language]["code"]
        assert _source(cells["written"]) == release_tool.STUBS[language]["text"]
        assert _source(cells["check-1"]) == "assert answer == 42, 'answer should be 42'"
        assert all(c.get("outputs", []) == [] and c.get("execution_count") is None for c in cells.values())
        grades = {key: c["metadata"]["nbgrader"] for key, c in cells.items() if "nbgrader" in c["metadata"]}
        assert {key: (m["grade"], m["solution"], m.get("points")) for key, m in grades.items()} == {
            "code-sol": (False, True, None), "check-1": (True, False, 2), "written": (True, True, 1)}
    assert release_tool.STUBS["en"]["code"] == "# Your answer here: write the code that the question above asks for."
    assert release_tool.STUBS["zh"]["text"] == "*在这里写下你的回答。*"
    assert (out / "instructor" / "notebooks" / "figures" / "f.svg").read_text(encoding="utf-8") == "<svg/>"
    for language in LANGUAGES:  # what a student fetches from an exchange is one folder that holds its figures
        for folder in (out / "course" / "release" / f"lenet-{language}", out / "student" / "notebooks" / language):
            assert (folder / "figures" / "f.svg").read_text(encoding="utf-8") == "<svg/>"
    with zipfile.ZipFile(out / release_tool.STUDENT_ZIP) as packed:
        files = {name: packed.read(name) for name in packed.namelist() if not name.endswith("/")}
    student = out / "student"
    assert files == {str(p.relative_to(student)).replace(os.sep, "/"): p.read_bytes()
                     for p in student.rglob("*") if p.is_file()}
    assert "notebooks/en/figures/f.svg" in files and "notebooks/zh/ex.ipynb" in files


def test_an_answer_cell_without_a_prompt_and_a_demo_that_is_no_solution_are_refused(tmp_path):
    bare = [_raw_cell("code", "answer = 6 * 7", ["solution"], "bare")]
    notebooks = _write_course(tmp_path / "a", {language: bare for language in LANGUAGES})
    with pytest.raises(ValueError, match=r"^cell 'bare': an answer cell starts with comment lines that say what "
                                         r"goes in it \(they stay in the student release above the stub\)$"):
        release_tool.build(tmp_path / "out", notebooks)
    stray = [_raw_cell("code", "print(1)", ["demo"], "stray")]
    notebooks = _write_course(tmp_path / "b", {language: stray for language in LANGUAGES})
    with pytest.raises(ValueError, match=r"^cell 'stray' is tagged demo but not solution$"):
        release_tool.build(tmp_path / "out", notebooks)


def test_a_solution_tag_on_a_raw_cell_is_refused(tmp_path):
    notebooks = _write_course(tmp_path, {language: [_raw_cell("raw", "x", ["solution"], "bad")]
                                         for language in LANGUAGES})
    with pytest.raises(ValueError, match=r"^cell 'bad' is tagged solution but is a raw cell$"):
        release_tool.build(tmp_path / "out", notebooks)


def test_a_language_without_notebooks_is_an_error(tmp_path):
    notebooks = _write_course(tmp_path, {"en": SMALL})
    (notebooks / "zh").mkdir()
    with pytest.raises(FileNotFoundError, match=rf"^no notebooks found in {re.escape(str(notebooks / 'zh'))}$"):
        release_tool.build(tmp_path / "out", notebooks)


def test_main_builds_where_asked_and_says_what_it_wrote(tmp_path, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(release_tool, "build", lambda out: seen.append(out) or {"en": {"ex": 3}, "zh": {"ex": 3}})
    assert release_tool.main(["build", "--out", str(tmp_path / "mine")]) == 0
    assert release_tool.main(["build"]) == 0
    assert seen == [tmp_path / "mine", REPO / "build" / "release"]
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["lenet-en: ex 3 pt", "lenet-zh: ex 3 pt",
                         f"student release: {tmp_path / 'mine' / 'student' / 'notebooks'} (zipped: "
                         f"{tmp_path / 'mine' / release_tool.STUDENT_ZIP}); instructor edition: "
                         f"{tmp_path / 'mine' / 'instructor' / 'notebooks'}; grader: {tmp_path / 'mine' / 'course'}"]


def test_grading_some_students_again_keeps_the_others_rows(tmp_path):
    path = tmp_path / "grades.csv"
    first = [release_tool.Graded("ann", "ex", 2.0, 3, 1), release_tool.Graded("bob", "ex", None, 3, 1, "the file is empty")]
    release_tool.write_grades(path, first)
    release_tool.write_grades(path, [release_tool.Graded("bob", "ex", 3.0, 3, 1)])
    with open(path, encoding="utf-8") as file:
        assert list(csv.reader(file)) == [release_tool.GRADE_COLUMNS, ["ann", "ex", "2.0", "3", "1", "", "0"],
                                          ["bob", "ex", "3.0", "3", "1", "", "0"]]


def test_grade_refuses_a_dry_run_without_examples(capsys):
    with pytest.raises(SystemExit):
        release_tool.main(["grade", "--max-examples", "0"])
    assert "--max-examples must be a positive number of examples, got 0" in capsys.readouterr().err


# ---- grading, in-process: what each kind of submission gets, with nbgrader stood in for ----

def _graded_source(folder, points: int):
    nb = nbformat.v4.new_notebook()
    check = nbformat.v4.new_code_cell("assert True", id="check")
    check.metadata["nbgrader"] = {"grade": True, "solution": False, "points": points, "grade_id": "check",
                                  "locked": True, "schema_version": 3, "task": False}
    written = nbformat.v4.new_markdown_cell("answer", id="written")
    written.metadata["nbgrader"] = {"grade": True, "solution": True, "points": 1, "grade_id": "written",
                                    "locked": False, "schema_version": 3, "task": False}
    nb.cells = [check, written]
    return nb


def _fake_course(root, assignment_id):
    """A course folder with two graded notebooks (one of them graded on a subset) and three students."""
    course = root / "course"
    source = course / "source" / assignment_id
    source.mkdir(parents=True)
    for name, points in ((EX1, 2), (EX2, 3)):
        nbformat.write(_graded_source(source, points), source / f"{name}.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), source / "lenet.ipynb")  # no graded cell: not graded
    for student in ("ann", "bob", "cat"):
        (course / "submitted" / student / assignment_id).mkdir(parents=True)
    for student, name in (("ann", EX1), ("ann", EX2), ("cat", EX1), ("cat", EX2)):
        nbformat.write(_graded_source(source, 1), course / "submitted" / student / assignment_id / f"{name}.ipynb")
    (course / "submitted" / "bob" / assignment_id / f"{EX1}.ipynb").write_bytes(b"")
    return course


@pytest.fixture
def fake_course(tmp_path):
    return _fake_course(tmp_path, "lenet-en")


def _stand_in_for_nbgrader(monkeypatch):
    """Record every nbgrader call; cat's exercise 1 runs too long and cat's exercise 2 makes nbgrader fail."""
    calls = []

    def nbgrader(course, *args, env=None, timeout=None):
        calls.append((args, env, timeout))
        if "--student=cat" in args and f"--notebook={EX1}" in args:
            raise subprocess.TimeoutExpired(args, timeout)
        code = 1 if "--student=cat" in args and f"--notebook={EX2}" in args else 0
        return subprocess.CompletedProcess(args, code, "line 1\n\nline 2\nline 3\nlast line\n", None)

    def code_score(course, assignment, student, name):
        calls.append(("score", course, assignment, student, name))
        return 1.5

    def raised(course, assignment, student, name):
        calls.append(("raised", course, assignment, student, name))
        return release_tool.Raised("x", "ValueError", "v") if name == EX2 else None

    def verdicts(name, scratch, examples, language):
        calls.append(("verdicts", name, scratch.root, examples, language))
        return {"check": {"question": "1", "right": True, "message": "Question 1: right."}}

    def record(course, assignment, student, name, judged, notes):
        calls.append(("record", student, name, judged, notes))

    monkeypatch.setattr(release_tool, "_nbgrader", nbgrader)
    monkeypatch.setattr(release_tool, "_code_score", code_score)
    monkeypatch.setattr(release_tool, "_raised", raised)
    monkeypatch.setattr(release_tool, "_verdicts", verdicts)
    monkeypatch.setattr(release_tool, "_record", record)
    monkeypatch.setattr(release_tool.sandbox, "problem", lambda: "no sandbox in this test")
    return calls


def test_each_row_has_the_seconds_its_notebook_took(fake_course, monkeypatch):
    _stand_in_for_nbgrader(monkeypatch)
    ticks = iter(range(0, 10_000, 5))  # a clock that moves 5 s each time it is read
    monkeypatch.setattr(release_tool, "time", types.SimpleNamespace(time=time.time, monotonic=lambda: next(ticks)))
    rows = release_tool.grade(fake_course, "lenet-en", timeout=42)
    assert {(r.student, r.notebook): r.seconds for r in rows} == {
        ("ann", EX1): 10, ("ann", EX2): 10,  # read when it started, after autograde, and at the end
        ("bob", EX1): 0.0, ("bob", EX2): 0.0,  # not graded
        ("cat", EX1): 5, ("cat", EX2): 5}  # stopped, or nbgrader failed: read when it started and when it ended


def test_an_isolated_kernel_sees_d2l_local_and_jupyter_finds_its_spec_first(tmp_path, monkeypatch):
    seen = {}

    def nbgrader(course, *args, env=None, timeout=None):  # what nbgrader would be given, read while it runs
        spec = json.loads((Path(env["JUPYTER_PATH"].split(os.pathsep)[0]) / "kernels" / release_tool.sandbox.KERNEL_NAME
                           / "kernel.json").read_text(encoding="utf-8"))
        seen.update(args=args, env=env, argv=spec["argv"])
        return subprocess.CompletedProcess(args, 0, "", None)

    monkeypatch.setattr(release_tool, "_nbgrader", nbgrader)
    monkeypatch.setenv("JUPYTER_PATH", "/site/jupyter")
    scratch = release_tool.Scratch(tmp_path / "work" / "ann")
    scratch.prepare()
    release_tool._autograde(tmp_path, "lenet-en", "ann", EX1, scratch, 60, 2000, isolated=True)
    paths = seen["env"]["JUPYTER_PATH"].split(os.pathsep)
    assert paths[1:] == ["/site/jupyter"] and Path(paths[0]).name == "jupyter"
    bound = [seen["argv"][i + 1] for i, arg in enumerate(seen["argv"]) if arg == "--ro-bind"]
    assert str(REPO / "d2l_local") in bound
    assert f"--Execute.kernel_name={release_tool.sandbox.KERNEL_NAME}" in seen["args"]


@pytest.mark.parametrize("language, raised, expected", [
    ("en", "Your cell 'x' raised ValueError: v.",
     "**Notes from the grader**\n\n* Your cell 'x' raised ValueError: v.\n* The check cell of question 2 is missing "
     "from your notebook, so question 2 got no points. Fetch the assignment again and copy your answers into it."),
    ("zh", "运行你的单元格 'x' 时出现异常 ValueError：v。",
     "**评分说明**\n\n* 运行你的单元格 'x' 时出现异常 ValueError：v。\n* 你的笔记本中缺少问题 2 的检查单元格，"
     "所以问题 2 没有得分。请重新获取作业，再把你的解答复制进去。")])
def test_the_verdicts_replace_the_check_outputs_and_the_notes_come_first(tmp_path, language, raised, expected):
    """The notes are in the assignment's language: lenet-zh's feedback is Chinese, heading and all."""
    check = nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nexport()\n### END HIDDEN TESTS\ncheck()", id="check-1",
                                      metadata={"nbgrader": {"grade_id": "check-1", "grade": True}},
                                      outputs=[nbformat.v4.new_output("stream", name="stdout", text="I say: right\n")])
    answer = nbformat.v4.new_code_cell("answer = 42", id="answer")
    path = tmp_path / "autograded" / "ann" / f"lenet-{language}" / "ex.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[answer, check]), path)
    judged = {"check-1": {"question": "1", "right": True, "message": "Question 1: right."},
              "check-2": {"question": "2", "right": False, "message": "Question 2: not yet: no answer"}}
    release_tool._record(tmp_path, f"lenet-{language}", "ann", "ex", judged, [raised])
    notes, answer, check = nbformat.read(path, as_version=4).cells
    assert notes.cell_type == "markdown" and notes.source == expected
    assert check.source == "check()" and answer.source == "answer = 42"
    assert check.outputs == [nbformat.v4.new_output("stream", name="stdout", text="Question 1: right.\n")]


def test_every_grader_note_is_in_both_languages_with_the_same_placeholders():
    def placeholders(text):
        return {(name, conversion, spec) for _, name, spec, conversion in string.Formatter().parse(text)
                if name is not None}

    assert {"heading", "missing_check", "stopped", "raised", "raised_bare", "not_judged"} <= release_tool.NOTES.keys()
    for key, texts in release_tool.NOTES.items():
        assert sorted(texts) == sorted(LANGUAGES), key
        assert placeholders(texts["zh"]) == placeholders(texts["en"]), key
        prose = re.sub(r"\{[^}]*\}", "", texts["zh"])
        assert re.search(r"[\u4e00-\u9fff]", prose), key  # said in Chinese
        assert not re.search(r"[,.:;()!?]", prose), key  # with full-width punctuation


def test_a_note_is_said_in_the_language_asked_for():
    assert release_tool.note("stopped", "en", timeout=5) == (
        "Grading stopped this notebook at its time limit of 5 s: the cell running then and the cells after it were "
        "cut short (CellTimeoutError), and questions checked after that got no points.")
    assert release_tool.note("stopped", "zh", timeout=5) == (
        "这个笔记本运行到 5 秒的时间限制时被评分程序停止：当时正在运行的单元格及其后的单元格都被中断"
        "（CellTimeoutError），在此之后检查的问题没有得分。")
    assert release_tool.note("heading", "zh") == "**评分说明**"
    with pytest.raises(KeyError):
        release_tool.note("heading", "fr")


@pytest.mark.parametrize("assignment_id, language", [("lenet-en", "en"), ("lenet-zh", "zh"), ("lenet", "en"),
                                                     ("course-fr", "en")])
def test_the_language_of_an_assignment_is_its_suffix_or_english(assignment_id, language):
    assert release_tool.language_of(assignment_id) == language


def test_a_students_own_error_is_noted_in_the_assignments_language():
    raised = release_tool.Raised("mine", "ValueError", "bad shape")
    assert raised.feedback_note("en") == "Your cell 'mine' raised ValueError: bad shape."
    assert raised.feedback_note("zh") == "运行你的单元格 'mine' 时出现异常 ValueError：bad shape。"
    bare = release_tool.Raised("mine", "KeyError")  # an error with no message of its own
    assert str(bare) == "cell 'mine' raised KeyError"
    assert bare.feedback_note("en") == "Your cell 'mine' raised KeyError."
    assert bare.feedback_note("zh") == "运行你的单元格 'mine' 时出现异常 KeyError。"


@pytest.mark.parametrize("language, too_long, crashed", [
    ("en", "Question {q}: not judged: the grader failed (it took too long)",
     "Question {q}: not judged: the grader failed (ImportError: boom)"),
    ("zh", "问题 {q}：未能评判：评分程序出错（用时过长）", "问题 {q}：未能评判：评分程序出错（ImportError: boom）")])
def test_a_grader_that_fails_says_so_in_the_assignments_language(tmp_path, monkeypatch, language, too_long, crashed):
    def slow(args, **kwargs):
        raise subprocess.TimeoutExpired(args, kwargs["timeout"])

    def broken(args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "ImportError: boom\n")

    for run, expected in ((slow, too_long), (broken, crashed)):
        monkeypatch.setattr(release_tool, "subprocess",
                            types.SimpleNamespace(run=run, TimeoutExpired=subprocess.TimeoutExpired))
        judged = release_tool._verdicts(EX1, release_tool.Scratch(tmp_path), 100, language)
        assert judged == {cell_id: {"question": q, "right": False, "message": expected.format(q=q)}
                          for cell_id, (q, _) in verdicts.QUESTIONS[EX1].items()}


@pytest.mark.parametrize("language, stopped, raised", [
    ("en", "Grading stopped this notebook at its time limit of 5 s: the cell running then and the cells after it "
           "were cut short (CellTimeoutError), and questions checked after that got no points.",
     "Your cell 'x' raised ValueError: v."),
    ("zh", "这个笔记本运行到 5 秒的时间限制时被评分程序停止：当时正在运行的单元格及其后的单元格都被中断"
           "（CellTimeoutError），在此之后检查的问题没有得分。",
     "运行你的单元格 'x' 时出现异常 ValueError：v。")])
def test_grade_notes_in_the_assignments_language_and_grades_csv_stays_english(tmp_path, monkeypatch, language,
                                                                              stopped, raised):
    assignment_id = f"lenet-{language}"
    course = _fake_course(tmp_path, assignment_id)
    calls = _stand_in_for_nbgrader(monkeypatch)
    ticks = iter(range(0, 10_000, 5))  # each notebook's autograde takes 5 s: its whole time limit
    monkeypatch.setattr(release_tool, "time", types.SimpleNamespace(time=time.time, monotonic=lambda: next(ticks)))
    rows = release_tool.grade(course, assignment_id, students=["ann"], timeout=5)
    assert [call[4] for call in calls if call[0] == "verdicts"] == [language, language]
    assert [call[4] for call in calls if call[0] == "record"] == [[stopped], [stopped, raised]]
    assert [row.error for row in rows] == ["stopped at the time limit of 5 s",
                                           "stopped at the time limit of 5 s; cell 'x' raised ValueError: v"]


def test_the_error_of_a_cell_cut_short_at_the_time_limit_is_not_noted_twice(fake_course, monkeypatch):
    calls = _stand_in_for_nbgrader(monkeypatch)
    monkeypatch.setattr(release_tool, "_raised", lambda *args: release_tool.Raised("x", "KeyboardInterrupt"))
    ticks = iter(range(0, 10_000, 5))
    monkeypatch.setattr(release_tool, "time", types.SimpleNamespace(time=time.time, monotonic=lambda: next(ticks)))
    rows = release_tool.grade(fake_course, "lenet-en", students=["ann"], timeout=5)
    assert [len(call[4]) for call in calls if call[0] == "record"] == [1, 1]  # the stop, said once
    assert {row.error for row in rows} == {"stopped at the time limit of 5 s"}


def test_grade_gives_every_notebook_its_own_verdict(fake_course, monkeypatch, capsys):
    calls = _stand_in_for_nbgrader(monkeypatch)
    stale = [fake_course / "autograded" / "cat" / "lenet-en" / f"{EX1}.ipynb",
             fake_course / "feedback" / "cat" / "lenet-en" / f"{EX1}.html"]
    for path in stale:  # what an earlier grading left: it must not stand for this one, which runs too long
        path.parent.mkdir(parents=True)
        path.write_text("earlier", encoding="utf-8")
    rows = release_tool.grade(fake_course, "lenet-en", timeout=42)
    assert not any(path.exists() for path in stale)
    assert capsys.readouterr().err.startswith("WARNING: submissions will run without isolation: no sandbox in this "
                                              "test. A submission can then read and change every file")
    assert [(r.student, r.notebook, r.score, r.max_score, r.written, r.error) for r in rows] == [
        ("ann", EX1, 1.5, 2, 1, ""),
        ("ann", EX2, 1.5, 3, 1, "cell 'x' raised ValueError: v"),
        ("bob", EX1, None, 2, 1, "the file is empty"),
        ("bob", EX2, None, 3, 1, "not handed in"),
        ("cat", EX1, None, 2, 1, "grading ran longer than 42 s and was stopped"),
        ("cat", EX2, None, 3, 1, "nbgrader failed: line 2 | line 3 | last line")]
    read = [call for call in calls if call[0] in ("score", "raised")]  # the gradebook, for each graded notebook
    assert read == [(what, fake_course, "lenet-en", "ann", name) for name in (EX1, EX2) for what in ("raised", "score")]
    judged = [call for call in calls if call[0] in ("verdicts", "record")]
    assert [call[:3] for call in judged] == [("verdicts", EX1, fake_course / "work" / "ann"), ("record", "ann", EX1),
                                             ("verdicts", EX2, fake_course / "work" / "ann"), ("record", "ann", EX2)]
    assert [call[4] for call in judged if call[0] == "verdicts"] == ["en", "en"]  # lenet-en's verdicts speak English
    assert judged[3][4] == ["Your cell 'x' raised ValueError: v."]
    calls = [call for call in calls if call not in read and call not in judged]
    autograde = [(args, env, timeout) for args, env, timeout in calls if args[0] == "autograde"]
    assert [args for args, _, _ in autograde] == [
        ("autograde", "lenet-en", f"--student={s}", f"--notebook={n}", "--force")
        for s, n in (("ann", EX1), ("ann", EX2), ("cat", EX1), ("cat", EX2))]
    for (args, env, timeout) in autograde:
        student = args[2].removeprefix("--student=")
        assert env["D2L_WORK_DIR"] == str(fake_course / "work" / student / "saved") and timeout == 42 + release_tool.GRACE
        assert env.get("D2L_MAX_EXAMPLES") == ("2000" if args[3].endswith(EX1) else None)
        assert env["PYTHONPATH"].split(os.pathsep)[0] == str(REPO)
    assert [args for args, _, _ in calls if args[0] == "generate_feedback"] == [
        ("generate_feedback", "lenet-en", "--student=ann", "--force")]  # cat's notebooks were not graded
    with open(fake_course / "grades.csv", encoding="utf-8") as file:
        assert len(list(csv.DictReader(file))) == 6


def test_an_empty_course_is_graded_without_nbgrader(tmp_path, monkeypatch, capsys):
    calls = _stand_in_for_nbgrader(monkeypatch)
    assert release_tool.grade(tmp_path, "lenet-en") == [] and calls == []
    assert capsys.readouterr().err == (f"no submissions yet: nothing in {tmp_path / 'submitted'}/STUDENT/lenet-en/ "
                                       f"(nbgrader collect puts them there)\n")


def test_a_submission_placed_by_hand_gets_what_collect_would_have_written(tmp_path):
    (tmp_path / "a.ipynb").write_text("{}", encoding="utf-8")
    os.utime(tmp_path / "a.ipynb", (0, 86400))
    release_tool._stamp(tmp_path)
    assert (tmp_path / "timestamp.txt").read_text(encoding="utf-8") == "1970-01-02 00:00:00.000000 UTC"
    secret = (tmp_path / "submission_secret.txt").read_text(encoding="utf-8")
    assert re.fullmatch(r"[0-9a-f]{128}", secret)
    release_tool._stamp(tmp_path)  # what is there is kept
    assert (tmp_path / "submission_secret.txt").read_text(encoding="utf-8") == secret


def test_a_folder_with_no_notebook_is_stamped_with_the_time_now(tmp_path, monkeypatch):
    monkeypatch.setattr(release_tool.time, "time", lambda: 86400.0)
    release_tool._stamp(tmp_path)
    assert (tmp_path / "timestamp.txt").read_text(encoding="utf-8") == "1970-01-02 00:00:00.000000 UTC"


def test_the_number_of_examples_is_set_or_dropped():
    assert release_tool._with_examples({"A": "1", "D2L_MAX_EXAMPLES": "5"}, None) == {"A": "1"}
    assert release_tool._with_examples({"D2L_MAX_EXAMPLES": "5"}, 300) == {"D2L_MAX_EXAMPLES": "300"}


def test_grade_defaults_to_the_course_that_build_writes(monkeypatch):
    seen = []
    monkeypatch.setattr(release_tool, "grade", lambda course, *args, **kwargs: seen.append(course) or [])
    release_tool.main(["grade"])
    assert seen == [REPO / "build" / "release" / "course"]


def test_a_dry_run_grades_every_notebook_on_the_examples_asked_for(fake_course, monkeypatch):
    recorded = _stand_in_for_nbgrader(monkeypatch)
    release_tool.grade(fake_course, "lenet-en", students=["ann", "b*"], max_examples=300)
    calls = [call for call in recorded if len(call) == 3 and isinstance(call[0], tuple)]  # nbgrader's calls
    assert [env["D2L_MAX_EXAMPLES"] for args, env, _ in calls if args[0] == "autograde"] == ["300", "300"]
    assert {args[2] for args, _, _ in calls if args[0] == "autograde"} == {"--student=ann"}
    assert [args[2] for args, _, _ in calls if args[0] == "generate_feedback"] == ["--student=ann"]


def test_graded_notebooks_counts_the_points_of_checks_and_of_written_answers(fake_course):
    assert release_tool.graded_notebooks(fake_course, "lenet-en") == {EX1: (2, 1), EX2: (3, 1)}


def test_problem_names_what_is_wrong_with_a_file(tmp_path):
    empty, broken, no_cells, fine = (tmp_path / f"{n}.ipynb" for n in ("empty", "broken", "no_cells", "fine"))
    empty.write_bytes(b"")
    broken.write_text('{"cells": [', encoding="utf-8")
    nbformat.write(nbformat.v4.new_notebook(), no_cells)
    nbformat.write(_graded_source(tmp_path, 1), fine)
    assert release_tool._problem(empty) == "the file is empty"
    assert release_tool._problem(broken).startswith("not a valid notebook (NotJSONError: Notebook does not appear to be JSON")
    assert release_tool._problem(no_cells) == "the notebook has no cells"
    assert release_tool._problem(fine) == ""


def test_raised_reports_the_students_own_error_not_the_checks(tmp_path):
    folder = tmp_path / "autograded" / "ann" / "lenet-en"
    folder.mkdir(parents=True)
    nb = _graded_source(tmp_path, 1)
    error = {"output_type": "error", "ename": "ValueError", "evalue": "bad shape", "traceback": []}
    nb.cells[0].outputs = [nbformat.from_dict(dict(error, ename="AssertionError"))]  # a failed check
    mine = nbformat.v4.new_code_cell("x = f()", id="mine")
    mine.outputs = [nbformat.from_dict(error)]
    nb.cells.append(mine)
    nbformat.write(nb, folder / "ex.ipynb")
    raised = release_tool._raised(tmp_path, "lenet-en", "ann", "ex")
    assert raised == release_tool.Raised("mine", "ValueError", "bad shape")
    assert str(raised) == "cell 'mine' raised ValueError: bad shape"  # grades.csv's words
    assert release_tool._raised(tmp_path, "lenet-en", "ann", "missing") is None


def test_nbgrader_runs_in_its_own_process_group_and_is_stopped_at_the_limit(tmp_path):
    assert "nbgrader" in release_tool._nbgrader(tmp_path, "--version", env=dict(os.environ)).stdout.lower()
    with pytest.raises(subprocess.TimeoutExpired):
        release_tool._nbgrader(tmp_path, "--version", env=dict(os.environ), timeout=0.001)


def test_environment_puts_this_checkout_first_and_keeps_the_rest(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = release_tool._environment({"D2L_WORK_DIR": "/w"})
    assert env["PYTHONPATH"] == os.pathsep.join([str(REPO), "/elsewhere"]) and env["D2L_WORK_DIR"] == "/w"
    monkeypatch.delenv("PYTHONPATH")
    assert release_tool._environment()["PYTHONPATH"] == str(REPO)


def test_main_grade_prints_a_line_per_notebook(monkeypatch, capsys, tmp_path):
    seen = []
    monkeypatch.setattr(release_tool, "grade", lambda *args: seen.append(args) or [
        release_tool.Graded("ann", EX1, 3.0, 3, 3), release_tool.Graded("bob", EX2, None, 4, 2, "the file is empty")])
    assert release_tool.main(["grade", "--course", str(tmp_path), "--student", "ann", "--student", "bob",
                              "--max-examples", "500"]) == 0
    assert seen == [(tmp_path.resolve(), "lenet-en", ["ann", "bob"], release_tool.DEFAULT_TIMEOUT, 500, [])]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ann", EX1, "checks", "3", "/", "3,", "written", "answers", "(3", "points)", "to",
                                "grade", "by", "hand,", "0", "s"]
    assert lines[1].split()[:5] == ["bob", EX2, "checks", "-", "/"] and lines[1].endswith("  the file is empty")
    assert lines[2] == f"grades: {tmp_path / 'grades.csv'}; feedback: {tmp_path / 'feedback'}"


def test_help_names_both_commands_and_the_grade_options(capsys):
    with pytest.raises(SystemExit):
        release_tool.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "write the instructor edition, the grader's course folder and the student release, in English and " \
           "Chinese" in out and "autograde the handed-in notebooks, write feedback and grades" in out
    with pytest.raises(SystemExit):
        release_tool.main(["grade", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "student ID or glob; may be given several times (default: every student)" in out
    assert "{lenet-en,lenet-zh}" in out


def test_grade_defaults_to_the_english_assignment_and_passes_the_timeout(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(release_tool, "grade", lambda *args: seen.append(args) or [])
    release_tool.main(["grade", "--course", str(tmp_path), "--timeout", "77"])
    assert seen == [(tmp_path.resolve(), "lenet-en", ["*"], 77, None, [])]


def test_grade_passes_the_notebooks_named(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(release_tool, "grade", lambda *args: seen.append(args) or [])
    release_tool.main(["grade", "--course", str(tmp_path), "--notebook", "lenet_ex1_max_pooling",
                       "--notebook", "lenet_ex4_feature_maps"])
    assert seen[0][-1] == ["lenet_ex1_max_pooling", "lenet_ex4_feature_maps"]


def test_grade_refuses_a_notebook_that_is_not_graded(tmp_path, capsys):
    course = tmp_path / "course"
    source = course / "source" / "lenet-en"
    source.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.cells[0].metadata["nbgrader"] = {"grade": True, "solution": False, "points": 1, "grade_id": "q1"}
    nbformat.write(nb, source / "lenet_ex1_max_pooling.ipynb")
    (course / "submitted" / "ann" / "lenet-en").mkdir(parents=True)
    with pytest.raises(SystemExit):
        release_tool.main(["grade", "--course", str(course), "--notebook", "lenet_ex9"])
    said = capsys.readouterr().err
    assert "no graded notebook lenet_ex9 in lenet-en" in said and "lenet_ex1_max_pooling" in said


def test_nbgrader_runs_with_the_environment_given_and_reports_its_errors(tmp_path):
    """The child gets ``env`` (here a sitecustomize that announces itself), and its stderr comes back in stdout."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text("import sys\nprint('environment passed', file=sys.stderr)\n",
                                            encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(hook), str(REPO)]))
    result = release_tool._nbgrader(tmp_path, "no-such-command", env=env, timeout=120)
    assert result.stderr is None and "List of subcommands" in result.stdout  # nbgrader's answer on stdout
    assert "environment passed" in result.stdout  # the hook's line, on stderr
    assert "No nbgrader_config.py file found" in result.stdout  # nbgrader's warning, on stderr


def test_a_failed_generate_assignment_names_the_assignment_and_passes_the_checkouts_path(tmp_path, monkeypatch):
    seen = []

    def failing(course, *args, env=None, timeout=None):
        seen.append((args, env))
        return subprocess.CompletedProcess(args, 1, "[GenerateAssignmentApp | ERROR] no such cell\n", None)

    monkeypatch.setattr(release_tool, "_nbgrader", failing)
    with pytest.raises(RuntimeError, match=r"^nbgrader generate_assignment lenet-en failed:\n\[GenerateAssignmentApp "
                                           r"\| ERROR\] no such cell\n$"):
        release_tool.build(tmp_path / "out")
    ((args, env),) = seen
    assert args == ("generate_assignment", "lenet-en", "--force")
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(REPO)
    assert env["PATH"] == os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])


def test_a_notebook_that_nbgrader_fails_on_does_not_stop_the_students_next_one(fake_course, monkeypatch):
    calls = _stand_in_for_nbgrader(monkeypatch)

    def first_fails(course, *args, env=None, timeout=None):
        calls.append((args, env, timeout))
        code = 1 if f"--notebook={EX1}" in args else 0
        return subprocess.CompletedProcess(args, code, "[AutogradeApp | ERROR] kernel died\n", None)

    monkeypatch.setattr(release_tool, "_nbgrader", first_fails)
    rows = release_tool.grade(fake_course, "lenet-en", students=["ann"])
    assert [(r.notebook, r.score, r.error) for r in rows] == [
        (EX1, None, "nbgrader failed: [AutogradeApp | ERROR] kernel died"),
        (EX2, 1.5, "cell 'x' raised ValueError: v")]


def test_two_points_tags_name_the_cell():
    cell = nbformat.v4.new_code_cell("check()", id="check-q1")
    cell.metadata["tags"] = ["check", "points-1", "points-2"]
    with pytest.raises(ValueError, match=r"^cell 'check-q1' has 2 points tags$"):
        release_tool.points(cell)


def test_an_assignment_links_its_figures_from_its_own_folder():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("![LeNet](../figures/lenet.svg) and [the glossary](GLOSSARY.md)"),
        nbformat.v4.new_code_cell("print('](../figures/x.svg)')")])
    release_tool.own_figures(nb)
    assert nb.cells[0].source == "![LeNet](figures/lenet.svg) and [the glossary](GLOSSARY.md)"
    assert nb.cells[1].source == "print('](../figures/x.svg)')"
