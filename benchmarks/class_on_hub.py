"""A class on the course hub, simulated with real accounts, real kernels and nbgrader's exchange.

    sudo python benchmarks/class_on_hub.py [--students 6] [--examples 1000] [--notebooks chapter,ex1] [--json FILE] [--log FILE]

It starts the course hub (tools/instructor/hub/course_hub.py) for a class of ``--students``
new accounts and an instructor, then everyone does what a lesson asks, through the hub's own
API, all at the same time: log in with their password, start their server, run the chapter
with ``D2L_MAX_EXAMPLES`` examples per split, fetch the assignment from the exchange, answer
exercise 1 (some right, some wrong, the last student leaves it blank) and submit. The
instructor collects, grades exercise 1 with tools/instructor/release.py, and releases the
feedback; each student fetches their own. With ``--notebooks`` naming exercises as well, all
students then run each exercise's worked solution together, to measure it.

It prints the wall time, each student's time to the chapter's first live plot, their CPU time
and peak memory per notebook, the grades against the expected ones, and a capacity table;
then it stops the hub and removes the accounts. Any failed request, wrong grade or feedback
that a student could not fetch makes it exit with 1.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import pwd
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.hub_client import HubUser  # noqa: E402
from tools.instructor.hub import course_hub, settings  # noqa: E402

GB = 10 ** 9  # as benchmarks/README and the instructors' guide count memory (and MB = 10^6 bytes)
ASSIGNMENT = "lenet-en"
CHAPTER = f"{settings.COURSE_FOLDER}/notebooks/en/lenet.ipynb"
NOTEBOOKS = {"chapter": "lenet", "ex1": "lenet_ex1_max_pooling", "ex2": "lenet_ex2_improve", "ex3": "lenet_ex3_mnist",
             "ex4": "lenet_ex4_feature_maps"}
GRADED = NOTEBOOKS["ex1"]
COURSE = "~/lenet-release/course"  # the instructor's nbgrader course folder (course_hub.py builds it there)
# Exercise 1's answers: the worked solution (right), the chapter's own net handed in as the max-pooling
# net (wrong), or nothing at all (blank). Question 1 (2 points) checks the net, question 2 (1 point)
# that max_history is a seed-0 run of the student's net, which the wrong net's run also is.
EXPECTED = {"right": 3.0, "wrong": 1.0, "blank": 0.0}
WRONG_NET = "def max_lenet():\n    return d2l.lenet()  # not yet changed: still average pooling\n"
FEEDBACK_SAYS = {"right": "Question 1: right", "wrong": "Question 1: not yet", "blank": "Question 1: not yet"}
LESSON_MINUTES = 10  # the capacity table: everyone runs a notebook once within this time
TITLES = {"chapter": "the chapter", "ex1": "exercise 1", "ex2": "exercise 2", "ex3": "exercise 3", "ex4": "exercise 4"}
USAGE = ("import resource as _r; _u = _r.getrusage(_r.RUSAGE_SELF); "
         "print(_u.ru_utime + _u.ru_stime, _u.ru_maxrss * 1024); del _r, _u")


def worked_answers(notebook: str) -> dict[str, str]:
    """Each answer cell's worked solution, from the course's own notebook (cell id to source)."""
    nb = nbformat.read(REPO / "notebooks" / "en" / f"{notebook}.ipynb", as_version=4)
    return {cell.id: cell.source for cell in nb.cells if "solution" in cell.metadata.get("tags", [])
            and cell.cell_type == "code"}


def training_cell(notebook: str) -> str:
    """The id of the chapter's cell that trains LeNet with train_ch6 (its live plot is the one timed)."""
    nb = nbformat.read(REPO / "notebooks" / "en" / f"{notebook}.ipynb", as_version=4)
    return next(cell.id for cell in nb.cells if cell.cell_type == "code" and "train_ch6(" in cell.source
                and not cell.source.lstrip().startswith(("def ", "#@save")))


class MemorySampler:
    """Every half second, the resident memory of each account's processes, and of all of them together."""

    def __init__(self, names: list[str]) -> None:
        self.uids = {psutil.Process().uids().real: "root"}
        self.uids.update({pwd.getpwnam(name).pw_uid: name for name in names})
        self.peak = {name: 0 for name in self.uids.values()}
        self.total_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            now = dict.fromkeys(self.peak, 0)
            for process in psutil.process_iter(["uids", "memory_info"]):
                owner = self.uids.get(process.info["uids"].real) if process.info["uids"] else None
                if owner and process.info["memory_info"]:
                    now[owner] += process.info["memory_info"].rss
            for name, rss in now.items():
                self.peak[name] = max(self.peak[name], rss)
            self.total_peak = max(self.total_peak, sum(rss for name, rss in now.items() if name != "root"))

    def reset(self) -> None:
        self.peak = dict.fromkeys(self.peak, 0)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Student:
    """One simulated student: how they answer, and what happened to them."""

    name: str
    answers: str  # right, wrong or blank
    user: HubUser | None = None
    spawn: float = 0.0
    first_plot: float | None = None
    notebooks: dict[str, dict] = field(default_factory=dict)  # notebook -> seconds, cpu, kernel_peak, errors
    grade: float | None = None
    feedback: str = ""


