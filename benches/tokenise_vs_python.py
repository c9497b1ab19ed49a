"""linkwell tokenise vs. "the obvious Python", on NHS numbers only.

    target/bench-venv/bin/python benches/tokenise_vs_python.py            # 2,000,000 rows
    target/bench-venv/bin/python benches/tokenise_vs_python.py --rows 100000 --repeat 1

(Any Python 3.11 runs it; only the standard library and, optionally,
psutil are used. Build linkwell first: ``cargo build --release``.)

What it does, in one run on one input file:

1. Generates (or reuses, cached by size and seed under /tmp/lwbench/inputs)
   a CSV ``id,nhs_number,family_name,date_of_birth`` with ``--rows`` rows:
   valid 999-range NHS numbers, about 16% of them written with spaces or
   hyphens (3-3-4) or padded, and about 2% missing or invalid (wrong check
   digit, wrong length, check value 10, placeholders such as 0000000000,
   letters, separators in places linkwell refuses, "N/A").
2. ``linkwell keygen`` makes a fresh key; ``linkwell tokenise --key-file KEY
   --input IN --output OUT --schema nhs_only.toml`` with the schema
   ``id_column = "id"`` and one field ``nhs_number`` of kind ``nhs_number``.
3. The Python baseline runs as a child process of its own (this script with
   ``--worker``): ``csv`` module in and out; for each row it normalises the
   NHS number and writes ``hmac.new(K_D, number, hashlib.sha256).hexdigest()``
   where, exactly as linkwell publishes the derivation,
   ``secret = bytes.fromhex(key file)``,
   ``K_D = HMAC-SHA256(secret, b"linkwell/v1/token/nhs_number")``,
   ``token = HMAC-SHA256(K_D, ten ASCII digits)``.
   Normalisation follows crates/linkwell/src/nhs.rs: trim surrounding
   whitespace; only ASCII digits, spaces and hyphens; separators only
   between digits (not first, not last); ten digits; not all one digit
   (placeholder); Modulus 11 with weights 10..2, 11 -> 0, 10 invalid, and
   the check digit must agree. It also writes linkwell's status names so the
   two outputs can be compared column for column.
4. Verifies that the two outputs agree on every row (id, token and status);
   any difference is printed and the script exits 1 — a difference in a
   token would mean linkwell does not implement its published derivation.
5. Prints wall time, rows/s and peak memory of each (median of
   ``--repeat`` runs, each tool alternately), and the speed-up. The target
   is linkwell >= 10x faster.

Both tools read the same file from the page cache (it was just written or
read), write to /tmp/lwbench/tokenise, and are measured identically by
common.measure (wall clock around the child process, peak RSS from
/usr/bin/time -v). linkwell also writes its manifest (with a SHA-256 of the
output) and an empty rejects file; Python writes only the CSV.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

LABEL = b"linkwell/v1/token/nhs_number"
WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
ASCII_DIGITS = frozenset("0123456789")


def normalise_nhs(raw: str):
    """(ten ASCII digits, "valid") or (None, status), as linkwell does."""
    s = raw.strip()
    if not s:
        return None, "missing"
    d = s.replace(" ", "").replace("-", "")
    # linkwell: every character a digit, space or hyphen; a separator only
    # after the first digit and never last (surrounding whitespace trimmed).
    if not (d.isascii() and d.isdigit()) or s[0] == "-" or s[-1] in " -":
        return None, "invalid_character"
    if len(d) != 10:
        return None, "wrong_length"
    if d.count(d[0]) == 10:
        return None, "placeholder"
    total = sum(int(c) * w for c, w in zip(d, WEIGHTS))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return None, "check_value_ten"
    if check != int(d[9]):
        return None, "check_digit_mismatch"
    return d, "valid"


def python_tokenise(inp: Path, out: Path, key_file: Path) -> int:
    """The baseline: read with csv, write id, token, status."""
    secret = bytes.fromhex(key_file.read_text(encoding="ascii").strip())
    k_d = hmac.new(secret, LABEL, hashlib.sha256).digest()
    n = 0
    with open(inp, newline="", encoding="utf-8") as f, open(out, "w", newline="", encoding="utf-8") as g:
        r = csv.reader(f)
        header = next(r)
        i_id, i_nhs = header.index("id"), header.index("nhs_number")
        w = csv.writer(g, lineterminator="\n")
        w.writerow(("id", "nhs_number_token", "nhs_number_status"))
        for row in r:
            digits, status = normalise_nhs(row[i_nhs])
            token = hmac.new(k_d, digits.encode("ascii"), hashlib.sha256).hexdigest() if digits else ""
            w.writerow((row[i_id], token, status))
            n += 1
    return n


def compare(linkwell_out: Path, python_out: Path, raw: Path, show: int = 10) -> tuple[int, int]:
    """(rows compared, rows that differ); prints the first differences."""
    bad = 0
    rows = 0
    with open(linkwell_out, newline="") as a, open(python_out, newline="") as b, open(raw, newline="") as c:
        ra, rb, rc = csv.reader(a), csv.reader(b), csv.reader(c)
        ha, hb = next(ra), next(rb)
        hc = next(rc)
        i_nhs = hc.index("nhs_number")
        if ha != hb:
            print(f"HEADER DIFFERS: linkwell {ha} vs python {hb}")
            return 0, 1
        for x, y in zip(ra, rb):
            rawrow = next(rc)
            rows += 1
            if x != y:
                bad += 1
                if bad <= show:
                    print(f"  DIFF row {rows}: raw nhs_number {rawrow[i_nhs]!r}: linkwell {x} python {y}")
        extra_a, extra_b = sum(1 for _ in ra), sum(1 for _ in rb)
        if extra_a or extra_b:
            print(f"  ROW COUNTS DIFFER: linkwell has {extra_a} more rows, python {extra_b} more")
            bad += extra_a + extra_b
    return rows, bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each tool; the median is reported")
    ap.add_argument("--linkwell", help="linkwell binary (default: $LINKWELL or target/release/linkwell)")
    ap.add_argument("--workdir", type=Path, default=None, help="default /tmp/lwbench/tokenise")
    ap.add_argument("--worker", choices=["python-tokenise"], help=argparse.SUPPRESS)
    ap.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--key-file", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.worker:
        n = python_tokenise(a.input, a.output, a.key_file)
        print(n)
        return 0

    import common
    import gendata

    lw = common.linkwell_binary(a.linkwell)
    work = a.workdir or common.DATA_DIR / "tokenise"
    work.mkdir(parents=True, exist_ok=True)
    print(f"generating/reusing {a.rows:,} rows ...", file=sys.stderr)
    inp = gendata.nhs_file(a.rows, a.seed)
    key = work / "key.hex"
    if key.exists():
        key.unlink()
    common.keygen(lw, key)
    schema = common.write_nhs_only_schema(work / "nhs_only.toml")
    out_lw, out_py = work / "linkwell.csv", work / "python.csv"

    lw_runs, py_runs = [], []
    for i in range(a.repeat):
        for p in (out_lw,):
            p.unlink(missing_ok=True)
        m = common.measure(
            [lw, "tokenise", "--key-file", key, "--input", inp, "--output", out_lw, "--schema", schema]
        ).check("linkwell tokenise")
        lw_runs.append(m)
        print(f"run {i + 1}: linkwell {m.wall_s:.2f}s; {m.stderr.strip().splitlines()[0]}", file=sys.stderr)
        m = common.measure(
            common.python_cmd()
            + [Path(__file__).resolve(), "--worker", "python-tokenise", "--input", inp, "--output", out_py,
               "--key-file", key]
        ).check("python baseline")
        py_runs.append(m)
        print(f"run {i + 1}: python   {m.wall_s:.2f}s", file=sys.stderr)

    rows, bad = compare(out_lw, out_py, inp)
    if rows != a.rows:
        print(f"ERROR: compared {rows} rows but the input has {a.rows}")
        bad += 1

    def med(runs):
        return sorted(runs, key=lambda m: m.wall_s)[len(runs) // 2]

    ml, mp = med(lw_runs), med(py_runs)
    print()
    print(f"### tokenise NHS numbers: {a.rows:,} rows, median of {a.repeat} run(s) each")
    print()
    print(
        common.md_table(
            ["tool", "rows", "wall s (median)", "all runs s", "rows/s", "CPU s (user+sys)", "peak RSS",
             "peak tree RSS", "CPU busy % before start"],
            [
                [name, f"{a.rows:,}", f"{m.wall_s:.2f}", ", ".join(f"{x.wall_s:.2f}" for x in runs),
                 common.fmt_rate(a.rows, m.wall_s), common.cpu(m), common.mib(m.peak_rss),
                 common.mib(m.peak_tree_rss), m.busy_before_pct]
                for name, m, runs in (("linkwell tokenise (2 threads)", ml, lw_runs),
                                      ("Python csv + hmac (1 thread)", mp, py_runs))
            ],
        )
    )
    ratio = mp.wall_s / ml.wall_s
    best = min(m.wall_s for m in py_runs) / min(m.wall_s for m in lw_runs)
    print()
    print(f"speed-up (median wall time): linkwell is {ratio:.1f}x faster than the Python baseline "
          f"(target >= 10x: {'MET' if ratio >= 10 else 'NOT MET'})")
    print(f"speed-up (best run of each): {best:.1f}x")
    if ml.cpu_s and mp.cpu_s:
        print(f"CPU time ratio (Python CPU s / linkwell CPU s, median runs): {mp.cpu_s / ml.cpu_s:.1f}x "
              "(insensitive to other work on the machine; linkwell's wall-time gain beyond this comes from its "
              "second thread)")
    print("CPU busy % before each run: linkwell " + ", ".join(f"{m.busy_before_pct}" for m in lw_runs)
          + "; python " + ", ".join(f"{m.busy_before_pct}" for m in py_runs))
    print(f"tokens: {rows:,} rows compared, {bad} differ "
          f"({'IDENTICAL: linkwell matches the published derivation' if bad == 0 else 'MISMATCH'})")
    print(f"peak memory from {ml.rss_method}; input {inp} ({inp.stat().st_size / 1e6:.0f} MB)")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # one clear sentence, not a traceback
        if type(e).__name__ == "BenchError":
            sys.exit(f"tokenise_vs_python: {e}")
        raise
