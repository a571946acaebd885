"""Stored notebook outputs: the chapter's bars, and English/Chinese twins that match.

The Chinese twins translate prose, code comments and docstrings (as d2l-zh does) and share
everything else: the code, its stored outputs and the cells' tags. The code comparison is
``code_skeleton`` of tools/maintainer/sync_zh_outputs.py, the same one the tool that copies the outputs
uses; the tests below check that it lets translations through and catches code changes.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO))  # the tools as the package tools/, the name mutmut gives their mutants
from tools.maintainer import sync_zh_outputs as zh_sync  # noqa: E402

EN = sorted((REPO / "notebooks" / "en").glob("*.ipynb"))
ZH = sorted((REPO / "notebooks" / "zh").glob("*.ipynb"))
GLOSSARY = REPO / "notebooks" / "zh" / "GLOSSARY.md"

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
    cells = {lang: json.loads(path.read_text(encoding="utf-8"))["cells"] for lang, path in (("en", en), ("zh", zh))}
    problems = zh_sync.code_differences(cells["en"], cells["zh"])
    assert not problems, "\n".join(problems)  # comments and docstrings may differ, code may not
    en_cells, zh_cells = code_cells(en), code_cells(zh)
    assert [strip_ids([zh_sync.in_chinese(nbformat.from_dict(o)) for o in c["outputs"]]) for c in en_cells] == \
        [strip_ids(c["outputs"]) for c in zh_cells]  # the same, with the checks' verdicts in Chinese
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


# ---- the twins' code comparison: translations pass, code changes fail ----

SAMPLE = '''#@save
# NBVAL_IGNORE_OUTPUT
%matplotlib inline
def train(net, lr=0.9, *, num_epochs=10):
    """Train `net` for `num_epochs` epochs; return the losses."""
    losses = []  # one loss per epoch
    for epoch in range(num_epochs):
        # the step does the work
        loss = step(net, lr)
        losses.append(loss)
        print(f'epoch {epoch + 1}: loss {loss:.3f}')
    return losses


note = """Kept as it is: # not a comment