def kinds(count: int) -> list[str]:
    """How each student answers exercise 1: alternately right and wrong, the last one blank."""
    return [("right", "wrong")[i % 2] for i in range(count - 1)] + ["blank"]


def run_measured(student: Student, key: str, path: str, answers: dict[str, str] | None, examples: int,
                 plot_cell: str | None = None) -> None:
    setup = f"import os; os.environ['D2L_MAX_EXAMPLES'] = '{examples}'; del os" if examples else ""
    run = student.user.run_notebook(path, answers, setup=setup, plot_cell=plot_cell, finish=USAGE)
    cpu, peak = (float(x) for x in run.finish.split())
    student.notebooks[key] = {"seconds": run.seconds, "cpu": cpu, "kernel_peak": peak, "errors": run.errors}
    if plot_cell:
        student.first_plot = run.first_plot


def lesson(student: Student, start: threading.Barrier, examples: int) -> None:
    """Log in with everyone else, run the chapter, fetch, answer exercise 1 and submit."""
    start.wait()
    student.user.log_in()
    student.spawn = student.user.start_server()
    run_measured(student, "chapter", CHAPTER, None, examples, plot_cell=training_cell(NOTEBOOKS["chapter"]))
    student.user.assignment("fetch", ASSIGNMENT)
    path = f"{ASSIGNMENT}/{GRADED}.ipynb"
    if student.answers != "blank":
        answers = worked_answers(GRADED)
        question_1 = next(cell_id for cell_id, source in answers.items() if "def max_lenet" in source)
        question_2 = next(cell_id for cell_id, source in answers.items() if "max_history =" in source)
        chosen = {question_1: answers[question_1] if student.answers == "right" else WRONG_NET,
                  question_2: answers[question_2]}
        run_measured(student, "ex1", path, chosen, examples)
    student.user.assignment("submit", ASSIGNMENT)


def instructor_grades(instructor: HubUser, examples: int) -> str:
    """The instructor, in a kernel on their own server: collect, grade exercise 1, release the feedback."""
    instructor.log_in()
    instructor.start_server()
    instructor.save_notebook("grading.ipynb", nbformat.v4.new_notebook())
    kernel = instructor.open_kernel("grading.ipynb")
    steps = [["nbgrader", "collect", ASSIGNMENT],
             [sys.executable, str(REPO / "tools/instructor/release.py"), "grade", "--course", ".",
              "--assignment", ASSIGNMENT, "--notebook", GRADED, *(["--max-examples", str(examples)] if examples else [])],
             ["nbgrader", "release_feedback", ASSIGNMENT]]
    log = []
    try:
        for step in steps:
            outputs, error = kernel.execute(
                f"import os, subprocess\ndone = subprocess.run({step!r}, cwd=os.path.expanduser({COURSE!r}), "
                f"capture_output=True, text=True)\nprint(done.returncode)\nprint(done.stdout[-3000:])\n"
                f"print(done.stderr[-3000:])")
            text = "".join(output.get("text", "") for output in outputs)
            log.append(text)
            if error or not text.startswith("0\n"):
                instructor.failures.append(f"instructor: {' '.join(step[:3])} failed: {error or text[-1500:]}")
                break
    finally:
        kernel.close()
    return "\n".join(log)


def fetch_feedback(student: Student) -> None:
    """The student fetches their feedback and opens exercise 1's."""
    student.user.assignment("fetch_feedback", ASSIGNMENT)
    folder = f"{ASSIGNMENT}/feedback"
    if "feedback" not in student.user.listing(ASSIGNMENT):
        student.user.failures.append(f"{student.name}: fetch_feedback brought no feedback")
        return
    stamps = student.user.listing(folder)
    student.feedback = student.user.read_text(f"{folder}/{stamps[-1]}/{GRADED}.html") if stamps else ""


