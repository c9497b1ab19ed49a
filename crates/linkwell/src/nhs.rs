//! NHS numbers: parsing, Modulus 11 validation, issuing ranges, generation.
//!
//! An NHS number is ten digits, the last a check digit computed with
//! Modulus 11 over the first nine (weights 10 down to 2). The check value
//! 11 becomes 0, and a check value of 10 means the nine digits can never
//! form a valid number.
//!
//! ```
//! use linkwell::nhs::{NhsNumber, Issuer};
//! let n = NhsNumber::parse("943 476 5919").unwrap();
//! assert_eq!(n.as_str(), "9434765919");
//! assert_eq!(n.to_string(), "943 476 5919");
//! assert_eq!(n.issuer(), Issuer::NotIssuedTest);
//! assert!(NhsNumber::parse("943 476 5918").is_err());
//! ```

use std::fmt;

use rand::Rng;

/// A valid NHS number: ten ASCII digits whose check digit is correct and
/// which is not a single repeated digit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NhsNumber([u8; 10]);

/// Why a string is not a valid NHS number.
///
/// Messages never contain the value itself, only where and what kind of
/// fault was found, so they are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NhsNumberError {
    /// Nothing but whitespace.
    #[error("NHS number is empty")]
    Empty,
    /// A character that is not a digit, space or hyphen, or a separator
    /// before the first or after the last digit.
    #[error("NHS number has a character that is not a digit at position {position}")]
    InvalidCharacter {
        /// 1-based character position in the trimmed input.
        position: usize,
    },
    /// The number of digits is not ten.
    #[error("NHS number has {digits} digits, not 10")]
    WrongLength {
        /// How many digits were found.
        digits: usize,
    },
    /// All ten digits are the same (`0000000000`, `1111111111`, ...): these
    /// pass Modulus 11 but are placeholders, never issued numbers.
    #[error("NHS number is a placeholder of one repeated digit")]
    Placeholder,
    /// The first nine digits give a Modulus 11 check value of 10, which no
    /// issued number has.
    #[error("NHS number has check value 10, which is never issued")]
    CheckValueTen,
    /// The tenth digit is not the check digit of the first nine.
    #[error("NHS number check digit does not match")]
    CheckDigitMismatch,
}

impl NhsNumberError {
    /// A short, stable, machine-readable name for the error kind, used as
    /// the `nhs_number_status` column in encoded files.
    pub fn kind(&self) -> &'static str {
        match self {
            NhsNumberError::Empty => "missing",
            NhsNumberError::InvalidCharacter { .. } => "invalid_character",
            NhsNumberError::WrongLength { .. } => "wrong_length",
            NhsNumberError::Placeholder => "placeholder",
            NhsNumberError::CheckValueTen => "check_value_ten",
            NhsNumberError::CheckDigitMismatch => "check_digit_mismatch",
        }
    }

    /// Every kind name [`NhsNumberError::kind`] can return, in a fixed order.
    pub const KINDS: [&'static str; 6] = [
        "missing",
        "invalid_character",
        "wrong_length",
        "placeholder",
        "check_value_ten",
        "check_digit_mismatch",
    ];
}

/// Which body issued a number, by range.
///
/// England, Wales, Scotland and Northern Ireland share one ten-digit
/// space with non-overlapping ranges (NHS Digital guidance, as collected
/// by the `nhs-number` package of the UK Faculty of Clinical Informatics):
///
/// | range (first digits)             | issuer |
/// |----------------------------------|--------|
/// | 001 000 0000 – 311 299 9999      | Scotland (CHI; first six digits are DDMMYY) |
/// | 320 000 0000 – 399 999 9999      | Northern Ireland (H&C) |
/// | 400 000 0000 – 499 999 9999      | England, Wales and the Isle of Man |
/// | 600 000 0000 – 799 999 9999      | England, Wales and the Isle of Man |
/// | 800 000 0000 – 859 999 9999      | Republic of Ireland (IHI) |
/// | 500 000 0000 – 599 999 9999      | not to be issued |
/// | 900 000 0000 – 999 999 9999      | not to be issued: test and synthetic patients (the 999 range) |
/// | anything else                    | unallocated |
///
/// Classification is information: a number from an unexpected range is
/// still a valid number and is tokenised like any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Issuer {
    /// England, Wales and the Isle of Man.
    EnglandWales,
    /// Scotland's Community Health Index.
    ScotlandChi,
    /// Northern Ireland's Health and Care number.
    NorthernIreland,
    /// Republic of Ireland Individual Health Identifier.
    IrelandIhi,
    /// Reserved for test and synthetic patients; never issued to a person.
    NotIssuedTest,
    /// Reserved and never to be issued (the 5xx range).
    NotIssued,
    /// Not in any allocated range.
    Unallocated,
}

