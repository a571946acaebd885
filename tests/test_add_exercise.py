"""Adding an exercise as docs/maintainers.md says, on a tiny exercise in a copy of the repository.

The test writes the English notebook (question, worked solution, check cell), adds its verdict,
executes it, gives it a Chinese twin and copies the outputs over, syncs the package, builds the
release and grades two hand-ins: the worked solution and a net over the budget.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from conftest import REPO

NAME = "lenet_ex9_tiny"
ANSWER = "small_net = d2l.lenet_variant(channels=(4, 8), dense=(32,))  # 7,674 parameters"
TOO_LARGE = "small_net = d2l.lenet()"
PROMPT = {"en": "# Question 1: small_net, a network under 20,000 parameters.\n",  # kept above the release's stub
          "zh": "# 问题 1：small_net，一个参数少于 20,000 个的网络。\n"}
IMPORTS = {"en": "import d2l_local as d2l", "zh": "import d2l_local as d2l\nd2l.use_language('zh')"}
CHECK = """### BEGIN HIDDEN TESTS
d2l.grading.export('1', net=lambda: small_net)
### END HIDDEN TESTS
def check_question_1():
    d2l.checks.check_budget(small_net, 20_000)


d2l.check_answer('1', check_question_1)"""
PROSE = {
    "en": ["# Exercise 9: a tiny LeNet",
           "**Question 1** (1 point, checked automatically). Build `small_net`, a LeNet-style network with at "
           "most 20,000 parameters that gives 10 scores for a 28x28 image.",
           "---\nPrevious: [the chapter](lenet.ipynb)"],
    "zh": ["# 练习 9：一个很小的 LeNet",
           "**问题 1**（1 分，自动检查）。构建 `small_net`：一个参数不超过 20,000 个、"
           "对 28x28 的图像输出 10 个分数的 LeNet 式网络。",
           "---\n上一节：[正文](lenet.ipynb)"],
}
# Step 2 of the recipe: the verdict, judged from the exported answers with the same check, and its entry.
VERDICT = '''def ex9_q1(answers: Answers) -> None:
    d2l.checks.check_budget(answer(answers, "net"), 20_000)


'''
ENTRY = '''    "lenet_ex9_tiny": {"ex9-q1-check": ("1", ex9_q1)},
'''


def _add_verdict(path) -> None:
    """The function before ``QUESTIONS``, and the notebook's entry as the first in it."""
    text = path.read_text(encoding="utf-8")
    start = text.index("QUESTIONS: dict[")
    first_entry = text.index("\n", start) + 1
    path.write_text(text[:start] + VERDICT + text[start:first_entry] + ENTRY + text[first_entry:], encoding="utf-8")


def _notebook(language: str) -> nbformat.NotebookNode:
    """Step 1: title, the Colab cell and the import as in every exercise, one checked question, the end."""
    existing = nbformat.read(REPO / "notebooks" / language / "lenet_ex4_feature_maps.ipynb", as_version=4)
    colab = next(cell for cell in existing.cells if cell.get("id") == "colab-setup")
    title, question, end = PROSE[language]
    cells = [nbformat.v4.new_markdown_cell(title, id="ex9-00"), colab,
             nbformat.v4.new_code_cell(IMPORTS[language], id="ex9-01"),
             nbformat.v4.new_markdown_cell(question, id="ex9-02"),
             nbformat.v4.new_code_cell(PROMPT[language] + ANSWER, id="ex9-03", metadata={"tags": ["solution"]}),
             nbformat.v4.new_code_cell(CHECK, id="ex9-q1-check", metadata={"tags": ["check", "points-1"]}),
             nbformat.v4.new_markdown_cell(end, id="ex9-end")]
    return nbformat.v4.new_notebook(cells=cells, metadata=existing.metadata)


