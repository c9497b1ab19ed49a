"""Linkage accuracy and cost on `linkwell synth` data: linkwell vs Splink vs clkhash + anonlink.

    target/bench-venv/bin/python benches/accuracy_vs_splink_anonlink.py --people 100000
    target/bench-venv/bin/python benches/accuracy_vs_splink_anonlink.py --people 20000             # quick
    target/bench-venv/bin/python benches/accuracy_vs_splink_anonlink.py --people 1000000 \\
        --pairs dwp --tools splink,linkwell

Needs the bench venv (benches/requirements.txt) and a release build of
linkwell (``cargo build --release``).

Data: ``linkwell synth --people N --seed S --out DIR`` (cached in
/tmp/lwbench/synth-N-sS). Two linkages, each scored against truth.csv:

* ``dwp``: nhs_patients.csv <-> dwp_claims.csv, ONE-TO-MANY (a person has
  several claims; each claim belongs to at most one NHS record). DWP has no
  NHS number: demographics only.
* ``ons``: nhs_patients.csv <-> ons_employment.csv, ONE-TO-ONE. ONS has the
  NHS number on most rows (missing on about 12%, mistyped on about 1%).

Scoring (the same Python code for every tool, untimed). A link is true when
truth.csv gives both records the same person_id. Every tool's output is
first reduced to the linkage's cardinality by the same greedy best-first
assignment that linkwell uses (pairs sorted by score, highest first; a pair
is kept unless its right record, or for one-to-one its left record, is
already linked); linkwell does this itself, Splink and anonlink get it here
(``assign``; its time is printed but not in their totals). Then:

* precision = true links / links (the same in both views);
* pairwise recall = true links / all same-person (left, right) pairs. A
  person with two NHS records and three claims has six same-person pairs,
  of which a one-to-many linkage can output only three, so pairwise recall
  cannot reach 1 when there are duplicates;
* achievable recall = true links / the most true links the cardinality
  allows: for one-to-many, the number of right records (claims) whose
  person has any record in the NHS file (a link to any of the person's
  NHS records counts); for one-to-one, the sum over people of
  min(NHS records, right records).

F1 is given for both recalls. Rows marked [oracle] use the threshold that
maximises achievable F1, chosen with the truth: an upper bound, not what a
user without truth gets. The others use each tool's default threshold
(linkwell: its model's, match weight 0 = probability 0.5; Splink:
match probability 0.5); anonlink has no default threshold, so only its
oracle is shown.

Each tool runs as child processes timed by common.measure (wall time, user +
system CPU seconds, peak RSS of the largest process and of the process tree).

(a) linkwell, on ENCODED data only. A key is made once with ``linkwell
    keygen`` (untimed: data owners hold it already). Timed steps, one child
    process each: ``linkwell tokenise --key-file K --input RAW --output ENC``
    for both files (default schema: every standard identifier column, with
    default encodings), then ``linkwell link --left NHS.enc --right X.enc
    --output LINKS --method M --cardinality C`` for each --lw-methods M
    (dwp: probabilistic and cascade, one-to-many; ons: cascade, one-to-one).
    "end to end" = both tokenise runs + that link (wall and CPU summed, peak
    = largest step); "link only" = the link run. linkwell uses its built-in
    model, trained on the two files during the run. For the oracle rows the
    link is repeated untimed with ``--threshold-probability 0.001``.
(b) Splink 5 (DuckDB backend), on the RAW files, after the standardisation a
    careful Splink user does first, in DuckDB SQL and timed: names lower-cased,
    accents stripped (strip_accents; l/i for the letters that do not
    decompose), apostrophes and full stops removed, other punctuation to
    spaces; dates parsed to ISO; sex 1/M -> m, 2/F -> f, else NULL;
    postcodes upper-cased with canonical spacing; NHS numbers with spaces
    and hyphens removed. Model, following Splink's own worked example
    (docs/demos/examples/duckdb/deduplicate_50k_synthetic, adapted to
    link_only):
      comparisons: NameComparison(first_name) and NameComparison(surname)
        (exact, Jaro-Winkler 0.92/0.88/0.70, else), each with term-frequency
        adjustments, DateOfBirthComparison(dob, input_is_string=True)
        (exact, Levenshtein 1, within 1 month / 1 year / 10 years),
        PostcodeComparison(postcode) (full/sector/district/area),
        ExactMatch(sex); for ons also
        DamerauLevenshteinAtThresholds(nhs_number, 1);
      blocking (prediction): first_name+surname, surname+dob,
        first_name+dob, postcode+first_name, postcode+surname, postcode+dob,
        postcode district+dob, names swapped
        (l.first_name = r.surname AND l.surname = r.first_name); for ons
        also nhs_number. At 1M people (NHS x DWP) this is about 2.5M
        comparisons and misses about 0.07% of true pairs; adding dob alone
        would add 9.3M comparisons to find 0.03% more (measured with
        splink.blocking_analysis and the truth by benches/splink_blocking.py);
      training as in the example: probability two random records match from
        deterministic rules (first_name+surname+dob, postcode+dob; for ons
        also nhs_number) with recall 0.7; u by random sampling (max_pairs
        1e7, seed 1); m by EM blocked on first_name+surname and then on dob
        (estimate_without_term_frequencies=True);
      predict(threshold_match_probability=0.01), so thresholds can be swept.
    --splink-names fsc uses the example's ForenameSurnameComparison(first_name,
    surname, forename_surname_concat_col_name=...) (TF on the full name,
    names-reversed level) instead; at 100k people it scored within 0.0004
    F1 of the default, slightly lower on both linkages.
(c) clkhash + anonlink: the data owners standardise as for Splink (names
    upper-cased) and encode one 1024-bit CLK per record with clkhash
    (bigrams of each name, 15 bits per bigram; positional unigrams of the
    date of birth, 10 bits; sex, exact, 10 bits; postcode bigrams, 10 bits;
    for ons also the NHS number, exact, 20 bits; blakeHash, HKDF-SHA256); the
    linkage side finds every pair with Dice >= --anonlink-floor (0.6) with
    anonlink.candidate_generation.find_candidate_pairs +
    dice_coefficient_accelerated (all pairs: anonlink does no blocking), and
    for one-to-one also runs anonlink.solving.greedy_solve (its own
    solver). "link only" for anonlink is the candidate generation and solve,
    timed inside the worker (its peak memory is the whole run's).

Prints Markdown tables (one per linkage) and the 1M targets' ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ANONLINK_FLOOR = 0.60  # default of --anonlink-floor
SPLINK_FLOOR = 0.01
LW_ORACLE_FLOOR = 0.001

LEFT = ("nhs_patients", "nhs_patients.csv", "patient_id")
PAIRS = {
    "dwp": {"dataset": "dwp_claims", "file": "dwp_claims.csv", "id": "claim_id",
            "cardinality": "one-to-many", "nhs_number": False,
            "title": "NHS patients <-> DWP claims (one-to-many, no NHS number on DWP)"},
    "ons": {"dataset": "ons_employment", "file": "ons_employment.csv", "id": "ons_id",
            "cardinality": "one-to-one", "nhs_number": True,
            "title": "NHS patients <-> ONS employment (one-to-one, NHS number on most ONS rows)"},
}
DEFAULT_LW_METHODS = {"dwp": "probabilistic,cascade", "ons": "cascade,probabilistic"}

# --------------------------------------------------------------------------
# Standardisation shared by the Splink and clkhash pipelines (DuckDB SQL)
# --------------------------------------------------------------------------

NAME_SQL = (
    "NULLIF(trim(regexp_replace(regexp_replace("
    "replace(replace(translate(lower(strip_accents(trim({c}))), 'łıøđ', 'liod'), 'ß', 'ss'), 'æ', 'ae'), "
    "'[''.]', '', 'g'), '[^a-z]+', ' ', 'g')), '')"
)

STD_SQL = """
SELECT {id} AS unique_id,
       {first} AS first_name,
       {sur} AS surname,
       strftime(COALESCE(try_strptime(trim(date_of_birth), '%Y-%m-%d'),
                         try_strptime(trim(date_of_birth), '%d/%m/%Y'),
                         try_strptime(trim(date_of_birth), '%Y%m%d')), '%Y-%m-%d') AS dob,
       CASE upper(trim(sex)) WHEN '1' THEN '{m}' WHEN 'M' THEN '{m}'
                             WHEN '2' THEN '{f}' WHEN 'F' THEN '{f}' ELSE NULL END AS sex,
       CASE WHEN length(pc) BETWEEN 5 AND 7 THEN substr(pc, 1, length(pc) - 3) || ' ' || right(pc, 3)
            ELSE NULLIF(pc, '') END AS postcode
       {nhs}
