"""Grading a student cannot game or use against others (tools/instructor/release.py grade, tools/instructor/grading/).

A class of hostile submissions is graded for real, with nbgrader and the sandbox: answers that
patch the checks, drop the grader's variable, swallow errors, forge a training run, train on
the wrong data set, reach for other students' files and the grades, start a process that
outlives the kernel, loop for ever or delete a check cell. Each must earn only what it did,
and leave every other student's files and grades as they were.
"""
from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
import sys
import time

import nbformat
import pytest

from conftest import REPO, skip_if_missing

sys.path.insert(0, str(REPO))
from tools.instructor import release as release_tool  # noqa: E402
from tools.instructor.grading import sandbox  # noqa: E402

EX1, EX2, EX3, EX4 = "lenet_ex1_max_pooling", "lenet_ex2_improve", "lenet_ex3_mnist", "lenet_ex4_feature_maps"
MARKER = "lenet-grading-intruder"  # in the command line of the process the intruder leaves behind
HIDDEN_BLOCK = re.compile(r"^### BEGIN HIDDEN TESTS\n(.*?)^### END HIDDEN TESTS", re.S | re.M)

pytestmark = pytest.mark.slow


def _answers(name: str) -> dict[str, str]:
    """The worked solutions' code, by cell id."""
    nb = nbformat.read(REPO / "notebooks" / "en" / f"{name}.ipynb", as_version=4)
    return {c.id: c.source for c in nb.cells if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])}


def _edited(name: str, cell_id: str, old: str, new: str) -> dict[str, str]:
    answers = _answers(name)
    assert answers[cell_id].count(old) == 1, (cell_id, old)
    answers[cell_id] = answers[cell_id].replace(old, new)
    return answers


CHEAT = """\
import os
os.environ.pop('NBGRADER_EXECUTION', None)   # public checks no longer raise
d2l.checks.check_pooling = lambda *args, **kwargs: None
d2l.check_answer = lambda question, check: print(f'Question {question}: right.')
get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)   # every error swallowed
"""


def _patched_checks() -> dict[str, str]:
    """3x3 max pooling (same shapes, same parameters), the average-pooling run as max_history, checks patched."""
    answers = _edited(EX1, "ex1-03", "def max_lenet():", CHEAT + "def max_lenet():")
    answers["ex1-03"] = answers["ex1-03"].replace("nn.MaxPool2d(kernel_size=2, stride=2)",
                                                  "nn.MaxPool2d(kernel_size=3, stride=2, padding=1)")
    answers["ex1-10"] = "max_history = avg_history"
    return answers


def _forged_history() -> dict[str, str]:
    """Exercise 2's design, never trained, with a run written by hand."""
    answers = _answers(EX2)
    answers["ex2-22"] = ("history = d2l.TrainHistory(num_epochs=10, device='cpu', test_acc=[0.95] * 10, "
                         "train_loss=[0.1] * 10, train_acc=[0.97] * 10, epoch=list(range(1, 11)), steps=2350, "
                         "status='finished')")
    return answers


def _wrong_data_set() -> dict[str, str]:
    """Exercise 3 trained on Fashion-MNIST instead of MNIST."""
    answers = _answers(EX3)
    fashion = "clothes_train, clothes_test = d2l.load_data_fashion_mnist(batch_size=256)\n"
    for cell_id in ("ex3-06", "ex3-09"):
        answers[cell_id] = fashion + answers[cell_id].replace("train_iter, test_iter", "clothes_train, clothes_test")
    return answers


