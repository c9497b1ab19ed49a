"""Raw (identifiable-looking, entirely synthetic) input files for the benches.

All NHS numbers are valid Modulus-11 numbers from the 999 range
(900 000 0000 – 999 999 9999), which is reserved for test patients and is
never issued to a person. Names are drawn with realistic frequencies from
the name lists that ship with clkhash (US census-style counts) when clkhash
is installed, plus a long tail of made-up surnames, so that repetition (which
both linkwell's and clkhash's caches exploit) is realistic rather than
flattering: roughly a third of surnames are rare or unique. Postcodes are
valid-format UK postcodes built from real area codes with random districts
and units, so nearly every one is distinct, as in a real extract.

Files are cached under /tmp/lwbench (or $LWBENCH_DIR) by kind, size and seed:
generating the same file twice gives identical bytes.

    python benches/gendata.py nhs 1000 /tmp/lwbench/x.csv     # look at a sample
    python benches/gendata.py people 1000 /tmp/lwbench/p.csv
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
import sys
from functools import lru_cache
from pathlib import Path

WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)

# Real UK postcode areas (a selection across the country).
AREAS = (
    "AB AL B BA BB BD BH BL BN BR BS CA CB CF CH CM CO CR CT CV CW DA DD DE DH DL DN DT DY E EC EH EN EX "
    "FK FY G GL GU HA HD HG HP HR HU HX IG IP KT L LA LD LE LL LN LS LU M ME MK N NE NG NN NP NR NW OL OX "
    "PE PL PO PR RG RH RM S SE SG SK SL SM SN SO SP SR SS ST SW SY TA TF TN TQ TR TS TW UB W WA WC WD WF WN "
    "WR WS WV YO"
).split()
UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

_FALLBACK_GIVEN = (
    "Oliver George Harry Jack Jacob Noah Charlie Muhammad Thomas Oscar William James Henry Leo Alfie Joshua "
    "Freddie Archie Ethan Isaac Olivia Amelia Isla Ava Emily Isabella Mia Poppy Ella Lily Sophie Grace Ruby "
    "Evie Jessica Chloe Sarah Margaret Susan Elizabeth Mary Patricia Jennifer Linda Barbara David John Peter "
    "Paul Michael Robert Richard Christopher Daniel Matthew Andrew Mark Stephen Anthony Kevin Brian Gary Ian "
    "Siobhan Aoife Niamh Priya Aisha Fatima Zara Mohammed Ahmed Ali Omar Yusuf Kwame Chidi Ngozi Wei Mei"
).split()
_FALLBACK_FAMILY = (
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright "
    "Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill "
    "Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker "
    "Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy "
    "Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman "
    "Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight "
    "Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey O'Brien Nguyen Okafor Kowalski"
).split()
_SYL = (
    "ab ad al an ar as ash bar ber bold brook by ca car cham den don el en er es ey field ford gan gar ham "
    "har hart hay hol ick ing ker kins lan land ley low mar mer mond mor ney nor ol on or ow pen per ridge "
    "ros sal sel shaw son ston tar ter ton tor vel ward well wick win wood worth yard"
).split()


@lru_cache(maxsize=None)
def _name_lists() -> tuple:
    """(given names, given cum weights, family names, family cum weights)."""
    given, gw, family, fw = [], [], [], []
    try:
        import clkhash  # noqa: F401

        base = Path(clkhash.__file__).parent / "data"
        for fname in ("female-first-names.csv", "male-first-names.csv"):
            with open(base / fname, encoding="utf-8") as f:
                r = csv.reader(f)
                next(r)
                for name, count in r:
                    given.append(name.strip())
                    gw.append(int(count))
        with open(base / "last-names.csv", encoding="utf-8") as f:
            r = csv.reader(f)
            next(r)
            for name, count in r:
                family.append(name.strip())
                fw.append(int(count))
    except (ImportError, OSError, ValueError):
        given = list(_FALLBACK_GIVEN)
        gw = [1000 // (i + 1) + 1 for i in range(len(given))]
        family = list(_FALLBACK_FAMILY)
        fw = [1000 // (i + 1) + 1 for i in range(len(family))]
    # Name-list spellings are Title case ("Smith"); the lists are US-centric,
    # so British-typical names are mixed in.
    for n in _FALLBACK_GIVEN:
        given.append(n)
        gw.append(max(gw) // 50)
    for n in _FALLBACK_FAMILY:
        family.append(n)
        fw.append(max(fw) // 20)

    def cum(ws):
        out, t = [], 0
        for w in ws:
            t += w
            out.append(t)
        return out

    return given, cum(gw), family, cum(fw)


def check_value(nine: str) -> int:
    s = sum(int(c) * w for c, w in zip(nine, WEIGHTS))
    c = 11 - s % 11
    return 0 if c == 11 else c


def nhs_from_nine(nine: str) -> str | None:
    """The valid number starting with these nine digits, or None."""
    c = check_value(nine)
    if c == 10:
        return None
    n = nine + str(c)
    if n == n[0] * 10:
        return None
    return n


def random_valid_nhs(rng: random.Random) -> str:
    while True:
        n = nhs_from_nine(str(rng.randrange(900_000_000, 1_000_000_000)))
        if n:
            return n


def nhs_from_index(i: int, salt: int) -> str | None:
    """A distinct 999-range prefix for each index ``i`` (an affine bijection
    of 0..10^8), completed with its check digit; None when that prefix has
    check value 10 (about 1 in 11) or is a placeholder."""
    a = 48_271_459  # odd and not a multiple of 5: coprime to 10^8
    x = (a * i + salt) % 100_000_000
    return nhs_from_nine(str(900_000_000 + x))


def format_nhs(rng: random.Random, n: str) -> str:
    """How a valid number appears in an extract: mostly plain, some spaced
    (3-3-4) or hyphenated, a few padded with spaces."""
    r = rng.random()
    if r < 0.84:
        return n
    if r < 0.93:
        return f"{n[:3]} {n[3:6]} {n[6:]}"
    if r < 0.98:
        return f"{n[:3]}-{n[3:6]}-{n[6:]}"
    if r < 0.99:
        return f" {n} "
    if r < 0.995:
        return f"{n[:3]}  {n[3:6]}  {n[6:]}"
    return f"{n[:3]} - {n[3:6]} - {n[6:]}"


def broken_nhs(rng: random.Random) -> str:
    """An invalid or missing NHS number of a random kind."""
    kind = rng.randrange(9)
    n = random_valid_nhs(rng)
    if kind == 0:
        return ""
    if kind == 1:  # wrong check digit
        return n[:9] + str((int(n[9]) + rng.randrange(1, 10)) % 10)
    if kind == 2:  # wrong length
        return n[: rng.choice((8, 9))] if rng.random() < 0.5 else n + str(rng.randrange(10))
    if kind == 3:  # nine digits whose check value is 10, any last digit
        while True:
            nine = str(rng.randrange(900_000_000, 1_000_000_000))
            if check_value(nine) == 10:
                return nine + str(rng.randrange(10))
    if kind == 4:  # placeholder
        return str(rng.randrange(10)) * 10
    if kind == 5:  # a letter
        p = rng.randrange(10)
        return n[:p] + "O" + n[p + 1 :]
    if kind == 6:  # separators where linkwell does not accept them
        return rng.choice(("-" + n, n + "-", n[:3] + "." + n[3:], "  -" + n))
    if kind == 7:  # 'unknown' markers
        return rng.choice(("N/A", "unknown", "0", "NULL"))
    return "   "


def random_date(rng: random.Random, start=dt.date(1925, 1, 1), end=dt.date(2008, 12, 31)) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def random_postcode(rng: random.Random) -> str:
    area = rng.choice(AREAS)
    district = str(rng.randrange(1, 30 if len(area) == 2 else 20))
    return f"{area}{district} {rng.randrange(10)}{rng.choice(UNIT_LETTERS)}{rng.choice(UNIT_LETTERS)}"


def made_up_surname(rng: random.Random) -> str:
    return "".join(rng.choice(_SYL) for _ in range(rng.choice((2, 2, 3)))).capitalize()


class People:
    """Draws names with realistic frequencies."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.given, self.gcum, self.family, self.fcum = _name_lists()
        self._buf_g: list = []
        self._buf_f: list = []

    def given_name(self) -> str:
        if not self._buf_g:
            self._buf_g = self.rng.choices(self.given, cum_weights=self.gcum, k=4096)
        return self._buf_g.pop()

    def family_name(self) -> str:
        if self.rng.random() < 0.3:
            return made_up_surname(self.rng)
        if not self._buf_f:
            self._buf_f = self.rng.choices(self.family, cum_weights=self.fcum, k=4096)
        return self._buf_f.pop()


