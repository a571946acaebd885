"""Build the course's releases with nbgrader, and grade what students hand in.

    python tools/instructor/release.py build [--out DIR]     # default DIR: build/release (git-ignored)
    python tools/instructor/release.py grade [--course DIR] [--assignment lenet-en] [--student ID ...] [--notebook NAME ...]
                                             [--max-examples N]

``build`` writes, for English and Chinese:

* ``DIR/instructor/notebooks/{en,zh}/``: the course's notebooks as they are, with the worked
  solutions, the hidden checks and the rubrics of the written answers (the instructor edition);
* ``DIR/course/``: an nbgrader course folder, what the grader needs: ``nbgrader_config.py``,
  ``source/lenet-{en,zh}/`` (the notebooks with nbgrader's cell metadata, and the figures and
  files they link to, so that an assignment fetched from an exchange stands on its own), the
  gradebook ``gradebook.db`` and nbgrader's ``release/lenet-{en,zh}/``;
* ``DIR/student/``: a copy of that release to hand out, ``notebooks/{en,zh}/``: no solution, no
  hidden check, no output and no widget state, and the public checks in place; and
  ``DIR/lenet-course-student.zip``, the same folder zipped, which opens and runs on its own once
  unpacked.

The course marks its cells with tags, which this tool turns into nbgrader's metadata:
``solution`` (an answer cell: code the student writes, or a written answer; a code answer
starts with comment lines saying what goes in it, which the release keeps above the stub),
``demo`` (with ``solution``: a cell of the worked solution that answers no question of its
own, such as an extra plot; left out of the release), ``check`` (a
code cell of public checks, graded automatically; a ``### BEGIN HIDDEN TESTS`` block in it
is left out of the release) and ``points-N`` (the points of a check, or of a written answer
graded by hand, which is then also graded). nbgrader (``generate_assignment``) writes the release.

``grade`` autogrades every notebook that a student handed in, one nbgrader process per
notebook, each kernel in a sandbox (``tools/instructor/grading/sandbox.py``) that sees no other student's
files, the sources or the gradebook, and writes only the student's ``course/work/STUDENT/``.
``--timeout`` is each notebook's whole time limit (every cell may use what is left of it).
The check cells' hidden parts export the answers as data; a fresh process judges them
(``tools/instructor/grading/verdicts.py``), and those verdicts, not what the student's kernel printed,
become the scores in nbgrader's gradebook and the messages in the feedback; they, and the
grader's own notes at the top of a feedback notebook (``NOTES``), are in the assignment's
language (``lenet-zh``: Chinese), while grades.csv and what is printed stay English for the
instructor. Submissions sit where nbgrader's ``collect`` puts them,
``course/submitted/STUDENT/ASSIGNMENT/``. The exercises whose questions are about code
rather than a trained result are graded on the first ``D2L_MAX_EXAMPLES`` examples of each
split (``SUBSET``). Then nbgrader writes the feedback (``course/feedback/``) and this tool the
grades (``course/grades.csv``, from the gradebook; grading some students again replaces their
rows and keeps the others).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat

if __package__ in (None, ""):  # run as a script: make this checkout's tools/ and d2l_local importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from d2l_local.datasets import DATA_DIR_ENV  # noqa: E402
from d2l_local.messages import LANGUAGE_ENV  # noqa: E402
from d2l_local.exercises.grading import GRADING_DIR_ENV  # noqa: E402
from tools.instructor.grading import sandbox, verdicts  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
DEFAULT_OUT = REPO / "build" / "release"
LANGUAGES = ("en", "zh")
COURSE_ID = "lenet"
POINTS_TAG = re.compile(r"points-(\d+)$")
# Examples per split while grading the exercises whose questions are about code, not a trained
# result (exercise 2's accuracy question needs the whole data set).
SUBSET = {"lenet_ex1_max_pooling": 2000, "lenet_ex3_mnist": 2000, "lenet_ex4_feature_maps": 2000}
STUDENT_ZIP = "lenet-course-student.zip"  # the student release, zipped, in the build folder
PROMPT = re.compile(r"\A(?:#[^\n]*\n)+")  # an answer cell's leading comment lines: what goes in it
STUBS = {
    "en": {"code": "# Your answer here: write the code that the question above asks for.",
           "text": "*Your answer here.*"},
    "zh": {"code": "# 在这里写出你的解答：上面的问题要求的代码。",
           "text": "*在这里写下你的回答。*"},
}
# What the grader itself writes into a student's feedback, in the language of the assignment graded
# (``note``); the verdicts' own messages are in d2l_local/messages.py and grading/verdicts.py.
NOTES: dict[str, dict[str, str]] = {
    "heading": {"en": "**Notes from the grader**", "zh": "**评分说明**"},
    "missing_check": {"en": "The check cell of question {question} is missing from your notebook, so question "
                            "{question} got no points. Fetch the assignment again and copy your answers into it.",
                      "zh": "你的笔记本中缺少问题 {question} 的检查单元格，所以问题 {question} 没有得分。"
                            "请重新获取作业，再把你的解答复制进去。"},
    "stopped": {"en": "Grading stopped this notebook at its time limit of {timeout} s: the cell running then and the "
                      "cells after it were cut short (CellTimeoutError), and questions checked after that got no "
                      "points.",
                "zh": "这个笔记本运行到 {timeout} 秒的时间限制时被评分程序停止：当时正在运行的单元格及其后的单元格"
                      "都被中断（CellTimeoutError），在此之后检查的问题没有得分。"},
    "raised": {"en": "Your cell {cell!r} raised {error}: {detail}.",
               "zh": "运行你的单元格 {cell!r} 时出现异常 {error}：{detail}。"},
    "raised_bare": {"en": "Your cell {cell!r} raised {error}.",
                    "zh": "运行你的单元格 {cell!r} 时出现异常 {error}。"},
    "not_judged": {"en": "Question {question}: not judged: the grader failed ({reason})",
                   "zh": "问题 {question}：未能评判：评分程序出错（{reason}）"},
    "too_long": {"en": "it took too long", "zh": "用时过长"},
}
DEADLINE_ENV = "LENET_GRADING_DEADLINE"  # when the notebook being graded must stop (seconds since the epoch)
TIME_STOPS = ("KeyboardInterrupt", "CellTimeoutError")  # the errors of a cell cut short at the time limit
DEFAULT_TIMEOUT = 900  # seconds per notebook: about three times exercise 2's grading time here
GRACE = 60  # seconds nbgrader gets past a notebook's limit to interrupt its last cell and save what ran
# Graded kernels and verdicts both run on the CPU, where a rerun of the same training repeats exactly
# (the sandbox shows the kernel no GPU anyway). OpenMP threads that wait passively instead of spinning
# train about 2.4 times faster on a machine busy with other work, and barely slower on a quiet one.
GRADING_ENV = {"CUDA_VISIBLE_DEVICES": "", "OMP_WAIT_POLICY": "PASSIVE"}
VERDICT_TIMEOUT = 600  # seconds for judging one notebook's answers (it retrains on a subset at most)
HIDDEN_TESTS = re.compile(r"^### BEGIN HIDDEN TESTS\n.*?^### END HIDDEN TESTS\n?", re.S | re.M)
CONFIG = """\
# nbgrader's settings for this course, written by tools/instructor/release.py.
import os
import time