FROM (SELECT *, upper(regexp_replace(coalesce(postcode, ''), '\\s', '', 'g')) AS pc
      FROM read_csv('{path}', header = true, all_varchar = true))
"""


def std_sql(path: Path, id_col: str, *, upper: bool, nhs: bool) -> str:
    def name(c):
        e = NAME_SQL.format(c=c)
        return f"upper({e})" if upper else e

    nhs_sql = (", NULLIF(regexp_replace(coalesce(nhs_number, ''), '[\\s-]', '', 'g'), '') AS nhs_number"
               if nhs else "")
    return STD_SQL.format(id=id_col, first=name("given_name"), sur=name("family_name"), path=path,
                          m="M" if upper else "m", f="F" if upper else "f", nhs=nhs_sql)


# --------------------------------------------------------------------------
# Splink worker
# --------------------------------------------------------------------------


def splink_blocking_rules(with_nhs: bool) -> list:
    """Splink's prediction blocking rules (also used by splink_blocking.py)."""
    from splink import block_on

    rules = [
        block_on("first_name", "surname"),
        block_on("surname", "dob"),
        block_on("first_name", "dob"),
        block_on("postcode", "first_name"),
        block_on("postcode", "surname"),
        block_on("postcode", "dob"),
        block_on("split_part(postcode, ' ', 1)", "dob"),
        "l.first_name = r.surname AND l.surname = r.first_name",
    ]
    if with_nhs:
        rules.insert(0, block_on("nhs_number"))
    return rules


