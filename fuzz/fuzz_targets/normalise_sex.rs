//! The sex-code normaliser on arbitrary text: never panics; codes map to
//! themselves.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::normalise::sex;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(c) = sex::normalise(s).code() {
        assert_eq!(sex::normalise(c).code(), Some(c));
    }
});