def _intruder(course) -> dict[str, str]:
    """Exercise 4 done right, then a cell that reaches for everything it must not touch."""
    victim = course / "submitted" / "honest" / "lenet-en" / f"{EX4}.ipynb"
    targets = {"victim": victim, "grades": course / "grades.csv", "gradebook": course / "gradebook.db",
               "source": course / "source" / "lenet-en" / f"{EX4}.ipynb", "solutions": REPO / "notebooks" / "en"
               / f"{EX4}.ipynb", "work": course / "work" / "honest" / "saved"}
    answers = _answers(EX4)
    answers["ex4-12"] += f"""
import subprocess, sys
for what, path in {({k: str(v) for k, v in targets.items()})!r}.items():
    for action in ('read', 'write'):
        try:
            if action == 'read':
                open(path, 'rb').read(10)
            else:
                open(path, 'w').write('{{"cells": []}}')
            print(what, action, 'ALLOWED')
        except OSError as error:
            print(what, action, 'refused:', type(error).__name__)
later = "import time; time.sleep(6); open({str(course / 'grades.csv')!r}, 'w').write('intruder,all,99')"
subprocess.Popen([sys.executable, '-c', later, '{MARKER}'], start_new_session=True)
"""
    return answers


def _hand_in(course, student: str, name: str, answers: dict[str, str], drop: str = "") -> None:
    folder = course / "submitted" / student / "lenet-en"
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(course / "release" / "lenet-en" / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.get("id") in answers:
            cell.source = answers[cell.id]
    nb.cells = [cell for cell in nb.cells if cell.get("id") != drop]
    nbformat.write(nb, folder / f"{name}.ipynb")


def _grade(course, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "tools" / "instructor" / "release.py"), "grade", "--course", str(course),
                           *args], capture_output=True, text=True, timeout=3000)


def _rows(course) -> dict[tuple[str, str], dict]:
    with open(course / "grades.csv", encoding="utf-8") as file:
        return {(row["student"], row["notebook"]): row for row in csv.DictReader(file)}


