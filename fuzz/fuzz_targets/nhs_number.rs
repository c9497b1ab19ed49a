//! NHS-number parsing on arbitrary text: never panics; whatever parses
//! re-parses from its canonical and display forms to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::nhs::NhsNumber;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(n) = NhsNumber::parse(s) {
            assert_eq!(NhsNumber::parse(n.as_str()), Ok(n));
            assert_eq!(NhsNumber::parse(&n.to_string()), Ok(n));
            let _ = n.issuer();
        }
    }
});
