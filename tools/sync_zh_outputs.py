"""Copy the stored outputs of each English notebook into its Chinese twin.

    python tools/sync_zh_outputs.py [NAME.ipynb ...]   # default: every notebook in notebooks/en

The twins share their code cells; only the prose differs. After executing an English
notebook, this copies each code cell's outputs, execution count and tags into the
Chinese notebook, so the two stay identical without running the Chinese one. It
refuses (and changes nothing) when the code cells of a pair differ.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent


def copy_outputs(en_path: Path, zh_path: Path) -> None:
    en = nbformat.read(en_path, as_version=4)
    zh = nbformat.read(zh_path, as_version=4)
    en_code = [c for c in en.cells if c.cell_type == "code"]
    zh_code = [c for c in zh.cells if c.cell_type == "code"]
    if [c.source for c in en_code] != [c.source for c in zh_code]:
        raise SystemExit(f"{zh_path} and {en_path} have different code cells: copy the code over first")
    for src, dst in zip(en_code, zh_code):
        dst.outputs = src.outputs
        dst.execution_count = src.execution_count
        dst.metadata = src.metadata
    zh.metadata = en.metadata
    nbformat.write(zh, zh_path)


def main(names: list[str]) -> int:
    en_dir, zh_dir = REPO / "notebooks" / "en", REPO / "notebooks" / "zh"
    paths = [en_dir / n for n in names] if names else sorted(en_dir.glob("*.ipynb"))
    for en_path in paths:
        copy_outputs(en_path, zh_dir / en_path.name)
        print(f"copied outputs of {en_path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