def _digest(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _left_behind() -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if MARKER in line and "ps -eo" not in line]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Build the releases, hand in an honest class and a hostile one, grade everyone on 2,000 examples per split."""
    problem = sandbox.problem()
    skip_if_missing(problem and f"the grading sandbox cannot run here: {problem}")
    out = tmp_path_factory.mktemp("integrity")
    result = subprocess.run([sys.executable, str(REPO / "tools" / "instructor" / "release.py"), "build", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    course = out / "course"
    _hand_in(course, "honest", EX1, _answers(EX1))
    _hand_in(course, "honest", EX4, _answers(EX4))
    honest = _grade(course, "--student", "honest", "--max-examples", "2000")
    assert honest.returncode == 0, honest.stdout + honest.stderr
    before = {"files": _digest(course / "submitted" / "honest"), "rows": _rows(course)}
    _hand_in(course, "patched", EX1, _patched_checks())
    _hand_in(course, "forger", EX2, _forged_history())
    _hand_in(course, "clothes", EX3, _wrong_data_set())
    _hand_in(course, "intruder", EX4, _intruder(course))
    _hand_in(course, "deleter", EX4, _answers(EX4), drop="ex4-q1-check")
    _hand_in(course, "looper", EX1, _edited(EX1, "ex1-03", "def max_lenet():", "while True:\n    pass\n\n\ndef max_lenet():"))
    started = time.monotonic()
    hostile = _grade(course, "--max-examples", "2000", "--timeout", "90", *[arg for student in
                     ("patched", "forger", "clothes", "intruder", "deleter", "looper") for arg in ("--student", student)])
    assert hostile.returncode == 0, hostile.stdout + hostile.stderr
    time.sleep(max(0.0, 8 - (time.monotonic() - started)))  # past the intruder's 6-second delay, had it survived
    return course, before, hostile


def _score(rows, student: str, name: str) -> float:
    return float(rows[student, name]["checks_score"])


def _feedback(course, student: str, name: str) -> str:
    return (course / "feedback" / student / "lenet-en" / f"{name}.html").read_text(encoding="utf-8")


def test_honest_work_gets_full_marks(graded):
    course, before, _ = graded
    assert (_score(before["rows"], "honest", EX1), _score(before["rows"], "honest", EX4)) == (3, 2)
    assert "Question 1: right." in _feedback(course, "honest", EX4)


def test_patched_checks_and_a_borrowed_run_earn_nothing(graded):
    course, _, _ = graded
    assert _score(_rows(course), "patched", EX1) == 0
    feedback = _feedback(course, "patched", EX1)
    assert "layer 2 pools with kernel_size=3, stride=2; the question asks for kernel_size=2, stride=2" in feedback
    assert "max_history is not the run that d2l.set_seed(0), then training max_lenet()" in feedback


def test_a_forged_training_run_earns_only_the_design(graded):
    course, _, _ = graded
    assert _score(_rows(course), "forger", EX2) == 2  # question 1, the network and recipe, is right
    assert re.search(r"history ends at 0\.9500 test accuracy, but the grader measures your trained net at 0\.\d{4}",
                     _feedback(course, "forger", EX2))


def test_training_on_the_wrong_data_set_earns_nothing(graded):
    course, _, _ = graded
    assert _score(_rows(course), "clothes", EX3) == 0
    feedback = _feedback(course, "clothes", EX3)
    assert "lenet_history is not the run that d2l.set_seed(0), then training d2l.lenet() on MNIST" in feedback
    autograded = nbformat.read(course / "autograded" / "clothes" / "lenet-en" / f"{EX3}.ipynb", as_version=4)
    assert "but the grader measures the trained net at" in "".join(
        o.get("text", "") for c in autograded.cells for o in c.get("outputs", []))


def test_an_intruder_touches_nothing_and_leaves_no_process(graded):
    course, before, _ = graded
    assert _score(_rows(course), "intruder", EX4) == 2  # its own answer is right
    autograded = nbformat.read(course / "autograded" / "intruder" / "lenet-en" / f"{EX4}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in autograded.cells for o in c.get("outputs", []))
    assert "ALLOWED" not in printed and printed.count("refused:") == 12, printed
    assert _digest(course / "submitted" / "honest") == before["files"]
    rows = _rows(course)
    assert {key: row for key, row in rows.items() if key[0] == "honest"} == before["rows"]
    assert not any(key[0] == "intruder" and key[1] == "all" for key in rows)
    assert _left_behind() == []


def test_a_deleted_check_cell_is_named_and_earns_nothing(graded):
    course, _, _ = graded
    assert _score(_rows(course), "deleter", EX4) == 0
    assert "The check cell of question 1 is missing from your notebook" in _feedback(course, "deleter", EX4)


def test_an_endless_loop_is_stopped_at_the_limit_with_a_reason(graded):
    course, _, hostile = graded
    row = _rows(course)["looper", EX1]
    assert row["error"].startswith("stopped at the time limit of 90 s") and float(row["checks_score"]) == 0
    assert int(row["seconds"]) < 90 + release_tool.GRACE
    assert "Grading stopped this notebook at its time limit of 90 s" in _feedback(course, "looper", EX1)
    assert "stopped at the time limit of 90 s" in hostile.stdout


def test_no_feedback_shows_a_hidden_test(graded):
    course, _, _ = graded
    hidden = {line.strip() for path in (course / "source" / "lenet-en").glob("*.ipynb")
              for cell in nbformat.read(path, as_version=4).cells for block in HIDDEN_BLOCK.findall(cell.source)
              for line in block.splitlines() if len(line.strip()) >= 12}
    assert hidden
    pages = list((course / "feedback").rglob("*.html"))
    assert len(pages) >= 7
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "HIDDEN TESTS" not in text and "grading.export" not in text, page


def test_feedback_is_released_for_submissions_placed_by_hand(graded, tmp_path):
    course, _, _ = graded
    result = subprocess.run([sys.executable, "-m", "nbgrader", "release_feedback", "lenet-en",
                             f"--Exchange.root={tmp_path}"], cwd=course, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list((tmp_path / "lenet" / "feedback").glob("*.html"))) >= 7


def test_an_empty_course_says_there_is_nothing_to_grade(tmp_path):
    (tmp_path / "source" / "lenet-en").mkdir(parents=True)
    result = _grade(tmp_path)
    assert result.returncode == 0 and "no submissions yet" in result.stderr
    assert "nbgrader" not in result.stderr.replace(f"{tmp_path}", "").replace("nbgrader collect", "")