c = get_config()
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}


def time_left(cell):
    \"\"\"A cell may run for what is left of its notebook's time limit (tools/instructor/release.py grade sets the deadline).\"\"\"
    deadline = os.environ.get({deadline!r})
    return max(1, round(float(deadline) - time.time())) if deadline else {timeout}


c.Execute.timeout_func = time_left
c.ClearSolutions.code_stub = {{'python': {code!r}}}
c.ClearSolutions.text_stub = {text!r}
"""


def assignment(language: str) -> str:
    """nbgrader's name for the course in ``language``."""
    return f"{COURSE_ID}-{language}"


def language_of(assignment_id: str) -> str:
    """The language of the assignment ``assignment_id`` (``lenet-zh``: ``zh``); English for a name of none."""
    code = assignment_id.rsplit("-", 1)[-1]
    return code if code in LANGUAGES else "en"


def note(key: str, language: str, **values: object) -> str:
    """The grader's note ``key`` of ``NOTES`` in ``language`` (``en`` or ``zh``), filled in with ``values``."""
    return NOTES[key][language].format(**values)


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
    if "demo" in tags and "solution" not in tags:
        raise ValueError(f"cell {grade_id!r} is tagged demo but not solution")
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
    grades), and a cell tagged ``demo`` only demonstrates: both are left out here and stay in
    the instructor edition. A code answer keeps its leading comment lines (its prompt) and
    nbgrader replaces the rest with the stub.
    """
    total, kept = 0, []
    for cell in nb.cells:
        meta = nbgrader_metadata(cell)
        if meta is not None:
            if (cell.cell_type == "markdown" and not meta["grade"]) or "demo" in cell.metadata.get("tags", []):
                continue
            if cell.cell_type == "code" and meta["solution"]:
                cell.source = with_prompt(cell)
            cell.metadata["nbgrader"] = meta
            total += meta.get("points", 0)  # only graded cells have points
        kept.append(cell)
    nb.cells = kept
    return total


def own_figures(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` with its figures linked from a ``figures/`` folder beside it instead of the course's
    shared ``../figures/``: an assignment is fetched from nbgrader's exchange as one folder."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace("](../figures/", "](figures/")
    return nb


def with_prompt(cell: nbformat.NotebookNode) -> str:
    """An answer cell's source with all but its leading comment lines marked as nbgrader's solution region.

    Raises ``ValueError`` for an answer cell that does not start with a comment: the student's
    cell would otherwise not say what goes in it.
    """
    match = PROMPT.match(cell.source)
    if match is None:
        raise ValueError(f"cell {cell.get('id')!r}: an answer cell starts with comment lines that say what goes "
                         f"in it (they stay in the student release above the stub)")
    return f"{match.group(0)}### BEGIN SOLUTION\n{cell.source[match.end():]}\n### END SOLUTION"


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
    """This process's environment, with this checkout's d2l_local first on the path.

    This Python's own scripts folder comes first on PATH: nbgrader runs ``alembic`` from
    there, which a virtual environment that was not activated would not otherwise provide.
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               PATH=os.pathsep.join(filter(None, [str(Path(sys.executable).parent), os.environ.get("PATH")])))
    env.update(extra or {})
    return env


