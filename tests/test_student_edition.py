"""The student edition: solution cells blanked, everything else unchanged, valid notebooks."""
import json
import subprocess
import sys

import nbformat
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import build_student_edition as edition  # noqa: E402

TOOL = REPO / "tools" / "build_student_edition.py"
EXERCISES = ["lenet_ex1_max_pooling", "lenet_ex2_improve", "lenet_ex3_mnist", "lenet_ex4_feature_maps"]


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    result = subprocess.run([sys.executable, str(TOOL), "--out", str(out)], capture_output=True, text=True,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr
    return out / "notebooks"


def _pairs(student):
    for language in edition.LANGUAGES:
        for source in sorted((REPO / "notebooks" / language).glob("*.ipynb")):
            yield source, student / language / source.name


def test_every_notebook_is_written_and_valid(student):
    pairs = list(_pairs(student))
    assert len(pairs) >= 2 * (1 + len(EXERCISES))
    for source, target in pairs:
        assert target.exists(), f"{target} missing"
        nbformat.validate(nbformat.read(target, as_version=4))


def test_exercises_have_solutions_in_both_languages():
    for name in EXERCISES:
        tags = {}
        for language in edition.LANGUAGES:
            nb = json.loads((REPO / "notebooks" / language / f"{name}.ipynb").read_text(encoding="utf-8"))
            tags[language] = [edition.is_solution(c) for c in nb["cells"]]
            code = [c for c in nb["cells"] if c["cell_type"] == "code" and edition.is_solution(c)]
            assert code, f"{language}/{name} has no solution code cell"
        assert tags["en"] == tags["zh"], f"{name}: solution tags differ between en and zh"


def test_non_solution_cells_unchanged_and_solutions_blank(student):
    for source, target in _pairs(student):
        original = json.loads(source.read_text(encoding="utf-8"))
        built = json.loads(target.read_text(encoding="utf-8"))
        assert built["metadata"] == original["metadata"]
        assert len(built["cells"]) == len(original["cells"]), source.name
        for before, after in zip(original["cells"], built["cells"]):
            assert after.get("id") == before.get("id")
            if not edition.is_solution(before):
                assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True), \
                    f"{target}: non-solution cell {before.get('id')} changed"
                continue
            assert after["metadata"] == before["metadata"]
            assert "your turn" in _source(after).lower() or "轮到你了" in _source(after)
            if after["cell_type"] == "code":
                assert after["outputs"] == [] and after["execution_count"] is None


def test_no_solution_text_left(student):
    for source, target in _pairs(student):
        original = json.loads(source.read_text(encoding="utf-8"))
        text = target.read_text(encoding="utf-8")
        given = "\n".join(_source(c) for c in original["cells"] if not edition.is_solution(c))
        for cell in original["cells"]:
            if not edition.is_solution(cell):
                continue
            body = _source(cell).strip()
            assert json.dumps(body, ensure_ascii=False)[1:-1] not in text, f"{target}: solution cell {cell.get('id')} still present"
            for line in body.splitlines():
                line = line.strip()
                # a line that only the solution contains must not appear anywhere in the student edition
                if len(line) >= 12 and line not in given:
                    assert json.dumps(line, ensure_ascii=False)[1:-1] not in text, f"{target}: solution line {line!r} leaked"


def test_placeholder_language_follows_the_notebook(student):
    for language, marker in (("en", "Your turn"), ("zh", "轮到你了")):
        nb = json.loads((student / language / "lenet_ex1_max_pooling.ipynb").read_text(encoding="utf-8"))
        blanks = [c for c in nb["cells"] if edition.is_solution(c)]
        assert blanks and all(marker in _source(c) for c in blanks)
