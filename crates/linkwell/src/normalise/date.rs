//! Dates: several input formats to ISO `YYYY-MM-DD`, with impossible and
//! implausible dates flagged rather than rejected.

use std::fmt;

/// A calendar date (proleptic Gregorian).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, e.g. 1980.
    pub year: u16,
    /// Month 1..=12.
    pub month: u8,
    /// Day 1..=31.
    pub day: u8,
}

/// Dates are identifiers (a date of birth): Debug shows nothing of them.
impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Date(<redacted>)")
    }
}

/// ISO 8601 `YYYY-MM-DD`.
impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Whether `year` is a Gregorian leap year.
pub fn is_leap(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` of `year`.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A date if it exists in the calendar.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        (year >= 1 && (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month))
            .then_some(Date { year, month, day })
    }

    /// `YYYY-MM-DD`, as [`fmt::Display`] writes it, without allocating;
    /// `None` when a field is too large for that width (a year after 9999,
    /// or a hand-built `Date` out of range), which `Display` writes wider.
    pub fn iso(&self) -> Option<[u8; 10]> {
        if self.year > 9999 || self.month > 99 || self.day > 99 {
            return None;
        }
        let y = self.year;
        let digit = |v: u16| b'0' + (v % 10) as u8;
        let (m, d) = (u16::from(self.month), u16::from(self.day));
        Some([
            digit(y / 1000),
            digit(y / 100),
            digit(y / 10),
            digit(y),
            b'-',
            digit(m / 10),
            digit(m),
            b'-',
            digit(d / 10),
            digit(d),
        ])
    }

    /// The date with day and month exchanged, when that is a date.
    pub fn day_month_swapped(&self) -> Option<Date> {
        Date::new(self.year, self.day, self.month)
    }

    /// Today's date in UTC from the system clock.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Date::from_days_since_epoch((secs / 86_400) as i64)
    }

    /// The civil date `days` after 1970-01-01 (Howard Hinnant's algorithm).
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
        Date { year, month, day }
    }

    /// Parses ISO `YYYY-MM-DD` strictly (the normalised form).
    pub fn parse_iso(s: &str) -> Option<Date> {
        parse_with(s, &DateFormat::parse("%Y-%m-%d").ok()?).ok()
    }
}

/// One element of a date format.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Year,
    Month,
    Day,
    Literal(char),
}

/// A date format such as `%d/%m/%Y`: `%Y` is a four-digit year, `%m` and
/// `%d` one or two digits (exactly two when followed directly by another
/// number), anything else is literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateFormat {
    text: String,
    parts: Vec<Part>,
}

/// A date format string is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("date format {0:?} is not valid: it needs each of %Y, %m and %d exactly once (e.g. \"%d/%m/%Y\")")]
pub struct DateFormatError(pub String);

impl DateFormat {
    /// Parses a format string.
    ///
    /// # Errors
    /// [`DateFormatError`] unless `%Y`, `%m` and `%d` each appear once.
    pub fn parse(text: &str) -> Result<DateFormat, DateFormatError> {
        let mut parts = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '%' {
                parts.push(match chars.next() {
                    Some('Y') => Part::Year,
                    Some('m') => Part::Month,
                    Some('d') => Part::Day,
                    _ => return Err(DateFormatError(text.into())),
                });
            } else {
                parts.push(Part::Literal(c));
            }
        }
        for p in [Part::Year, Part::Month, Part::Day] {
            if parts.iter().filter(|&x| *x == p).count() != 1 {
                return Err(DateFormatError(text.into()));
            }
        }
        Ok(DateFormat {
            text: text.into(),
            parts,
        })
    }

    /// The format string.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The formats accepted when a schema does not list its own: ISO,
/// `DD/MM/YYYY`, `YYYYMMDD`, `DD-MM-YYYY`, `DD.MM.YYYY`, `YYYY/MM/DD`.
/// UK day-first order is assumed: `MM/DD/YYYY` is never guessed.
pub const DEFAULT_FORMATS: &[&str] = &[
    "%Y-%m-%d", "%d/%m/%Y", "%Y%m%d", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d",
];

/// Why a date field is not a usable date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFault {
    /// Matches none of the formats.
    Unparseable,
    /// Matches a format but is not a calendar date (31 April, 29 February
    /// in a common year, month 13).
    Impossible,
}

fn parse_with(s: &str, fmt: &DateFormat) -> Result<Date, DateFault> {
    let b = s.as_bytes();
    let mut at = 0usize;
    let (mut y, mut m, mut d) = (None, None, None);
    for (i, part) in fmt.parts.iter().enumerate() {
        match part {
            Part::Literal(c) => {
                let mut buf = [0u8; 4];
                let lit = c.encode_utf8(&mut buf).as_bytes();
                if b.get(at..at + lit.len()) != Some(lit) {
                    return Err(DateFault::Unparseable);
                }
                at += lit.len();
            }
            Part::Year | Part::Month | Part::Day => {
                let next_is_number = matches!(
                    fmt.parts.get(i + 1),
                    Some(Part::Year | Part::Month | Part::Day)
                );
                let (min, max) = match part {
                    Part::Year => (4, 4),
                    _ if next_is_number => (2, 2),
                    _ => (1, 2),
                };
                let n = b[at..]
                    .iter()
                    .take(max)
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if n < min {
                    return Err(DateFault::Unparseable);
                }
                let v = b[at..at + n]
                    .iter()
                    .fold(0u16, |acc, &c| acc * 10 + u16::from(c - b'0'));
                at += n;
                match part {
                    Part::Year => y = Some(v),
                    Part::Month => m = Some(v),
                    _ => d = Some(v),
                }
            }
        }
    }
    if at != b.len() {
        return Err(DateFault::Unparseable);
    }
    let (y, m, d) = (y.unwrap_or(0), m.unwrap_or(0), d.unwrap_or(0));
    if m > 12 || d > 31 {
        return Err(DateFault::Impossible);
    }
    Date::new(y, m as u8, d as u8).ok_or(DateFault::Impossible)
}

/// Parses `s` (trimmed) with the first of `formats` it matches. A string
/// that matches a format's shape but names no calendar date is
/// [`DateFault::Impossible`]; one that matches no shape is
/// [`DateFault::Unparseable`]. A trailing midnight time (` 00:00:00`,
/// `T00:00:00`), which database exports add, is ignored.
pub fn parse(s: &str, formats: &[DateFormat]) -> Result<Date, DateFault> {
    let mut s = s.trim();
    for suffix in [
        " 00:00:00",
        "T00:00:00",
        " 00:00",
        "T00:00:00Z",
        " 00:00:00.000",
    ] {
        if let Some(head) = s.strip_suffix(suffix) {
            s = head;
            break;
        }
    }
    let mut fault = DateFault::Unparseable;
    for f in formats {
        match parse_with(s, f) {
            Ok(d) => return Ok(d),
            Err(DateFault::Impossible) => fault = DateFault::Impossible,
            Err(DateFault::Unparseable) => {}
        }
    }
    Err(fault)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn formats() -> Vec<DateFormat> {
        DEFAULT_FORMATS
            .iter()
            .map(|f| DateFormat::parse(f).unwrap())
            .collect()
    }

    #[test]
    fn formats_parse() {
        let f = formats();
        let d = Date::new(1980, 3, 5).unwrap();
        for s in [
            "1980-03-05",
            "05/03/1980",
            "5/3/1980",
            "19800305",
            "05-03-1980",
            "05.03.1980",
            "1980/03/05",
            " 1980-03-05 ",
            "1980-03-05 00:00:00",
            "1980-03-05T00:00:00",
        ] {
            assert_eq!(parse(s, &f), Ok(d), "{s}");
        }
        assert_eq!(d.to_string(), "1980-03-05");
        assert_eq!(format!("{d:?}"), "Date(<redacted>)");
    }

    #[test]
    fn impossible_and_unparseable() {
        let f = formats();
        assert_eq!(parse("1981-04-31", &f), Err(DateFault::Impossible));
        assert_eq!(parse("1981-02-29", &f), Err(DateFault::Impossible));
        assert!(parse("1980-02-29", &f).is_ok());
        assert!(parse("2000-02-29", &f).is_ok());
        assert_eq!(parse("1900-02-29", &f), Err(DateFault::Impossible));
        assert_eq!(parse("13/13/1980", &f), Err(DateFault::Impossible));
        assert_eq!(parse("1980-00-10", &f), Err(DateFault::Impossible));
        assert_eq!(parse("yesterday", &f), Err(DateFault::Unparseable));
        assert_eq!(parse("", &f), Err(DateFault::Unparseable));
        assert_eq!(parse("1980-3-5x", &f), Err(DateFault::Unparseable));
    }

    #[test]
    fn bad_formats() {
        for f in ["%Y-%m", "%Y-%m-%d-%d", "%q", "%"] {
            assert!(DateFormat::parse(f).is_err(), "{f}");
        }
    }

    #[test]
    fn swapped() {
        let d = Date::new(1980, 3, 5).unwrap();
        assert_eq!(d.day_month_swapped(), Date::new(1980, 5, 3));
        assert_eq!(Date::new(1980, 3, 25).unwrap().day_month_swapped(), None);
    }

    #[test]
    fn epoch_days() {
        assert_eq!(
            Date::from_days_since_epoch(0),
            Date::new(1970, 1, 1).unwrap()
        );
        assert_eq!(
            Date::from_days_since_epoch(20_417),
            Date::new(2025, 11, 25).unwrap()
        );
        assert_eq!(
            Date::from_days_since_epoch(-1),
            Date::new(1969, 12, 31).unwrap()
        );
    }

    proptest! {
        #[test]
        fn iso_round_trip(days in -40_000i64..40_000) {
            let d = Date::from_days_since_epoch(days);
            prop_assert_eq!(Date::parse_iso(&d.to_string()), Some(d));
            prop_assert_eq!(parse(&d.to_string(), &formats()), Ok(d));
            let uk = format!("{:02}/{:02}/{:04}", d.day, d.month, d.year);
            prop_assert_eq!(parse(&uk, &formats()), Ok(d));
        }

        #[test]
        fn never_panics(s in "\\PC{0,16}") {
            let _ = parse(&s, &formats());
        }
    }
}