def refuse_unjudged_checks(nb: nbformat.NotebookNode, path: Path) -> None:
    """Raise ``ValueError`` for a check cell with no verdict in ``verdicts.QUESTIONS``.

    Without a verdict judged outside the student's kernel, the kernel itself would decide the
    cell's points, and a student could give them to themselves.
    """
    judged = verdicts.QUESTIONS.get(path.stem, {})
    unjudged = [cell.get("id") for cell in nb.cells
                if "check" in cell.metadata.get("tags", []) and cell.get("id") not in judged]
    if unjudged:
        raise ValueError(f"{path.parent.name}/{path.name}: no verdict for the check cell(s) "
                         f"{', '.join(map(repr, unjudged))}: add one to QUESTIONS in "
                         f"tools/instructor/grading/verdicts.py (docs/maintainers.md, 'Adding an exercise')")


def build(out: Path, notebooks: Path = NOTEBOOKS, timeout: int = DEFAULT_TIMEOUT) -> dict[str, dict[str, int]]:
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
            refuse_unjudged_checks(nb, path)
            totals.setdefault(language, {})[path.stem] = to_source(nb)
            nbformat.write(own_figures(nb), source / path.name)
        for other in sorted((notebooks / language).glob("*")):  # files the notebooks link to, such as a glossary
            if other.is_file() and other.suffix != ".ipynb":
                for folder in (instructor, source):
                    shutil.copy2(other, folder / other.name)
        if (notebooks / "figures").is_dir():
            shutil.copytree(notebooks / "figures", source / "figures")
        (course / "nbgrader_config.py").write_text(CONFIG.format(
            course_id=COURSE_ID, root=str(course.resolve()), timeout=timeout, deadline=DEADLINE_ENV,
            code=STUBS[language]["code"], text=STUBS[language]["text"]), encoding="utf-8")
        result = _nbgrader(course, "generate_assignment", assignment(language), "--force", env=_environment())
        if result.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {assignment(language)} failed:\n{result.stdout}")
        shutil.copytree(course / "release" / assignment(language), out / "student" / "notebooks" / language)
    if (notebooks / "figures").is_dir():  # the instructor edition keeps the course's own layout
        shutil.copytree(notebooks / "figures", out / "instructor" / "notebooks" / "figures")
    shutil.make_archive(str(out / STUDENT_ZIP.removesuffix(".zip")), "zip", out / "student")
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
    seconds: float = 0.0


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


@dataclass(frozen=True)
class Raised:
    """An error that a student's own cell raised while grading: the cell's id, the error's class and its message."""

    cell: str | None
    error: str
    detail: str = ""

    def __str__(self) -> str:  # for the instructor's grades.csv, in English
        return f"cell {self.cell!r} raised {self.error}" + (f": {self.detail}" if self.detail else "")

    def feedback_note(self, language: str) -> str:
        """The note on it in the student's feedback, in ``language``."""
        return note("raised" if self.detail else "raised_bare", language, cell=self.cell, error=self.error,
                    detail=self.detail)


