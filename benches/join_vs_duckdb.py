"""Deterministic NHS-token join: DuckDB vs. ``linkwell link --method deterministic``.

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
4. ``run_linkwell`` runs ``linkwell link --method deterministic --left L
   --right R --output OUT --rules rules.toml --cardinality C`` with
   rules.toml ``[[rule]] name = "nhs", keys = ["nhs_number_token"]`` (one
   rule: the NHS token), reading the same encoded CSVs (and their
   manifests: linkwell checks the key fingerprint and the SHA-256 of each
   file before linking, all timed), joining, and writing
   ``left_id,right_id,rule`` plus its manifest. It runs twice, with
   ``--cardinality one-to-one`` (the NHS <-> ONS setting) and
   ``--cardinality many-to-many`` (DuckDB's inner-join semantics: every
   pair sharing a key). Every valid number is distinct within each
   generated file, so the two semantics coincide here and both must return
   exactly DuckDB's pairs; the script checks each pair set against
   DuckDB's. (With a key repeated on one side, one-to-one would report it
   as ambiguous and link nothing on it, while the inner join and
   many-to-many return every pair.)

Each tool's runs are interleaved (DuckDB, linkwell one-to-one, linkwell
many-to-many, then again, --repeat times) so that other work on the machine
hits all of them alike; the table gives the median run and lists all.

Prints a Markdown table: tool, pairs, wall time, CPU seconds, peak memory.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
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


def run_linkwell(left: Path, right: Path, out: Path, *, binary: Path, workdir: Path, cardinality: str):
    """``linkwell link --method deterministic`` with a one-rule rules file on
    ``nhs_number_token``; its Measurement."""
    import common

    rules = workdir / "rules.toml"
    rules.write_text(RULES_TOML, encoding="utf-8")
    for p in (out, Path(f"{out}.manifest.json"), Path(f"{out}.ambiguous.csv")):
        p.unlink(missing_ok=True)
    return common.measure(
        [binary, "link", "--method", "deterministic", "--left", left, "--right", right, "--output", out,
         "--rules", rules, "--cardinality", cardinality]
    ).check(f"linkwell link --method deterministic --cardinality {cardinality}")


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
    ap.add_argument("--repeat", type=int, default=3, help="runs of each tool, interleaved")
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
    cmd_duck = common.python_cmd() + [Path(__file__).resolve(), "--worker", "duckdb", "--l", enc_l, "--r", enc_r,
                                      "--out", out_duck]
    if a.threads:
        cmd_duck += ["--threads", str(a.threads)]
    cards = ["one-to-one", "many-to-many"]
    runs: dict[str, list] = {"duckdb": [], **{c: [] for c in cards}}
    n_duck = None
    for rep in range(a.repeat):
        print(f"run {rep + 1}/{a.repeat} (load {os.getloadavg()[0]:.2f})", file=sys.stderr)
        out_duck.unlink(missing_ok=True)
        md = common.measure(cmd_duck).check("DuckDB join")
        n_duck = int(md.stdout.strip().splitlines()[-1])
        runs["duckdb"].append(md)
        print(f"  duckdb: {md.wall_s:.2f}s, {n_duck:,} pairs (expected {expected:,})", file=sys.stderr)
        for c in cards:
            ml = run_linkwell(enc_l, enc_r, work / f"linkwell-{tag}-{c}.csv", binary=lw, workdir=work,
                              cardinality=c)
            runs[c].append(ml)
            print(f"  linkwell {c}: {ml.wall_s:.2f}s", file=sys.stderr)

    def med(lst):
        walls = [m.wall_s for m in lst]
        return lst[walls.index(statistics.median_low(walls))], walls

    duck_pairs = pair_set(out_duck)
    checks = [f"DuckDB: {len(duck_pairs):,} distinct pairs ({n_duck:,} rows), generator expected {expected:,}: "
              f"{'OK' if n_duck == expected == len(duck_pairs) else 'MISMATCH'}"]
    ok = n_duck == expected
    rows = []
    m, walls = med(runs["duckdb"])
    rows.append(["DuckDB inner join (read CSV, join, write CSV)", f"{n_duck:,}", f"{m.wall_s:.2f}",
                 ", ".join(f"{w:.2f}" for w in walls), common.cpu(m), common.mib(m.peak_rss),
                 common.mib(m.peak_tree_rss), m.busy_before_pct])
    for c in cards:
        out_lw = work / f"linkwell-{tag}-{c}.csv"
        lw_pairs = pair_set(out_lw)
        same = lw_pairs == duck_pairs
        ok = ok and same
        checks.append(f"linkwell --cardinality {c} vs DuckDB: {'IDENTICAL' if same else 'DIFFERENT'} "
                      f"(linkwell {len(lw_pairs):,}, only linkwell {len(lw_pairs - duck_pairs):,}, "
                      f"only DuckDB {len(duck_pairs - lw_pairs):,})")
        del lw_pairs
        m, walls = med(runs[c])
        rows.append([f"linkwell link --method deterministic --cardinality {c}", f"{len(duck_pairs) if same else -1:,}",
                     f"{m.wall_s:.2f}", ", ".join(f"{w:.2f}" for w in walls), common.cpu(m),
                     common.mib(m.peak_rss), common.mib(m.peak_tree_rss), m.busy_before_pct])
        summary = [ln.strip() for ln in m.stderr.strip().splitlines() if ln.strip()]
        checks.append(f"linkwell --cardinality {c} says: " + " | ".join(summary[:3]))

    print()
    print(f"### deterministic join on nhs_number_token: {a.left:,} x {a.right:,} encoded rows "
          f"(overlap {a.overlap:g}; expected {expected:,} pairs), median of {a.repeat}")
    print()
    print(f"- machine: {common.machine_line()}; date {common.today()}")
    print(f"- versions: {common.versions(lw, ['duckdb'])}")
    print()
    print(common.md_table(["tool", "pairs", "wall s (median)", "all runs s", "CPU s (user+sys)", "peak RSS",
                           "peak tree RSS", "CPU busy % before start"], rows, with_machine=False))
    print()
    dm, _ = med(runs["duckdb"])
    for c in cards:
        lm, _ = med(runs[c])
        print(f"- DuckDB / linkwell {c}: wall {dm.wall_s / lm.wall_s:.2f}x, CPU "
              f"{(dm.cpu_s or 0) / (lm.cpu_s or 1):.2f}x, peak RSS {(lm.peak_rss or 0) / (dm.peak_rss or 1):.2f} of DuckDB's")
    for line in checks:
        print(f"- {line}")
    print("- tokenising the inputs (not part of the join times): "
          + "; ".join(f"{n:,} rows {m.wall_s:.2f}s (CPU {common.cpu(m)})"
                      for n, m in ((a.left, tok[0]), (a.right, tok[1]))))
    print(f"- encoded inputs: {enc_l} ({enc_l.stat().st_size / 1e6:,.0f} MB), {enc_r} "
          f"({enc_r.stat().st_size / 1e6:,.0f} MB)")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        if type(e).__name__ == "BenchError":
            sys.exit(f"join_vs_duckdb: {e}")
        raise
