//! Key-file parsing on arbitrary bytes: never panics, and an error message
//! never contains the key text (any run of 16 or more hex digits).
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::secret::Secret;

fuzz_target!(|data: &[u8]| {
    match Secret::from_hex(data) {
        Ok(s) => {
            let d = format!("{s:?}");
            assert!(d.starts_with("Secret { fingerprint: "));
        }
        Err(e) => {
            // Key material is hex: no run of 16 or more hex digits from the
            // input may appear in the message. (Comparing the whole input
            // text instead flags inputs that happen to quote the message's
            // own words, such as "adecimal (a non-h".)
            let msg = e.to_string();
            for run in data
                .split(|b| !b.is_ascii_hexdigit())
                .filter(|r| r.len() >= 16)
            {
                let run = std::str::from_utf8(run).expect("ASCII");
                assert!(!msg.contains(run), "error echoes key text {run:?}");
            }
        }
    }
});