def splink_worker(nhs: Path, right: Path, right_id: str, out: Path, with_nhs: bool, names: str) -> None:
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    phases = {}
    t0 = time.perf_counter()
    con = duckdb.connect(":memory:")
    for table, path, idc in (("l_std", nhs, "patient_id"), ("r_std", right, right_id)):
        con.execute(f"CREATE TABLE {table} AS SELECT *, first_name || ' ' || surname AS first_name_surname_concat "
                    f"FROM ({std_sql(path, idc, upper=False, nhs=with_nhs)})")
    phases["standardise"] = time.perf_counter() - t0
    db_api = DuckDBAPI(connection=con)
    left = db_api.register("l_std", dataset_display_name="nhs")
    rightdf = db_api.register("r_std", dataset_display_name="other")
    if names == "fsc":
        name_cmp = [cl.ForenameSurnameComparison(
            "first_name", "surname", forename_surname_concat_col_name="first_name_surname_concat")]
    else:
        name_cmp = [cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
                    cl.NameComparison("surname").configure(term_frequency_adjustments=True)]
    comparisons = name_cmp + [
        cl.DateOfBirthComparison("dob", input_is_string=True),
        cl.PostcodeComparison("postcode"),
        cl.ExactMatch("sex"),
    ]
    blocking = splink_blocking_rules(with_nhs)
    deterministic = [block_on("first_name", "surname", "dob"), block_on("postcode", "dob")]
    if with_nhs:
        comparisons.append(cl.DamerauLevenshteinAtThresholds("nhs_number", 1))
        deterministic.insert(0, block_on("nhs_number"))
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker([left, rightdf], settings)
    t = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname"), estimate_without_term_frequencies=True)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("dob"), estimate_without_term_frequencies=True)
    phases["train"] = time.perf_counter() - t
    t = time.perf_counter()
    pred = linker.inference.predict(threshold_match_probability=SPLINK_FLOOR)
    phases["predict"] = time.perf_counter() - t
    t = time.perf_counter()
    con.execute(
        f"""
        COPY (
          SELECT CASE WHEN source_dataset_l = 'nhs' THEN unique_id_l ELSE unique_id_r END AS left_id,
                 CASE WHEN source_dataset_l = 'nhs' THEN unique_id_r ELSE unique_id_l END AS right_id,
                 match_probability AS score
          FROM {pred.physical_name}
        ) TO '{out}' (HEADER, DELIMITER ',')
        """
    )
    phases["write"] = time.perf_counter() - t
    n = con.execute(f"SELECT count(*) FROM {pred.physical_name}").fetchone()[0]
    print(json.dumps({"pairs_kept": n, "phases_s": {k: round(v, 2) for k, v in phases.items()}}))


# --------------------------------------------------------------------------
# anonlink + clkhash worker
# --------------------------------------------------------------------------

CLK_BITS = 1024


def clk_schema_dict(with_nhs: bool) -> dict:
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
    features = [
        feat("given_name", string, {"type": "ngram", "n": 2}, 15),
        feat("family_name", string, {"type": "ngram", "n": 2}, 15),
        feat("date_of_birth", {"type": "date", "format": "%Y-%m-%d"},
             {"type": "ngram", "n": 1, "positional": True}, 10),
        feat("sex", {"type": "enum", "values": ["M", "F"]}, {"type": "exact"}, 10),
        feat("postcode", string, {"type": "ngram", "n": 2}, 10),
    ]
    if with_nhs:
        features.append(feat("nhs_number", string, {"type": "exact"}, 20))
    return {
        "version": 3,
        "clkConfig": {
            "l": CLK_BITS,
            "kdf": {"type": "HKDF", "hash": "SHA256", "info": "bGlua3dlbGwtYmVuY2g=",
                    "salt": "SCbL2zHNnmsckfzchsNkZY9XoHk96P/G5nUBrM7ybymlEFsMV6PAeDZCNp3rfNUPCtLDMOGQHG4pCQpfhiHCyA==",
                    "keySize": 64},
        },
        "features": features,
    }


