"""Copy the ``#@save`` cells of the English notebooks into ``d2l_local/saved/`` and clean the notebooks.

    python tools/maintainer/sync_d2l_local.py          # rewrite d2l_local/saved/, strip volatile notebook metadata
    python tools/maintainer/sync_d2l_local.py --check  # exit 1 and say what differs, change nothing

A code cell whose first line is ``#@save`` is book code that later notebooks reuse: it
is saved whole (minus that line) into ``d2l_local/saved/<notebook>.py``, with a comment
naming its notebook and cell before each definition and a generated ``__all__``;
``d2l_local/saved/__init__.py`` re-exports every saved name. The tool refuses a
``#@save`` cell tagged ``solution`` (answers never ship in the package) and a name
defined twice, whether in two notebooks or in a notebook and a hand-written module.
It also strips volatile metadata (execution timestamps and the like) from every
notebook with nbstripout, keeping outputs and execution counts.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
SOURCE_NOTEBOOKS = NOTEBOOKS / "en"
PACKAGE = REPO / "d2l_local"
MARKER = "#@save"
SOLUTION_TAG = "solution"
HEADER = ('"""Generated from {source} by tools/maintainer/sync_d2l_local.py: do not edit.\n\n'
          'Edit the #@save cells of the notebook, then run: python tools/maintainer/sync_d2l_local.py\n"""\n')
# nbstripout keeps outputs, execution counts and cell ids; it strips timestamps and widget state by
# default, and the Python version that executed the notebook besides.
NBSTRIPOUT = ["--keep-output", "--keep-count", "--keep-id", "--extra-keys", "metadata.language_info.version"]


class SyncError(ValueError):
    """The notebooks cannot be saved into the package as they are."""


@dataclass
class SavedCell:
    notebook: Path
    index: int  # position among all cells of the notebook, counting from 0
    cell_id: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.notebook.relative_to(REPO).as_posix()}, cell {self.index} (id {self.cell_id!r})"


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def saved_cells(notebook: Path) -> list[SavedCell]:
    """The ``#@save`` code cells of ``notebook``, without the marker line; refuses saved solutions."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    out = []
    for index, cell in enumerate(cells):
        lines = _source(cell).strip("\n").splitlines()
        if cell["cell_type"] != "code" or not lines or lines[0].strip() != MARKER:
            continue
        saved = SavedCell(notebook, index, cell.get("id", "?"), "\n".join(lines[1:]).strip("\n"))
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            raise SyncError(f"{saved.where} is tagged {SOLUTION_TAG!r} and marked {MARKER}: a worked solution "
                            f"must never ship in d2l_local. Remove the {MARKER} line, or move the code that "
                            f"later notebooks need into a cell that is not a solution.")
        out.append(saved)
    return out


def defined_names(code: str) -> list[tuple[str, int]]:
    """Public top-level functions, classes and constants of ``code`` with their first line (1-based)."""
    names = []
    for node in ast.parse(code).body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append((node.name, first))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [(t.id, first) for t in targets if isinstance(t, ast.Name)]
    return [(n, line) for n, line in names if not n.startswith("_")]


def module_name(notebook: Path) -> str:
    return notebook.stem.replace("-", "_")


def render_module(notebook: Path, cells: list[SavedCell]) -> tuple[str, list[str]]:
    """The generated module for ``notebook`` and the names it exports."""
    parts, exported = [], []
    for cell in cells:
        lines = cell.code.splitlines()
        starts = {line for _, line in defined_names(cell.code)}
        exported += [name for name, _ in defined_names(cell.code)]
        body = []
        for number, line in enumerate(lines, start=1):
            if number in starts:
                body.append(f"# From {cell.where}")
            body.append(line)
        parts.append("\n".join(body))
    text = HEADER.format(source=notebook.relative_to(REPO).as_posix()) + "\n\n\n".join(parts)
    text += "\n\n\n__all__ = [" + ", ".join(repr(n) for n in exported) + "]\n"
    return text, exported


def hand_written_names() -> dict[str, str]:
    """Public top-level names of d2l_local's hand-written modules, each with its module's file name."""
    names = {}
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name != "__init__.py":
            for name, _ in defined_names(path.read_text(encoding="utf-8")):
                names.setdefault(name, path.name)
    return names


def expected_files() -> dict[Path, str]:
    """Every file the sync writes under ``d2l_local/saved/``, with the content it should have."""
    saved = PACKAGE / "saved"
    files: dict[Path, str] = {}
    owners = {name: f"d2l_local/{module}" for name, module in hand_written_names().items()}
    imports = []
    for notebook in sorted(SOURCE_NOTEBOOKS.glob("*.ipynb")):
        cells = saved_cells(notebook)
        if not cells:
            continue
        text, exported = render_module(notebook, cells)
        for cell in cells:
            for name, _ in defined_names(cell.code):
                if name in owners:
                    raise SyncError(f"{name!r} is defined twice: in {owners[name]} and in {cell.where}. "
                                    f"Rename one of them.")
                owners[name] = cell.where
        name = module_name(notebook)
        files[saved / f"{name}.py"] = text
        imports.append((name, exported))
    lines = ['"""Book code saved from the notebooks\' #@save cells. Generated by tools/maintainer/sync_d2l_local.py: do not edit."""']
    lines += [f"from .{name} import {', '.join(exported)}" for name, exported in imports]
    everything = [n for _, exported in imports for n in exported]
    lines.append("\n__all__ = [" + ", ".join(repr(n) for n in everything) + "]")
    files[saved / "__init__.py"] = "\n".join(lines) + "\n"
    return files