def _cached(path: Path | None, kind: str, n: int, seed: int) -> Path:
    if path is not None:
        return Path(path)
    base = Path(os.environ.get("LWBENCH_DIR", "/tmp/lwbench")) / "inputs"
    return base / f"{kind}-{n}-s{seed}.csv"


def _atomic_write(path: Path, header: list, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)
    return path


def nhs_file(n: int, seed: int = 1, path: Path | None = None, invalid_rate: float = 0.02) -> Path:
    """``id,nhs_number,family_name,date_of_birth``: n rows; about
    ``invalid_rate`` of NHS numbers missing or invalid, the rest valid and
    variously formatted."""
    path = _cached(path, "nhs", n, seed)
    if path.exists():
        return path
    rng = random.Random(seed)
    people = People(rng)

    def rows():
        for i in range(n):
            nhs = broken_nhs(rng) if rng.random() < invalid_rate else format_nhs(rng, random_valid_nhs(rng))
            yield (f"P{i:08d}", nhs, people.family_name(), random_date(rng).isoformat())

    return _atomic_write(path, ["id", "nhs_number", "family_name", "date_of_birth"], rows())


PEOPLE_HEADER = ["patient_id", "nhs_number", "given_name", "family_name", "date_of_birth", "sex", "postcode"]


def people_file(n: int, seed: int = 1, path: Path | None = None) -> Path:
    """``patient_id,nhs_number,given_name,family_name,date_of_birth,sex,postcode``
    with realistic name frequencies, ISO dates, sex M/F (U rarely), and a
    small share of missing values in every field (about 1%) and of invalid
    NHS numbers (about 1%)."""
    path = _cached(path, "people", n, seed)
    if path.exists():
        return path
    rng = random.Random(seed)
    people = People(rng)

    def maybe(v: str) -> str:
        return "" if rng.random() < 0.01 else v

    def rows():
        for i in range(n):
            nhs = broken_nhs(rng) if rng.random() < 0.01 else format_nhs(rng, random_valid_nhs(rng))
            r = rng.random()
            sex = "M" if r < 0.49 else "F" if r < 0.995 else "U"
            yield (
                f"P{i:08d}",
                nhs,
                maybe(people.given_name()),
                maybe(people.family_name()),
                maybe(random_date(rng).isoformat()),
                maybe(sex),
                maybe(random_postcode(rng)),
            )

    return _atomic_write(path, PEOPLE_HEADER, rows())


