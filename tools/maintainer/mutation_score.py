"""The mutation score of the last ``mutmut run``: killed mutants over the mutants that can change behaviour.

    python tools/maintainer/mutation_score.py            # per-module table, the score, and the survivors not judged equivalent
    python tools/maintainer/mutation_score.py --sample 0.15 --seed 14 PATTERN...   # names of a random sample, for `mutmut run`

Reads mutmut's results (``mutants/**/*.meta``) and the survivors judged equivalent, listed in
equivalent_mutants.md beside this tool as lines ``- `MUTANT_NAME`: reason``. A timeout counts as killed (the tests
noticed); a mutant no quick-tier test reaches ("no tests") counts as a survivor; mutants that
were not run are reported and left out of the score. When only some mutants of a module
were run (a random sample, see ``--sample``), the estimate for all mutants weights each
module's killed fraction by its number of mutants.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LEDGER = Path(__file__).resolve().parent / "equivalent_mutants.md"
TIMEOUTS = {24, -24, 36, 152, 255}  # mutmut's exit codes for a worker stopped at its time limit
KILLED = {1, 3} | TIMEOUTS  # failed tests, pytest's internal error, timeouts
SURVIVED = {0, 5, 33}  # tests passed, or no test reached the mutant
EQUIVALENT = re.compile(r"^- `([\w.ǁ]+__mutmut_\d+)`: \S")


def equivalent_mutants(ledger: Path | None = None) -> set[str]:
    """The mutant names listed as equivalent in ``ledger`` (default: equivalent_mutants.md)."""
    ledger = ledger or LEDGER
    return {m.group(1) for line in ledger.read_text(encoding="utf-8").splitlines() if (m := EQUIVALENT.match(line))}


def results(root: Path | None = None) -> dict[str, dict[str, int | None]]:
    """Exit code by mutant name, per source file, from mutmut's meta files (default: the checkout's mutants/)."""
    root = root or REPO / "mutants"
    return {meta.relative_to(root).as_posix().removesuffix(".meta"):
            json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
            for meta in sorted(root.rglob("*.py.meta"))}


def sample(fraction: float, seed: int, skip: list[str]) -> list[str]:
    """A random ``fraction`` of each module's mutants, leaving out the names matching a pattern in ``skip``."""
    rng = random.Random(seed)
    names = []
    for codes in results().values():
        pool = sorted(name for name in codes if not any(fnmatch.fnmatch(name, p) for p in skip))
        names += rng.sample(pool, round(fraction * len(pool)))
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=float, help="print the names of this fraction of each module's mutants")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("skip", nargs="*", help="with --sample: patterns of mutant names to leave out")
    args = parser.parse_args(argv)
    if args.sample is not None:
        print(" ".join(sample(args.sample, args.seed, args.skip)))
        return 0
    equivalent = equivalent_mutants()
    by_file = results()
    if not by_file:
        print("no results: run `mutmut run` first (see docs/maintainers.md)")
        return 1
    totals: Counter[str] = Counter()
    rates: list[tuple[int, float]] = []  # (mutants, killed fraction) of each module with mutants run
    open_survivors = []
    print(f"{'module':<34} {'mutants':>7} {'killed':>6} {'equiv':>5} {'surv':>5} {'not run':>7}")
    for path, codes in by_file.items():
        if not codes:
            continue
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            if code in KILLED:
                counts["killed"] += 1
                counts["timeouts"] += code in TIMEOUTS
            elif code in SURVIVED and name in equivalent:
                counts["equivalent"] += 1
            elif code in SURVIVED:
                counts["survived"] += 1
                open_survivors.append(name)
            else:
                counts["not run"] += 1
        totals.update(counts)
        if counts["killed"] + counts["survived"]:
            rates.append((len(codes), counts["killed"] / (counts["killed"] + counts["survived"])))
        print(f"{path:<34} {len(codes):>7} {counts['killed']:>6} {counts['equivalent']:>5} {counts['survived']:>5} "
              f"{counts['not run']:>7}")
    judged = totals["killed"] + totals["survived"]
    print(f"score of the mutants run: {totals['killed']} killed of {judged} non-equivalent mutants = "
          f"{100 * totals['killed'] / max(judged, 1):.1f}% ({totals['timeouts']} of the kills by timeout; "
          f"{totals['equivalent']} equivalent, "
          f"{totals['not run']} not run)")
    mutants = sum(n for n, _ in rates)
    weighted = sum(n * rate for n, rate in rates)
    print(f"\nestimate for all {mutants} mutants of the modules run (each module's killed "
          f"fraction weighted by its mutants): {100 * weighted / max(mutants, 1):.1f}%")
    stale = equivalent - {name for codes in by_file.values() for name, code in codes.items() if code in SURVIVED}
    if stale:
        print(f"listed as equivalent but not a survivor now: {', '.join(sorted(stale))}")
    if open_survivors:
        print("survivors not judged equivalent:\n  " + "\n  ".join(open_survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
