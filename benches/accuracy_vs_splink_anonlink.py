"""Linkage accuracy and cost, NHS patients <-> DWP claims: Splink, anonlink/clkhash, (linkwell).

    target/bench-venv/bin/python benches/accuracy_vs_splink_anonlink.py --people 100000
    target/bench-venv/bin/python benches/accuracy_vs_splink_anonlink.py --people 20000          # quick
    target/bench-venv/bin/python benches/accuracy_vs_splink_anonlink.py --people 1000000 --tools splink

Needs the bench venv (benches/requirements.txt) and a release build of
linkwell.

Data: ``linkwell synth --people N --seed S --out DIR`` when this linkwell has
a ``synth`` subcommand, else the stand-in ``benches/fake_synth.py`` (same
files and columns; --generator forces one). Cached in
/tmp/lwbench/synth-<generator>-<N>-s<S>. Only ``nhs_patients.csv`` and
``dwp_claims.csv`` are linked (DWP has no NHS number, so this is the hard,
demographics-only linkage). Truth: a pair (NHS record, DWP record) is true
when truth.csv gives both the same person_id. NHS <-> DWP is one-to-many (a
person has several claims; a few records are duplicated), so every tool is
scored on pairs: precision = true predicted pairs / predicted pairs, recall
= true predicted pairs / all true pairs. truth.csv's dataset column may say
nhs_patients / dwp_claims (as the issue specifies) or nhs / dwp (as the
linkwell-synth work in progress writes); both are understood.

Each tool runs as a child process (this script with --worker), timed and
memory-measured by common.measure; scoring happens afterwards, untimed.

(a) Splink (DuckDB backend), on the RAW files, after the standardisation a
    Splink user does first (in DuckDB SQL, timed): lower-case trimmed names,
    dates parsed (ISO, dd/mm/yyyy or yyyymmdd) to ISO strings, sex codes
    1/M -> m, 2/F -> f, anything else NULL, postcodes upper-cased with
    canonical spacing. Model (Splink's out-of-the-box comparisons):
    NameComparison(first_name) and NameComparison(surname) (exact,
    Jaro-Winkler 0.92/0.88/0.7) with term-frequency adjustments,
    DateOfBirthComparison(dob, input_is_string=True), PostcodeComparison
    (full/sector/district/area), ExactMatch(sex). Prediction blocking rules:
    dob; postcode + surname; first_name + surname; postcode + first_name.
    Training as in Splink's tutorial: probability two random records match
    from deterministic rules (first_name+surname+dob, postcode+dob; recall
    0.7), u by random sampling (max_pairs 1e7, seeded), m by EM blocked on
    first_name+surname and then on dob. predict() keeps pairs with match
    probability >= 0.01 so that thresholds can be swept afterwards.
    Reported: at match probability 0.5, and at the F1-best threshold (an
    oracle choice: it uses the truth).
(b) anonlink + clkhash: the data owners' side standardises as above
    (upper-case names, ISO dates, sex M/F, canonical postcodes) and encodes
    one 1024-bit CLK per record with clkhash (bigrams of each name, 15 bits
    per bigram; positional unigrams of the date of birth, 10 bits; sex,
    exact, 10 bits; postcode bigrams, 10 bits; blakeHash, HKDF-SHA256); the
    linkage side finds every pair with Dice >= 0.7 (--anonlink-floor) with
    anonlink.candidate_generation.find_candidate_pairs +
    dice_coefficient_accelerated (all NHS x DWP pairs: no blocking) and
    solves with anonlink.solving.greedy_solve. The timed run is all of that
    at the floor threshold. The threshold reported is the F1-best of
    floor..0.99 (step 0.01), re-solving the same candidates: an ORACLE choice that uses
    the truth, so anonlink's figure is an upper bound of what a user without
    truth would get. The greedy solver is one-to-one: it can keep at most one
    DWP claim per NHS record, which caps its recall on this one-to-many
    linkage; the "threshold only" row (no solver, every pair above the
    oracle threshold) shows what the similarities alone achieve.
(c) linkwell: ``run_linkwell`` (marked below) will tokenise both files with
    the default schema and run ``linkwell link --method probabilistic``
    once that exists; until then it is skipped with a message.

Prints a Markdown table: tool, threshold, F1, precision, recall, predicted
pairs, wall time, CPU time, peak memory, plus the true-pair count.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

NHS_NAMES = ("nhs_patients", "nhs")
DWP_NAMES = ("dwp_claims", "dwp")
ANONLINK_FLOOR = 0.70  # default of --anonlink-floor
SPLINK_FLOOR = 0.01

# --------------------------------------------------------------------------
# Standardisation shared by the Splink and clkhash pipelines
# --------------------------------------------------------------------------

STD_SQL = """
SELECT {id} AS unique_id,
       NULLIF({case}(trim(given_name)), '') AS first_name,
       NULLIF({case}(trim(family_name)), '') AS surname,
       strftime(COALESCE(try_strptime(trim(date_of_birth), '%Y-%m-%d'),
                         try_strptime(trim(date_of_birth), '%d/%m/%Y'),
                         try_strptime(trim(date_of_birth), '%Y%m%d')), '%Y-%m-%d') AS dob,
       CASE upper(trim(sex)) WHEN '1' THEN '{m}' WHEN 'M' THEN '{m}'
                             WHEN '2' THEN '{f}' WHEN 'F' THEN '{f}' ELSE NULL END AS sex,
       CASE WHEN length(pc) BETWEEN 5 AND 7 THEN substr(pc, 1, length(pc) - 3) || ' ' || right(pc, 3)
            ELSE NULLIF(pc, '') END AS postcode