def anonlink_worker(nhs: Path, right: Path, right_id: str, out: Path, secret: str, floor: float,
                    with_nhs: bool, one_to_one: bool) -> None:
    import anonlink
    import duckdb
    from clkhash import clk
    from clkhash.schema import from_json_dict

    phases = {}
    t = time.perf_counter()
    schema = from_json_dict(clk_schema_dict(with_nhs))
    con = duckdb.connect(":memory:")

    def records(path, id_col):
        rows = con.execute(std_sql(path, id_col, upper=True, nhs=with_nhs)).fetchall()
        ids = [r[0] for r in rows]
        pii = [[v if v is not None else "" for v in r[1:]] for r in rows]
        return ids, pii

    ids_n, pii_n = records(nhs, "patient_id")
    ids_r, pii_r = records(right, right_id)
    clks_n = clk.generate_clks(pii_n, schema, secret)
    clks_r = clk.generate_clks(pii_r, schema, secret)
    phases["standardise_and_encode"] = time.perf_counter() - t
    t = time.perf_counter()
    cands = anonlink.candidate_generation.find_candidate_pairs(
        [clks_n, clks_r], anonlink.similarities.dice_coefficient_accelerated, floor
    )
    n_solved = None
    if one_to_one:
        groups = anonlink.solving.greedy_solve(cands)
        n_solved = len(list(anonlink.solving.pairs_from_groups(groups)))
    phases["link"] = time.perf_counter() - t
    sims, (dset0, _dset1), (rec0, rec1) = cands
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["left_id", "right_id", "score"])
        for s, d0, r0, r1 in zip(sims, dset0, rec0, rec1):
            if d0 == 0:
                w.writerow([ids_n[r0], ids_r[r1], f"{s:.6f}"])
            else:
                w.writerow([ids_n[r1], ids_r[r0], f"{s:.6f}"])
    print(json.dumps({"candidates": len(sims), "greedy_solved": n_solved,
                      "phases_s": {k: round(v, 2) for k, v in phases.items()}}))


# --------------------------------------------------------------------------
# linkwell
# --------------------------------------------------------------------------


class Combined:
    """Sequential child processes seen as one run: wall and CPU summed, peak
    memory the largest of any step."""

    def __init__(self, steps):
        self.steps = list(steps)
        self.wall_s = sum(m.wall_s for m in self.steps)
        cpus = [m.cpu_s for m in self.steps]
        self.cpu_s = None if any(c is None for c in cpus) else sum(cpus)
        self.peak_rss = max((m.peak_rss or 0) for m in self.steps) or None
        self.peak_tree_rss = max((m.peak_tree_rss or 0) for m in self.steps) or None
        self.busy_before_pct = max((m.busy_before_pct or 0) for m in self.steps)


def linkwell_tokenise(binary: Path, key: Path, raw: Path, enc: Path):
    import common

    for p in (enc, Path(f"{enc}.manifest.json"), Path(f"{enc}.rejects.csv")):
        p.unlink(missing_ok=True)
    return common.measure([binary, "tokenise", "--key-file", key, "--input", raw, "--output", enc]).check(
        f"linkwell tokenise {raw.name}")


def linkwell_link(binary: Path, left: Path, right: Path, out: Path, method: str, cardinality: str,
                  extra=()):
    import common

    for p in (out, Path(f"{out}.manifest.json"), Path(f"{out}.ambiguous.csv")):
        p.unlink(missing_ok=True)
    return common.measure([binary, "link", "--left", left, "--right", right, "--output", out,
                           "--method", method, "--cardinality", cardinality, *extra]).check(
        f"linkwell link --method {method}")


# --------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------