a string, not a docstring."""
!echo done
'''

# (what is changed, the text it replaces, the new text, whether the code still counts as the same)
CHANGES = [
    ("translated comment", "# one loss per epoch", "# 每轮一个损失", True),
    ("translated comment over two lines", "        # the step does the work\n",
     "        # 真正的计算\n        # 在 step 里完成\n", True),
    ("translated docstring", '"""Train `net` for `num_epochs` epochs; return the losses."""',
     '"""训练 `net` num_epochs 轮，返回每轮的损失"""', True),
    ("comment removed", "  # one loss per epoch", "", True),
    ("changed number", "lr=0.9", "lr=0.1", False),
    ("changed string literal", "'epoch {epoch + 1}: loss {loss:.3f}'", "'轮 {epoch + 1}: loss {loss:.3f}'", False),
    ("changed '#' inside a string", "# not a comment", "# 不是注释", False),
    ("changed identifier", "loss = step(net, lr)", "loss = step(model, lr)", False),
    ("removed line", "        losses.append(loss)\n", "", False),
    ("changed indentation", "    return losses", "        return losses", False),
    ("docstring removed", '    """Train `net` for `num_epochs` epochs; return the losses."""\n', "", False),
    ("changed magic", "%matplotlib inline", "%matplotlib widget", False),
    ("changed shell command", "!echo done", "!echo 完成", False),
    ("#@save removed", "#@save\n", "", False),
    ("the Chinese twin's language line", "!echo done\n", "!echo done\nd2l.use_language('zh')\n", True),
    ("another language line", "!echo done\n", "!echo done\nd2l.use_language('en')\n", False),
    ("NBVAL marker translated", "# NBVAL_IGNORE_OUTPUT", "# NBVAL_忽略输出", False),
]


def _changed(name: str) -> tuple[str, bool]:
    _, old, new, same = next(c for c in CHANGES if c[0] == name)
    assert SAMPLE.count(old) == 1, old
    return SAMPLE.replace(old, new), same


def test_the_sample_is_python_with_magics():
    assert "__ipython_magic__('%matplotlib inline')" in zh_sync.code_skeleton(SAMPLE)
    assert zh_sync.comments(SAMPLE) == ["# one loss per epoch", "# the step does the work"]


@pytest.mark.parametrize("name", [c[0] for c in CHANGES])
def test_code_skeleton_ignores_comments_and_docstrings_only(name):
    changed, same = _changed(name)
    assert (zh_sync.code_skeleton(changed) == zh_sync.code_skeleton(SAMPLE)) is same
    en = [{"cell_type": "markdown", "source": "# Title"}, {"cell_type": "code", "id": "c1", "source": SAMPLE}]
    zh = [{"cell_type": "markdown", "source": "# 标题"}, {"cell_type": "code", "id": "c1", "source": changed}]
    problems = zh_sync.code_differences(en, zh)
    assert (problems == []) is same
    if not same:
        assert len(problems) == 1 and "zh cell 1 (id 'c1')" in problems[0] and "code line" in problems[0]


def test_in_chinese_translates_only_the_verdicts_of_stream_outputs():
    out = nbformat.v4.new_output("stream", name="stdout", text="Question 2: right.\nloss 0.5, Question 3: right.\n")
    assert zh_sync.in_chinese(out)["text"] == "问题 2：正确。\nloss 0.5, Question 3: right.\n"
    shown = nbformat.v4.new_output("execute_result", data={"text/plain": "Question 2: right."}, execution_count=1)
    assert zh_sync.in_chinese(shown) == shown


def test_code_skeleton_keeps_code_that_is_not_python_whole():
    cell_magic = "%%bash\n# a shell comment\necho hi"
    assert zh_sync.code_skeleton(cell_magic) == cell_magic
    broken = "def f(:\n    pass  # comment"
    assert zh_sync.code_skeleton(broken) == broken


def test_code_skeleton_reads_columns_after_chinese_text():
    en = "x = '中'; y = 1  # note\ndef f(): '''Doc.'''; return '文'"
    zh = "x = '中'; y = 1  # 注释\ndef f(): '''说明'''; return '文'"
    assert zh_sync.code_skeleton(en) == zh_sync.code_skeleton(zh) == "x = '中'; y = 1\ndef f(): \"\"; return '文'"


def test_code_differences_counts_code_cells():
    en = [{"cell_type": "code", "id": "a", "source": "x = 1"}, {"cell_type": "code", "id": "b", "source": "y = 2"}]
    assert zh_sync.code_differences(en, en[:1]) == \
        ["the English notebook has 2 code cells, the Chinese one 1 (only in English: 'b')"]
    zh = [{"cell_type": "code", "id": i, "source": "x = 1"} for i in ("a", "z1", "z2", "z3")]
    assert zh_sync.code_differences(en, zh) == ["the English notebook has 2 code cells, the Chinese one 4 "
                                                "(only in English: 'b'; only in Chinese: 'z1', 'z2', 'z3')"]


def _notebook(code: str, outputs: bool) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Some prose", id="md"), nbformat.v4.new_code_cell(code, id="code")]
    if outputs:
        nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="epoch 1: loss 0.500\n")]
        nb.cells[1].execution_count = 3
        nb.cells[1].metadata = {"tags": ["solution"]}
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture
def tool_copy(tmp_path):
    """A copy of the tool in a bare repository layout, and a function that writes notebook pairs and runs it."""
    (tmp_path / "tools" / "maintainer").mkdir(parents=True)
    shutil.copy(REPO / "tools" / "maintainer" / "sync_zh_outputs.py", tmp_path / "tools" / "maintainer")
    shutil.copy(REPO / "pyproject.toml", tmp_path)  # the project's settings (mutmut reads them in a mutated copy)
    for lang in ("en", "zh"):
        (tmp_path / "notebooks" / lang).mkdir(parents=True)

    def run(pairs: dict[str, tuple[str, str]]) -> tuple[subprocess.CompletedProcess, dict[str, bytes]]:
        for name, (en_code, zh_code) in pairs.items():
            nbformat.write(_notebook(en_code, outputs=True), tmp_path / "notebooks" / "en" / name)
            nbformat.write(_notebook(zh_code, outputs=False), tmp_path / "notebooks" / "zh" / name)
        before = {name: (tmp_path / "notebooks" / "zh" / name).read_bytes() for name in pairs}
        result = subprocess.run([sys.executable, str(tmp_path / "tools" / "maintainer" / "sync_zh_outputs.py")],
                                capture_output=True, text=True, cwd=tmp_path)
        return result, before

    run.root = tmp_path
    return run


TOOL_CASES = ["translated comment", "translated docstring", "changed number", "changed string literal",
              "changed identifier", "removed line"]


def _file(name: str) -> str:
    return name.replace(" ", "_") + ".ipynb"


def test_the_tool_copies_outputs_when_only_comments_and_docstrings_differ(tool_copy):
    passing = [name for name in TOOL_CASES if _changed(name)[1]]
    result, _ = tool_copy({_file(name): (SAMPLE, _changed(name)[0]) for name in passing})
    assert result.returncode == 0, result.stderr
    for name in passing:
        zh = nbformat.read(tool_copy.root / "notebooks" / "zh" / _file(name), as_version=4)
        en = nbformat.read(tool_copy.root / "notebooks" / "en" / _file(name), as_version=4)
        assert zh.cells[1].source == _changed(name)[0]  # the translation stays
        assert zh.cells[1].outputs == en.cells[1].outputs and zh.cells[1].execution_count == 3
        assert zh.cells[1].metadata == {"tags": ["solution"]} and zh.metadata == en.metadata


def test_the_tool_refuses_code_changes_and_then_changes_nothing(tool_copy):
    result, before = tool_copy({_file(name): (SAMPLE, _changed(name)[0]) for name in TOOL_CASES})
    assert result.returncode != 0
    assert "nothing was changed" in result.stderr
    for name in TOOL_CASES:
        named = f"{_file(name)}: zh cell 1 (id 'code') differs from en cell 1 (id 'code')" in result.stderr
        assert named is not _changed(name)[1], (name, result.stderr)
    for name, content in before.items():
        assert (tool_copy.root / "notebooks" / "zh" / name).read_bytes() == content, name


# ---- the Chinese edition: comments in Chinese, the glossary's terms ----

def chinese_comments(path: Path) -> tuple[int, list[str]]:
    """How many ``#`` comments of a notebook's code hold Chinese, and the ones that do not (tool markers aside)."""
    found = [c for cell in code_cells(path) for c in zh_sync.comments("".join(cell["source"]))]
    return sum(bool(zh_sync.CJK.search(c)) for c in found), [c for c in found if not zh_sync.CJK.search(c)]