FROM (SELECT *, upper(regexp_replace(coalesce(postcode, ''), '\\s', '', 'g')) AS pc
      FROM read_csv('{path}', header = true, all_varchar = true))
"""


def std_sql(path: Path, id_col: str, *, upper: bool) -> str:
    return STD_SQL.format(id=id_col, case="upper" if upper else "lower", path=path,
                          m="M" if upper else "m", f="F" if upper else "f")


# --------------------------------------------------------------------------
# Splink worker
# --------------------------------------------------------------------------


def splink_worker(nhs: Path, dwp: Path, out: Path) -> None:
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    con = duckdb.connect(":memory:")
    con.execute(f"CREATE TABLE nhs_std AS {std_sql(nhs, 'patient_id', upper=False)}")
    con.execute(f"CREATE TABLE dwp_std AS {std_sql(dwp, 'claim_id', upper=False)}")
    db_api = DuckDBAPI(connection=con)
    left = db_api.register("nhs_std", dataset_display_name="nhs")
    right = db_api.register("dwp_std", dataset_display_name="dwp")
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("sex"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("dob"),
            block_on("postcode", "surname"),
            block_on("first_name", "surname"),
            block_on("postcode", "first_name"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker([left, right], settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob"), block_on("postcode", "dob")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    pred = linker.inference.predict(threshold_match_probability=SPLINK_FLOOR)
    con.execute(
        f"""
        COPY (
          SELECT CASE WHEN source_dataset_l = 'nhs' THEN unique_id_l ELSE unique_id_r END AS nhs_id,
                 CASE WHEN source_dataset_l = 'nhs' THEN unique_id_r ELSE unique_id_l END AS dwp_id,
                 match_probability AS score
          FROM {pred.physical_name}
        ) TO '{out}' (HEADER, DELIMITER ',')
        """
    )
    n = con.execute(f"SELECT count(*) FROM {pred.physical_name}").fetchone()[0]
    print(n)


# --------------------------------------------------------------------------
# anonlink + clkhash worker
# --------------------------------------------------------------------------

CLK_BITS = 1024


def clk_schema_dict() -> dict:
    def feat(identifier, fmt, comparison, bits):
        return {
            "identifier": identifier,
            "format": fmt,
            "hashing": {
                "comparison": comparison,
                "strategy": {"bitsPerToken": bits},
                "hash": {"type": "blakeHash"},
                "missingValue": {"sentinel": "", "replaceWith": ""},
            },
        }

    string = {"type": "string", "encoding": "utf-8"}
    return {
        "version": 3,
        "clkConfig": {
            "l": CLK_BITS,
            "kdf": {"type": "HKDF", "hash": "SHA256", "info": "bGlua3dlbGwtYmVuY2g=",
                    "salt": "SCbL2zHNnmsckfzchsNkZY9XoHk96P/G5nUBrM7ybymlEFsMV6PAeDZCNp3rfNUPCtLDMOGQHG4pCQpfhiHCyA==",
                    "keySize": 64},
        },
        "features": [
            feat("given_name", string, {"type": "ngram", "n": 2}, 15),
            feat("family_name", string, {"type": "ngram", "n": 2}, 15),
            feat("date_of_birth", {"type": "date", "format": "%Y-%m-%d"},
                 {"type": "ngram", "n": 1, "positional": True}, 10),
            feat("sex", {"type": "enum", "values": ["M", "F"]}, {"type": "exact"}, 10),
            feat("postcode", string, {"type": "ngram", "n": 2}, 10),
        ],
    }


def anonlink_worker(nhs: Path, dwp: Path, out: Path, secret: str, floor: float) -> None:
    import anonlink
    import duckdb
    from clkhash import clk
    from clkhash.schema import from_json_dict

    schema = from_json_dict(clk_schema_dict())
    con = duckdb.connect(":memory:")

    def records(path, id_col):
        rows = con.execute(std_sql(path, id_col, upper=True)).fetchall()
        ids = [r[0] for r in rows]
        pii = [[v if v is not None else "" for v in r[1:]] for r in rows]
        return ids, pii

    ids_n, pii_n = records(nhs, "patient_id")
    ids_d, pii_d = records(dwp, "claim_id")
    clks_n = clk.generate_clks(pii_n, schema, secret)
    clks_d = clk.generate_clks(pii_d, schema, secret)
    cands = anonlink.candidate_generation.find_candidate_pairs(
        [clks_n, clks_d], anonlink.similarities.dice_coefficient_accelerated, floor
    )
    groups = anonlink.solving.greedy_solve(cands)
    solved = list(anonlink.solving.pairs_from_groups(groups))
    sims, (dset0, _dset1), (rec0, rec1) = cands
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["nhs_id", "dwp_id", "score"])
        for s, d0, r0, r1 in zip(sims, dset0, rec0, rec1):
            if d0 == 0:
                w.writerow([ids_n[r0], ids_d[r1], f"{s:.6f}"])
            else:
                w.writerow([ids_n[r1], ids_d[r0], f"{s:.6f}"])
    print(len(sims), len(solved))


# ==========================================================================
# >>> run_linkwell: linkwell's probabilistic linkage. <<<
# `linkwell link --method probabilistic` is being built. Until this binary
# has a `link` subcommand this returns None and the caller says so. When it
# lands: check the flags below against `linkwell link --help`, and make the
# output's id columns and score column match what `score_file` expects
# (nhs_id/dwp_id/score; left_id/right_id and probability/match_probability
# are also understood).
# ==========================================================================
def run_linkwell(nhs: Path, dwp: Path, workdir: Path, binary: Path):
    """(Measurement of tokenise x2 + link, path of the link table), or None."""
    import common

    if not common.subcommand_exists(binary, "link"):
        return None
    key = workdir / "key.hex"
    key.unlink(missing_ok=True)
    common.keygen(binary, key)
    enc_n, enc_d, out = workdir / "lw-nhs.csv", workdir / "lw-dwp.csv", workdir / "lw-links.csv"
    for p in (enc_n, enc_d, out):
        p.unlink(missing_ok=True)
    script = (
        f'set -e; "{binary}" tokenise --key-file "{key}" --input "{nhs}" --output "{enc_n}"; '
        f'"{binary}" tokenise --key-file "{key}" --input "{dwp}" --output "{enc_d}"; '
        f'"{binary}" link --method probabilistic --left "{enc_n}" --right "{enc_d}" --output "{out}"'
    )
    m = common.measure(["bash", "-c", script]).check("linkwell tokenise + link --method probabilistic")
    return m, out


# --------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------


class Truth:
    def __init__(self, path: Path):
        self.person: dict[str, str] = {}
        nhs_count: Counter = Counter()
        dwp_count: Counter = Counter()
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                ds = row["dataset"]
                if ds in NHS_NAMES:
                    self.person[row["record_id"]] = row["person_id"]
                    nhs_count[row["person_id"]] += 1
                elif ds in DWP_NAMES:
                    self.person[row["record_id"]] = row["person_id"]
                    dwp_count[row["person_id"]] += 1
        self.true_pairs = sum(c * dwp_count[p] for p, c in nhs_count.items())
        # most pairs a one-to-one assignment can get right
        self.one_to_one_max = sum(min(c, dwp_count[p]) for p, c in nhs_count.items())
        self.nhs_records, self.dwp_records = sum(nhs_count.values()), sum(dwp_count.values())

    def is_true(self, nhs_id: str, dwp_id: str) -> bool:
        p = self.person.get(nhs_id)
        return p is not None and p == self.person.get(dwp_id)


def prf(tp: int, predicted: int, true_pairs: int) -> tuple[float, float, float]:
    p = tp / predicted if predicted else 0.0
    r = tp / true_pairs if true_pairs else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return f, p, r


def read_scored(path: Path) -> list[tuple[str, str, float]]:
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        cols = r.fieldnames or []
        a = next(c for c in ("nhs_id", "left_id") if c in cols)
        b = next(c for c in ("dwp_id", "right_id") if c in cols)
        s = next((c for c in ("score", "probability", "match_probability") if c in cols), None)
        return [(row[a], row[b], float(row[s]) if s else 1.0) for row in r]


def score_at(pairs, truth: Truth, threshold: float):
    sel = [(a, b) for a, b, s in pairs if s >= threshold]
    tp = sum(truth.is_true(a, b) for a, b in sel)
    return (*prf(tp, len(sel), truth.true_pairs), len(sel))


def best_threshold(pairs, truth: Truth):
    """F1-best threshold over the pairs' own scores (oracle)."""
    ordered = sorted(pairs, key=lambda x: -x[2])
    best = (0.0, 0.0, 0.0, 0, 1.0)
    tp = 0
    for i, (a, b, s) in enumerate(ordered):
        tp += truth.is_true(a, b)
        nxt = ordered[i + 1][2] if i + 1 < len(ordered) else None
        if nxt == s:
            continue
        f, p, r = prf(tp, i + 1, truth.true_pairs)
        if f > best[0]:
            best = (f, p, r, i + 1, s)
    return best  # f, p, r, n, threshold


