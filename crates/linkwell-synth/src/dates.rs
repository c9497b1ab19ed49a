//! Day arithmetic on [`Date`] and the date formats of the files.

use linkwell::normalise::date::{days_in_month, Date};

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
pub(crate) fn days(d: Date) -> i64 {
    let y = i64::from(d.year) - i64::from(d.month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(d.month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `n` days after 1970-01-01.
pub(crate) fn from_days(n: i64) -> Date {
    Date::from_days_since_epoch(n)
}

/// The same day `years` years earlier (29 February becomes 28 February).
pub(crate) fn years_before(d: Date, years: u16) -> Date {
    let y = d.year - years;
    let day = d.day.min(days_in_month(y, d.month));
    Date::new(y, d.month, day).expect("valid")
}

/// Whole years from `dob` to `at`.
pub(crate) fn age(dob: Date, at: Date) -> u16 {
    let mut a = at.year.saturating_sub(dob.year);
    if (at.month, at.day) < (dob.month, dob.day) {
        a = a.saturating_sub(1);
    }
    a
}

/// How one date is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// `YYYY-MM-DD`.
    Iso,
    /// `DD/MM/YYYY`.
    DayMonthYear,
    /// `YYYYMMDD`.
    Compact,
}

fn push2(out: &mut Vec<u8>, v: u8) {
    out.push(b'0' + v / 10);
    out.push(b'0' + v % 10);
}

fn push4(out: &mut Vec<u8>, v: u16) {
    out.push(b'0' + (v / 1000 % 10) as u8);
    out.push(b'0' + (v / 100 % 10) as u8);
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Appends `d` in `style`.
pub(crate) fn write_date(out: &mut Vec<u8>, d: Date, style: DateStyle) {
    match style {
        DateStyle::Iso => {
            push4(out, d.year);
            out.push(b'-');
            push2(out, d.month);
            out.push(b'-');
            push2(out, d.day);
        }
        DateStyle::DayMonthYear => {
            push2(out, d.day);
            out.push(b'/');
            push2(out, d.month);
            out.push(b'/');
            push4(out, d.year);
        }
        DateStyle::Compact => {
            push4(out, d.year);
            push2(out, d.month);
            push2(out, d.day);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkwell::normalise::date::{parse, DateFormat, DEFAULT_FORMATS};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn days_round_trip(n in -60_000i64..80_000) {
            prop_assert_eq!(days(from_days(n)), n);
        }

        #[test]
        fn every_style_parses_back_with_linkwell(n in -40_000i64..25_000) {
            let d = from_days(n);
            let formats: Vec<_> = DEFAULT_FORMATS.iter().map(|f| DateFormat::parse(f).unwrap()).collect();
            for style in [DateStyle::Iso, DateStyle::DayMonthYear, DateStyle::Compact] {
                let mut v = Vec::new();
                write_date(&mut v, d, style);
                let s = String::from_utf8(v).unwrap();
                prop_assert_eq!(parse(&s, &formats), Ok(d));
                if style == DateStyle::Iso {
                    prop_assert_eq!(s, d.to_string());
                }
            }
        }
    }

    #[test]
    fn ages() {
        let at = Date::new(2025, 3, 31).unwrap();
        assert_eq!(age(Date::new(1980, 3, 31).unwrap(), at), 45);
        assert_eq!(age(Date::new(1980, 4, 1).unwrap(), at), 44);
        assert_eq!(
            years_before(Date::new(2024, 2, 29).unwrap(), 1),
            Date::new(2023, 2, 28).unwrap()
        );
    }
}
