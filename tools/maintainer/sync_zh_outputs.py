"""Copy the stored outputs of each English notebook into its Chinese twin.

    python tools/maintainer/sync_zh_outputs.py [NAME.ipynb ...]   # default: every notebook in notebooks/en

The twins share their code; what differs is the prose and, as in d2l-zh, the code's
comments and docstrings, which the Chinese notebooks translate. After executing an
English notebook, this copies each code cell's outputs, execution count and metadata
(tags included) into the Chinese notebook, so the two stay identical without running
the Chinese one. It checks every pair first and refuses (changing nothing) when the code
of a pair differs once comments and docstrings are set aside, naming the cells and the
first line that differs.

``code_skeleton`` is that comparison, shared with tests/test_notebooks.py:

* comments are dropped (found with ``tokenize``), except the ones tools read
  (``#@save``, ``# NBVAL_...``, ``### BEGIN HIDDEN TESTS``), which must stay exactly as they are;
* every docstring becomes ``""`` (found with ``ast``): it must still be there, but may
  say anything;
* lines that start with ``%`` or ``!`` (IPython magics, shell commands) are compared as
  text, and a cell that starts with a cell magic (``%%``) or is not valid Python is
  compared whole;
* trailing spaces and lines left blank are ignored (except inside string literals);
  everything else (numbers, strings, f-strings, names, indentation, the order of the
  lines) must be equal character for character;
* one line is the Chinese twin's alone: ``d2l.use_language('zh')`` in its import cell, which
  makes the exercises' checks and notes speak Chinese (``d2l_local/messages.py``).

The checks' verdicts in the copied outputs (``Question N: right.``) are written in Chinese
in the Chinese notebook, as its kernel would print them.
"""
from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
from pathlib import Path

import nbformat

if __package__ in (None, ""):  # run as a script: make this checkout's d2l_local importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from d2l_local.messages import MESSAGES  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# Comments that tools read, compared as code: #@save, nbval's markers, nbgrader's hidden-test markers.
TOOL_COMMENT = re.compile(r"#\s*(@save|NBVAL_[A-Z_]+)\s*$|### (BEGIN|END) HIDDEN TESTS\s*$")
MAGIC_LINE = re.compile(r"[ \t]*[%!]")  # a line magic or shell command: compared as text
MAGIC_CALL = "__ipython_magic__"
LANGUAGE_LINE = "d2l.use_language('zh')"  # the one line only the Chinese twin has
RIGHT = re.compile(r"^Question (\S+): right\.$", re.M)  # a check's verdict, as the English kernel prints it
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _mask_magics(source: str) -> str:
    """``source`` with each magic line turned into a call that holds the line as a string literal."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if MAGIC_LINE.match(line):
            indent = line[:len(line) - len(line.lstrip())]
            lines[i] = f"{indent}{MAGIC_CALL}({line.strip()!r})"
    return "\n".join(lines)


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def _offsets(source: str) -> list[int]:
    """Character offset of the start of each line of ``source`` (index 0 is line 1)."""
    starts, total = [], 0
    for line in source.split("\n"):
        starts.append(total)
        total += len(line) + 1
    return starts


def _docstrings(tree: ast.AST) -> list[ast.Constant]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.append(first.value)
    return found


def code_skeleton(source: str) -> str:
    """The code of a cell with its comments and docstrings set aside: what the twins must share."""
    if source.lstrip().startswith("%%"):
        return source
    masked = _mask_magics(source)
    try:
        tokens = _tokens(masked)
        tree = ast.parse(masked)
    except (SyntaxError, tokenize.TokenError, ValueError):
        return source
    lines, starts = masked.split("\n"), _offsets(masked)

    def offset(row: int, col: int, in_bytes: bool = False) -> int:
        if in_bytes:  # ast counts columns in UTF-8 bytes, tokenize in characters
            col = len(lines[row - 1].encode("utf-8")[:col].decode("utf-8"))
        return starts[row - 1] + col

    edits = [(offset(*t.start), offset(*t.end), "") for t in tokens
             if t.type == tokenize.COMMENT and not TOOL_COMMENT.match(t.string)]
    edits += [(offset(d.lineno, d.col_offset, True), offset(d.end_lineno, d.end_col_offset, True), '""')
              for d in _docstrings(tree)]
    text = masked
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    # A row that ends inside a string literal (rows of a multi-line string but its last) stays as it is.
    inside = {row for t in _tokens(text) for row in range(t.start[0], t.end[0])}
    kept = [line if row in inside else line.rstrip()
            for row, line in enumerate(text.split("\n"), start=1)
            if row in inside or (line.strip() and line.strip() != LANGUAGE_LINE)]
    return "\n".join(kept)


def comments(source: str) -> list[str]:
    """The ``#`` comments of a code cell, without the ones tools read (``#@save``, ``# NBVAL_...``, nbgrader's)."""
    if source.lstrip().startswith("%%"):
        return []
    try:
        tokens = _tokens(_mask_magics(source))
    except (SyntaxError, tokenize.TokenError, ValueError):
        return []
    return [t.string for t in tokens if t.type == tokenize.COMMENT and not TOOL_COMMENT.match(t.string)]


