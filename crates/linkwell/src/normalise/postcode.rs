//! UK postcodes: validated, canonical `OUTWARD INWARD` with one space, and
//! the parts used for partial agreement.
//!
//! For `SW1A 1AA`: area `SW`, district (the outward code) `SW1A`, sector
//! `SW1A 1`, unit `SW1A 1AA`. Validation follows the published rules for
//! each position (Royal Mail / the government's data standards catalogue):
//! outward forms `A9`, `A99`, `AA9`, `AA99`, `A9A`, `AA9A`; inward `9AA`;
//! Q, V and X never first; I, J and Z never second; the inward letters
//! never C, I, K, M, O or V; plus the special `GIR 0AA`.

/// A valid, canonical postcode, held inline (at most 8 ASCII bytes), so
/// that normalising one allocates nothing.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Postcode {
    /// The canonical form in its first `len` bytes, zeros after.
    text: [u8; 8],
    len: u8,
    outward_len: u8,
    area_len: u8,
}

impl std::fmt::Debug for Postcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Postcode(<redacted>)")
    }
}

impl Postcode {
    /// The canonical form, e.g. `SW1A 1AA`.
    pub fn as_str(&self) -> &str {
        self.prefix(self.len)
    }
    /// The postcode area: the leading letters (`SW`).
    pub fn area(&self) -> &str {
        self.prefix(self.area_len)
    }
    /// The postcode district: the outward code (`SW1A`).
    pub fn district(&self) -> &str {
        self.prefix(self.outward_len)
    }
    /// The postcode sector: outward code, space, first inward digit
    /// (`SW1A 1`).
    pub fn sector(&self) -> &str {
        self.prefix(self.outward_len + 2)
    }
    fn prefix(&self, n: u8) -> &str {
        // Only validated ASCII letters, digits and one space are stored.
        std::str::from_utf8(&self.text[..usize::from(n)]).expect("ASCII postcode")
    }
}

fn first_letter_ok(c: u8) -> bool {
    c.is_ascii_uppercase() && !matches!(c, b'Q' | b'V' | b'X')
}
fn second_letter_ok(c: u8) -> bool {
    c.is_ascii_uppercase() && !matches!(c, b'I' | b'J' | b'Z')
}
fn inward_letter_ok(c: u8) -> bool {
    c.is_ascii_uppercase() && !matches!(c, b'C' | b'I' | b'K' | b'M' | b'O' | b'V')
}

fn outward_ok(o: &[u8]) -> Option<usize> {
    let l = |i: usize| o[i].is_ascii_uppercase();
    let d = |i: usize| o[i].is_ascii_digit();
    if o.is_empty() || !first_letter_ok(o[0]) {
        return None;
    }
    // Returns the area length.
    match o.len() {
        2 if d(1) => Some(1),
        3 if d(1) && d(2) => Some(1),
        3 if second_letter_ok(o[1]) && d(2) => Some(2),
        3 if d(1) && l(2) && b"ABCDEFGHJKPSTUW".contains(&o[2]) => Some(1),
        4 if second_letter_ok(o[1]) && d(2) && d(3) => Some(2),
        4 if second_letter_ok(o[1]) && d(2) && l(3) && b"ABEHMNPRVWXY".contains(&o[3]) => Some(2),
        _ => None,
    }
}

/// Normalises a postcode: uppercase, all whitespace removed, validated,
/// then written with one space before the three-character inward code.
/// `None` when it is not a valid UK postcode.
pub fn normalise(input: &str) -> Option<Postcode> {
    let mut compact = [0u8; 7];
    let mut n = 0;
    for b in input.bytes().filter(|b| !b.is_ascii_whitespace()) {
        if n == compact.len() {
            return None; // more than 7 characters
        }
        compact[n] = b.to_ascii_uppercase();
        n += 1;
    }
    if n < 5 {
        return None;
    }
    let (outward, inward) = compact[..n].split_at(n - 3);
    let area_len = if outward == b"GIR" && inward == b"0AA" {
        3
    } else {
        if !(inward[0].is_ascii_digit()
            && inward_letter_ok(inward[1])
            && inward_letter_ok(inward[2]))
        {
            return None;
        }
        outward_ok(outward)?
    };
    let mut text = [0u8; 8];
    text[..outward.len()].copy_from_slice(outward);
    text[outward.len()] = b' ';
    text[outward.len() + 1..n + 1].copy_from_slice(inward);
    Some(Postcode {
        text,
        len: (n + 1) as u8,
        outward_len: outward.len() as u8,
        area_len: area_len as u8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_forms() {
        for (input, canon, area, district, sector) in [
            ("sw1a1aa", "SW1A 1AA", "SW", "SW1A", "SW1A 1"),
            (" M1 1AE ", "M1 1AE", "M", "M1", "M1 1"),
            ("B33 8TH", "B33 8TH", "B", "B33", "B33 8"),
            ("CR2  6XH", "CR2 6XH", "CR", "CR2", "CR2 6"),
            ("DN55 1PT", "DN55 1PT", "DN", "DN55", "DN55 1"),
            ("W1A 0AX", "W1A 0AX", "W", "W1A", "W1A 0"),
            ("EC1A 1BB", "EC1A 1BB", "EC", "EC1A", "EC1A 1"),
            ("LS2 9JT", "LS2 9JT", "LS", "LS2", "LS2 9"),
        ] {
            let p = normalise(input).unwrap_or_else(|| panic!("{input}"));
            assert_eq!(p.as_str(), canon);
            assert_eq!(p.area(), area);
            assert_eq!(p.district(), district);
            assert_eq!(p.sector(), sector);
        }
        assert_eq!(normalise("gir0aa").unwrap().as_str(), "GIR 0AA");
    }

    #[test]
    fn invalid_forms() {
        for s in [
            "",
            "SW1A",
            "SW1A 1A",
            "QW1 1AA",
            "AI1 1AA",
            "SW1A 1CA",
            "SW1A AAA",
            "12345",
            "SW1A1AAA",
            "W1I 1AA",
            "EC1Z 1BB",
            "NOT A POSTCODE",
            "SW1A-1AA",
        ] {
            assert!(normalise(s).is_none(), "{s}");
        }
    }

    #[test]
    fn debug_hides_the_unit() {
        assert_eq!(
            format!("{:?}", normalise("SW1A 1AA").unwrap()),
            "Postcode(<redacted>)"
        );
    }

    proptest! {
        #[test]
        fn idempotent(s in "[A-Za-z0-9 ]{0,10}") {
            if let Some(p) = normalise(&s) {
                prop_assert_eq!(normalise(p.as_str()), Some(p.clone()));
                prop_assert_eq!(normalise(&p.as_str().to_lowercase()), Some(p.clone()));
                prop_assert_eq!(normalise(&p.as_str().replace(' ', "")), Some(p));
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,12}") {
            let _ = normalise(&s);
        }
    }
}