def distinct_valid_numbers(salt: int):
    """An endless stream of distinct valid 999-range NHS numbers (an affine
    bijection of the 10^8 prefixes, skipping those with no valid number)."""
    k = 0
    while k < 100_000_000:
        n = nhs_from_index(k, salt)
        k += 1
        if n is not None:
            yield n
    raise ValueError("out of 999-range NHS numbers")


def join_pair(n_left: int, n_right: int, overlap: float, seed: int = 1, out_dir: Path | None = None):
    """Two raw files ``id,nhs_number``: the right file's first
    ``overlap * min(n_left, n_right)`` people are also in the left file
    (same number, independently formatted), every valid number is distinct
    within a file, and about 0.5% of each file's numbers are invalid or
    missing. Returns (left, right, expected_matches), expected_matches being
    the number of valid numbers present in both files: the exact row count
    of the inner join on tokens."""
    base = out_dir or Path(os.environ.get("LWBENCH_DIR", "/tmp/lwbench")) / "join"
    tag = f"{n_left}x{n_right}-o{overlap:g}-s{seed}"
    left, right, meta = base / f"left-{tag}.csv", base / f"right-{tag}.csv", base / f"expected-{tag}.txt"
    if left.exists() and right.exists() and meta.exists():
        return left, right, int(meta.read_text())
    rng = random.Random(seed)
    shared = int(overlap * min(n_left, n_right))
    salt = rng.randrange(100_000_000)
    bad_left = bytearray(1 if rng.random() < 0.005 else 0 for _ in range(n_left))
    main = distinct_valid_numbers(salt)
    expected = 0

    def left_rows():
        for i in range(n_left):
            n = next(main)  # numbers 0..shared-1 are the shared people
            yield (f"L{i:09d}", broken_nhs(rng) if bad_left[i] else format_nhs(rng, n))

    def right_rows():
        nonlocal expected
        again = distinct_valid_numbers(salt)
        for j in range(n_right):
            # shared people: the left file's first numbers again; the rest:
            # numbers after every left one
            n = next(again) if j < shared else next(main)
            if rng.random() < 0.005:
                yield (f"R{j:09d}", broken_nhs(rng))
            else:
                if j < shared and not bad_left[j]:
                    expected += 1
                yield (f"R{j:09d}", format_nhs(rng, n))

    _atomic_write(left, ["id", "nhs_number"], left_rows())
    _atomic_write(right, ["id", "nhs_number"], right_rows())
    meta.write_text(str(expected))
    return left, right, expected


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("nhs", "people"):
        sys.exit("usage: python benches/gendata.py nhs|people N OUT.csv")
    kind, n, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    (nhs_file if kind == "nhs" else people_file)(n, path=out)
    print(out)
