"""Every number from a run that the notebooks' prose states is checked against where it comes from.

A number in a notebook's prose is either printed by a code cell (nbval then compares the
stored output with a fresh run) and recorded in ``notebooks/claims.toml`` with that cell, or
recorded there with the file that measured it (``benchmarks/README.md``), or listed there as a
constant that no run produced (a learning rate, ln 10, the book's reported figure). These
tests read the stored outputs and the files, so a rerun that changes a printed number, or a
prose edit that changes a stated one, fails here until the two agree again.
"""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from conftest import REPO

NOTEBOOKS = REPO / "notebooks"
CLAIMS = tomllib.loads((NOTEBOOKS / "claims.toml").read_text(encoding="utf-8"))
DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.]*\w)")  # 0.812, 2.30, 1.2; not 1708.07747 or v1.0.3


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _cells(language: str, notebook: str) -> dict[str, dict]:
    path = NOTEBOOKS / language / f"{notebook}.ipynb"
    return {c["id"]: c for c in json.loads(path.read_text(encoding="utf-8"))["cells"]}


def _printed(cell: dict) -> str:
    """What a code cell printed: its stored stream and text outputs."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append("".join(output["text"]))
        elif "text/plain" in output.get("data", {}) and output["output_type"] == "execute_result":
            parts.append("".join(output["data"]["text/plain"]))
    return "".join(parts)


def prose_only(text: str) -> str:
    """A markdown text without its code, formulas, link targets and paper identifiers."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$[^$]*\$", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return re.sub(r"(arXiv|doi):\S+", " ", text)


def prose_numbers(text: str) -> list[str]:
    """The decimal numbers of a markdown text, leaving out code, formulas, link targets and paper identifiers."""
    return DECIMAL.findall(prose_only(text))


def states(text: str, number: str) -> bool:
    """Whether the prose of ``text`` states ``number`` as a whole number (375, not 1,375 or 375.5)."""
    return re.search(rf"(?<![\w.,]){re.escape(number)}(?![\w]|[.,]\d)", prose_only(text)) is not None


def test_prose_numbers_leave_out_code_formulas_and_links():
    text = ("ends at 0.812 (`lr=0.9`), $\\ln 10 = 2.30$, [arXiv:1708.07747](https://arxiv.org/abs/1708.07747), "
            "```\nx = 0.5\n``` then epoch 1.2, version v1.0.3 and 3.6.")
    assert prose_numbers(text) == ["0.812", "1.2", "3.6"]
    assert states("right 375 of 1,000 times (`x = 85`)", "375") and not states("1,375 and 375.5", "375")
    assert not states("`x = 85`", "85") and states("epoch 1.2.", "1.2")


@pytest.mark.parametrize("claim", CLAIMS["claim"], ids=lambda c: f"{c['prose']}:{c['text']}")
def test_a_recorded_claim_matches_its_source_and_both_editions_state_it(claim):
    notebook, cell_id = claim["prose"].split("/")
    for language in ("en", "zh"):
        prose = _source(_cells(language, notebook)[cell_id])
        assert states(prose, claim["text"]), f"{language}/{notebook} {cell_id} no longer states {claim['text']}"
    assert claim["text"] in claim["output"], f"the recorded output does not show {claim['text']}"
    source = claim["source"]
    if source.endswith(".md"):
        where = (REPO / source).read_text(encoding="utf-8")
    else:
        source_notebook, source_cell = source.split("/")
        where = _printed(_cells("en", source_notebook)[source_cell])
        zh = _printed(_cells("zh", source_notebook)[source_cell])
        assert claim["output"] in zh, f"zh/{source}: the Chinese twin's stored output differs"
    assert claim["output"] in where, f"{source} no longer says {claim['output']!r}:\n{where[-2000:]}"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_number_in_the_prose_is_recorded(language):
    """A decimal in a notebook's prose is a recorded claim of that cell or a constant of that notebook."""
    claimed = {(c["prose"], c["text"]) for c in CLAIMS["claim"]}
    constant = {(notebook, c["text"]) for c in CLAIMS["constant"] for notebook in c["notebooks"]}
    unrecorded = []
    for path in sorted((NOTEBOOKS / language).glob("*.ipynb")):
        for cell_id, cell in _cells(language, path.stem).items():
            if cell["cell_type"] != "markdown":
                continue
            for number in prose_numbers(_source(cell)):
                if (f"{path.stem}/{cell_id}", number) not in claimed and (path.stem, number) not in constant:
                    unrecorded.append(f"{path.stem}/{cell_id}: {number}")
    assert not unrecorded, ("numbers in the prose that notebooks/claims.toml does not record (a claim with its "
                            "source, or a constant with its reason):\n" + "\n".join(unrecorded))


def test_constants_say_why_and_claims_name_a_source_that_exists():
    for constant in CLAIMS["constant"]:
        assert constant["why"].strip() and constant["notebooks"], constant
    for claim in CLAIMS["claim"]:
        source = claim["source"]
        if source.endswith(".md"):
            assert (REPO / source).is_file(), source
        else:
            notebook, cell_id = source.split("/")
            assert _cells("en", notebook)[cell_id]["cell_type"] == "code", source
