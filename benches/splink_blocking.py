"""How tight are the Splink blocking rules of accuracy_vs_splink_anonlink.py?

    target/bench-venv/bin/python benches/splink_blocking.py --people 1000000            # NHS x DWP
    target/bench-venv/bin/python benches/splink_blocking.py --people 100000 --pair ons

For the cached ``linkwell synth`` data of the accuracy benchmark (generate it
by running that script first), prints, for the prediction blocking rules the
benchmark gives Splink, and then for the same rules plus ``block_on("dob")``:

* Splink's own count of the comparisons each rule adds
  (``splink.blocking_analysis.count_comparisons_from_blocking_rules`` with
  ``record_sample_proportion=1.0``: exact, not estimated);
* how many same-person pairs (from truth.csv) no rule reaches, i.e. the
  recall ceiling the blocking puts on Splink.

Not timed; it documents why the rules were chosen (tight, but missing few
true pairs), so that the Splink configuration can be checked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    import duckdb
    from splink import DuckDBAPI, block_on
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    import common
    from accuracy_vs_splink_anonlink import LEFT, PAIRS, splink_blocking_rules, std_sql

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pair", choices=sorted(PAIRS), default="dwp")
    ap.add_argument("--synth-dir", type=Path, default=None)
    a = ap.parse_args()
    spec = PAIRS[a.pair]
    data = a.synth_dir or common.DATA_DIR / f"synth-{a.people}-s{a.seed}"
    if not (data / "truth.csv").exists():
        raise common.BenchError(f"no synthetic data in {data}: run accuracy_vs_splink_anonlink.py --people "
                                f"{a.people} first (or linkwell synth)")
    nhs = spec["nhs_number"]
    con = duckdb.connect(":memory:")
    truth = f"read_csv('{data / 'truth.csv'}', header = true, all_varchar = true)"
    for t, f, idc in (("l_std", LEFT[1], LEFT[2]), ("r_std", spec["file"], spec["id"])):
        con.execute(f"CREATE TABLE {t} AS SELECT s.*, t.person_id FROM ({std_sql(data / f, idc, upper=False, nhs=nhs)}) s "
                    f"JOIN {truth} t ON t.record_id = s.unique_id")
    db = DuckDBAPI(connection=con)
    left = db.register("l_std", dataset_display_name="nhs")
    right = db.register("r_std", dataset_display_name="other")
    true_pairs = con.execute("SELECT count(*) FROM l_std l JOIN r_std r USING (person_id)").fetchall()[0][0]
    print(f"{data}: NHS x {spec['dataset']}, {true_pairs:,} same-person pairs")

    for label, rules in (("benchmark rules", splink_blocking_rules(nhs)),
                         ("benchmark rules + dob", splink_blocking_rules(nhs) + [block_on("dob")])):
        print(f"\n{label}:")
        print("| rule | comparisons added | cumulative |")
        print("|---|---|---|")
        for rec in count_comparisons_from_blocking_rules([left, right], blocking_rules=rules, link_type="link_only",
                                                         record_sample_proportion=1.0):
            print(f"| `{rec['blocking_rule']}` | {rec['marginal_comparison_count']:,} | "
                  f"{rec['cumulative_comparison_count']:,} |")
        conds = " OR ".join(
            "COALESCE(" + (r if isinstance(r, str) else r.get_blocking_rule("duckdb").blocking_rule_sql) + ", false)"
            for r in rules)
        missed = con.execute(f"SELECT count(*) FROM l_std l JOIN r_std r USING (person_id) WHERE NOT ({conds})"
                             ).fetchall()[0][0]
        print(f"\nsame-person pairs no rule reaches: {missed:,} of {true_pairs:,} ({missed / true_pairs:.4%})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        if type(e).__name__ == "BenchError":
            sys.exit(f"splink_blocking: {e}")
        raise