def test_most_comments_in_the_chinese_code_are_chinese():
    counts = {path.name: chinese_comments(path) for path in ZH}
    chinese = sum(n for n, _ in counts.values())
    english = {name: rest for name, (_, rest) in counts.items() if rest}
    total = chinese + sum(map(len, english.values()))
    assert total and chinese >= 0.8 * total, f"{chinese} of {total} comments hold Chinese; translate {english}"


def test_chinese_prose_uses_the_glossary_terms():
    for path in ZH:
        assert "准确率" not in path.read_text(encoding="utf-8"), f"{path.name}: accuracy is 精度 (see GLOSSARY.md)"
    ex4 = (REPO / "notebooks" / "zh" / "lenet_ex4_feature_maps.ipynb").read_text(encoding="utf-8")
    assert "轮廓" not in ex4, "exercise 4: 剪影 for the silhouette map, 外边缘 for the garment's outline"
    chapter = json.loads((REPO / "notebooks" / "zh" / "lenet.ipynb").read_text(encoding="utf-8"))["cells"]
    assert "(GLOSSARY.md)" in "".join([c for c in chapter if c["cell_type"] == "markdown"][-1]["source"])
    assert "(notebooks/zh/GLOSSARY.md)" in (REPO / "README.md").read_text(encoding="utf-8")
    glossary = GLOSSARY.read_text(encoding="utf-8")
    rows = [line for line in glossary.splitlines() if line.startswith("|") and not line.startswith("|---")][1:]
    assert 20 <= len(rows) <= 40, f"{len(rows)} glossary rows"
    for term in ("汇聚层", "精度", "批量规范化", "拉伸参数", "偏移参数", "暂退法", "特征图", "卷积核", "轮"):
        assert term in glossary, term


# ---- sync_zh_outputs in this process: what it copies, what it says ----

def test_code_differences_name_the_first_differing_line_or_nothing():
    en = [{"cell_type": "code", "id": "e", "source": "a = 1\nb = 2"}]
    assert zh_sync.code_differences(en, [{"cell_type": "code", "id": "z", "source": "a = 1\nb = 3"}]) == [
        "zh cell 0 (id 'z') differs from en cell 0 (id 'e') in its code, comments and docstrings aside: code line 2 "
        "is 'b = 2' in English but 'b = 3' in Chinese"]
    assert zh_sync.code_differences(en, [{"cell_type": "code", "id": "z", "source": "a = 1"}])[0].endswith(
        "code line 2 is 'b = 2' in English but '(nothing)' in Chinese")
    assert zh_sync.code_differences(en, [{"cell_type": "code", "source": "a = 1\nb = 2\nc = 3"}])[0].startswith(
        "zh cell 0 (id '?') differs")
    assert zh_sync.code_differences([], [{"cell_type": "code", "id": "z", "source": ""}]) == [
        "the English notebook has 0 code cells, the Chinese one 1 (only in Chinese: 'z')"]
    assert zh_sync.code_differences(en * 2, en) == ["the English notebook has 2 code cells, the Chinese one 1"]


