//! The error vocabulary written to `truth.csv`, and the functions that
//! make each kind of error.

use linkwell::nhs::NhsNumber;
use linkwell::normalise::date::Date;

use crate::config::TypoWeights;
use crate::rng::Rng;

macro_rules! kinds {
    ($( $(#[doc = $doc:literal])+ $variant:ident => $name:literal, )*) => {
        /// One kind of error applied to a record. The names are fixed and
        /// documented; `truth.csv` lists them `;`-separated in this order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum ErrorKind {
            $( $(#[doc = $doc])+ $variant, )*
        }

        impl ErrorKind {
            /// Every kind, in truth order.
            pub const ALL: &'static [ErrorKind] = &[ $( ErrorKind::$variant, )* ];

            /// The snake_case name used in `truth.csv`.
            pub fn name(self) -> &'static str {
                match self { $( ErrorKind::$variant => $name, )* }
            }

            /// One line describing the kind (for the README).
            pub fn description(self) -> &'static str {
                match self { $( ErrorKind::$variant => concat!($($doc),+), )* }
            }
        }
    };
}

kinds! {
    /// A typo in the forename.
    TypoGivenName => "typo_given_name",
    /// A typo in the surname.
    TypoFamilyName => "typo_family_name",
    /// A typo in the postcode.
    TypoPostcode => "typo_postcode",
    /// Forename replaced by a nickname that the linker's nickname table knows.
    Nickname => "nickname",
    /// Forename replaced by a nickname that the linker's nickname table does not know.
    NicknameUnlisted => "nickname_unlisted",
    /// Surname is the woman's other (maiden or former) surname.
    SurnameChange => "surname_change",
    /// Forename and surname in each other's columns.
    NamesSwapped => "names_swapped",
    /// Day and month of birth exchanged.
    DobDayMonthSwap => "dob_day_month_swap",
    /// One digit of the date of birth wrong.
    DobDigit => "dob_digit",
    /// Date of birth set to 1 January of the birth year.
    DobDefault => "dob_default",
    /// The opposite sex recorded.
    SexMismatch => "sex_mismatch",
    /// The household's other postcode (a house move between sources).
    Moved => "moved",
    /// NHS number empty.
    MissingNhsNumber => "missing_nhs_number",
    /// Forename empty.
    MissingGivenName => "missing_given_name",
    /// Surname empty.
    MissingFamilyName => "missing_family_name",
    /// Date of birth empty.
    MissingDateOfBirth => "missing_date_of_birth",
    /// Sex not known or not specified.
    MissingSex => "missing_sex",
    /// Postcode empty.
    MissingPostcode => "missing_postcode",
    /// NHS number mistyped so that it fails the Modulus 11 check.
    NhsNumberTypoInvalid => "nhs_number_typo_invalid",
    /// NHS number mistyped into another valid number (possibly someone else's).
    NhsNumberTypoValid => "nhs_number_typo_valid",
    /// An extra record of a person (or claim) already in the view.
    Duplicate => "duplicate",
}

impl ErrorKind {
    /// The kind with this name.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.name() == name)
    }
}

/// A set of error kinds (a bit set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ErrorSet(u32);

impl ErrorSet {
    /// No errors.
    pub const EMPTY: ErrorSet = ErrorSet(0);

    /// Adds a kind.
    pub fn insert(&mut self, k: ErrorKind) {
        self.0 |= 1 << k as u8;
    }

    /// Whether the set has a kind.
    pub fn contains(self, k: ErrorKind) -> bool {
        self.0 & (1 << k as u8) != 0
    }

    /// Whether there are no errors.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds, in truth order.
    pub fn iter(self) -> impl Iterator<Item = ErrorKind> {
        ErrorKind::ALL
            .iter()
            .copied()
            .filter(move |&k| self.contains(k))
    }

    /// Writes the `;`-separated names.
    pub fn write_to(self, out: &mut Vec<u8>) {
        let mut first = true;
        for k in self.iter() {
            if !first {
                out.push(b';');
            }
            first = false;
            out.extend_from_slice(k.name().as_bytes());
        }
    }
}

impl std::fmt::Display for ErrorSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut v = Vec::new();
        self.write_to(&mut v);
        f.write_str(std::str::from_utf8(&v).expect("ASCII"))
    }
}

/// Keys next to each lowercase letter and digit on a UK QWERTY keyboard.
fn neighbours(c: char) -> &'static str {
    match c {
        'q' => "wa",
        'w' => "qeas",
        'e' => "wrsd",
        'r' => "etdf",
        't' => "ryfg",
        'y' => "tugh",
        'u' => "yihj",
        'i' => "uojk",
        'o' => "ipkl",
        'p' => "ol",
        'a' => "qwsz",
        's' => "awedxz",
        'd' => "serfcx",
        'f' => "drtgvc",
        'g' => "ftyhbv",
        'h' => "gyujnb",
        'j' => "huikmn",
        'k' => "jiolm",
        'l' => "kop",
        'z' => "asx",
        'x' => "zsdc",
        'c' => "xdfv",
        'v' => "cfgb",
        'b' => "vghn",
        'n' => "bhjm",
        'm' => "njk",
        '1' => "2q",
        '2' => "13w",
        '3' => "24e",
        '4' => "35r",
        '5' => "46t",
        '6' => "57y",
        '7' => "68u",
        '8' => "79i",
        '9' => "80o",
        '0' => "9p",
        _ => "",
    }
}