def _raised(course: Path, assignment_id: str, student: str, notebook: str) -> Raised | None:
    """The first error that the student's own cells (not the checks) raised while grading, or None."""
    path = course / "autograded" / student / assignment_id / f"{notebook}.ipynb"
    for cell in nbformat.read(path, as_version=4).cells if path.exists() else []:
        grade = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and not grade.get("grade"):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    return Raised(cell.get("id"), output.ename, output.evalue)
    return None


def _stamp(folder: Path) -> None:
    """Give a submission placed by hand the files that nbgrader's submit and collect write.

    ``release_feedback`` needs both: ``timestamp.txt`` (the newest notebook's time is used)
    and ``submission_secret.txt`` (a fresh random one; such a student fetches no feedback
    through the exchange, but the others' is released).
    """
    stamp, secret = folder / "timestamp.txt", folder / "submission_secret.txt"
    if not stamp.exists():
        newest = max((p.stat().st_mtime for p in folder.glob("*.ipynb")), default=time.time())
        stamp.write_text(datetime.fromtimestamp(newest, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC"),
                         encoding="utf-8")
    if not secret.exists():
        secret.write_text(secrets.token_hex(64), encoding="utf-8")


@dataclass
class Scratch:
    """A student's own folders while grading: the only ones their notebooks' kernels may write."""

    root: Path

    @property
    def saved(self) -> Path:  # saved networks, kept from one notebook to the next (exercise 2 to 3)
        return self.root / "saved"

    @property
    def answers(self) -> Path:  # what the check cells export for the verdicts, emptied before each notebook
        return self.root / "answers"

    @property
    def home(self) -> Path:  # the kernel's HOME and caches, new for each notebook
        return self.root / "home"

    def prepare(self) -> None:
        """Ready for the next notebook: the saved networks kept, a new home, no answers yet."""
        sandbox.prepare(self.root)
        sandbox.prepare(self.saved)
        sandbox.clear(self.home)
        sandbox.clear(self.answers)


def _with_examples(env: dict[str, str], examples: int | None) -> dict[str, str]:
    """``env`` with D2L_MAX_EXAMPLES set to ``examples``, or without it for the whole data set."""
    env.pop("D2L_MAX_EXAMPLES", None)
    return {**env, "D2L_MAX_EXAMPLES": str(examples)} if examples else env


def _kernel_env(scratch: Scratch, examples: int | None) -> dict[str, str]:
    """What a graded kernel's environment holds besides the basics: where to save, to export, and the data."""
    env = {"PYTHONPATH": str(REPO), "D2L_WORK_DIR": str(scratch.saved), GRADING_DIR_ENV: str(scratch.answers),
           "NBGRADER_EXECUTION": "autograde", **GRADING_ENV}
    env = _with_examples(env, examples)
    if os.environ.get(DATA_DIR_ENV):
        env[DATA_DIR_ENV] = os.environ[DATA_DIR_ENV]
    return env


def _autograde(course: Path, assignment_id: str, student: str, name: str, scratch: Scratch, timeout: int,
               examples: int | None, isolated: bool) -> subprocess.CompletedProcess:
    """Run ``nbgrader autograde`` on one notebook, its kernel in the sandbox when ``isolated``.

    Every cell's time limit is what is left of the notebook's ``timeout`` (nbgrader_config.py
    reads the deadline), so a notebook stops at its limit with the cells that ran graded;
    nbgrader itself is killed ``GRACE`` seconds later if it has not finished by then.
    """
    kernel = _kernel_env(scratch, examples)
    args = ["autograde", assignment_id, f"--student={student}", f"--notebook={name}", "--force"]
    with tempfile.TemporaryDirectory(prefix="lenet-grading-") as runtime_dir:
        runtime = sandbox.prepare(Path(runtime_dir))
        extra = {DEADLINE_ENV: str(time.time() + timeout), "TMPDIR": str(runtime), "JUPYTER_RUNTIME_DIR": str(runtime)}
        if isolated:
            readable = [REPO / "d2l_local", REPO / "data", *([Path(kernel[DATA_DIR_ENV])] if DATA_DIR_ENV in kernel else [])]
            sandbox.write_kernel(runtime / "jupyter", sandbox.kernel_spec(readable, [scratch.root, runtime],
                                                                          scratch.home, kernel))
            extra["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(runtime / "jupyter"), os.environ.get("JUPYTER_PATH")]))
            args += [f"--Execute.kernel_name={sandbox.KERNEL_NAME}", "--KernelManager.transport=ipc",
                     f"--KernelManager.ip={runtime / 'kernel'}"]
        else:
            extra.update(kernel)
        return _nbgrader(course, *args, env=_with_examples(_environment(extra), examples), timeout=timeout + GRACE)


def _verdicts(name: str, scratch: Scratch, examples: int | None, language: str = "en",
              timeout: int = VERDICT_TIMEOUT) -> dict[str, dict]:
    """The grader's verdict on each checked question, judged in a fresh process from the exported answers,
    its messages in ``language``, that of the assignment."""
    env = _with_examples(_environment({**GRADING_ENV, LANGUAGE_ENV: language}), examples)
    try:
        result = subprocess.run([sys.executable, "-m", "tools.instructor.grading.verdicts", name, str(scratch.answers)],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as error:
        reason = note("too_long", language) if isinstance(error, subprocess.TimeoutExpired) \
            else result.stderr.strip()[-300:]
        return {cell_id: {"question": question, "right": False,
                          "message": note("not_judged", language, question=question, reason=reason)}
                for cell_id, (question, _) in verdicts.QUESTIONS[name].items()}


def _record(course: Path, assignment_id: str, student: str, name: str, judged: dict[str, dict],
            notes: list[str]) -> None:
    """Put the verdicts where nbgrader's feedback and gradebook read them, and the grader's notes on top.

    Each check cell's output becomes the verdict, its score in the gradebook the verdict's
    points (what the student's kernel printed or raised there counts for nothing), the hidden
    parts of check cells are removed, and a check cell missing from the notebook is named.
    """
    from nbgrader.api import Gradebook, MissingEntry

    path = course / "autograded" / student / assignment_id / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    present = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = HIDDEN_TESTS.sub("", cell.source)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in judged:
            present.add(grade_id)
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=judged[grade_id]["message"] + "\n")]
    language = language_of(assignment_id)
    for grade_id in sorted(judged.keys() - present):
        notes.append(note("missing_check", language, question=judged[grade_id]["question"]))
    if notes:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(note("heading", language) + "\n\n" +
                                                         "\n".join(f"* {line}" for line in notes)))
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IWUSR)  # nbgrader leaves autograded notebooks read-only (its permissions 444)
    nbformat.write(nb, path)
    path.chmod(mode)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for grade_id, verdict in judged.items():
            try:
                grade = gradebook.find_grade(grade_id, name, assignment_id, student)
            except MissingEntry:
                continue
            grade.auto_score = grade.max_score if verdict["right"] and grade_id in present else 0.0
        gradebook.db.commit()


