//! The postcode normaliser on arbitrary text: never panics; idempotent;
//! parts are prefixes of the canonical form.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::normalise::postcode;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(p) = postcode::normalise(s) {
        assert_eq!(postcode::normalise(p.as_str()).as_ref(), Some(&p));
        assert!(p.as_str().starts_with(p.sector()));
        assert!(p.sector().starts_with(p.district()));
        assert!(p.district().starts_with(p.area()));
    }
});
