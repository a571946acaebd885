"""Build the course's releases with nbgrader, and grade what students hand in.

    python tools/release.py build [--out DIR]     # default DIR: build/release (git-ignored)
    python tools/release.py grade [--course DIR] [--assignment lenet-en] [--student ID ...] [--max-examples N]

``build`` writes, for English and Chinese:

* ``DIR/instructor/notebooks/{en,zh}/``: the course's notebooks as they are, with the worked
  solutions, the hidden checks and the rubrics of the written answers (the instructor edition);
* ``DIR/course/``: an nbgrader course folder, what the grader needs: ``nbgrader_config.py``,
  ``source/lenet-{en,zh}/`` (the notebooks with nbgrader's cell metadata), the gradebook
  ``gradebook.db`` and nbgrader's ``release/lenet-{en,zh}/``;
* ``DIR/student/notebooks/{en,zh}/``: a copy of that release to hand out: no solution, no
  hidden check, no output and no widget state, and the public checks in place.

The course marks its cells with tags, which this tool turns into nbgrader's metadata:
``solution`` (an answer cell: code the student writes, or a written answer), ``check`` (a
code cell of public checks, graded automatically; a ``### BEGIN HIDDEN TESTS`` block in it
is left out of the release) and ``points-N`` (the points of a check, or of a written answer
graded by hand, which is then also graded). nbgrader (``generate_assignment``) writes the release.

``grade`` autogrades every notebook that a student handed in, one nbgrader process per
notebook, so that a notebook that is not valid, is empty, raises or runs longer than
``--timeout`` seconds (300 by default) gets its own error and the others are still graded.
Submissions sit where nbgrader's ``collect`` puts them, ``course/submitted/STUDENT/ASSIGNMENT/``.
The exercises whose questions are about code rather than a trained result are graded on the
first ``D2L_MAX_EXAMPLES`` examples of each split (``SUBSET``), so each takes well under a
minute. Each student's saved networks go to ``course/work/STUDENT/``. Then nbgrader writes the
feedback (``course/feedback/``) and this tool the grades (``course/grades.csv``; grading
some students again replaces their rows and keeps the others).
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
DEFAULT_OUT = REPO / "build" / "release"
LANGUAGES = ("en", "zh")
COURSE_ID = "lenet"
POINTS_TAG = re.compile(r"points-(\d+)$")
# Examples per split while grading the exercises whose questions are about code, not a trained
# result (exercise 2's accuracy question needs the whole data set).
SUBSET = {"lenet_ex1_max_pooling": 2000, "lenet_ex3_mnist": 2000, "lenet_ex4_feature_maps": 2000}
STUBS = {
    "en": {"code": "# Your answer here: write the code that the question above asks for.",
           "text": "*Your answer here.*"},
    "zh": {"code": "# 在这里写出你的解答：上面的问题要求的代码。",
           "text": "*在这里写下你的回答。*"},
}
CONFIG = """\
# nbgrader's settings for this course, written by tools/release.py.
c = get_config()
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}
c.Execute.timeout = {timeout}  # seconds per cell; tools/release.py also limits each notebook
c.ClearSolutions.code_stub = {{'python': {code!r}}}
c.ClearSolutions.text_stub = {text!r}
"""


def assignment(language: str) -> str:
    """nbgrader's name for the course in ``language``."""
    return f"{COURSE_ID}-{language}"


def points(cell: nbformat.NotebookNode) -> int | None:
    """The points that a ``points-N`` tag gives ``cell``, or None."""
    found = [int(m.group(1)) for tag in cell.metadata.get("tags", []) if (m := POINTS_TAG.match(tag))]
    if len(found) > 1:
        raise ValueError(f"cell {cell.get('id')!r} has {len(found)} points tags")
    return found[0] if found else None


def nbgrader_metadata(cell: nbformat.NotebookNode) -> dict | None:
    """nbgrader's metadata for a course cell, read from its tags; None for a cell nbgrader leaves alone."""
    tags = set(cell.metadata.get("tags", []))
    value, grade_id = points(cell), cell.get("id")
    base = {"schema_version": 3, "grade_id": grade_id, "task": False}
    if "check" in tags:
        if cell.cell_type != "code" or value is None or "solution" in tags:
            raise ValueError(f"cell {grade_id!r}: a check is a code cell with a points-N tag and no solution tag")
        return {**base, "grade": True, "solution": False, "locked": True, "points": value}
    if "solution" in tags:
        if cell.cell_type not in ("code", "markdown"):
            raise ValueError(f"cell {grade_id!r} is tagged solution but is a {cell.cell_type} cell")
        graded = value is not None
        if graded and cell.cell_type == "code":
            raise ValueError(f"cell {grade_id!r}: code answers are graded by their check cells, not by points")
        return {**base, "grade": graded, "solution": True, "locked": False, **({"points": value} if graded else {})}
    if value is not None:
        raise ValueError(f"cell {grade_id!r} has points but is neither a check nor a solution")
    return None


