"""The instructors' guide's capacity figures are the class simulation's output.

``benchmarks/class_on_hub.py --json`` wrote ``benchmarks/results/class_on_hub.json``; the table
and the sentences about the class in docs/instructors.md must say what that file holds, and the
"one kernel alone" column what benchmarks/README.md measured. A new simulation that changes a
figure fails here until the guide is updated from its printed table.
"""
from __future__ import annotations

import json
import re

import pytest

from benchmarks import class_on_hub
from conftest import REPO

GUIDE = (REPO / "docs" / "instructors.md").read_text(encoding="utf-8")
RESULT = json.loads((REPO / "benchmarks" / "results" / "class_on_hub.json").read_text(encoding="utf-8"))
ALONE = {"the chapter": "lenet", "exercise 1": "lenet_ex1_max_pooling", "exercise 2": "lenet_ex2_improve",
         "exercise 3": "lenet_ex3_mnist", "exercise 4": "lenet_ex4_feature_maps"}


def table(text: str, first_header: str) -> list[dict[str, str]]:
    """The Markdown table in text whose first column is named first_header, as one dict per row."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))))
    return rows


def test_the_simulation_on_record_is_the_class_the_guide_describes():
    assert RESULT["students"] == 6 and RESULT["examples"] == 0 and RESULT["failures"] == []
    assert all(s["grade"] == s["expected"] and s["feedback_ok"] for s in RESULT["per_student"])
    assert {row["notebook"] for row in RESULT["capacity"]} == set(class_on_hub.NOTEBOOKS)
    assert class_on_hub.problems(RESULT) == []


def test_the_guide_prints_the_simulated_capacity_table():
    guide = table(GUIDE, "notebook (whole data set)")
    printed = class_on_hub.capacity_table(RESULT)
    assert [row["notebook (whole data set)"] for row in guide] == [row["notebook"] for row in printed]
    for in_guide, measured in zip(guide, printed):
        for column, value in measured.items():
            if column != "notebook":
                assert in_guide[column] == value, (in_guide["notebook (whole data set)"], column)


def test_one_kernel_alone_is_the_memory_benchmark():
    alone = {row["kernel"].strip("*`").split(".ipynb")[0]: row["peak RSS"].strip("*")
             for row in table((REPO / "benchmarks" / "README.md").read_text(encoding="utf-8"), "kernel")}
    for row in table(GUIDE, "notebook (whole data set)"):
        assert row["one kernel alone"] == alone[ALONE[row["notebook (whole data set)"]]]


@pytest.mark.parametrize("said, figure", [
    ("the slowest of the six took {} for the chapter", lambda r: f"{max_seconds(r, 'chapter'):.0f} s"),
    ("peaked at {}", lambda r: f"{r['total_peak'] / class_on_hub.GB:.1f} GB"),
    ("the instructor, grading, at {}", lambda r: f"{r['instructor_peak'] / class_on_hub.GB:.1f} GB"),
    ("{} requests", lambda r: f"{r['requests']}"),
])
def test_the_guide_states_the_simulated_figures(said, figure):
    pattern = re.escape(said).replace(r"\{\}", r"([\d.,]+(?: s| GB)?)")
    found = re.search(pattern, re.sub(r"\s+", " ", GUIDE))
    assert found, f"the instructors' guide no longer says: {said}"
    assert found.group(1) == figure(RESULT)


def max_seconds(result: dict, notebook: str) -> float:
    return max(s["notebooks"][notebook]["seconds"] for s in result["per_student"])