/// A keyboard neighbour of `c` in the same case, or `None`.
fn neighbour(c: char, rng: &mut Rng) -> Option<char> {
    let lower = c.to_ascii_lowercase();
    let n = neighbours(lower);
    if n.is_empty() {
        return None;
    }
    let picked = n.as_bytes()[rng.below(n.len() as u64) as usize] as char;
    Some(if c.is_ascii_uppercase() {
        picked.to_ascii_uppercase()
    } else {
        picked
    })
}

/// Makes one typo in a name. Only letters are touched; the result always
/// differs from the input and keeps at least two letters. `None` when the
/// name is too short to mistype.
pub(crate) fn typo(name: &str, w: &TypoWeights, rng: &mut Rng) -> Option<String> {
    let mut chars: Vec<char> = name.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_alphabetic())
        .collect();
    if letters.len() < 3 {
        return None;
    }
    let upper = chars
        .iter()
        .filter(|c| c.is_alphabetic())
        .all(|c| !c.is_lowercase());
    for _ in 0..8 {
        let kind = rng.weighted(&[w.substitution, w.insertion, w.deletion, w.transposition]);
        let at = letters[rng.below(letters.len() as u64) as usize];
        let mut out = chars.clone();
        match kind {
            0 => {
                let Some(n) = neighbour(chars[at], rng) else {
                    continue;
                };
                out[at] = n;
            }
            1 => {
                // Half the time a doubled letter (Philip -> Phillip), else a
                // neighbouring key pressed with it.
                let c = if rng.chance(0.5) {
                    chars[at]
                } else {
                    match neighbour(chars[at], rng) {
                        Some(n) => n,
                        None => continue,
                    }
                };
                let c = if upper {
                    c.to_uppercase().next().unwrap_or(c)
                } else {
                    c.to_lowercase().next().unwrap_or(c)
                };
                out.insert(at + 1, c);
            }
            2 => {
                out.remove(at);
            }
            _ => {
                let next = at + 1;
                if next >= chars.len() || !chars[next].is_alphabetic() {
                    continue;
                }
                // Keep the case pattern: swap letters, not their case.
                let (a, b) = (chars[at], chars[next]);
                let fix = |src: char, like: char| {
                    if like.is_uppercase() {
                        src.to_uppercase().next().unwrap_or(src)
                    } else {
                        src.to_lowercase().next().unwrap_or(src)
                    }
                };
                out[at] = fix(b, a);
                out[next] = fix(a, b);
            }
        }
        if out != chars {
            chars = out;
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Makes one typo in a postcode (`LS6 2AB`): a neighbouring key, two
/// characters of the inward code exchanged, or a letter/digit confusion
/// (O/0, I/1, S/5, B/8, Z/2). The result differs from the input; it is
/// often, not always, an invalid postcode.
pub(crate) fn postcode_typo(pc: &str, rng: &mut Rng) -> String {
    let mut b: Vec<u8> = pc.bytes().collect();
    let positions: Vec<usize> = (0..b.len()).filter(|&i| b[i] != b' ').collect();
    for _ in 0..8 {
        let mut out = b.clone();
        match rng.weighted(&[0.5, 0.3, 0.2]) {
            0 => {
                let at = *rng.pick(&positions);
                if let Some(n) = neighbour(out[at] as char, rng) {
                    out[at] = n.to_ascii_uppercase() as u8;
                }
            }
            1 => {
                let n = out.len();
                let at = n - 3 + rng.below(2) as usize;
                out.swap(at, at + 1);
            }
            _ => {
                let at = *rng.pick(&positions);
                out[at] = match out[at] {
                    b'O' => b'0',
                    b'0' => b'O',
                    b'I' => b'1',
                    b'1' => b'I',
                    b'S' => b'5',
                    b'5' => b'S',
                    b'B' => b'8',
                    b'8' => b'B',
                    b'Z' => b'2',
                    b'2' => b'Z',
                    c => c,
                };
            }
        }
        if out != b {
            b = out;
            return String::from_utf8(b).expect("ASCII");
        }
    }
    // Fall back on a change that always differs.
    let at = b.len() - 1;
    b[at] = if b[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).expect("ASCII")
}

/// Mistypes an NHS number: one digit replaced (60%), two neighbouring
/// digits exchanged (25%) or two digits replaced (15%). Returns the ten
/// digits and whether they still pass the Modulus 11 check (every single
/// substitution and neighbour exchange fails it; two replaced digits pass
/// about one time in eleven).
pub(crate) fn nhs_typo(n: &NhsNumber, rng: &mut Rng) -> ([u8; 10], bool) {
    let orig = *n.as_bytes();
    let mut d = orig;
    let replace = |d: &mut [u8; 10], rng: &mut Rng| {
        let at = rng.below(10) as usize;
        let delta = 1 + rng.below(9) as u8;
        d[at] = b'0' + (d[at] - b'0' + delta) % 10;
    };
    match rng.weighted(&[0.60, 0.25, 0.15]) {
        0 => replace(&mut d, rng),
        1 => {
            let at = rng.below(9) as usize;
            if d[at] == d[at + 1] {
                replace(&mut d, rng);
            } else {
                d.swap(at, at + 1);
            }
        }
        _ => {
            replace(&mut d, rng);
            let before = d;
            replace(&mut d, rng);
            if d == orig {
                d = before;
            }
        }
    }
    debug_assert_ne!(d, orig);
    let s = std::str::from_utf8(&d).expect("digits");
    (d, NhsNumber::parse(s).is_ok())
}

/// One digit of a date of birth mistyped: the units of the year (30%), the
/// tens of the year (15%), the month's units (15%), the day's tens (15%) or
/// units (25%); always a valid, different date no later than `latest`.
pub(crate) fn dob_digit(d: Date, latest: Date, rng: &mut Rng) -> Date {
    for _ in 0..32 {
        let (mut y, mut m, mut day) = (d.year, d.month, d.day);
        let new = |old: u16, rng: &mut Rng| -> u16 { (old + 1 + rng.below(9) as u16) % 10 };
        match rng.weighted(&[0.30, 0.15, 0.15, 0.15, 0.25]) {
            0 => y = y - y % 10 + new(y % 10, rng),
            1 => y = y - (y / 10 % 10) * 10 + new(y / 10 % 10, rng) * 10,
            2 => m = (m / 10 * 10) + new(u16::from(m % 10), rng) as u8,
            3 => day = (day % 10) + new(u16::from(day / 10), rng) as u8 * 10,
            _ => day = (day / 10 * 10) + new(u16::from(day % 10), rng) as u8,
        }
        if let Some(x) = Date::new(y, m, day) {
            if x != d && x <= latest && x.year >= 1900 {
                return x;
            }
        }
    }
    // A day earlier always works.
    crate::dates::from_days(crate::dates::days(d) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for &k in ErrorKind::ALL {
            assert!(seen.insert(k.name()));
            assert_eq!(ErrorKind::from_name(k.name()), Some(k));
            assert!(k
                .name()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
        assert!(ErrorKind::ALL.len() <= 32);
        let mut s = ErrorSet::EMPTY;
        s.insert(ErrorKind::Moved);
        s.insert(ErrorKind::Nickname);
        assert_eq!(s.to_string(), "nickname;moved");
    }

    proptest! {
        #[test]
        fn typos_change_names(name in "[A-Z][a-z]{1,10}", seed in any::<u64>()) {
            let mut rng = crate::rng::Rng::new(seed, "typo", 0);
            match typo(&name, &TypoWeights::default(), &mut rng) {
                Some(t) => {
                    prop_assert_ne!(&t, &name);
                    prop_assert!(t.chars().count() + 1 >= name.chars().count());
                    prop_assert!(t.chars().count() <= name.chars().count() + 1);
                }
                None => prop_assert!(name.len() < 3),
            }
        }

        #[test]
        fn nhs_typos_change_the_number(seed in any::<u64>(), nine in 900_000_000u32..999_999_999) {
            prop_assume!(NhsNumber::from_first_nine(nine).is_some());
            let n = NhsNumber::from_first_nine(nine).unwrap();
            let mut rng = crate::rng::Rng::new(seed, "nhs", 0);
            let (d, valid) = nhs_typo(&n, &mut rng);
            prop_assert_ne!(&d, n.as_bytes());
            prop_assert_eq!(valid, NhsNumber::parse(std::str::from_utf8(&d).unwrap()).is_ok());
        }

        #[test]
        fn dob_digit_is_a_different_valid_date(seed in any::<u64>(), days in -20_000i64..19_000) {
            let d = crate::dates::from_days(days);
            let latest = crate::dates::from_days(20_000);
            let mut rng = crate::rng::Rng::new(seed, "dob", 0);
            let x = dob_digit(d, latest, &mut rng);
            prop_assert_ne!(x, d);
            prop_assert!(x <= latest);
        }

        #[test]
        fn postcode_typos_differ(seed in any::<u64>()) {
            let mut rng = crate::rng::Rng::new(seed, "pc", 0);
            for pc in ["LS6 2AB", "M1 1AE", "SW1A 1AA", "B33 8TH"] {
                prop_assert_ne!(postcode_typo(pc, &mut rng), pc);
            }
        }
    }
}