def stale_modules(expected: dict[Path, str]) -> list[Path]:
    """Generated modules whose notebook no longer saves anything."""
    return [p for p in (PACKAGE / "saved").glob("*.py") if p not in expected]


def all_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*/*.ipynb"))


def _require_nbstripout() -> None:
    """nbstripout finds the volatile metadata; without it no notebook would ever look unclean."""
    if importlib.util.find_spec("nbstripout") is None:
        raise SyncError("nbstripout is not installed, so volatile notebook metadata cannot be found or stripped: "
                        "pip install -r requirements-test.txt")


def unclean_notebooks() -> list[Path]:
    """Notebooks that nbstripout would change (they hold volatile metadata)."""
    _require_nbstripout()
    result = subprocess.run([sys.executable, "-m", "nbstripout", *NBSTRIPOUT, "--verify", *map(str, all_notebooks())],
                            capture_output=True, text=True)
    marker = "would have stripped "
    return [Path(line.split(marker, 1)[1].strip()) for line in result.stdout.splitlines() if marker in line]


def clean_notebooks() -> None:
    """Strip volatile metadata from every notebook, keeping outputs, counts and cell ids."""
    _require_nbstripout()
    subprocess.run([sys.executable, "-m", "nbstripout", *NBSTRIPOUT, *map(str, all_notebooks())], check=True)


def check() -> list[str]:
    """Return one line per problem (empty when the package and the notebooks are in sync and clean)."""
    try:
        expected = expected_files()
    except SyncError as err:
        return [str(err)]
    problems = []
    for path, text in expected.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            problems.append(f"{path.relative_to(REPO)} differs from the #@save cells of the notebooks")
    problems += [f"{p.relative_to(REPO)} has no notebook #@save cells behind it" for p in stale_modules(expected)]
    problems += [f"{p.relative_to(REPO)} holds volatile metadata (execution timestamps, widget state)"
                 for p in unclean_notebooks()]
    return problems


def sync() -> list[Path]:
    """Write the generated files and clean the notebooks; return the generated paths that changed."""
    expected = expected_files()
    changed = []
    for path, text in expected.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for path in stale_modules(expected):
        path.unlink()
        changed.append(path)
    clean_notebooks()
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift and exit 1 instead of writing")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check()
            for line in problems:
                print(line)
            if problems:
                print("Run: python tools/maintainer/sync_d2l_local.py")
            return 1 if problems else 0
        changed = sync()
    except SyncError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in changed:
        print(f"updated {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
