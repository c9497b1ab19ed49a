//! Sex and gender codes to the NHS data dictionary's person stated gender
//! codes: `1` male, `2` female. `0` (not known), `9` (not specified) and
//! their text forms carry no information for linkage, so they are
//! reported as missing.

/// The outcome of normalising a sex code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// `1`.
    Male,
    /// `2`.
    Female,
    /// An explicit "not known" or "not specified" code, or empty.
    NotKnown,
    /// Something that is not a sex code at all.
    Unrecognised,
}

impl Sex {
    /// The normalised code that is tokenised (`1` or `2`).
    pub fn code(self) -> Option<&'static str> {
        match self {
            Sex::Male => Some("1"),
            Sex::Female => Some("2"),
            _ => None,
        }
    }
}

/// Normalises a sex field: NHS codes `0 1 2 9`, `M F U X I`, and the words
/// `male`, `female`, `man`, `woman`, `unknown`, `not known`, `not
/// specified`, `indeterminate` in any case.
pub fn normalise(input: &str) -> Sex {
    let s = input.trim();
    if s.is_empty() {
        return Sex::NotKnown;
    }
    let upper = s.to_ascii_uppercase();
    match upper.as_str() {
        "1" | "M" | "MALE" | "MAN" | "BOY" => Sex::Male,
        "2" | "F" | "FEMALE" | "WOMAN" | "GIRL" => Sex::Female,
        "0" | "9" | "U" | "X" | "I" | "UNKNOWN" | "NOT KNOWN" | "NOT SPECIFIED" | "UNSPECIFIED"
        | "INDETERMINATE" | "NOT STATED" | "N/A" | "NA" => Sex::NotKnown,
        _ => Sex::Unrecognised,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        for s in ["1", "m", " M ", "Male", "MALE"] {
            assert_eq!(normalise(s), Sex::Male, "{s}");
        }
        for s in ["2", "f", "Female"] {
            assert_eq!(normalise(s), Sex::Female, "{s}");
        }
        for s in ["0", "9", "U", "unknown", "Not Known", ""] {
            assert_eq!(normalise(s), Sex::NotKnown, "{s}");
        }
        assert_eq!(normalise("3"), Sex::Unrecognised);
        assert_eq!(normalise("banana"), Sex::Unrecognised);
        assert_eq!(Sex::Male.code(), Some("1"));
        assert_eq!(Sex::NotKnown.code(), None);
    }

    #[test]
    fn idempotent_on_codes() {
        for s in ["1", "2", "M", "F", "male", "female"] {
            let c = normalise(s).code().unwrap();
            assert_eq!(normalise(c).code(), Some(c));
        }
    }
}
