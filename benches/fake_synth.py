"""A small stand-in for ``linkwell synth`` (being built), with the same files.

    python benches/fake_synth.py --people 100000 --seed 1 --out /tmp/lwbench/synth-100000

Writes, like ``linkwell synth --people N --seed S --out DIR`` will:

- ``nhs_patients.csv``: patient_id, nhs_number, given_name, family_name,
  date_of_birth, sex, postcode, icb, referral, referral_date
  (sex coded 1 male, 2 female, 9 not specified, 0 not known);
- ``ons_employment.csv``: ons_id, nhs_number, given_name, family_name,
  date_of_birth, sex, postcode, employment_status, annual_pay_band, industry
  (sex M/F/U);
- ``dwp_claims.csv``: claim_id, nino, given_name, family_name,
  date_of_birth, sex, postcode, benefit, claim_start, claim_end
  (sex M/F/U; names in capitals, as many benefit systems hold them);
- ``truth.csv``: dataset, record_id, person_id, errors
  (dataset nhs_patients / ons_employment / dwp_claims; errors is a
  ``;``-separated list of the errors put into that record).

Dates are ISO. People live in households (shared surname and postcode;
some twins), which makes honest hard negatives. Error kinds and rates
follow the defaults being written for linkwell-synth (per record, NHS /
ONS / DWP): keyboard typos in names (0.5% / 1.5% / 2%), nicknames (1% / 8%
/ 6%), a woman's other surname (0 / 7% / 6%), names swapped (0.2-0.5%),
day/month swapped, a wrong digit or 1 January in the date of birth, the
opposite sex, a different postcode after a move (4% / 10% / 8%), postcode
typos, missing values, NHS-number typos and gaps (NHS and ONS), and
duplicate records (1%). 99% of people have an NHS record, about 75% an ONS
record, and about 30% one to five DWP claims.

This is only for developing the benchmarks; the accuracy figures that
matter are the ones on ``linkwell synth`` output.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gendata  # noqa: E402

REF = dt.date(2025, 3, 31)
NICKNAMES = {
    "William": "Bill", "Robert": "Bob", "Richard": "Dick", "Elizabeth": "Liz", "Margaret": "Peggy",
    "James": "Jim", "Thomas": "Tom", "Michael": "Mike", "Christopher": "Chris", "Jennifer": "Jen",
    "Katherine": "Kate", "Catherine": "Cathy", "Alexander": "Alex", "Daniel": "Dan", "Matthew": "Matt",
    "Anthony": "Tony", "Joseph": "Joe", "Patricia": "Pat", "Susan": "Sue", "Deborah": "Debbie",
    "Rebecca": "Becky", "Samuel": "Sam", "Benjamin": "Ben", "Jonathan": "Jon", "Edward": "Ed",
    "Nicholas": "Nick", "Andrew": "Andy", "Stephen": "Steve", "Timothy": "Tim", "Victoria": "Vicky",
    "Jacqueline": "Jackie", "Charlotte": "Charlie", "Frederick": "Fred", "Henry": "Harry", "David": "Dave",
    "Peter": "Pete", "Elizabeth ": "Beth", "Gregory": "Greg", "Kenneth": "Ken", "Ronald": "Ron",
}
KEYBOARD = {
    c: n for c, n in zip(
        "qwertyuiopasdfghjklzxcvbnm",
        ["wa", "qes", "wrd", "etf", "ryg", "tuh", "yij", "uok", "ipl", "o", "qsz", "awdx", "sefc", "drgv",
         "fthb", "gyjn", "hukm", "jil", "kop", "asx", "zdc", "xfv", "cgb", "vhn", "bjm", "nk"],
    )
}
ICBS = ["QE1", "QHG", "QJK", "QKK", "QMF", "QOP", "QRL", "QSL", "QUY", "QWE", "QXU", "QYG"]
REFERRALS = ["MSK physiotherapy", "talking therapies", "cardiology", "orthopaedics", "diabetes", "pain clinic"]
EMPLOYMENT = ["employed", "self-employed", "unemployed", "inactive"]
PAY_BANDS = ["<10k", "10-20k", "20-30k", "30-40k", "40-60k", "60k+"]
INDUSTRIES = ["health", "retail", "education", "construction", "manufacturing", "public admin", "hospitality"]
BENEFITS = ["Universal Credit", "PIP", "ESA", "JSA", "Carer's Allowance", "Attendance Allowance"]

RATES = {  # (nhs, ons, dwp)
    "typo_given_name": (0.005, 0.015, 0.02),
    "typo_family_name": (0.005, 0.015, 0.02),
    "typo_postcode": (0.002, 0.004, 0.004),
    "nickname": (0.01, 0.08, 0.06),
    "surname_change": (0.0, 0.07, 0.06),
    "names_swapped": (0.002, 0.005, 0.005),
    "dob_day_month_swap": (0.002, 0.006, 0.008),
    "dob_digit": (0.003, 0.008, 0.01),
    "dob_default": (0.001, 0.003, 0.003),
    "sex_mismatch": (0.001, 0.002, 0.002),
    "moved": (0.04, 0.10, 0.08),
    "missing_given_name": (0.002, 0.01, 0.005),
    "missing_family_name": (0.001, 0.005, 0.003),
    "missing_date_of_birth": (0.001, 0.01, 0.003),
    "missing_sex": (0.005, 0.01, 0.01),
    "missing_postcode": (0.005, 0.02, 0.01),
    "missing_nhs_number": (0.002, 0.12, 0.0),
    "nhs_number_typo": (0.001, 0.008, 0.0),
    "duplicate": (0.01, 0.005, 0.01),
}
VIEW = {"nhs_patients": 0, "ons_employment": 1, "dwp_claims": 2}


def typo(rng: random.Random, s: str) -> str:
    if len(s) < 2:
        return s
    i = rng.randrange(len(s))
    kind = rng.random()
    c = s[i]
    if kind < 0.4:
        near = KEYBOARD.get(c.lower())
        if not near:
            return s
        r = rng.choice(near)
        r = r.upper() if c.isupper() else r
        return s[:i] + r + s[i + 1:]
    if kind < 0.6:
        return s[:i] + c + s[i:]
    if kind < 0.8:
        return s[:i] + s[i + 1:]
    if i == len(s) - 1:
        i -= 1
    return s[:i] + s[i + 1] + s[i] + s[i + 2:]


def postcode_typo(rng: random.Random, p: str) -> str:
    chars = list(p)
    idx = [i for i, c in enumerate(chars) if c != " "]
    i = rng.choice(idx)
    swap = {"O": "0", "0": "O", "I": "1", "1": "I"}
    if chars[i] in swap and rng.random() < 0.5:
        chars[i] = swap[chars[i]]
    elif i + 1 < len(chars) and chars[i + 1] != " " and rng.random() < 0.5:
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    else:
        chars[i] = rng.choice("ABDEFGHJLNPRSTUWXYZ0123456789")
    return "".join(chars)


def random_nino(rng: random.Random) -> str:
    letters = "ABCEGHJKLMNPRSTWXYZ"
    return f"{rng.choice(letters)}{rng.choice(letters)}{rng.randrange(10**6):06d}{rng.choice('ABCD')}"


def make_people(n: int, rng: random.Random) -> list[dict]:
    names = gendata.People(rng)
    people: list[dict] = []
    while len(people) < n:
        surname = names.family_name()
        postcode = gendata.random_postcode(rng)
        other_postcode = gendata.random_postcode(rng)
        size = rng.choices((1, 2, 3, 4, 5), weights=(30, 34, 16, 14, 6))[0]
        adult_age = rng.randrange(18, 90)
        prev_dob = None
        for k in range(size):
            if len(people) >= n:
                break
            if k < 2:
                dob = REF - dt.timedelta(days=365 * max(18, adult_age + rng.randrange(-5, 6)) + rng.randrange(365))
            elif prev_dob is not None and rng.random() < 0.035:
                dob = prev_dob  # twin
            else:
                dob = REF - dt.timedelta(days=rng.randrange(0, 365 * 25))
            prev_dob = dob
            sex = "M" if rng.random() < 0.49 else "F"
            if k == 1:
                sex = "F" if people[-1]["sex"] == "M" else "M"
            people.append({
                "person_id": f"X{len(people):08d}",
                "given_name": names.given_name(),
                "family_name": surname,
                "other_surname": names.family_name(),
                "dob": dob,
                "sex": sex,
                "postcode": postcode,
                "other_postcode": other_postcode,
                "nhs_number": gendata.random_valid_nhs(rng),
                "nino": random_nino(rng),
            })
    return people


def age(p: dict) -> int:
    return (REF - p["dob"]).days // 365


def render(rng: random.Random, p: dict, view: str) -> tuple[dict, list[str]]:
    """One record of person p in a view, with that view's errors."""
    v = VIEW[view]

    def hit(kind: str) -> bool:
        return rng.random() < RATES[kind][v]

    errors: list[str] = []
    given, family, dob, sex, postcode = p["given_name"], p["family_name"], p["dob"], p["sex"], p["postcode"]
    nhs = p["nhs_number"]
    if given in NICKNAMES and hit("nickname"):
        given = NICKNAMES[given]
        errors.append("nickname")
    if sex == "F" and age(p) >= 18 and hit("surname_change"):
        family = p["other_surname"]
        errors.append("surname_change")
    if hit("typo_given_name"):
        given = typo(rng, given)
        errors.append("typo_given_name")
    if hit("typo_family_name"):
        family = typo(rng, family)
        errors.append("typo_family_name")
    if hit("names_swapped"):
        given, family = family, given
        errors.append("names_swapped")
    if dob.day <= 12 and dob.day != dob.month and hit("dob_day_month_swap"):
        dob = dob.replace(day=dob.month, month=dob.day)
        errors.append("dob_day_month_swap")
    if hit("dob_digit"):
        s = dob.isoformat()
        for _ in range(10):
            i = rng.choice([2, 3, 6, 8, 9])
            t = s[:i] + str(rng.randrange(10)) + s[i + 1:]
            try:
                d2 = dt.date.fromisoformat(t)
            except ValueError:
                continue
            if d2 != dob and d2 <= REF:
                dob = d2
                errors.append("dob_digit")
                break
    if (dob.month, dob.day) != (1, 1) and hit("dob_default"):
        dob = dob.replace(month=1, day=1)
        errors.append("dob_default")
    if hit("sex_mismatch"):
        sex = "F" if sex == "M" else "M"
        errors.append("sex_mismatch")
    if hit("moved"):
        postcode = p["other_postcode"]
        errors.append("moved")
    if hit("typo_postcode"):
        postcode = postcode_typo(rng, postcode)
        errors.append("typo_postcode")
    if hit("nhs_number_typo"):
        i = rng.randrange(10)
        nhs = nhs[:i] + str((int(nhs[i]) + rng.randrange(1, 10)) % 10) + nhs[i + 1:]
        errors.append("nhs_number_typo")
    rec = {"given_name": given, "family_name": family, "date_of_birth": dob.isoformat(), "sex": sex,
           "postcode": postcode, "nhs_number": nhs}
    for col, kind in (("given_name", "missing_given_name"), ("family_name", "missing_family_name"),
                      ("date_of_birth", "missing_date_of_birth"), ("sex", "missing_sex"),
                      ("postcode", "missing_postcode"), ("nhs_number", "missing_nhs_number")):
        if hit(kind):
            rec[col] = ""
            errors.append(kind)
    if view == "nhs_patients":
        rec["sex"] = {"M": "1", "F": "2", "": rng.choice("90")}[rec["sex"]]
    else:
        rec["sex"] = rec["sex"] or "U"
    if view == "dwp_claims":
        rec["given_name"] = rec["given_name"].upper()
        rec["family_name"] = rec["family_name"].upper()
    return rec, errors