impl Issuer {
    /// A short stable name.
    pub fn name(self) -> &'static str {
        match self {
            Issuer::EnglandWales => "england_wales",
            Issuer::ScotlandChi => "scotland_chi",
            Issuer::NorthernIreland => "northern_ireland",
            Issuer::IrelandIhi => "ireland_ihi",
            Issuer::NotIssuedTest => "test_range",
            Issuer::NotIssued => "not_issued",
            Issuer::Unallocated => "unallocated",
        }
    }

    /// Inclusive ranges of the whole ten-digit number for this issuer.
    pub fn ranges(self) -> &'static [(u64, u64)] {
        match self {
            Issuer::ScotlandChi => &[(10_000_000, 3_112_999_999)],
            Issuer::NorthernIreland => &[(3_200_000_000, 3_999_999_999)],
            Issuer::EnglandWales => &[
                (4_000_000_000, 4_999_999_999),
                (6_000_000_000, 7_999_999_999),
            ],
            Issuer::NotIssued => &[(5_000_000_000, 5_999_999_999)],
            Issuer::IrelandIhi => &[(8_000_000_000, 8_599_999_999)],
            Issuer::NotIssuedTest => &[(9_000_000_000, 9_999_999_999)],
            Issuer::Unallocated => &[
                (0, 9_999_999),
                (3_113_000_000, 3_199_999_999),
                (8_600_000_000, 8_999_999_999),
            ],
        }
    }
}

const WEIGHTS: [u32; 9] = [10, 9, 8, 7, 6, 5, 4, 3, 2];

/// The Modulus 11 check value of nine digits (0..=9 each): `0..=9` is the
/// check digit, `10` means no valid number starts with these digits.
pub fn check_value(first_nine: &[u8; 9]) -> u8 {
    let sum: u32 = first_nine
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    let check = 11 - (sum % 11);
    if check == 11 {
        0
    } else {
        check as u8
    }
}

impl NhsNumber {
    /// Parses an NHS number, accepting surrounding whitespace and spaces or
    /// hyphens between digits (`943 476 5919`, `943-476-5919`).
    ///
    /// # Errors
    /// [`NhsNumberError`] says what is wrong, never what the value was.
    pub fn parse(input: &str) -> Result<NhsNumber, NhsNumberError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(NhsNumberError::Empty);
        }
        let mut digits = [0u8; 10];
        let mut count = 0usize;
        let mut last_was_digit = false;
        for (i, c) in s.chars().enumerate() {
            match c {
                '0'..='9' => {
                    if count < 10 {
                        digits[count] = c as u8 - b'0';
                    }
                    count += 1;
                    last_was_digit = true;
                }
                ' ' | '-' if count > 0 => last_was_digit = false,
                _ => return Err(NhsNumberError::InvalidCharacter { position: i + 1 }),
            }
        }
        if !last_was_digit {
            // A trailing separator (leading ones are caught above).
            return Err(NhsNumberError::InvalidCharacter {
                position: s.chars().count(),
            });
        }
        if count != 10 {
            return Err(NhsNumberError::WrongLength { digits: count });
        }
        Self::from_digits(digits)
    }

    /// Validates ten digit values (each 0..=9).
    fn from_digits(d: [u8; 10]) -> Result<NhsNumber, NhsNumberError> {
        if d.iter().all(|&x| x == d[0]) {
            return Err(NhsNumberError::Placeholder);
        }
        let first_nine: [u8; 9] = d[..9].try_into().expect("nine digits");
        match check_value(&first_nine) {
            10 => Err(NhsNumberError::CheckValueTen),
            c if c == d[9] => {
                let mut ascii = d;
                for x in &mut ascii {
                    *x += b'0';
                }
                Ok(NhsNumber(ascii))
            }
            _ => Err(NhsNumberError::CheckDigitMismatch),
        }
    }

    /// Builds the valid number that starts with these nine digits
    /// (`0..=999_999_999`), or `None` when their check value is 10 or the
    /// result would be a placeholder.
    pub fn from_first_nine(first_nine: u32) -> Option<NhsNumber> {
        if first_nine > 999_999_999 {
            return None;
        }
        let mut d = [0u8; 10];
        let mut v = first_nine;
        for i in (0..9).rev() {
            d[i] = (v % 10) as u8;
            v /= 10;
        }
        let nine: [u8; 9] = d[..9].try_into().expect("nine digits");
        let c = check_value(&nine);
        if c == 10 {
            return None;
        }
        d[9] = c;
        Self::from_digits(d).ok()
    }

    /// A uniformly random valid number from `issuer`'s ranges (for tests
    /// and synthetic data; the default for synthetic people is
    /// [`Issuer::NotIssuedTest`], so that they can never be real numbers).
    pub fn random<R: Rng + ?Sized>(rng: &mut R, issuer: Issuer) -> NhsNumber {
        let ranges = issuer.ranges();
        loop {
            let (lo, hi) = ranges[rng.random_range(0..ranges.len())];
            let lo9 = (lo / 10) as u32;
            let hi9 = (hi / 10) as u32;
            if let Some(n) = Self::from_first_nine(rng.random_range(lo9..=hi9)) {
                return n;
            }
        }
    }

    /// The ten digits, as the normalised form that is tokenised.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII digits")
    }

    /// The ten ASCII digits.
    pub fn as_bytes(&self) -> &[u8; 10] {
        &self.0
    }

    /// The number as an integer.
    pub fn value(&self) -> u64 {
        self.0
            .iter()
            .fold(0u64, |acc, &b| acc * 10 + u64::from(b - b'0'))
    }

    /// Which body's range the number is in.
    pub fn issuer(&self) -> Issuer {
        let v = self.value();
        const ORDER: [Issuer; 7] = [
            Issuer::ScotlandChi,
            Issuer::NorthernIreland,
            Issuer::EnglandWales,
            Issuer::NotIssued,
            Issuer::IrelandIhi,
            Issuer::NotIssuedTest,
            Issuer::Unallocated,
        ];
        ORDER
            .into_iter()
            .find(|i| i.ranges().iter().any(|&(lo, hi)| (lo..=hi).contains(&v)))
            .unwrap_or(Issuer::Unallocated)
    }
}

