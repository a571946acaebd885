"""tools/maintainer/mutation_score.py: what counts as killed, survived, equivalent or not run, and the sample."""
from __future__ import annotations

import json
import sys

from conftest import REPO

sys.path.insert(0, str(REPO))  # the tools as the package tools/, the name mutmut gives their mutants
from tools.maintainer import mutation_score as tool  # noqa: E402


def _mutants(root, codes_by_file: dict[str, dict[str, int | None]]) -> None:
    for path, codes in codes_by_file.items():
        meta = root / "mutants" / f"{path}.meta"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"exit_code_by_key": codes}), encoding="utf-8")


def test_the_score_is_killed_over_killed_and_survivors(tmp_path, monkeypatch, capsys):
    _mutants(tmp_path, {"d2l_local/metrics.py": {"m.a__mutmut_1": 1, "m.a__mutmut_2": 24, "m.a__mutmut_3": 0,
                                                 "m.a__mutmut_4": 0, "m.a__mutmut_5": None, "m.a__mutmut_6": 33}})
    ledger = tmp_path / "ledger.md"
    ledger.write_text("# Ledger\n\n- `m.a__mutmut_4`: the same codec.\n- `m.gone__mutmut_9`: no longer there.\n"
                      "- not a mutant line\n", encoding="utf-8")
    monkeypatch.setattr(tool, "REPO", tmp_path)
    monkeypatch.setattr(tool, "LEDGER", ledger)
    assert tool.main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["d2l_local/metrics.py", "6", "2", "1", "2", "1"]
    assert out[2] == ("score of the mutants run: 2 killed of 4 non-equivalent mutants = 50.0% (1 of the kills by "
                      "timeout; 1 equivalent, 1 not run)")
    assert out[4] == "estimate for all 6 mutants of the modules run (each module's killed fraction weighted by " \
                     "its mutants): 50.0%"
    assert out[5] == "listed as equivalent but not a survivor now: m.gone__mutmut_9"
    assert out[6:] == ["survivors not judged equivalent:", "  m.a__mutmut_3", "  m.a__mutmut_6"]


def test_no_results_says_how_to_make_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tool, "REPO", tmp_path)
    assert tool.main([]) == 1
    assert capsys.readouterr().out == "no results: run `mutmut run` first (see docs/maintainers.md)\n"


def test_a_sample_takes_the_same_share_of_each_module_and_leaves_out_the_patterns(tmp_path, monkeypatch, capsys):
    _mutants(tmp_path, {"a.py": {f"a.f__mutmut_{i}": None for i in range(20)},
                        "b.py": {f"b.g__mutmut_{i}": None for i in range(10)} | {f"b.h__mutmut_{i}": None
                                                                               for i in range(10)}})
    monkeypatch.setattr(tool, "REPO", tmp_path)
    assert tool.main(["--sample", "0.5", "--seed", "3", "b.h*"]) == 0
    names = capsys.readouterr().out.split()
    assert len([n for n in names if n.startswith("a.f")]) == 10 and len([n for n in names if n.startswith("b.g")]) == 5
    assert not [n for n in names if n.startswith("b.h")] and len(set(names)) == 15
    assert tool.sample(0.5, 3, ["b.h*"]) == names  # the seed decides the sample


def test_a_module_whose_mutants_all_survived_counts_in_the_estimate(tmp_path, monkeypatch, capsys):
    _mutants(tmp_path, {"a.py": {"a.f__mutmut_1": 1}, "b.py": {"b.g__mutmut_1": 0, "b.g__mutmut_2": 0,
                                                              "b.g__mutmut_3": 0}})
    monkeypatch.setattr(tool, "REPO", tmp_path)
    monkeypatch.setattr(tool, "LEDGER", tmp_path / "none.md")
    (tmp_path / "none.md").write_text("", encoding="utf-8")
    assert tool.main([]) == 0
    out = capsys.readouterr().out
    assert "estimate for all 4 mutants of the modules run (each module's killed fraction weighted by its " \
           "mutants): 25.0%" in out