def greedy_sweep(pairs, truth: Truth, thresholds):
    """Re-solve anonlink's candidates one-to-one at each threshold; the
    F1-best (oracle) result."""
    import anonlink
    from array import array

    nhs_ids = sorted({a for a, _, _ in pairs})
    dwp_ids = sorted({b for _, b, _ in pairs})
    ni = {k: i for i, k in enumerate(nhs_ids)}
    di = {k: i for i, k in enumerate(dwp_ids)}
    ordered = sorted(pairs, key=lambda x: (-x[2], ni[x[0]], di[x[1]]))
    best = None
    for t in thresholds:
        sel = [x for x in ordered if x[2] >= t]
        sims = array("d", (s for _, _, s in sel))
        cands = (sims, (array("I", [0] * len(sel)), array("I", [1] * len(sel))),
                 (array("I", (ni[a] for a, _, _ in sel)), array("I", (di[b] for _, b, _ in sel))))
        groups = anonlink.solving.greedy_solve(cands)
        solved = list(anonlink.solving.pairs_from_groups(groups))
        tp = sum(truth.is_true(nhs_ids[i], dwp_ids[j]) for i, j in solved)
        f, p, r = prf(tp, len(solved), truth.true_pairs)
        if best is None or f > best[0]:
            best = (f, p, r, len(solved), t)
    return best


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


