//! Generic kinds for columns of other datasets.
//!
//! - `text` (an address line, a town, a foreign postcode): Unicode NFKD,
//!   combining marks dropped, uppercase, every run of characters that are
//!   not letters or digits becomes one space, trimmed.
//! - `identifier` (a social-security number, a hospital number):
//!   uppercase letters and digits only; spaces, hyphens, slashes and all
//!   other punctuation removed (`ab 12-34/56 c` → `AB123456C`).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

fn letters_and_digits(input: &str, mut on_other: impl FnMut(&mut String)) -> String {
    let mut out = String::with_capacity(input.len());
    let push = |c: char, out: &mut String| {
        for u in c.to_uppercase() {
            for d in std::iter::once(u).nfkd() {
                if d.is_alphanumeric() && !is_combining_mark(d) {
                    out.push(d);
                }
            }
        }
    };
    for c in input.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_alphanumeric() {
            push(c, &mut out);
        } else {
            on_other(&mut out);
        }
    }
    out
}

/// Applies `pass` until the result stops changing (at most a few times:
/// only characters whose uppercase form decomposes further need a second
/// pass), so that the normaliser is idempotent.
fn fixpoint(input: &str, pass: impl Fn(&str) -> String) -> String {
    let mut cur = pass(input);
    for _ in 0..4 {
        let next = pass(&cur);
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

/// Normalises free text. Empty when nothing is left.
pub fn normalise_text(input: &str) -> String {
    fixpoint(input, |s| {
        let raw = letters_and_digits(s, |out| {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        });
        raw.trim_end().to_string()
    })
}

/// Normalises an identifier. Empty when nothing is left.
pub fn normalise_identifier(input: &str) -> String {
    fixpoint(input, |s| letters_and_digits(s, |_| {}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(normalise_text("  12, High St. "), "12 HIGH ST");
        assert_eq!(normalise_text("Rue de l'Église"), "RUE DE L EGLISE");
        assert_eq!(normalise_text("--"), "");
        assert_eq!(normalise_identifier("ab 12-34/56 c"), "AB123456C");
        assert_eq!(normalise_identifier("QQ 12 34 56 C"), "QQ123456C");
    }

    proptest! {
        #[test]
        fn text_idempotent(s in "\\PC{0,24}") {
            let n = normalise_text(&s);
            prop_assert_eq!(normalise_text(&n), n.clone());
        }

        #[test]
        fn identifier_idempotent(s in "\\PC{0,24}") {
            let n = normalise_identifier(&s);
            prop_assert_eq!(normalise_identifier(&n), n.clone());
        }

        #[test]
        fn case_and_spacing_invariant(s in "[a-zA-Z0-9]{1,8}( [a-zA-Z0-9]{1,8}){0,3}") {
            prop_assert_eq!(normalise_text(&s.to_lowercase()), normalise_text(&s.to_uppercase()));
            prop_assert_eq!(normalise_text(&s.replace(' ', "  ,")), normalise_text(&s));
            prop_assert_eq!(normalise_identifier(&s.replace(' ', "-")), normalise_identifier(&s));
        }
    }
}
