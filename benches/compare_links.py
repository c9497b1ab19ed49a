"""Where two linkages of the same files differ, record by record, against the truth.

    target/bench-venv/bin/python benches/compare_links.py \
        --truth /tmp/lwbench/synth-1000000-s1/truth.csv \
        --a /tmp/lwbench/accuracy-1000000-s1/lw-dwp-cascade.csv \
        --a-scores SCORES.csv \
        --b /tmp/lwbench/accuracy-1000000-s1/splink-dwp.csv

Both link files go through the same greedy assignment as in
accuracy_vs_splink_anonlink.py (one left record per right record for
one-to-many), each at its threshold (--a-threshold, --b-threshold; a link
without a probability, one of linkwell's deterministic rules, scores 1.0).
Every right record either tool links is classed by what each did with it:
a true link (T), a false one (F), or none. For the records B links truly
and A leaves unlinked, --a-scores (the file `linkwell link --scores` writes:
every candidate pair linkwell compared in its probabilistic stage) tells
whether A compared B's true pair at all (a blocking miss) or compared it
and scored it below its threshold. Prints the counts; no identifier.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy_vs_splink_anonlink import Truth, assign, read_scored  # noqa: E402


def assigned(path: Path, threshold: float, cardinality: str) -> dict[str, str]:
    """Right id -> left id of the link the assignment keeps at `threshold`."""
    return {b: a for a, b, s in assign(read_scored(path), cardinality) if s >= threshold}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--left-dataset", default="nhs_patients")
    ap.add_argument("--right-dataset", default="dwp_claims")
    ap.add_argument("--cardinality", default="one-to-many", choices=["one-to-one", "one-to-many"])
    ap.add_argument("--a", type=Path, required=True, help="links of tool A (linkwell)")
    ap.add_argument("--a-threshold", type=float, default=0.5)
    ap.add_argument("--a-scores", type=Path, help="linkwell's --scores file for the same run")
    ap.add_argument("--b", type=Path, required=True, help="links of tool B (e.g. Splink)")
    ap.add_argument("--b-threshold", type=float, default=0.5)
    a = ap.parse_args()

    truth = Truth(a.truth, a.left_dataset, a.right_dataset, a.cardinality)
    la = assigned(a.a, a.a_threshold, a.cardinality)
    lb = assigned(a.b, a.b_threshold, a.cardinality)

    def cls(links: dict[str, str], right: str) -> str:
        if right not in links:
            return "none"
        return "T" if truth.is_true(links[right], right) else "F"

    classes = Counter((cls(la, r), cls(lb, r)) for r in set(la) | set(lb))
    print("right records by (A, B): T true link, F false link, none")
    for (x, y), n in sorted(classes.items(), key=lambda kv: -kv[1]):
        print(f"  A {x:>4}  B {y:>4}  {n:>9,}")

    if a.a_scores:
        misses = {(lb[r], r) for r in lb if cls(la, r) == "none" and cls(lb, r) == "T"}
        compared = set()
        with open(a.a_scores, newline="") as f:
            for row in csv.DictReader(f):
                pair = (row["left_id"], row["right_id"])
                if pair in misses:
                    compared.add(pair)
        print(f"B's true links that A left unlinked: {len(misses):,}")
        print(f"  never compared by A (no blocking rule held): {len(misses) - len(compared):,}")
        print(f"  compared by A and scored below its threshold: {len(compared):,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
