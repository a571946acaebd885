"""Build the student edition of the course: every notebook, without the worked solutions.

    python tools/build_student_edition.py              # writes build/student/notebooks/{en,zh}/
    python tools/build_student_edition.py --out DIR    # writes DIR/notebooks/{en,zh}/

A cell tagged ``solution`` (cell metadata ``tags``) keeps its place, id and metadata but
loses its content: a code cell gets a short "your turn" comment and no outputs or
execution count; a markdown cell (a written answer) gets a short "your turn" line.
Every other cell, and the notebook metadata, are copied unchanged. The notebooks still
``import d2l_local as d2l``, so students install the course package as usual.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
DEFAULT_OUT = REPO / "build" / "student"
TAG = "solution"
LANGUAGES = ("en", "zh")
PLACEHOLDERS = {
    "en": {"code": "# Your turn: write your solution here.\n"
                   "# (The worked solution is in the instructor edition of this notebook.)",
           "markdown": "*Your turn: write your answer here.*"},
    "zh": {"code": "# 轮到你了：在这里写出你的解答。\n"
                   "# （参考解答在本笔记本的教师版中。）",
           "markdown": "*轮到你了：在这里写下你的回答。*"},
}


def is_solution(cell) -> bool:
    return TAG in cell.get("metadata", {}).get("tags", [])


def strip_solutions(nb, language: str):
    """Return the number of solution cells of ``nb`` after blanking them in place."""
    count = 0
    for cell in nb.cells:
        if not is_solution(cell):
            continue
        if cell.cell_type not in ("code", "markdown"):
            raise ValueError(f"cell {cell.get('id')!r} is tagged {TAG!r} but is a {cell.cell_type} cell; "
                             f"only code and markdown cells can be solutions")
        cell.source = PLACEHOLDERS[language][cell.cell_type]
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.pop("attachments", None)
        count += 1
    return count


def build(out: Path, notebooks: Path = NOTEBOOKS) -> list[tuple[Path, int]]:
    """Write the student edition of every notebook under ``notebooks/{en,zh}`` to ``out/notebooks``."""
    written = []
    for language in LANGUAGES:
        sources = sorted((notebooks / language).glob("*.ipynb"))
        if not sources:
            raise FileNotFoundError(f"no notebooks found in {notebooks / language}")
        for path in sources:
            nb = nbformat.read(path, as_version=4)
            count = strip_solutions(nb, language)
            nbformat.validate(nb)
            target = out / "notebooks" / language / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
            written.append((target, count))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default: {DEFAULT_OUT.relative_to(REPO)})")
    args = parser.parse_args(argv)
    written = build(args.out)
    for target, count in written:
        print(f"{target}: {count} solution cell(s) replaced")
    print(f"student edition: {len(written)} notebooks in {args.out / 'notebooks'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