/// 3-3-4 form, as printed on NHS cards: `943 476 5919`.
impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.as_str();
        write!(f, "{} {} {}", &s[..3], &s[3..6], &s[6..])
    }
}

/// NHS numbers are identifiers: Debug does not print the digits, so a
/// stray `{:?}` in a log line cannot leak one.
impl fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NhsNumber(<redacted>)")
    }
}

impl std::str::FromStr for NhsNumber {
    type Err = NhsNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NhsNumber::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn worked_example_from_the_data_dictionary() {
        // 9*10+4*9+3*8+4*7+7*6+6*5+5*4+9*3+1*2 = 299; 299 mod 11 = 2; 11-2 = 9.
        let n = NhsNumber::parse("9434765919").unwrap();
        assert_eq!(n.as_str(), "9434765919");
        assert_eq!(n.to_string(), "943 476 5919");
        assert_eq!(check_value(&[9, 4, 3, 4, 7, 6, 5, 9, 1]), 9);
    }

    #[test]
    fn accepts_spacing_and_hyphens() {
        for s in [
            "943 476 5919",
            "943-476-5919",
            "  9434765919\t",
            "9-4-3-4-7-6-5-9-1-9",
            "943  476  5919",
        ] {
            assert_eq!(NhsNumber::parse(s).unwrap().as_str(), "9434765919", "{s}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        use NhsNumberError::*;
        assert_eq!(NhsNumber::parse(""), Err(Empty));
        assert_eq!(NhsNumber::parse("   "), Err(Empty));
        assert_eq!(
            NhsNumber::parse("943476591"),
            Err(WrongLength { digits: 9 })
        );
        assert_eq!(
            NhsNumber::parse("94347659190"),
            Err(WrongLength { digits: 11 })
        );
        assert_eq!(
            NhsNumber::parse("943x765919"),
            Err(InvalidCharacter { position: 4 })
        );
        assert_eq!(
            NhsNumber::parse("-9434765919"),
            Err(InvalidCharacter { position: 1 })
        );
        assert_eq!(
            NhsNumber::parse("9434765919-"),
            Err(InvalidCharacter { position: 11 })
        );
        assert_eq!(
            NhsNumber::parse("943.476.5919"),
            Err(InvalidCharacter { position: 4 })
        );
        assert_eq!(
            NhsNumber::parse("９４３４７６５９１９"),
            Err(InvalidCharacter { position: 1 })
        );
        assert_eq!(NhsNumber::parse("9434765918"), Err(CheckDigitMismatch));
        // 1000000010: 1*10 = 10, 10 mod 11 = 10, 11 - 10 = 1 -> check 1; so
        // find nine digits whose check value is 10: sum mod 11 == 1.
        // 100000001: 10 + 2 = 12, 12 mod 11 = 1, check 10.
        assert_eq!(check_value(&[1, 0, 0, 0, 0, 0, 0, 0, 1]), 10);
        assert_eq!(NhsNumber::parse("1000000010"), Err(CheckValueTen));
        for d in 0..=9u8 {
            let s: String = std::iter::repeat_n(char::from(b'0' + d), 10).collect();
            assert_eq!(NhsNumber::parse(&s), Err(Placeholder), "{s}");
        }
    }

    #[test]
    fn error_messages_never_contain_the_value() {
        for s in ["9434765918", "943476591", "94x4765919", "1000000010"] {
            let msg = NhsNumber::parse(s).unwrap_err().to_string();
            assert!(!msg.contains(&s[..4]), "{msg}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let n = NhsNumber::parse("9434765919").unwrap();
        assert_eq!(format!("{n:?}"), "NhsNumber(<redacted>)");
    }

    #[test]
    fn issuers() {
        // The first valid number at or after nine leading digits `v`.
        let at = |v: u32| (v..).find_map(NhsNumber::from_first_nine).unwrap().issuer();
        assert_eq!(at(400_000_000), Issuer::EnglandWales);
        assert_eq!(at(700_000_001), Issuer::EnglandWales);
        assert_eq!(at(101_010_000), Issuer::ScotlandChi);
        assert_eq!(at(320_000_001), Issuer::NorthernIreland);
        assert_eq!(at(999_000_000), Issuer::NotIssuedTest);
        assert_eq!(at(550_000_000), Issuer::NotIssued);
        assert_eq!(at(800_000_000), Issuer::IrelandIhi);
        assert_eq!(at(870_000_000), Issuer::Unallocated);
        assert_eq!(at(312_000_000), Issuer::Unallocated);
    }

    fn valid_number() -> impl Strategy<Value = NhsNumber> {
        (0u32..=999_999_999).prop_filter_map("check value 10", NhsNumber::from_first_nine)
    }

    proptest! {
        #[test]
        fn parses_back_from_any_spacing(n in valid_number(), seps in proptest::collection::vec(0u8..4, 9), pad in 0usize..3) {
            let mut s = " ".repeat(pad);
            for (i, c) in n.as_str().chars().enumerate() {
                s.push(c);
                if i < 9 {
                    match seps[i] { 1 => s.push(' '), 2 => s.push('-'), 3 => s.push_str(" - "), _ => {} }
                }
            }
            s.push_str(&"\t".repeat(pad));
            prop_assert_eq!(NhsNumber::parse(&s), Ok(n));
            prop_assert_eq!(NhsNumber::parse(&n.to_string()), Ok(n));
        }

        #[test]
        fn every_single_digit_substitution_is_rejected(n in valid_number(), pos in 0usize..10, delta in 1u8..10) {
            let mut b = *n.as_bytes();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let s = std::str::from_utf8(&b).unwrap();
            prop_assert!(NhsNumber::parse(s).is_err());
        }

        #[test]
        fn every_adjacent_transposition_is_rejected(n in valid_number(), pos in 0usize..9) {
            let mut b = *n.as_bytes();
            prop_assume!(b[pos] != b[pos + 1]);
            b.swap(pos, pos + 1);
            let s = std::str::from_utf8(&b).unwrap();
            prop_assert!(NhsNumber::parse(s).is_err());
        }

        #[test]
        fn check_value_ten_is_never_accepted(eight in proptest::array::uniform8(0u8..10), last in 0u8..10) {
            // Choose the ninth digit so that the weighted sum is 1 mod 11
            // (check value 10): 2 * d9 = 1 - S8 (mod 11), and 2^-1 = 6.
            let s8: u32 = eight.iter().zip(WEIGHTS).map(|(&d, w)| u32::from(d) * w).sum();
            let d9 = ((1 + 11 * 10 - s8 % 11) * 6) % 11;
            prop_assume!(d9 <= 9);
            let mut d = [0u8; 9];
            d[..8].copy_from_slice(&eight);
            d[8] = d9 as u8;
            prop_assert_eq!(check_value(&d), 10);
            let nine = d.iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
            let s = format!("{nine:09}{last}");
            prop_assert!(NhsNumber::parse(&s).is_err());
            prop_assert_eq!(NhsNumber::from_first_nine(nine), None);
        }

        #[test]
        fn random_numbers_are_valid_and_in_range(seed in any::<u64>()) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            for issuer in [Issuer::EnglandWales, Issuer::NotIssuedTest, Issuer::ScotlandChi, Issuer::NorthernIreland] {
                let n = NhsNumber::random(&mut rng, issuer);
                prop_assert_eq!(NhsNumber::parse(n.as_str()), Ok(n));
                prop_assert_eq!(n.issuer(), issuer);
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = NhsNumber::parse(&s);
        }
    }
}