def grade(course: Path, assignment_id: str, students: Sequence[str] = ("*",), timeout: int = DEFAULT_TIMEOUT,
          max_examples: int | None = None, only: Sequence[str] = ()) -> list[Graded]:
    """Autograde each notebook handed in for ``assignment_id`` on its own; write feedback and grades.csv.

    ``students`` are IDs or glob patterns; ``only`` names the notebooks to grade (default: every
    graded one). ``max_examples`` grades every notebook on that many examples per split instead
    of ``SUBSET``'s (a quick dry run: a question about a trained result, such as exercise 2's
    accuracy, then fails).
    """
    submitted = course / "submitted"
    folders = sorted({folder for pattern in students for folder in submitted.glob(f"{pattern}/{assignment_id}")})
    if not folders:
        print(f"no submissions yet: nothing in {submitted}/STUDENT/{assignment_id}/ (nbgrader collect puts them "
              f"there)", file=sys.stderr)
        return []
    unsafe = sandbox.problem()
    if unsafe:
        print(f"WARNING: submissions will run without isolation: {unsafe}. A submission can then read and change "
              f"every file this account can, other submissions and the gradebook included; the verdicts are still "
              f"judged outside its kernel.", file=sys.stderr)
    results, graded, language = [], set(), language_of(assignment_id)  # the feedback's language, the assignment's
    notebooks = graded_notebooks(course, assignment_id)
    unknown = sorted(set(only) - notebooks.keys())
    if unknown:
        raise ValueError(f"no graded notebook {', '.join(unknown)} in {assignment_id}; "
                         f"the graded ones are {', '.join(notebooks)}")
    notebooks = {name: points for name, points in notebooks.items() if name in only or not only}
    work = course / "work"
    work.mkdir(exist_ok=True)
    for folder in folders:
        student = folder.parent.name
        _stamp(folder)
        scratch = Scratch(work / student)
        for name, (max_score, written) in notebooks.items():
            path = folder / f"{name}.ipynb"
            problem = _problem(path) if path.exists() else "not handed in"
            if problem:
                results.append(Graded(student, name, None, max_score, written, problem))
                continue
            scratch.prepare()
            for earlier in (course / "autograded" / student / assignment_id / f"{name}.ipynb",
                            course / "feedback" / student / assignment_id / f"{name}.html"):
                earlier.unlink(missing_ok=True)  # no result of an earlier grading can stand for this one
            examples = max_examples or SUBSET.get(name)
            started = time.monotonic()
            try:
                result = _autograde(course, assignment_id, student, name, scratch, timeout, examples, not unsafe)
            except subprocess.TimeoutExpired:
                results.append(Graded(student, name, None, max_score, written,
                                      f"grading ran longer than {timeout} s and was stopped",
                                      time.monotonic() - started))
                continue
            if result.returncode != 0:
                last = [line for line in result.stdout.splitlines() if line.strip()][-3:]
                results.append(Graded(student, name, None, max_score, written, "nbgrader failed: " + " | ".join(last),
                                      time.monotonic() - started))
                continue
            notes, stopped = [], time.monotonic() - started >= timeout
            if stopped:
                notes.append(note("stopped", language, timeout=timeout))
            raised = _raised(course, assignment_id, student, name)
            if stopped and raised and raised.error in TIME_STOPS:
                raised = None  # the stop itself, said above
            if raised:
                notes.append(raised.feedback_note(language))
            _record(course, assignment_id, student, name, _verdicts(name, scratch, examples, language), notes)
            graded.add(student)
            error = "; ".join(filter(None, [f"stopped at the time limit of {timeout} s" if stopped else "",
                                            str(raised or "")]))
            results.append(Graded(student, name, _code_score(course, assignment_id, student, name), max_score, written,
                                  error, time.monotonic() - started))
    for student in sorted(graded):
        feedback = _nbgrader(course, "generate_feedback", assignment_id, f"--student={student}", "--force",
                             env=_environment())
        if feedback.returncode != 0:
            print(f"nbgrader generate_feedback failed; the grades below stand:\n{feedback.stdout}", file=sys.stderr)
    write_grades(course / "grades.csv", results)
    return results