def _run(course, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(course),  # the copy's d2l_local, not the checkout's
               PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))  # its kernel
    result = subprocess.run([*args], cwd=course, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


def _hand_in(course, student: str, answer: str) -> None:
    """The student release's notebook with the answer cell filled in, where nbgrader's collect puts it."""
    nb = nbformat.read(course / "release" / "lenet-en" / f"{NAME}.ipynb", as_version=4)
    (cell,) = [cell for cell in nb.cells if cell.get("id") == "ex9-03"]
    cell.source = answer
    folder = course / "submitted" / student / "lenet-en"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{NAME}.ipynb")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of what the recipe touches: the notebooks, the package and the tools."""
    copy = tmp_path_factory.mktemp("add_exercise")
    for folder in ("notebooks", "d2l_local", "tools"):
        shutil.copytree(REPO / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy)  # the project's settings (mutmut reads them in a mutated copy)
    return copy


def test_a_new_exercise_syncs_releases_and_grades(course):
    # Steps 1 and 2: the English notebook and its verdict.
    nbformat.write(_notebook("en"), course / "notebooks" / "en" / f"{NAME}.ipynb")
    _add_verdict(course / "tools" / "instructor" / "grading" / "verdicts.py")
    # Step 3: outputs stored, the Chinese twin, its outputs copied, the package synced.
    _run(course / "notebooks" / "en", sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
         "--inplace", f"{NAME}.ipynb")
    executed = nbformat.read(course / "notebooks" / "en" / f"{NAME}.ipynb", as_version=4)
    (check,) = [cell for cell in executed.cells if cell.get("id") == "ex9-q1-check"]
    assert [output.get("text") for output in check.outputs] == ["Question 1: right.\n"]
    nbformat.write(_notebook("zh"), course / "notebooks" / "zh" / f"{NAME}.ipynb")
    _run(course, sys.executable, "tools/maintainer/sync_zh_outputs.py", f"{NAME}.ipynb")
    twin = nbformat.read(course / "notebooks" / "zh" / f"{NAME}.ipynb", as_version=4)
    assert [c.outputs for c in twin.cells if c.cell_type == "code" and c.id != "ex9-q1-check"] == \
           [c.outputs for c in executed.cells if c.cell_type == "code" and c.id != "ex9-q1-check"]
    (zh_check,) = [cell for cell in twin.cells if cell.get("id") == "ex9-q1-check"]
    assert [output.get("text") for output in zh_check.outputs] == ["问题 1：正确。\n"]  # as the Chinese kernel says it
    _run(course, sys.executable, "tools/maintainer/sync_d2l_local.py")
    _run(course, sys.executable, "tools/maintainer/sync_d2l_local.py", "--check")

    # Step 5: the release, as a class gets it, and grading.
    out = course / "build" / "release"
    built = _run(course, sys.executable, "tools/instructor/release.py", "build", "--out", str(out))
    assert f"{NAME} 1 pt" in built.stdout
    for language in ("en", "zh"):
        student = (out / "student" / "notebooks" / language / f"{NAME}.ipynb").read_text(encoding="utf-8")
        assert "lenet_variant" not in student and "BEGIN HIDDEN TESTS" not in student  # no solution, no grader
        assert "check_question_1" in student  # the public check stays
        assert json.dumps(PROMPT[language].strip(), ensure_ascii=False)[1:-1] in student  # the answer cell's prompt
    graders = out / "course"
    _hand_in(graders, "ann", ANSWER)
    _hand_in(graders, "bob", TOO_LARGE)
    _run(course, sys.executable, "tools/instructor/release.py", "grade", "--course", str(graders),
         "--student", "ann", "--student", "bob")
    with open(graders / "grades.csv", encoding="utf-8") as file:
        rows = {row["student"]: row for row in csv.DictReader(file) if row["notebook"] == NAME}
    assert {student: (row["checks_score"], row["checks_max"], row["error"]) for student, row in rows.items()} == {
        "ann": ("1.0", "1", ""), "bob": ("0.0", "1", "")}
    feedback = (graders / "feedback" / "bob" / "lenet-en" / f"{NAME}.html").read_text(encoding="utf-8")
    assert "Question 1: not yet: your net has 61,706 parameters; the budget is at most 20,000" in feedback
