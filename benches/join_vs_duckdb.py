"""Deterministic NHS-token join: DuckDB (today) vs. ``linkwell link`` (when built).

    target/bench-venv/bin/python benches/join_vs_duckdb.py                     # 10M x 10M
    target/bench-venv/bin/python benches/join_vs_duckdb.py --left 1000000 --right 1000000

Needs the bench venv (duckdb, psutil) and a release build of linkwell.

1. Generates (cached under /tmp/lwbench/join) two raw CSVs ``id,nhs_number``
   with --left and --right rows: the first ``--overlap`` (default 0.9) x
   min(left, right) people of the right file are also in the left file
   (same NHS number, formatted independently: plain, 3-3-4 spaced,
   hyphenated), every valid number is distinct within a file, and about 0.5%
   of each file is missing or invalid. The generator counts the exact
   number of valid shared numbers: the expected row count of the join.
2. Tokenises both with one fresh key: ``linkwell tokenise --key-file KEY
   --input RAW --output ENC --schema nhs_only.toml`` (timed and reported,
   but not part of either join's time). The encoded files have columns
   ``id,nhs_number_token,nhs_number_status``; an invalid number has an
   empty token.
3. DuckDB (a child process: this script with --worker duckdb; default
   threads = cores) runs one statement:
   ``COPY (SELECT l.id AS left_id, r.id AS right_id FROM read_csv(L) l
   JOIN read_csv(R) r ON l.nhs_number_token = r.nhs_number_token
   WHERE l.nhs_number_token <> '') TO OUT (HEADER)``
   i.e. CSV parsing, the hash join and writing ``left_id,right_id``, all
   timed. The result's row count is checked against the expected count.
4. ``run_linkwell`` (clearly marked below) runs ``linkwell link --method
   deterministic --left L --right R --output OUT --rules rules.toml`` with
   rules.toml ``[[rule]] name = "nhs", keys = ["nhs_number_token"]``. That
   subcommand does not exist yet: when the binary reports an unknown
   subcommand the script says so and skips it, so the DuckDB side runs
   today. When it runs, its (left_id, right_id) set is compared with
   DuckDB's.

Prints a Markdown table: tool, pairs, wall time, CPU seconds, peak memory.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

RULES_TOML = '[[rule]]\nname = "nhs"\nkeys = ["nhs_number_token"]\n'


def duckdb_join(left: Path, right: Path, out: Path, threads: int | None) -> int:
    import duckdb

    con = duckdb.connect(":memory:")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    opts = "header = true, all_varchar = true"
    con.execute(
        f"""
        COPY (
            SELECT l.id AS left_id, r.id AS right_id
            FROM read_csv('{left}', {opts}) AS l
            JOIN read_csv('{right}', {opts}) AS r
              ON l.nhs_number_token = r.nhs_number_token
            WHERE l.nhs_number_token IS NOT NULL AND l.nhs_number_token <> ''
        ) TO '{out}' (HEADER, DELIMITER ',')
        """
    )
    return con.execute(f"SELECT count(*) FROM read_csv('{out}', header = true)").fetchone()[0]


# ==========================================================================
# >>> run_linkwell: linkwell's own deterministic join. <<<
# `linkwell link` is being built; until it exists this returns None and the
# caller prints why. Adjust the command line here once its interface lands.
# ==========================================================================
def run_linkwell(left: Path, right: Path, out: Path, *, binary: Path, workdir: Path):
    """Run ``linkwell link --method deterministic``; the Measurement, or
    None when this linkwell has no ``link`` subcommand."""
    import common

    if not common.subcommand_exists(binary, "link"):
        return None
    rules = workdir / "rules.toml"
    rules.write_text(RULES_TOML, encoding="utf-8")
    out.unlink(missing_ok=True)
    return common.measure(
        [binary, "link", "--method", "deterministic", "--left", left, "--right", right, "--output", out,
         "--rules", rules]
    ).check("linkwell link --method deterministic")


def pair_set(path: Path, left_col: str = "left_id", right_col: str = "right_id") -> set:
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        if left_col not in r.fieldnames or right_col not in r.fieldnames:
            raise KeyError(f"{path} has columns {r.fieldnames}, expected {left_col} and {right_col}")
        return {(row[left_col], row[right_col]) for row in r}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--left", type=int, default=10_000_000)
    ap.add_argument("--right", type=int, default=10_000_000)
    ap.add_argument("--overlap", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: DuckDB's, = cores)")
    ap.add_argument("--linkwell", help="linkwell binary (default: $LINKWELL or target/release/linkwell)")
    ap.add_argument("--workdir", type=Path, default=None, help="default /tmp/lwbench/join")
    ap.add_argument("--worker", choices=["duckdb"], help=argparse.SUPPRESS)
    ap.add_argument("--l", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--r", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.worker:
        print(duckdb_join(a.l, a.r, a.out, a.threads))
        return 0

    import common
    import gendata

    lw = common.linkwell_binary(a.linkwell)
    work = a.workdir or common.DATA_DIR / "join"
    work.mkdir(parents=True, exist_ok=True)
    print(f"generating/reusing raw files {a.left:,} x {a.right:,} ...", file=sys.stderr)
    raw_l, raw_r, expected = gendata.join_pair(a.left, a.right, a.overlap, a.seed)
    key = work / "key.hex"
    key.unlink(missing_ok=True)
    common.keygen(lw, key)
    schema = common.write_nhs_only_schema(work / "nhs_only.toml")
    tag = f"{a.left}x{a.right}"
    enc_l, enc_r = work / f"enc-left-{tag}.csv", work / f"enc-right-{tag}.csv"
    tok = []
    for raw, enc in ((raw_l, enc_l), (raw_r, enc_r)):
        enc.unlink(missing_ok=True)
        m = common.measure([lw, "tokenise", "--key-file", key, "--input", raw, "--output", enc,
                            "--schema", schema]).check("linkwell tokenise")
        tok.append(m)
        print(m.stderr.strip().splitlines()[0], file=sys.stderr)

    out_duck = work / f"duckdb-{tag}.csv"
    out_duck.unlink(missing_ok=True)
    cmd = common.python_cmd() + [Path(__file__).resolve(), "--worker", "duckdb", "--l", enc_l, "--r", enc_r,
                                 "--out", out_duck]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    md = common.measure(cmd).check("DuckDB join")
    n_duck = int(md.stdout.strip().splitlines()[-1])
    print(f"duckdb: {md.wall_s:.2f}s, {n_duck:,} pairs (expected {expected:,})", file=sys.stderr)

    rows = [["DuckDB inner join (read CSV, join, write CSV)", f"{n_duck:,}", f"{md.wall_s:.2f}", common.cpu(md),
             common.mib(md.peak_rss), common.mib(md.peak_tree_rss), md.busy_before_pct]]
    out_lw = work / f"linkwell-{tag}.csv"
    ml = run_linkwell(enc_l, enc_r, out_lw, binary=lw, workdir=work)
    lw_note = None
    if ml is None:
        lw_note = (f"linkwell link: SKIPPED - {lw} has no `link` subcommand yet "
                   "(run_linkwell in this script will time it once it exists)")
    else:
        lw_pairs = pair_set(out_lw)
        duck_pairs = pair_set(out_duck)
        same = lw_pairs == duck_pairs
        lw_note = (f"linkwell link pairs vs DuckDB pairs: {'IDENTICAL' if same else 'DIFFERENT'} "
                   f"(linkwell {len(lw_pairs):,}, DuckDB {len(duck_pairs):,}, "
                   f"only linkwell {len(lw_pairs - duck_pairs):,}, only DuckDB {len(duck_pairs - lw_pairs):,})")
        rows.append(["linkwell link --method deterministic", f"{len(lw_pairs):,}", f"{ml.wall_s:.2f}",
                     common.cpu(ml), common.mib(ml.peak_rss), common.mib(ml.peak_tree_rss), ml.busy_before_pct])

    print()
    print(f"### deterministic join on nhs_number_token: {a.left:,} x {a.right:,} encoded rows "
          f"(overlap {a.overlap:g}; expected {expected:,} pairs)")
    print()
    print(common.md_table(["tool", "pairs", "wall s", "CPU s (user+sys)", "peak RSS", "peak tree RSS",
                           "CPU busy % before start"], rows))
    print()
    print(f"pairs check: DuckDB found {n_duck:,}, generator expected {expected:,}: "
          f"{'OK' if n_duck == expected else 'MISMATCH'}")
    print(lw_note)
    print("tokenising the inputs (not part of the join times): "
          + "; ".join(f"{n:,} rows {m.wall_s:.2f}s" for n, m in ((a.left, tok[0]), (a.right, tok[1]))))
    return 0 if n_duck == expected else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        if type(e).__name__ == "BenchError":
            sys.exit(f"join_vs_duckdb: {e}")
        raise
