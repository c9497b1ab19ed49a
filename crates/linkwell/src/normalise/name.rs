//! Names: the form that is tokenised, and its phonetic, canonical and
//! initial components.
//!
//! Normalisation, in order:
//! 1. Unicode NFKD, combining marks dropped (`Zoë` → `ZOE`, `ﬁ` → `FI`);
//!    letters that do not decompose are transliterated (`Ø` → `O`, `Æ` →
//!    `AE`, `ß` → `SS`, `Ł` → `L`, ...);
//! 2. uppercase;
//! 3. apostrophes and full stops removed without a break (`O'Brien` →
//!    `OBRIEN`, `St.John` → `STJOHN`); hyphens, spaces, commas, slashes and
//!    other punctuation separate parts; digits and symbols are dropped;
//! 4. titles dropped (`MR`, `MRS`, `DR`, ... when they stand as a part);
//! 5. parts joined by one space.
//!
//! The result is idempotent: normalising a normalised name returns it
//! unchanged (a property test checks this).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Title words removed when they stand alone as a part of a name.
pub const TITLES: &[&str] = &[
    "MR",
    "MRS",
    "MS",
    "MISS",
    "MX",
    "MASTER",
    "DR",
    "PROF",
    "PROFESSOR",
    "REV",
    "REVD",
    "SIR",
    "DAME",
    "LADY",
    "LORD",
    "FR",
    "SR",
    "JR",
    "SNR",
    "JNR",
];

/// Letters that NFKD does not decompose, and their usual transliteration.
fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'Ø' | 'ø' => "O",
        'Æ' | 'æ' => "AE",
        'Œ' | 'œ' => "OE",
        'ß' | 'ẞ' => "SS",
        'Ł' | 'ł' => "L",
        'Đ' | 'đ' | 'Ð' | 'ð' => "D",
        'Þ' | 'þ' => "TH",
        'ı' => "I",
        'Ħ' | 'ħ' => "H",
        'Ŧ' | 'ŧ' => "T",
        'Ŋ' | 'ŋ' => "NG",
        'ĸ' => "K",
        _ => return None,
    })
}

fn is_joiner(c: char) -> bool {
    matches!(c, '\'' | '’' | '‘' | '`' | '´' | 'ʼ' | '.')
}

/// Pushes `c` (already decomposed and without marks) into `out`, or marks a
/// break; returns whether a break is pending.
fn push_char(c: char, out: &mut String, pending_break: &mut bool) {
    if c.is_ascii_uppercase() {
        if *pending_break && !out.is_empty() {
            out.push(' ');
        }
        *pending_break = false;
        out.push(c);
    } else if c.is_ascii_lowercase() {
        push_char(c.to_ascii_uppercase(), out, pending_break);
    } else if is_joiner(c) || c.is_ascii_digit() {
        // Removed without breaking the part.
    } else if c.is_ascii() {
        *pending_break = true;
    } else if let Some(t) = transliterate(c) {
        for x in t.chars() {
            push_char(x, out, pending_break);
        }
    } else if c.is_alphabetic() {
        let mut upper = c.to_uppercase();
        if upper.len() == 1 {
            let u = upper.next().expect("one char");
            // Keep only letters that are stable under both steps, so that
            // the result is idempotent.
            let mut d = std::iter::once(u).nfkd();
            if d.next() == Some(u) && d.next().is_none() && u.to_uppercase().eq(std::iter::once(u))
            {
                if *pending_break && !out.is_empty() {
                    out.push(' ');
                }
                *pending_break = false;
                out.push(u);
                return;
            }
        }
        // Multi-character uppercase or unstable: decompose again.
        for u in c.to_uppercase() {
            for d in std::iter::once(u).nfkd() {
                if !is_combining_mark(d) && d != c {
                    push_char(d, out, pending_break);
                }
            }
        }
    } else if is_combining_mark(c) {
        // Dropped.
    } else {
        *pending_break = true;
    }
}

/// Normalises a name. Returns an empty string when nothing of a name is
/// left (the field is then `missing`).
pub fn normalise(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    normalise_into(input, &mut out);
    out
}