def synth_dir(a, lw) -> tuple[Path, str]:
    import common

    gen = a.generator
    if gen == "auto":
        gen = "linkwell" if common.subcommand_exists(lw, "synth") else "fake"
    out = a.synth_dir or common.DATA_DIR / f"synth-{gen}-{a.people}-s{a.seed}"
    if (out / "truth.csv").exists() and (out / "nhs_patients.csv").exists() and (out / "dwp_claims.csv").exists():
        return out, gen
    print(f"generating {a.people:,} people with {gen} synth into {out} ...", file=sys.stderr)
    if gen == "linkwell":
        r = subprocess.run([str(lw), "synth", "--people", str(a.people), "--seed", str(a.seed), "--out", str(out)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise common.BenchError(f"linkwell synth failed: {r.stderr.strip()}")
    else:
        import fake_synth

        fake_synth.generate(a.people, a.seed, out)
    return out, gen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--generator", choices=["auto", "linkwell", "fake"], default="auto")
    ap.add_argument("--synth-dir", type=Path, default=None)
    ap.add_argument("--tools", default="splink,anonlink,linkwell",
                    help="comma-separated subset of splink,anonlink,linkwell")
    ap.add_argument("--anonlink-floor", type=float, default=ANONLINK_FLOOR,
                    help="lowest Dice kept by anonlink's candidate generation (and of the threshold sweep)")
    ap.add_argument("--linkwell", help="linkwell binary (default: $LINKWELL or target/release/linkwell)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--worker", choices=["splink", "anonlink"], help=argparse.SUPPRESS)
    ap.add_argument("--nhs", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--dwp", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--secret", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.worker == "splink":
        splink_worker(a.nhs, a.dwp, a.out)
        return 0
    if a.worker == "anonlink":
        anonlink_worker(a.nhs, a.dwp, a.out, a.secret, a.anonlink_floor)
        return 0

    import common

    lw = common.linkwell_binary(a.linkwell)
    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    unknown = set(tools) - {"splink", "anonlink", "linkwell"}
    if unknown:
        raise common.BenchError(f"unknown --tools {sorted(unknown)}: choose from splink, anonlink, linkwell")
    data, gen = synth_dir(a, lw)
    nhs, dwp = data / "nhs_patients.csv", data / "dwp_claims.csv"
    work = a.workdir or common.DATA_DIR / f"accuracy-{gen}-{a.people}-s{a.seed}"
    work.mkdir(parents=True, exist_ok=True)
    truth = Truth(data / "truth.csv")
    print(f"{truth.nhs_records:,} NHS records x {truth.dwp_records:,} DWP claims; "
          f"{truth.true_pairs:,} true pairs", file=sys.stderr)

    rows, notes = [], []

    def row(tool, thr, res, m):
        f, p, r, n = res[:4]
        rows.append([tool, thr, f"{f:.4f}", f"{p:.4f}", f"{r:.4f}", f"{n:,}",
                     f"{m.wall_s:.1f}", common.cpu(m), common.mib(m.peak_rss), common.mib(m.peak_tree_rss),
                     m.busy_before_pct])

    py = common.python_cmd() + [Path(__file__).resolve()]
    if "splink" in tools:
        out = work / "splink-pairs.csv"
        m = common.measure(py + ["--worker", "splink", "--nhs", nhs, "--dwp", dwp, "--out", out]).check("Splink")
        print(f"splink: {m.wall_s:.1f}s", file=sys.stderr)
        pairs = read_scored(out)
        row("Splink 5 (DuckDB), p >= 0.5", "0.5", score_at(pairs, truth, 0.5), m)
        f, p, r, n, t = best_threshold(pairs, truth)
        row("Splink 5 (DuckDB), F1-best threshold [oracle]", f"{t:.6f}", (f, p, r, n), m)
    if "anonlink" in tools:
        out = work / "anonlink-candidates.csv"
        m = common.measure(py + ["--worker", "anonlink", "--nhs", nhs, "--dwp", dwp, "--out", out,
                                 "--secret", "linkwell-bench-shared-secret",
                                 "--anonlink-floor", str(a.anonlink_floor)]).check("anonlink/clkhash")
        print(f"anonlink: {m.wall_s:.1f}s ({m.stdout.strip()})", file=sys.stderr)
        pairs = read_scored(out)
        grid = [round(a.anonlink_floor + 0.01 * i, 2) for i in range(100) if a.anonlink_floor + 0.01 * i < 0.995]
        f, p, r, n, t = greedy_sweep(pairs, truth, grid)
        if t <= grid[0]:
            notes.append("WARNING: anonlink's best threshold is the floor itself: rerun with a lower --anonlink-floor.")
        row("clkhash + anonlink greedy solver, F1-best threshold [oracle]", f"{t:.2f}", (f, p, r, n), m)
        f, p, r, n, t = best_threshold(pairs, truth)
        row("clkhash + anonlink Dice, threshold only (no solver) [oracle]", f"{t:.3f}", (f, p, r, n), m)
        notes.append(f"anonlink's greedy solver is one-to-one: at most {truth.one_to_one_max:,} of the "
                     f"{truth.true_pairs:,} true pairs (recall {truth.one_to_one_max / truth.true_pairs:.4f}) "
                     "can be found by any one-to-one assignment.")
        notes.append(f"anonlink time = standardise + clkhash encode both files + all-pairs Dice at "
                     f">= {a.anonlink_floor} + greedy solve; the threshold sweep is not timed.")
    if "linkwell" in tools:
        res = run_linkwell(nhs, dwp, work, lw)
        if res is None:
            notes.append(f"linkwell: SKIPPED - {lw} has no `link` subcommand yet "
                         "(run_linkwell in this script runs it once `link --method probabilistic` exists).")
        else:
            m, out = res
            pairs = read_scored(out)
            row("linkwell tokenise + link --method probabilistic, p >= 0.5", "0.5", score_at(pairs, truth, 0.5), m)
            f, p, r, n, t = best_threshold(pairs, truth)
            row("linkwell, F1-best threshold [oracle]", f"{t:.6f}", (f, p, r, n), m)

    print()
    print(f"### NHS patients <-> DWP claims: {a.people:,} people ({gen} synth, seed {a.seed}): "
          f"{truth.nhs_records:,} x {truth.dwp_records:,} records, {truth.true_pairs:,} true pairs")
    print()
    print(common.md_table(["tool", "threshold", "F1", "precision", "recall", "pairs kept", "wall s",
                           "CPU s", "peak RSS", "peak tree RSS", "CPU busy % before start"], rows))
    print()
    for n in notes:
        print(f"- {n}")
    print("- [oracle] thresholds are chosen using the truth; they are upper bounds, not what a user "
          "without truth would get.")
    print(f"- data: {data}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        if type(e).__name__ == "BenchError":
            sys.exit(f"accuracy_vs_splink_anonlink: {e}")
        raise