def code_differences(en_cells: list, zh_cells: list) -> list[str]:
    """One line per code cell whose code differs between the twins (comments and docstrings aside).

    ``en_cells`` and ``zh_cells`` are all the cells of the two notebooks (dicts or nbformat nodes).
    """
    en_code = [(i, c) for i, c in enumerate(en_cells) if c["cell_type"] == "code"]
    zh_code = [(i, c) for i, c in enumerate(zh_cells) if c["cell_type"] == "code"]
    if len(en_code) != len(zh_code):
        en_ids = [c.get("id", "?") for _, c in en_code]
        zh_ids = [c.get("id", "?") for _, c in zh_code]
        only = [f"only in {lang}: {', '.join(map(repr, ids))}" for lang, ids in
                (("English", [i for i in en_ids if i not in zh_ids]), ("Chinese", [i for i in zh_ids if i not in en_ids]))
                if ids]
        return [f"the English notebook has {len(en_code)} code cells, the Chinese one {len(zh_code)}"
                + (f" ({'; '.join(only)})" if only else "")]
    problems = []
    for (en_i, en_cell), (zh_i, zh_cell) in zip(en_code, zh_code):
        en_lines = code_skeleton(_source(en_cell)).split("\n")
        zh_lines = code_skeleton(_source(zh_cell)).split("\n")
        if en_lines == zh_lines:
            continue
        k = next((k for k, (a, b) in enumerate(zip(en_lines, zh_lines)) if a != b), min(len(en_lines), len(zh_lines)))
        en_line = en_lines[k] if k < len(en_lines) else "(nothing)"
        zh_line = zh_lines[k] if k < len(zh_lines) else "(nothing)"
        problems.append(f"zh cell {zh_i} (id {zh_cell.get('id', '?')!r}) differs from en cell {en_i} "
                        f"(id {en_cell.get('id', '?')!r}) in its code, comments and docstrings aside: "
                        f"code line {k + 1} is {en_line!r} in English but {zh_line!r} in Chinese")
    return problems


def copy_outputs(en_path: Path, zh_path: Path, *, write: bool = True) -> list[str]:
    """Copy outputs, execution counts and metadata from ``en_path`` to ``zh_path``; return the problems.

    Nothing is written when there is a problem (or when ``write`` is false).
    """
    en = nbformat.read(en_path, as_version=4)
    zh = nbformat.read(zh_path, as_version=4)
    shown = zh_path.relative_to(REPO) if zh_path.is_relative_to(REPO) else zh_path
    problems = [f"{shown}: {p}" for p in code_differences(en.cells, zh.cells)]
    if problems or not write:
        return problems
    en_code = [c for c in en.cells if c.cell_type == "code"]
    zh_code = [c for c in zh.cells if c.cell_type == "code"]
    for src, dst in zip(en_code, zh_code):
        dst.outputs = [in_chinese(output) for output in src.outputs]
        dst.execution_count = src.execution_count
        dst.metadata = src.metadata
    zh.metadata = en.metadata
    nbformat.write(zh, zh_path)
    return []


def in_chinese(output: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``output`` with each check verdict ``Question N: right.`` as the Chinese kernel prints it."""
    if output.get("output_type") != "stream":
        return output
    lines = output["text"] if isinstance(output["text"], list) else None  # a notebook file's JSON holds lines
    text = "".join(lines) if lines is not None else output["text"]
    translated = RIGHT.sub(lambda m: MESSAGES["right"]["zh"].format(question=m.group(1)), text)
    return nbformat.from_dict({**output, "text": translated.splitlines(keepends=True) if lines is not None
                               else translated})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME.ipynb",
                        help="English notebooks to copy from (default: every notebook in notebooks/en)")
    names = parser.parse_args(argv).names
    en_dir, zh_dir = REPO / "notebooks" / "en", REPO / "notebooks" / "zh"
    paths = [en_dir / n for n in names] if names else sorted(en_dir.glob("*.ipynb"))
    missing = [zh_dir / p.name for p in paths if not (zh_dir / p.name).exists()]
    if missing:
        raise SystemExit(f"no Chinese twin: {', '.join(map(str, missing))}")
    problems = [p for en_path in paths for p in copy_outputs(en_path, zh_dir / en_path.name, write=False)]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        raise SystemExit("the code of the Chinese notebooks differs from the English: copy the code over first "
                         "(translate only prose, comments and docstrings); nothing was changed")
    for en_path in paths:
        copy_outputs(en_path, zh_dir / en_path.name)
        print(f"copied outputs of {en_path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