def worked_runs(students: list[Student], key: str, examples: int, sampler: MemorySampler) -> dict:
    """Every student runs one exercise's worked solution (the instructor edition's notebook, with its
    demonstrations) at the same time; return the peak memory of each account meanwhile."""
    notebook = NOTEBOOKS[key]
    worked = nbformat.read(REPO / "notebooks" / "en" / f"{notebook}.ipynb", as_version=4)
    for cell in worked.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    path = f"{ASSIGNMENT}/worked-{notebook}.ipynb"

    def run(student: Student) -> None:
        student.user.save_notebook(path, worked)
        run_measured(student, key, path, None, examples)

    sampler.reset()
    with ThreadPoolExecutor(len(students)) as pool:
        list(pool.map(run, students))
    return dict(sampler.peak)


def read_grades(course: Path) -> dict[str, float | None]:
    """Exercise 1's points per student, from the grades table that release.py grade wrote."""
    if not (course / "grades.csv").exists():
        return {}
    with open(course / "grades.csv", newline="", encoding="utf-8") as file:
        return {row["student"]: float(row["checks_score"]) if row["checks_score"] else None
                for row in csv.DictReader(file) if row["notebook"] == GRADED}


def simulate(hub_dir: Path, examples: int, extra: list[str]) -> dict:
    """Run the lesson for the class of a running course hub; return every figure measured."""
    people = json.loads((hub_dir / "class.json").read_text())
    with open(hub_dir / "accounts.csv", newline="", encoding="utf-8") as file:
        passwords = {row["user"]: row["password"] for row in csv.DictReader(file)}
    url = f"http://{people['ip']}:{people['port']}"
    students = [Student(name, kind, HubUser(url, name, passwords[name]))
                for name, kind in zip(people["students"], kinds(len(people["students"])))]
    instructor = HubUser(url, people["instructor"], passwords[people["instructor"]])
    peaks: dict[str, dict] = {}
    started = time.monotonic()
    with MemorySampler([s.name for s in students] + [instructor.name]) as sampler:
        start = threading.Barrier(len(students))
        with ThreadPoolExecutor(len(students)) as pool:
            list(pool.map(lambda s: lesson(s, start, examples), students))
        peaks["chapter and exercise 1"] = dict(sampler.peak)
        lesson_seconds = time.monotonic() - started
        sampler.reset()
        grading_log = instructor_grades(instructor, examples)
        peaks["grading"] = dict(sampler.peak)
        grading_seconds = time.monotonic() - started - lesson_seconds
        with ThreadPoolExecutor(len(students)) as pool:
            list(pool.map(fetch_feedback, students))
        for key in extra:
            try:
                peaks[key] = worked_runs(students, key, examples, sampler)
            except Exception as error:  # said in the report with everything measured before it
                instructor.failures.append(f"the worked solutions of {key}: {type(error).__name__}: {error}")
                break
        total_peak = sampler.total_peak
    grades = read_grades(Path(pwd.getpwnam(people["instructor"]).pw_dir) / "lenet-release" / "course")
    for student in students:
        student.grade = grades.get(student.name)
    users = [s.user for s in students] + [instructor]
    return {
        "students": len(students), "examples": examples, "wall_seconds": time.monotonic() - started,
        "lesson_seconds": lesson_seconds, "grading_seconds": grading_seconds,
        "requests": sum(u.requests for u in users), "failures": [f for u in users for f in u.failures],
        "total_peak": total_peak, "peaks": peaks, "instructor_peak": peaks["grading"][instructor.name],
        "grading_log": grading_log,
        "per_student": [{"name": s.name, "answers": s.answers, "spawn": s.spawn, "first_plot": s.first_plot,
                         "notebooks": s.notebooks, "grade": s.grade, "expected": EXPECTED[s.answers],
                         "feedback_ok": FEEDBACK_SAYS[s.answers] in s.feedback} for s in students],
    }


def problems(result: dict) -> list[str]:
    """What makes the simulation fail: failed requests, errors in a run, wrong grades, missing feedback."""
    found = list(result["failures"])
    for s in result["per_student"]:
        found += [f"{s['name']}, {key}: {error}" for key, run in s["notebooks"].items() for error in run["errors"]]
        if s["grade"] != s["expected"]:
            found.append(f"{s['name']} ({s['answers']} answers) got {s['grade']}, expected {s['expected']}")
        if not s["feedback_ok"]:
            found.append(f"{s['name']} did not get the feedback expected for {s['answers']} answers")
        if s["first_plot"] is None:
            found.append(f"{s['name']}: the chapter showed no live plot")
    return found


def capacity(result: dict) -> list[dict]:
    """Per notebook: the median CPU seconds and the largest peak memory of a student, and what they allow."""
    rows = []
    for key in NOTEBOOKS:
        runs = [s["notebooks"][key] for s in result["per_student"] if key in s["notebooks"]]
        if not runs:
            continue
        cpu = statistics.median(run["cpu"] for run in runs)
        peak_key = "chapter and exercise 1" if key in ("chapter", "ex1") else key
        if peak_key not in result["peaks"]:
            continue
        peak = max(v for name, v in result["peaks"][peak_key].items()
                   if name in {s["name"] for s in result["per_student"]})
        rows.append({"notebook": key, "cpu_seconds": cpu, "slowest_seconds": max(run["seconds"] for run in runs),
                     "peak_gb": peak / GB, "per_core": LESSON_MINUTES * 60 / cpu, "per_gb": GB / peak})
    return rows