def write(out: Path, people: list[dict], rng: random.Random) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    files = {
        "nhs_patients": ["patient_id", "nhs_number", "given_name", "family_name", "date_of_birth", "sex",
                         "postcode", "icb", "referral", "referral_date"],
        "ons_employment": ["ons_id", "nhs_number", "given_name", "family_name", "date_of_birth", "sex",
                           "postcode", "employment_status", "annual_pay_band", "industry"],
        "dwp_claims": ["claim_id", "nino", "given_name", "family_name", "date_of_birth", "sex", "postcode",
                       "benefit", "claim_start", "claim_end"],
    }
    handles = {k: open(out / f"{k}.csv.part", "w", newline="", encoding="utf-8") for k in files}
    writers = {k: csv.writer(h, lineterminator="\n") for k, h in handles.items()}
    truth_h = open(out / "truth.csv.part", "w", newline="", encoding="utf-8")
    truth = csv.writer(truth_h, lineterminator="\n")
    truth.writerow(["dataset", "record_id", "person_id", "errors"])
    for k, cols in files.items():
        writers[k].writerow(cols)
        counts[k] = 0

    def emit(view: str, p: dict, payload: list):
        prefix = {"nhs_patients": "N", "ons_employment": "O", "dwp_claims": "D"}[view]
        copies = 2 if rng.random() < RATES["duplicate"][VIEW[view]] else 1
        for c in range(copies):
            rec, errors = render(rng, p, view)
            if c:
                errors.append("duplicate")
            rid = f"{prefix}{counts[view]:09d}"
            counts[view] += 1
            if view == "dwp_claims":
                row = [rid, p["nino"]]
            else:
                row = [rid, rec["nhs_number"]]
            row += [rec["given_name"], rec["family_name"], rec["date_of_birth"], rec["sex"], rec["postcode"]]
            writers[view].writerow(row + payload)
            truth.writerow([view, rid, p["person_id"], ";".join(errors)])

    for p in people:
        if rng.random() < 0.99:
            rd = REF - dt.timedelta(days=rng.randrange(1, 900))
            emit("nhs_patients", p, [rng.choice(ICBS), rng.choice(REFERRALS), rd.isoformat()])
        if 16 <= age(p) <= 74 and rng.random() < 0.92:
            emit("ons_employment", p, [rng.choice(EMPLOYMENT), rng.choice(PAY_BANDS), rng.choice(INDUSTRIES)])
        if age(p) >= 16 and rng.random() < 0.35:
            for _ in range(rng.choices((1, 2, 3, 4, 5), weights=(35, 30, 18, 10, 7))[0]):
                start = REF - dt.timedelta(days=rng.randrange(30, 3000))
                end = "" if rng.random() < 0.4 else (start + dt.timedelta(days=rng.randrange(30, 900))).isoformat()
                emit("dwp_claims", p, [rng.choice(BENEFITS), start.isoformat(), end])
    for h in list(handles.values()) + [truth_h]:
        h.close()
    for k in files:
        os.replace(out / f"{k}.csv.part", out / f"{k}.csv")
    os.replace(out / "truth.csv.part", out / "truth.csv")
    return counts


def generate(people: int, seed: int, out: Path) -> dict:
    rng = random.Random(seed)
    return write(out, make_people(people, rng), rng)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--people", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    counts = generate(a.people, a.seed, a.out)
    print(f"fake_synth: {a.people:,} people -> " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
          + f" in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
