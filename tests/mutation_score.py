"""The mutation score of the last ``mutmut run``: killed mutants over the mutants that can change behaviour.

    python tests/mutation_score.py            # per-module table, the score, and the survivors not judged equivalent

Reads mutmut's results (``mutants/**/*.meta``) and the survivors judged equivalent, listed in
tests/README.md as lines ``- `MUTANT_NAME`: reason``. A timeout counts as killed (the tests
noticed); a mutant no quick-tier test reaches ("no tests") counts as a survivor; mutants that
were not run are reported and left out of the score.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "tests" / "README.md"
KILLED = {1, 3, 24, -24, 36, 152, 255}  # failed tests, pytest's internal error, timeouts (mutmut's exit codes)
SURVIVED = {0, 5, 33}  # tests passed, or no test reached the mutant
EQUIVALENT = re.compile(r"^- `([\w.ǁ]+__mutmut_\d+)`: \S")


def equivalent_mutants(readme: Path = README) -> set[str]:
    """The mutant names listed as equivalent in tests/README.md."""
    return {m.group(1) for line in readme.read_text(encoding="utf-8").splitlines() if (m := EQUIVALENT.match(line))}


def results(root: Path = REPO / "mutants") -> dict[str, dict[str, int | None]]:
    """Exit code by mutant name, per source file, from mutmut's meta files."""
    return {meta.relative_to(root).as_posix().removesuffix(".meta"):
            json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
            for meta in sorted(root.rglob("*.py.meta"))}


def main() -> int:
    equivalent = equivalent_mutants()
    by_file = results()
    if not by_file:
        print("no results: run `mutmut run` first (see tests/README.md)")
        return 1
    totals: Counter[str] = Counter()
    open_survivors = []
    print(f"{'module':<34} {'mutants':>7} {'killed':>6} {'equiv':>5} {'surv':>5} {'not run':>7}")
    for path, codes in by_file.items():
        if not codes:
            continue
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            if code in KILLED:
                counts["killed"] += 1
            elif code in SURVIVED and name in equivalent:
                counts["equivalent"] += 1
            elif code in SURVIVED:
                counts["survived"] += 1
                open_survivors.append(name)
            else:
                counts["not run"] += 1
        totals.update(counts)
        print(f"{path:<34} {len(codes):>7} {counts['killed']:>6} {counts['equivalent']:>5} {counts['survived']:>5} "
              f"{counts['not run']:>7}")
    judged = totals["killed"] + totals["survived"]
    print(f"\nscore: {totals['killed']} killed of {judged} non-equivalent mutants = "
          f"{100 * totals['killed'] / max(judged, 1):.1f}% ({totals['equivalent']} equivalent, "
          f"{totals['not run']} not run)")
    stale = equivalent - {name for codes in by_file.values() for name, code in codes.items() if code in SURVIVED}
    if stale:
        print(f"listed as equivalent but not a survivor now: {', '.join(sorted(stale))}")
    if open_survivors:
        print("survivors not judged equivalent:\n  " + "\n  ".join(open_survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