def capacity_table(result: dict) -> list[dict[str, str]]:
    """The capacity table as the instructors' guide prints it (docs/instructors.md), one dict per row."""
    return [{"notebook": TITLES[row["notebook"]],
             "CPU s per student": f"{row['cpu_seconds']:.0f}",
             "students per core": f"{row['per_core']:.0f}",
             "peak MB per student": f"{row['peak_gb'] * 1000:,.0f}",
             "students per GB": f"{row['per_gb']:.1f}",
             "slowest of the class": f"{row['slowest_seconds']:.0f} s"} for row in capacity(result)]


def markdown(rows: list[dict[str, str]]) -> list[str]:
    """Rows of dicts as a Markdown table."""
    header = list(rows[0])
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row.values()) + " |" for row in rows)]


def report(result: dict) -> str:
    examples = f"{result['examples']} examples per split" if result["examples"] else "the whole data set"
    lines = [f"{result['students']} students, {examples}; "
             f"{result['requests']} requests, {len(result['failures'])} failed",
             f"wall time {result['wall_seconds']:.0f} s: lesson {result['lesson_seconds']:.0f} s "
             f"(log in, start, chapter, fetch, exercise 1, submit), grading {result['grading_seconds']:.0f} s",
             "student        answers  server  first plot  chapter  ex1    peak GB  grade (expected)  feedback"]
    for s in result["per_student"]:
        ex1 = s["notebooks"].get("ex1", {}).get("seconds")
        peak = result["peaks"]["chapter and exercise 1"][s["name"]] / GB
        lines.append(f"{s['name']:14s} {s['answers']:7s}  {s['spawn']:5.1f} s  "
                     f"{s['first_plot'] or float('nan'):8.1f} s  {s['notebooks']['chapter']['seconds']:5.0f} s  "
                     + (f"{ex1:4.0f} s" if ex1 else "   - ") + f"  {peak:6.2f}   {s['grade']} ({s['expected']})"
                     + f"  {'yes' if s['feedback_ok'] else 'NO'}")
    lines.append(f"peak memory: everyone on the hub together {result['total_peak'] / GB:.1f} GB, "
                 f"the instructor while grading {result['instructor_peak'] / GB:.1f} GB (GB = 10^9 bytes)")
    lines.append(f"capacity (CPU s: the median student's kernel; students per core: each runs the notebook once "
                 f"in {LESSON_MINUTES} minutes; peak: the largest student's server and kernel together):")
    lines += markdown(capacity_table(result))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--examples", type=int, default=1000,
                        help="D2L_MAX_EXAMPLES for every run and the grading (default 1000; 0: the whole data set)")
    parser.add_argument("--notebooks", default="chapter,ex1",
                        help="chapter,ex1 always; add ex2,ex3,ex4 to measure the worked solutions too")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--log", type=Path, help="keep the hub's log (the hub's and every server's) in this file")
    args = parser.parse_args(argv)
    if args.students < 2:
        parser.error("--students must be at least 2: one answers, one leaves it blank")
    names = [f"lenet-sim{i}" for i in range(1, args.students + 1)]
    taken = [name for name in [*names, "lenet-simteacher"] if course_hub.account_exists(name)]
    if taken:
        parser.error(f"these accounts exist already: {', '.join(taken)}")
    extra = [key for key in args.notebooks.split(",") if key not in ("chapter", "ex1")]
    with tempfile.TemporaryDirectory(prefix="lenet-class-") as folder:
        os.chmod(folder, 0o755)  # the class's accounts read their settings in the hub's folder inside
        class_list = Path(folder) / "class.txt"
        class_list.write_text("\n".join(names) + "\n")
        hub_dir = Path(folder) / "hub"
        try:
            course_hub.start(class_list, "lenet-simteacher", hub_dir, port=args.port)
            result = simulate(hub_dir, args.examples, extra)
        finally:
            if args.log and (hub_dir / "hub.log").exists():
                shutil.copy2(hub_dir / "hub.log", args.log)
            if (hub_dir / "state.json").exists():
                course_hub.stop(hub_dir, remove_class=True)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps({**result, "capacity": capacity(result)}, indent=2, default=str))
    found = problems(result)
    if found:
        print("The instructor's grading printed:\n" + result["grading_log"])
    for problem in found:
        print("PROBLEM:", problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