class Truth:
    def __init__(self, path: Path, left_ds: str, right_ds: str, cardinality: str):
        self.person: dict[str, str] = {}
        lc: Counter = Counter()
        rc: Counter = Counter()
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                ds = row["dataset"]
                if ds == left_ds:
                    self.person[row["record_id"]] = row["person_id"]
                    lc[row["person_id"]] += 1
                elif ds == right_ds:
                    self.person[row["record_id"]] = row["person_id"]
                    rc[row["person_id"]] += 1
        if not lc or not rc:
            raise RuntimeError(f"{path} has no rows for dataset {left_ds!r} or {right_ds!r}")
        self.all_pairs = sum(c * rc[p] for p, c in lc.items())
        if cardinality == "one-to-many":
            self.achievable = sum(c for p, c in rc.items() if p in lc)
        elif cardinality == "one-to-one":
            self.achievable = sum(min(c, rc[p]) for p, c in lc.items())
        else:
            self.achievable = self.all_pairs
        self.left_records, self.right_records = sum(lc.values()), sum(rc.values())
        self.people_in_both = sum(1 for p in rc if p in lc)

    def is_true(self, a: str, b: str) -> bool:
        p = self.person.get(a)
        return p is not None and p == self.person.get(b)


def read_scored(path: Path) -> list[tuple[str, str, float]]:
    """(left_id, right_id, score) rows; a link without a probability (a
    deterministic rule of linkwell's cascade) scores 1.0."""
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        cols = r.fieldnames or []
        s = next((c for c in ("score", "match_probability") if c in cols), None)
        return [(row["left_id"], row["right_id"], float(row[s]) if s and row[s] != "" else 1.0) for row in r]


def assign(pairs, cardinality: str):
    """Greedy best-first assignment (as linkwell's): highest score first, ties
    by ids; a pair is kept unless its right record (and, for one-to-one, its
    left record) is already linked. Sorted by descending score."""
    ordered = sorted(pairs, key=lambda x: (-x[2], x[0], x[1]))
    if cardinality == "many-to-many":
        return ordered
    used_l, used_r, out = set(), set(), []
    for a, b, s in ordered:
        if b in used_r or (cardinality == "one-to-one" and a in used_l):
            continue
        used_l.add(a)
        used_r.add(b)
        out.append((a, b, s))
    return out


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def metrics(tp: int, n: int, truth: Truth) -> dict:
    p = tp / n if n else 0.0
    rp = tp / truth.all_pairs
    ra = tp / truth.achievable
    return {"links": n, "tp": tp, "precision": p, "recall_pairwise": rp, "f1_pairwise": f1(p, rp),
            "recall_achievable": ra, "f1_achievable": f1(p, ra)}


def evaluate(links, truth: Truth, threshold: float | None = None) -> dict:
    """Scores an assigned link list (at most one link per right record, and
    per left record for one-to-one, so true links <= achievable)."""
    sel = links if threshold is None else [x for x in links if x[2] >= threshold]
    tp = sum(truth.is_true(a, b) for a, b, _ in sel)
    m = metrics(tp, len(sel), truth)
    m["threshold"] = threshold
    return m


def oracle(links, truth: Truth) -> dict:
    """The achievable-F1-best threshold over an assigned list sorted by
    descending score (a greedy assignment restricted to scores >= t is the
    prefix of the full one, so one pass suffices)."""
    best, tp = None, 0
    for i, (a, b, s) in enumerate(links):
        tp += truth.is_true(a, b)
        if i + 1 < len(links) and links[i + 1][2] == s:
            continue
        m = metrics(tp, i + 1, truth)
        if best is None or m["f1_achievable"] > best["f1_achievable"]:
            best = dict(m, threshold=s)
    return best or dict(metrics(0, 0, truth), threshold=None)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


def synth_dir(a, lw) -> Path:
    import common

    out = a.synth_dir or common.DATA_DIR / f"synth-{a.people}-s{a.seed}"
    need = ["truth.csv", LEFT[1]] + [PAIRS[p]["file"] for p in PAIRS]
    if all((out / n).exists() for n in need):
        return out
    print(f"generating {a.people:,} people with linkwell synth into {out} ...", file=sys.stderr)
    r = subprocess.run([str(lw), "synth", "--people", str(a.people), "--seed", str(a.seed), "--out", str(out),
                        "--force"], capture_output=True, text=True)
    if r.returncode != 0:
        raise common.BenchError(f"linkwell synth failed: {r.stderr.strip()}")
    return out


