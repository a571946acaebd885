"""Stored notebook outputs: the chapter's bars, and English/Chinese twins that match."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import REPO

EN = sorted((REPO / "notebooks" / "en").glob("*.ipynb"))

SHAPE_LINES = """\
Conv2d output shape: \t torch.Size([1, 6, 28, 28])
Sigmoid output shape: \t torch.Size([1, 6, 28, 28])
AvgPool2d output shape: \t torch.Size([1, 6, 14, 14])
Conv2d output shape: \t torch.Size([1, 16, 10, 10])
Sigmoid output shape: \t torch.Size([1, 16, 10, 10])
AvgPool2d output shape: \t torch.Size([1, 16, 5, 5])
Flatten output shape: \t torch.Size([1, 400])
Linear output shape: \t torch.Size([1, 120])
Sigmoid output shape: \t torch.Size([1, 120])
Linear output shape: \t torch.Size([1, 84])
Sigmoid output shape: \t torch.Size([1, 84])
Linear output shape: \t torch.Size([1, 10])
"""


def code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]


def text_of(cell: dict) -> str:
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", []) if o["output_type"] == "stream")


def strip_ids(outputs: list[dict]) -> list[dict]:
    """Outputs without transient display ids, which differ between two executions."""
    return [{k: v for k, v in o.items() if k != "transient"} for o in outputs]


@pytest.mark.parametrize("en", EN, ids=lambda p: p.name)
def test_chinese_twin_has_the_same_code_and_outputs(en):
    zh = REPO / "notebooks" / "zh" / en.name
    assert zh.exists(), f"{zh} is missing: every English notebook has a Chinese twin"
    en_cells, zh_cells = code_cells(en), code_cells(zh)
    assert ["".join(c["source"]) for c in en_cells] == ["".join(c["source"]) for c in zh_cells]
    assert [strip_ids(c["outputs"]) for c in en_cells] == [strip_ids(c["outputs"]) for c in zh_cells]
    assert [c.get("metadata", {}).get("tags", []) for c in en_cells] == \
        [c.get("metadata", {}).get("tags", []) for c in zh_cells]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_stored_shape_check_is_exactly_the_12_lines(lang):
    cells = code_cells(REPO / "notebooks" / lang / "lenet.ipynb")
    shape_cell = next(c for c in cells if "output shape" in "".join(c["source"]))
    assert text_of(shape_cell) == SHAPE_LINES


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_stored_training_output_is_in_band(lang):
    cells = code_cells(REPO / "notebooks" / lang / "lenet.ipynb")
    train_cell = next(c for c in cells if "= train_ch6(net" in "".join(c["source"]))
    out = text_of(train_cell)
    m = re.search(r"loss (\d\.\d+), train acc (\d\.\d+), test acc (\d\.\d+)", out)
    assert m, out
    assert 0.70 <= float(m.group(3)) <= 0.86
    assert re.search(r"^\d+\.\d examples/sec on (cpu|cuda(:\d+)?|mps)$", out, re.M)
    images = [o for o in train_cell["outputs"] if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the live plot must be one output updated in place"


@pytest.mark.parametrize("path", EN + sorted((REPO / "notebooks" / "zh").glob("*.ipynb")), ids=lambda p: p.parent.name + "/" + p.name)
def test_every_code_cell_was_run_without_errors(path):
    for cell in code_cells(path):
        if "".join(cell["source"]).strip():
            assert cell["execution_count"] is not None, f"{path.name}: unexecuted cell {cell['source'][:1]}"
        assert not [o for o in cell["outputs"] if o["output_type"] == "error"]