def to_source(nb: nbformat.NotebookNode) -> int:
    """Turn ``nb`` into nbgrader's source, in place; return its total points.

    Tagged cells get nbgrader's metadata. A markdown solution cell without points is prose
    of a worked solution that answers no question (nbgrader only blanks markdown that it
    grades): it is left out here and stays in the instructor edition.
    """
    total, kept = 0, []
    for cell in nb.cells:
        meta = nbgrader_metadata(cell)
        if meta is not None:
            if cell.cell_type == "markdown" and not meta["grade"]:
                continue
            cell.metadata["nbgrader"] = meta
            total += meta.get("points", 0)  # only graded cells have points
        kept.append(cell)
    nb.cells = kept
    return total


def _nbgrader(course: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``course`` in its own process group, killed whole after ``timeout`` seconds."""
    process = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # nbgrader and the kernels it started
        out, _ = process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, out, None)


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, with this checkout's d2l_local first on the path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    env.update(extra or {})
    return env


def build(out: Path, notebooks: Path = NOTEBOOKS, timeout: int = 300) -> dict[str, dict[str, int]]:
    """Write the instructor edition, nbgrader's course folder and the student release; return points per notebook."""
    if out.exists():
        shutil.rmtree(out)
    course = out / "course"
    totals: dict[str, dict[str, int]] = {}
    for language in LANGUAGES:
        sources = sorted((notebooks / language).glob("*.ipynb"))
        if not sources:
            raise FileNotFoundError(f"no notebooks found in {notebooks / language}")
        instructor = out / "instructor" / "notebooks" / language
        source = course / "source" / assignment(language)
        for folder in (instructor, source):
            folder.mkdir(parents=True)
        for path in sources:
            shutil.copy2(path, instructor / path.name)
            nb = nbformat.read(path, as_version=4)
            totals.setdefault(language, {})[path.stem] = to_source(nb)
            nbformat.write(nb, source / path.name)
        (course / "nbgrader_config.py").write_text(CONFIG.format(
            course_id=COURSE_ID, root=str(course.resolve()), timeout=timeout,
            code=STUBS[language]["code"], text=STUBS[language]["text"]), encoding="utf-8")
        result = _nbgrader(course, "generate_assignment", assignment(language), "--force", env=_environment())
        if result.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {assignment(language)} failed:\n{result.stdout}")
        shutil.copytree(course / "release" / assignment(language), out / "student" / "notebooks" / language)
    return totals


@dataclass
class Graded:
    """One handed-in notebook: its score on the automatic checks, or the error that stopped its grading.

    ``written`` is the points of the written answers, which the instructor grades by hand
    (nbgrader's formgrader) and which ``score`` does not count.
    """

    student: str
    notebook: str
    score: float | None
    max_score: float
    written: float
    error: str = ""


def graded_notebooks(course: Path, assignment_id: str) -> dict[str, tuple[float, float]]:
    """Each notebook of the assignment that has graded cells: (points of its checks, points of its written answers)."""
    found = {}
    for path in sorted((course / "source" / assignment_id).glob("*.ipynb")):
        meta = [c.metadata["nbgrader"] for c in nbformat.read(path, as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("grade")]
        if meta:
            found[path.stem] = (sum(m["points"] for m in meta if not m["solution"]),
                                sum(m["points"] for m in meta if m["solution"]))
    return found


def _problem(path: Path) -> str:
    """Why ``path`` cannot be graded (an empty file, not a notebook, no cells), or ''."""
    if path.stat().st_size == 0:
        return "the file is empty"
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # any reason a file is not a notebook, said in the error's own words
        return f"not a valid notebook ({type(error).__name__}: {str(error).splitlines()[0][:200]})"
    return "" if nb.cells else "the notebook has no cells"


def _code_score(course: Path, assignment_id: str, student: str, notebook: str) -> float:
    """The points the notebook's checks earned, from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return gradebook.find_submission_notebook(notebook, assignment_id, student).code_score


def _raised(course: Path, assignment_id: str, student: str, notebook: str) -> str:
    """The first error that the student's own cells (not the checks) raised while grading, or ''."""
    path = course / "autograded" / student / assignment_id / f"{notebook}.ipynb"
    for cell in nbformat.read(path, as_version=4).cells if path.exists() else []:
        grade = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and not grade.get("grade"):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    return f"cell {cell.get('id')!r} raised {output.ename}: {output.evalue}"
    return ""


def grade(course: Path, assignment_id: str, students: Sequence[str] = ("*",), timeout: int = 300,
          max_examples: int | None = None) -> list[Graded]:
    """Autograde each notebook handed in for ``assignment_id`` on its own; write feedback and grades.csv.

    ``students`` are IDs or glob patterns. ``max_examples`` grades every notebook on that many
    examples per split instead of ``SUBSET``'s (a quick dry run: a question about a trained
    result, such as exercise 2's accuracy, then fails).
    """
    submitted = course / "submitted"
    results = []
    notebooks = graded_notebooks(course, assignment_id)
    folders = {folder for pattern in students for folder in submitted.glob(f"{pattern}/{assignment_id}")}
    for folder in sorted(folders):
        student = folder.parent.name
        for name, (max_score, written) in notebooks.items():
            path = folder / f"{name}.ipynb"
            problem = _problem(path) if path.exists() else "not handed in"
            if problem:
                results.append(Graded(student, name, None, max_score, written, problem))
                continue
            # Each student's saved networks go to their own work folder: exercise 3 then trains the
            # design that the same student's exercise 2 saved, and the instructor's own are left alone.
            extra = {"D2L_WORK_DIR": str(course / "work" / student)}
            examples = max_examples or SUBSET.get(name)
            if examples:
                extra["D2L_MAX_EXAMPLES"] = str(examples)
            env = _environment(extra)
            try:
                result = _nbgrader(course, "autograde", assignment_id, f"--student={student}", f"--notebook={name}",
                                   "--force", env=env, timeout=timeout)
            except subprocess.TimeoutExpired:
                results.append(Graded(student, name, None, max_score, written,
                                      f"grading ran longer than {timeout} s and was stopped"))
                continue
            if result.returncode != 0:
                last = [line for line in result.stdout.splitlines() if line.strip()][-3:]
                results.append(Graded(student, name, None, max_score, written, "nbgrader failed: " + " | ".join(last)))
                continue
            results.append(Graded(student, name, _code_score(course, assignment_id, student, name), max_score, written,
                                  _raised(course, assignment_id, student, name)))
    for pattern in students:
        feedback = _nbgrader(course, "generate_feedback", assignment_id, f"--student={pattern}", "--force",
                             env=_environment())
        if feedback.returncode != 0:
            print(f"nbgrader generate_feedback failed; the grades below stand:\n{feedback.stdout}", file=sys.stderr)
    write_grades(course / "grades.csv", results)
    return results


GRADE_COLUMNS = ["student", "notebook", "checks_score", "checks_max", "written_max", "error"]


def write_grades(path: Path, results: list[Graded]) -> None:
    """Write ``results`` into the grades table at ``path``, keeping the rows of notebooks not graded this time."""
    rows = {}
    if path.exists():
        with open(path, newline="", encoding="utf-8") as file:
            rows = {(row["student"], row["notebook"]): row for row in csv.DictReader(file)}
    for result in results:
        rows[result.student, result.notebook] = {
            "student": result.student, "notebook": result.notebook,
            "checks_score": "" if result.score is None else result.score, "checks_max": result.max_score,
            "written_max": result.written, "error": result.error}
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, GRADE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows[key] for key in sorted(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="write the instructor edition, the grader's course folder "
                                                     "and the student release, in English and Chinese")
    build_parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                              help=f"output folder, replaced if it exists (default: {DEFAULT_OUT.relative_to(REPO)})")
    grade_parser = commands.add_parser("grade", help="autograde the handed-in notebooks, write feedback and grades")
    grade_parser.add_argument("--course", type=Path, default=DEFAULT_OUT / "course",
                              help="the course folder that build wrote (default: build/release/course)")
    grade_parser.add_argument("--assignment", default=assignment("en"), choices=[assignment(x) for x in LANGUAGES])
    grade_parser.add_argument("--student", action="append", help="student ID or glob; may be given several times "
                                                                  "(default: every student)")
    grade_parser.add_argument("--timeout", type=int, default=300, help="seconds per notebook (default: 300)")
    grade_parser.add_argument("--max-examples", type=int, help="a quick dry run: grade every notebook on this many "
                                                                "examples per split (exercise 2's accuracy then fails)")
    args = parser.parse_args(argv)
    if args.command == "grade" and args.max_examples is not None and args.max_examples < 1:
        parser.error(f"--max-examples must be a positive number of examples, got {args.max_examples}")
    if args.command == "build":
        totals = build(args.out)
        for language, per_notebook in totals.items():
            print(f"{assignment(language)}: " + ", ".join(f"{name} {value} pt" for name, value in per_notebook.items()))
        print(f"student release: {args.out / 'student' / 'notebooks'}; instructor edition: "
              f"{args.out / 'instructor' / 'notebooks'}; grader: {args.out / 'course'}")
        return 0
    results = grade(args.course.resolve(), args.assignment, args.student or ["*"], args.timeout, args.max_examples)
    for row in results:
        score = "-" if row.score is None else f"{row.score:g}"
        print(f"{row.student:20s} {row.notebook:26s} checks {score:>3s} / {row.max_score:g}, "
              f"written answers ({row.written:g} points) to grade by hand" +
              (f"  {row.error}" if row.error else ""))
    print(f"grades: {args.course / 'grades.csv'}; feedback: {args.course / 'feedback'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