def test_comments_of_magic_cells_and_broken_code_are_none():
    assert zh_sync.comments("%%bash\n# shell") == [] and zh_sync.comments("f(\n# open") == []
    assert zh_sync.comments("x = 1  # one\n#@save\n# NBVAL_SKIP") == ["# one"]
    hidden = "check()\n### BEGIN HIDDEN TESTS\nassert ok  # 隐藏\n### END HIDDEN TESTS"
    assert zh_sync.comments(hidden) == ["# 隐藏"]
    assert zh_sync.code_skeleton(hidden) != zh_sync.code_skeleton(hidden.replace("### END HIDDEN TESTS", "### 结束"))
    assert zh_sync.comments("## BEGIN HIDDEN TESTS\n### BEGIN HIDDEN TESTSX") == ["## BEGIN HIDDEN TESTS",
                                                                                 "### BEGIN HIDDEN TESTSX"]


def test_copy_outputs_copies_outputs_counts_and_metadata_or_nothing(tmp_path):
    en, zh = tmp_path / "en.ipynb", tmp_path / "zh.ipynb"
    nbformat.write(_notebook(SAMPLE, outputs=True), en)
    nbformat.write(_notebook(_changed("translated comment")[0], outputs=False), zh)
    assert zh_sync.copy_outputs(en, zh, write=False) == []
    assert nbformat.read(zh, as_version=4).cells[1].outputs == []  # write=False writes nothing
    assert zh_sync.copy_outputs(en, zh) == []
    got, source = nbformat.read(zh, as_version=4), nbformat.read(en, as_version=4)
    assert got.cells[1].outputs == source.cells[1].outputs and got.cells[1].execution_count == 3
    assert got.cells[1].metadata == {"tags": ["solution"]} and got.metadata == source.metadata
    assert got.cells[1].source == _changed("translated comment")[0] and got.cells[0].source == "Some prose"
    nbformat.write(_notebook(_changed("changed number")[0], outputs=False), zh)
    before = zh.read_bytes()
    [problem] = zh_sync.copy_outputs(en, zh)
    assert problem.startswith(f"{zh}: zh cell 1 (id 'code') differs") and zh.read_bytes() == before


def test_main_copies_every_pair_or_refuses_them_all(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(zh_sync, "REPO", tmp_path)
    for lang in ("en", "zh"):
        (tmp_path / "notebooks" / lang).mkdir(parents=True)
    for name, zh_code in (("a.ipynb", SAMPLE), ("b.ipynb", _changed("changed number")[0])):
        nbformat.write(_notebook(SAMPLE, outputs=True), tmp_path / "notebooks" / "en" / name)
        nbformat.write(_notebook(zh_code, outputs=False), tmp_path / "notebooks" / "zh" / name)
    with pytest.raises(SystemExit, match=r"^the code of the Chinese notebooks differs from the English: copy the code "
                                         r"over first \(translate only prose, comments and docstrings\); nothing was "
                                         r"changed$"):
        zh_sync.main([])
    assert "notebooks/zh/b.ipynb: zh cell 1" in capsys.readouterr().err
    assert nbformat.read(tmp_path / "notebooks" / "zh" / "a.ipynb", as_version=4).cells[1].outputs == []
    assert zh_sync.main(["a.ipynb"]) == 0
    assert capsys.readouterr().out == "copied outputs of notebooks/en/a.ipynb\n"
    assert nbformat.read(tmp_path / "notebooks" / "zh" / "a.ipynb", as_version=4).cells[1].execution_count == 3
    with pytest.raises(SystemExit, match=r"no Chinese twin: .*c\.ipynb"):
        zh_sync.main(["c.ipynb"])


def test_magics_are_masked_in_place_and_strings_kept_whole():
    assert zh_sync._mask_magics("if x:\n    %time f()\n!ls") == "if x:\n    __ipython_magic__('%time f()')\n__ipython_magic__('!ls')"
    assert zh_sync.code_skeleton('x = """a  \n\nb"""  # note\n\ny = 1  \n') == 'x = """a  \n\nb"""\ny = 1'


def test_every_code_cell_pair_is_compared_and_the_shorter_side_named():
    en = [{"cell_type": "code", "id": "1", "source": "a = 1"}, {"cell_type": "code", "id": "2", "source": "b = 2"}]
    zh = [{"cell_type": "code", "id": "1", "source": "a = 1"}, {"cell_type": "code", "id": "2", "source": "b = 2\nc = 3"}]
    assert zh_sync.code_differences(en, zh) == [
        "zh cell 1 (id '2') differs from en cell 1 (id '2') in its code, comments and docstrings aside: code line 2 "
        "is '(nothing)' in English but 'c = 3' in Chinese"]
