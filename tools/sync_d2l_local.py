"""Copy the ``#@save`` cells of the English notebooks into ``d2l_local`` (the notebooks are the source).

    python tools/sync_d2l_local.py          # rewrite d2l_local/saved_*.py and the import block
    python tools/sync_d2l_local.py --check  # exit 1 and say what differs, change nothing

A code cell whose first line is ``#@save`` is saved whole (minus that line) into
``d2l_local/saved_<notebook>.py``; ``d2l_local/__init__.py`` imports the public names
of each such module between its ``BEGIN``/``END`` marker lines.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks" / "en"
PACKAGE = REPO / "d2l_local"
MARKER = "#@save"
BEGIN = "# BEGIN saved from notebooks (written by tools/sync_d2l_local.py)"
END = "# END saved from notebooks"


def saved_cells(notebook: Path) -> list[str]:
    """The source of each ``#@save`` code cell, without the marker line."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    out = []
    for cell in cells:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines = source.strip("\n").splitlines()
        if cell["cell_type"] == "code" and lines and lines[0].strip() == MARKER:
            out.append("\n".join(lines[1:]).strip("\n"))
    return out


def module_name(notebook: Path) -> str:
    return "saved_" + re.sub(r"\W", "_", notebook.stem)


def public_names(code: str) -> list[str]:
    """Top-level functions, classes and constants defined by ``code``, in order."""
    names = []
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return [n for n in names if not n.startswith("_")]


def render_module(notebook: Path, cells: list[str]) -> str:
    rel = notebook.relative_to(REPO).as_posix()
    header = (f'"""Code saved from {rel} (cells marked #@save).\n\n'
              f'Written by tools/sync_d2l_local.py: edit the notebook, then run that script.\n"""\n')
    body = "\n\n\n".join(cells)
    names = public_names(body)
    return header + body + "\n\n\n__all__ = [" + ", ".join(repr(n) for n in names) + "]\n"


def expected_files() -> dict[Path, str]:
    """Every file the sync writes, with the content it should have."""
    files: dict[Path, str] = {}
    imports = []
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = saved_cells(notebook)
        if not cells:
            continue
        name = module_name(notebook)
        text = render_module(notebook, cells)
        files[PACKAGE / f"{name}.py"] = text
        names = public_names(text.split("\n__all__")[0])
        imports.append(f"from .{name} import {', '.join(names)}")
    init = (PACKAGE / "__init__.py").read_text(encoding="utf-8")
    start, stop = init.index(BEGIN), init.index(END)
    files[PACKAGE / "__init__.py"] = init[:start] + BEGIN + "\n" + "".join(i + "\n" for i in imports) + init[stop:]
    return files


def stale_modules(expected: dict[Path, str]) -> list[Path]:
    """Generated modules whose notebook no longer saves anything."""
    return [p for p in PACKAGE.glob("saved_*.py") if p not in expected]


def check() -> list[str]:
    """Return one line per file that is out of date (empty when in sync)."""
    expected = expected_files()
    problems = []
    for path, text in expected.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            problems.append(f"{path.relative_to(REPO)} differs from the #@save cells of the notebooks")
    problems += [f"{p.relative_to(REPO)} has no notebook #@save cells behind it" for p in stale_modules(expected)]
    return problems


def sync() -> list[Path]:
    """Write the generated files; return the paths that changed."""
    expected = expected_files()
    changed = []
    for path, text in expected.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for path in stale_modules(expected):
        path.unlink()
        changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift and exit 1 instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for line in problems:
            print(line)
        if problems:
            print("Run: python tools/sync_d2l_local.py")
        return 1 if problems else 0
    for path in sync():
        print(f"updated {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