def fmt_thr(t) -> str:
    if t is None:
        return "default"
    return f"{t:.6g}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--synth-dir", type=Path, default=None)
    ap.add_argument("--pairs", default="dwp,ons", help="comma-separated subset of dwp,ons")
    ap.add_argument("--tools", default="linkwell,splink,anonlink",
                    help="comma-separated subset of linkwell,splink,anonlink (run in this order)")
    ap.add_argument("--lw-methods-dwp", default=DEFAULT_LW_METHODS["dwp"])
    ap.add_argument("--lw-methods-ons", default=DEFAULT_LW_METHODS["ons"])
    ap.add_argument("--no-lw-oracle", action="store_true", help="skip linkwell's untimed low-threshold runs")
    ap.add_argument("--repeat", type=int, default=1,
                    help="timed runs of each tool, interleaved (the table shows the median-wall run)")
    ap.add_argument("--splink-names", choices=["names", "fsc"], default="names",
                    help="names: two NameComparison with TF (default); fsc: ForenameSurnameComparison")
    ap.add_argument("--anonlink-floor", type=float, default=ANONLINK_FLOOR,
                    help="lowest Dice kept by anonlink's candidate generation (and of the threshold sweep)")
    ap.add_argument("--linkwell", help="linkwell binary (default: $LINKWELL or target/release/linkwell)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json-out", type=Path, default=None, help="also write every figure as JSON here")
    ap.add_argument("--worker", choices=["splink", "anonlink"], help=argparse.SUPPRESS)
    ap.add_argument("--nhs", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--right", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--right-id", help=argparse.SUPPRESS)
    ap.add_argument("--with-nhs", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--one-to-one", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--secret", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.worker == "splink":
        splink_worker(a.nhs, a.right, a.right_id, a.out, a.with_nhs, a.splink_names)
        return 0
    if a.worker == "anonlink":
        anonlink_worker(a.nhs, a.right, a.right_id, a.out, a.secret, a.anonlink_floor, a.with_nhs, a.one_to_one)
        return 0

    import common

    lw = common.linkwell_binary(a.linkwell)
    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    unknown = set(tools) - {"splink", "anonlink", "linkwell"}
    if unknown:
        raise common.BenchError(f"unknown --tools {sorted(unknown)}: choose from linkwell, splink, anonlink")
    pairs = [p.strip() for p in a.pairs.split(",") if p.strip()]
    if set(pairs) - set(PAIRS):
        raise common.BenchError(f"unknown --pairs {pairs}: choose from dwp, ons")
    data = synth_dir(a, lw)
    work = a.workdir or common.DATA_DIR / f"accuracy-{a.people}-s{a.seed}"
    work.mkdir(parents=True, exist_ok=True)
    nhs = data / LEFT[1]
    py = common.python_cmd() + [Path(__file__).resolve()]
    header = [f"machine: {common.machine_line()}; date {common.today()}",
              "versions: " + common.versions(lw, ["splink", "duckdb", "clkhash", "anonlink"]),
              f"data: `linkwell synth --people {a.people} --seed {a.seed}` ({data})"]
    report = {"people": a.people, "seed": a.seed, "machine": common.machine_line(), "date": common.today(),
              "versions": header[1], "linkages": {}}

    # linkwell: tokenise each file once per repeat (shared by both linkages)
    key = work / "key.hex"
    enc = {}
    if "linkwell" in tools:
        key.unlink(missing_ok=True)
        common.keygen(lw, key)

    out_md = ["\n".join(f"- {h}" for h in header), ""]
    for pk in pairs:
        spec = PAIRS[pk]
        right = data / spec["file"]
        card = spec["cardinality"]
        truth = Truth(data / "truth.csv", LEFT[0], spec["dataset"], card)
        print(f"[{pk}] {truth.left_records:,} x {truth.right_records:,} records; {truth.all_pairs:,} same-person "
              f"pairs; achievable {truth.achievable:,}", file=sys.stderr)
        methods = [m.strip() for m in getattr(a, f"lw_methods_{pk}").split(",") if m.strip()]
        runs: dict[str, list] = {}
        info: dict[str, dict] = {}

        for rep in range(a.repeat):
            for tool in tools:
                print(f"[{pk}] run {rep + 1}/{a.repeat}: {tool} (load {os.getloadavg()[0]:.2f})", file=sys.stderr)
                if tool == "linkwell":
                    enc_l, enc_r = work / "lw-nhs.enc.csv", work / f"lw-{pk}.enc.csv"
                    tl = linkwell_tokenise(lw, key, nhs, enc_l)
                    tr = linkwell_tokenise(lw, key, right, enc_r)
                    for meth in methods:
                        out = work / f"lw-{pk}-{meth}.csv"
                        ml = linkwell_link(lw, enc_l, enc_r, out, meth, card)
                        runs.setdefault(f"linkwell:{meth}", []).append(
                            {"e2e": Combined([tl, tr, ml]), "tok_l": tl, "tok_r": tr, "link": ml,
                             "summary": ml.stderr.strip().splitlines()})
                elif tool == "splink":
                    out = work / f"splink-{pk}.csv"
                    cmd = py + ["--worker", "splink", "--nhs", nhs, "--right", right, "--right-id", spec["id"],
                                "--out", out, "--splink-names", a.splink_names]
                    if spec["nhs_number"]:
                        cmd.append("--with-nhs")
                    m = common.measure(cmd).check("Splink")
                    runs.setdefault("splink", []).append({"e2e": m, "info": json.loads(m.stdout.strip().splitlines()[-1])})
                elif tool == "anonlink":
                    out = work / f"anonlink-{pk}.csv"
                    cmd = py + ["--worker", "anonlink", "--nhs", nhs, "--right", right, "--right-id", spec["id"],
                                "--out", out, "--secret", "linkwell-bench-shared-secret",
                                "--anonlink-floor", str(a.anonlink_floor)]
                    if spec["nhs_number"]:
                        cmd.append("--with-nhs")
                    if card == "one-to-one":
                        cmd.append("--one-to-one")
                    m = common.measure(cmd).check("anonlink/clkhash")
                    runs.setdefault("anonlink", []).append({"e2e": m, "info": json.loads(m.stdout.strip().splitlines()[-1])})

        def median_run(lst):
            walls = [r["e2e"].wall_s for r in lst]
            med = statistics.median_low(walls)
            return lst[walls.index(med)], walls

        rows, notes, jrows = [], [], []

        def add_row(tool, m, e2e, link_only=None, note_walls=None):
            link_cells = ["n/a", "n/a", "n/a"]
            if link_only is not None:
                lw_, lc_, lm_ = link_only
                link_cells = [f"{lw_:.2f}", "n/a" if lc_ is None else f"{lc_:.2f}", lm_]
            rows.append([tool, fmt_thr(m["threshold"]), f"{m['links']:,}", f"{m['precision']:.4f}",
                         f"{m['recall_pairwise']:.4f}", f"{m['f1_pairwise']:.4f}",
                         f"{m['recall_achievable']:.4f}", f"{m['f1_achievable']:.4f}",
                         f"{e2e.wall_s:.2f}", common.cpu(e2e),
                         f"{common.mib(e2e.peak_rss)} / {common.mib(e2e.peak_tree_rss)}",
                         *link_cells, e2e.busy_before_pct])
            jrows.append({"tool": tool, **m, "wall_s": e2e.wall_s, "cpu_s": e2e.cpu_s, "peak_rss": e2e.peak_rss,
                          "peak_tree_rss": e2e.peak_tree_rss, "link_only": link_only and list(link_only[:2]),
                          "all_walls_s": note_walls, "busy_before_pct": e2e.busy_before_pct})

        timing = {}
        for meth in methods:
            key_ = f"linkwell:{meth}"
            if key_ not in runs:
                continue
            r, walls = median_run(runs[key_])
            out = work / f"lw-{pk}-{meth}.csv"
            links = assign(read_scored(out), "many-to-many")  # already assigned by linkwell; just sorted
            m = evaluate(links, truth)
            lo = (r["link"].wall_s, r["link"].cpu_s,
                  f"{common.mib(r['link'].peak_rss)}")
            add_row(f"linkwell tokenise x2 + link --method {meth} --cardinality {card}", m, r["e2e"], lo, walls)
            timing[key_] = r
            link_walls = ", ".join(f"{x['link'].wall_s:.2f}" for x in runs[key_])
            notes.append(f"linkwell {meth}: end-to-end walls {', '.join(f'{w:.2f}' for w in walls)} s "
                         f"(link step alone {link_walls} s); "
                         f"tokenise NHS {r['tok_l'].wall_s:.2f} s (CPU {common.cpu(r['tok_l'])}), "
                         f"tokenise {pk} {r['tok_r'].wall_s:.2f} s (CPU {common.cpu(r['tok_r'])}), "
                         f"link {r['link'].wall_s:.2f} s (CPU {common.cpu(r['link'])}, peak {common.mib(r['link'].peak_rss)}); "
                         f"linkwell says: {' | '.join(s.strip() for s in r['summary'] if 'model:' in s or 'linked' in s)}")
            if not a.no_lw_oracle:
                out_all = work / f"lw-{pk}-{meth}-all.csv"
                linkwell_link(lw, work / "lw-nhs.enc.csv", work / f"lw-{pk}.enc.csv", out_all, meth, card,
                              ["--threshold-probability", str(LW_ORACLE_FLOOR)])
                links_all = assign(read_scored(out_all), "many-to-many")
                add_row(f"linkwell --method {meth}, threshold [oracle]", oracle(links_all, truth), r["e2e"], lo, walls)
        if "splink" in runs:
            r, walls = median_run(runs["splink"])
            t = time.perf_counter()
            assigned = assign(read_scored(work / f"splink-{pk}.csv"), card)
            t_assign = time.perf_counter() - t
            add_row("Splink (raw data), p >= 0.5, + assignment", evaluate(assigned, truth, 0.5), r["e2e"], None, walls)
            add_row("Splink, threshold [oracle], + assignment", oracle(assigned, truth), r["e2e"], None, walls)
            timing["splink"] = r
            notes.append(f"Splink: walls {', '.join(f'{w:.2f}' for w in walls)} s; {r['info']}; the {card} "
                         f"assignment in Python took {t_assign:.2f} s (not in Splink's time)")
        if "anonlink" in runs:
            r, walls = median_run(runs["anonlink"])
            t = time.perf_counter()
            assigned = assign(read_scored(work / f"anonlink-{pk}.csv"), card)
            t_assign = time.perf_counter() - t
            om = oracle(assigned, truth)
            link_s = r["info"]["phases_s"]["link"]
            add_row(f"clkhash + anonlink (Dice >= {a.anonlink_floor}), threshold [oracle], + assignment", om,
                    r["e2e"], (link_s, None, "n/a"), walls)
            timing["anonlink"] = r
            notes.append(f"anonlink: walls {', '.join(f'{w:.2f}' for w in walls)} s; {r['info']}; the {card} "
                         f"assignment in Python took {t_assign:.2f} s (not in anonlink's time)")
            if om["threshold"] is not None and om["threshold"] < a.anonlink_floor + 0.02:
                notes.append("WARNING: anonlink's best threshold is within 0.02 of the floor: rerun with a lower --anonlink-floor.")

        title = (f"### {spec['title']}: {a.people:,} people, {truth.left_records:,} x {truth.right_records:,} "
                 f"records; {truth.all_pairs:,} same-person pairs; achievable {truth.achievable:,}")
        table = common.md_table(
            ["tool", "threshold", "links", "precision", "recall (pairwise)", "F1 (pairwise)",
             "recall (achievable)", "F1 (achievable)", "end-to-end wall s", "end-to-end CPU s",
             "peak RSS (largest process / tree)", "link-only wall s", "link-only CPU s", "link-only peak RSS",
             "CPU busy % before start"], rows, with_machine=False)
        out_md += [title, "", table, ""] + [f"- {n}" for n in notes]

        # target ratios (1M: linkwell >= 10x faster than Splink end to end, <= 1/3 of its peak memory)
        if "splink" in timing:
            s = timing["splink"]["e2e"]
            for meth in methods:
                if f"linkwell:{meth}" in timing:
                    l = timing[f"linkwell:{meth}"]["e2e"]
                    sp = max(s.peak_rss or 0, s.peak_tree_rss or 0)
                    lp = max(l.peak_rss or 0, l.peak_tree_rss or 0)
                    out_md.append(
                        f"- Splink / linkwell {meth}: wall {s.wall_s / l.wall_s:.1f}x, CPU "
                        f"{(s.cpu_s or 0) / (l.cpu_s or 1):.1f}x, peak memory linkwell = "
                        f"{lp / sp:.3f} of Splink's ({common.mib(lp)} vs {common.mib(sp)})")
                    # The TRE's job alone: `linkwell link` from the encoded
                    # files (tokenising runs at each data owner, beforehand).
                    ll = timing[f"linkwell:{meth}"]["link"]
                    out_md.append(
                        f"- Splink / linkwell {meth}, link step from the encoded files: wall "
                        f"{s.wall_s / ll.wall_s:.1f}x ({s.wall_s:.2f} s vs {ll.wall_s:.2f} s), CPU "
                        f"{(s.cpu_s or 0) / (ll.cpu_s or 1):.1f}x, peak memory linkwell = "
                        f"{(ll.peak_rss or 0) / sp:.3f} of Splink's")
        out_md.append("")
        report["linkages"][pk] = {"title": spec["title"], "left_records": truth.left_records,
                                  "right_records": truth.right_records, "all_pairs": truth.all_pairs,
                                  "achievable": truth.achievable, "rows": jrows, "notes": notes}

    out_md.append("- [oracle]: threshold maximising achievable F1, chosen with the truth (an upper bound). "
                  "Peak RSS: largest single process (/usr/bin/time -v) / whole process tree (psutil samples); "
                  "for linkwell end to end, the largest of its three steps.")
    text = "\n".join(out_md)
    print(text)
    if a.json_out:
        a.json_out.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        if type(e).__name__ == "BenchError":
            sys.exit(f"accuracy_vs_splink_anonlink: {e}")
        raise