/// [`normalise`] into `out` (cleared first), so that a caller can reuse
/// one buffer.
pub fn normalise_into(input: &str, out: &mut String) {
    out.clear();
    let mut pending_break = false;
    if input.is_ascii() {
        for c in input.chars() {
            push_char(c, out, &mut pending_break);
        }
    } else {
        for c in input.nfkd() {
            push_char(c, out, &mut pending_break);
        }
        // Combining marks that are also letters (Arabic harakat, Indic
        // vowel signs) are kept; removing a joiner between two of them
        // makes them adjacent, and canonical order must then be restored,
        // or normalising again would reorder them (found by the
        // `normalise_name` fuzz target). Every kept character is its own
        // decomposition, so NFD here only reorders marks.
        if !out.is_ascii() {
            *out = out.nfd().collect();
        }
    }
    if out.split(' ').any(is_title) {
        *out = out
            .split(' ')
            .filter(|p| !is_title(p))
            .collect::<Vec<_>>()
            .join(" ");
    }
}

/// Whether a part of a name is a title (no title is longer than
/// `PROFESSOR`, so longer parts are not looked up).
fn is_title(part: &str) -> bool {
    part.len() <= 9 && TITLES.contains(&part)
}

/// The parts of a normalised multi-part name (`SMITH JONES` → `SMITH`,
/// `JONES`); empty for a one-part name.
pub fn parts(normalised: &str) -> impl Iterator<Item = &str> {
    let multi = normalised.contains(' ');
    normalised
        .split(' ')
        .filter(move |p| multi && !p.is_empty())
}

/// The first initial of a normalised name.
pub fn initial(normalised: &str) -> Option<&str> {
    normalised
        .char_indices()
        .next()
        .map(|(_, c)| &normalised[..c.len_utf8()])
}

/// The Double Metaphone primary code (4 characters at most, as in Apache
/// commons-codec) of the ASCII letters of a normalised name, parts
/// concatenated. `None` when it has no ASCII letters.
///
/// Double Metaphone (Philips, 2000) handles the spellings of names of many
/// origins found in England's population (Slavic, Germanic, Romance,
/// Celtic, Greek), where Soundex only knows English; the `rphonetic`
/// crate is a port of Apache commons-codec's implementation with its tests.
pub fn phonetic(normalised: &str) -> Option<String> {
    let letters: String = normalised
        .chars()
        .filter(|c| c.is_ascii_uppercase())
        .collect();
    if letters.is_empty() {
        return None;
    }
    static DM: OnceLock<rphonetic::DoubleMetaphone> = OnceLock::new();
    let code = DM
        .get_or_init(rphonetic::DoubleMetaphone::default)
        .double_metaphone(&letters)
        .primary();
    if code.is_empty() {
        None
    } else {
        Some(code)
    }
}

/// The nickname table shipped in the repository: each line is a canonical
/// name followed by the names and nicknames that map to it.
pub const NICKNAMES_CSV: &str = include_str!("../../data/nicknames.csv");

fn nickname_map() -> &'static HashMap<String, String> {
    static MAP: OnceLock<HashMap<String, String>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map = HashMap::new();
        for line in NICKNAMES_CSV.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut names = line.split(',').map(|n| normalise(n.trim()));
            let Some(canonical) = names.next() else {
                continue;
            };
            for n in names.filter(|n| !n.is_empty()) {
                // First entry wins: a nickname shared by several names maps
                // to the first group listed, so the table is deterministic.
                map.entry(n).or_insert_with(|| canonical.clone());
            }
        }
        map
    })
}

