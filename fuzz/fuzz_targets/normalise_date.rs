//! Date parsing on arbitrary text and formats: never panics; a parsed
//! date round-trips through its ISO form.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::normalise::date;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let formats: Vec<date::DateFormat> = date::DEFAULT_FORMATS
        .iter()
        .map(|f| date::DateFormat::parse(f).unwrap())
        .collect();
    if let Ok(d) = date::parse(s, &formats) {
        assert_eq!(date::parse(&d.to_string(), &formats), Ok(d));
        let _ = d.day_month_swapped();
    }
    // The input as a format, and the input parsed with it.
    if let Some((f, v)) = s.split_once('\u{1}') {
        if let Ok(fmt) = date::DateFormat::parse(f) {
            let _ = date::parse(v, &[fmt]);
        }
    }
});