GRADE_COLUMNS = ["student", "notebook", "checks_score", "checks_max", "written_max", "error", "seconds"]


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
            "written_max": result.written, "error": result.error, "seconds": round(result.seconds)}
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
    grade_parser.add_argument("--notebook", action="append", default=[],
                              help="grade only this notebook, e.g. lenet_ex1_max_pooling; may be given several times "
                                   "(default: every graded notebook)")
    grade_parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                              help=f"each notebook's whole time limit, in seconds (default: {DEFAULT_TIMEOUT})")
    grade_parser.add_argument("--max-examples", type=int, help="a quick dry run: grade every notebook on this many "
                                                                "examples per split (exercise 2's accuracy then fails)")
    args = parser.parse_args(argv)
    if args.command == "grade" and args.max_examples is not None and args.max_examples < 1:
        parser.error(f"--max-examples must be a positive number of examples, got {args.max_examples}")
    if args.command == "build":
        totals = build(args.out)
        for language, per_notebook in totals.items():
            print(f"{assignment(language)}: " + ", ".join(f"{name} {value} pt" for name, value in per_notebook.items()))
        print(f"student release: {args.out / 'student' / 'notebooks'} (zipped: {args.out / STUDENT_ZIP}); "
              f"instructor edition: "
              f"{args.out / 'instructor' / 'notebooks'}; grader: {args.out / 'course'}")
        return 0
    try:
        results = grade(args.course.resolve(), args.assignment, args.student or ["*"], args.timeout, args.max_examples,
                        args.notebook)
    except ValueError as error:
        parser.error(str(error))
    for row in results:
        score = "-" if row.score is None else f"{row.score:g}"
        print(f"{row.student:20s} {row.notebook:26s} checks {score:>3s} / {row.max_score:g}, "
              f"written answers ({row.written:g} points) to grade by hand, {row.seconds:.0f} s" +
              (f"  {row.error}" if row.error else ""))
    print(f"grades: {args.course / 'grades.csv'}; feedback: {args.course / 'feedback'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
