//! Key-file parsing on arbitrary bytes: never panics, and an error message
//! never contains the key text.
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
            let msg = e.to_string();
            if data.len() >= 16 {
                if let Ok(text) = std::str::from_utf8(data) {
                    let t = text.trim();
                    if t.len() >= 16 {
                        assert!(!msg.contains(t), "error echoes the key text");
                    }
                }
            }
        }
    }
});