/// The canonical form of a normalised forename: `BILL` → `WILLIAM`,
/// `LIZ` → `ELIZABETH`; a name not in the table is its own canonical form.
/// A multi-part name is canonicalised part by part.
pub fn canonical(normalised: &str) -> Cow<'_, str> {
    let map = nickname_map();
    if !normalised.contains(' ') {
        return match map.get(normalised) {
            Some(c) => Cow::Owned(c.clone()),
            None => Cow::Borrowed(normalised),
        };
    }
    Cow::Owned(
        normalised
            .split(' ')
            .map(|p| map.get(p).map_or(p, |c| c.as_str()))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Every (nickname, canonical) pair in the table, for synthetic data and
/// documentation.
pub fn nickname_pairs() -> Vec<(String, String)> {
    let mut v: Vec<_> = nickname_map()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_title_is_longer_than_is_title_looks() {
        assert!(TITLES.iter().all(|t| t.len() <= 9));
        assert!(TITLES.iter().all(|t| is_title(t)));
    }
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(normalise("  o'Brien "), "OBRIEN");
        assert_eq!(normalise("Zoë"), "ZOE");
        assert_eq!(normalise("Mr John  SMITH"), "JOHN SMITH");
        assert_eq!(normalise("Smith-Jones"), "SMITH JONES");
        assert_eq!(normalise("Dr."), "");
        assert_eq!(normalise("Øyvind"), "OYVIND");
        assert_eq!(normalise("Straße"), "STRASSE");
        assert_eq!(normalise("José María"), "JOSE MARIA");
        assert_eq!(normalise("Łukasz"), "LUKASZ");
        assert_eq!(normalise("ﬁona"), "FIONA");
        assert_eq!(normalise("D'Arcy-Smith"), "DARCY SMITH");
        assert_eq!(normalise("Siân"), "SIAN");
        assert_eq!(normalise("Nguyễn"), "NGUYEN");
        assert_eq!(normalise("Ødegård"), "ODEGARD");
        assert_eq!(normalise("J0hn"), "JHN");
        assert_eq!(normalise("Ἀλέξανδρος"), "ΑΛΕΞΑΝΔΡΟΣ");
        assert_eq!(normalise("محمد"), "محمد");
        assert_eq!(normalise(""), "");
    }

    #[test]
    fn parts_and_initial() {
        assert_eq!(parts("SMITH JONES").collect::<Vec<_>>(), ["SMITH", "JONES"]);
        assert_eq!(parts("SMITH").count(), 0);
        assert_eq!(initial("SMITH"), Some("S"));
        assert_eq!(initial("ΑΛΕΞ"), Some("Α"));
        assert_eq!(initial(""), None);
    }

    #[test]
    fn phonetic_codes() {
        assert_eq!(phonetic("SMITH").as_deref(), Some("SM0"));
        assert_eq!(phonetic("SMYTHE").as_deref(), Some("SM0"));
        assert_eq!(phonetic("SCHMIDT").as_deref(), Some("XMT"));
        assert_eq!(phonetic("KATHERINE"), phonetic("CATHERINE"));
        assert_eq!(phonetic("محمد"), None);
    }

    #[test]
    fn nicknames() {
        assert_eq!(canonical("BILL"), "WILLIAM");
        assert_eq!(canonical("WILLIAM"), "WILLIAM");
        assert_eq!(canonical("LIZ"), "ELIZABETH");
        assert_eq!(canonical("BOB"), "ROBERT");
        assert_eq!(canonical("ZEBEDEE"), "ZEBEDEE");
        assert_eq!(canonical("BILL BOB"), "WILLIAM ROBERT");
    }

    /// Found by the `normalise_name` fuzz target: marks that are letters,
    /// made adjacent by removing a joiner, came out in non-canonical order
    /// and were reordered by a second pass.
    #[test]
    fn adjacent_marks_are_in_canonical_order() {
        let s = "`\u{655}`\u{651}Z`";
        let n = normalise(s);
        assert_eq!(n, "\u{651}\u{655}Z");
        assert_eq!(normalise(&n), n);
    }

    proptest! {
        /// Idempotent, including across joiners between combining marks.
        #[test]
        fn idempotent(s in "\\PC{0,24}|([`'.]?[\u{0610}-\u{065f}\u{0900}-\u{0963}a-z]){1,12}") {
            let n = normalise(&s);
            prop_assert_eq!(normalise(&n), n.clone());
        }

        #[test]
        fn invariant_to_case_accents_and_spacing(s in "[a-zA-Z]{1,10}( [a-zA-Z]{1,10}){0,2}") {
            let n = normalise(&s);
            prop_assert_eq!(normalise(&s.to_uppercase()), n.clone());
            prop_assert_eq!(normalise(&s.to_lowercase()), n.clone());
            prop_assert_eq!(normalise(&format!("  {}  ", s.replace(' ', "   "))), n.clone());
            let accented: String = s.chars().map(|c| match c { 'e' => 'é', 'a' => 'à', 'o' => 'ö', 'u' => 'ü', c => c }).collect();
            prop_assert_eq!(normalise(&accented), n.clone());
        }

        #[test]
        fn output_alphabet(s in "\\PC{0,24}") {
            let n = normalise(&s);
            prop_assert!(!n.starts_with(' ') && !n.ends_with(' ') && !n.contains("  "));
            prop_assert!(n.chars().all(|c| c == ' ' || c.is_alphabetic()));
            let _ = phonetic(&n);
            let _ = canonical(&n);
        }
    }
}
