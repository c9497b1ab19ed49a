//! The whole tokenise path on arbitrary bytes as a CSV file: never panics,
//! and the counts always reconcile.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::secret::Secret;
use linkwell::tokenise::{tokenise_stream, TokeniseOptions};

fuzz_target!(|data: &[u8]| {
    let secret =
        Secret::from_hex(b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
            .unwrap();
    let mut out = Vec::new();
    let mut rejects = Vec::new();
    let opts = TokeniseOptions {
        chunk_records: 3,
        ..TokeniseOptions::default()
    };
    match tokenise_stream(
        &secret,
        None,
        data,
        std::path::Path::new("fuzz.csv"),
        &mut out,
        &mut rejects,
        &opts,
    ) {
        Ok((_, s)) => {
            assert!(s.counts.reconciles(), "{:?}", s.counts);
            let lines = rejects.iter().filter(|&&b| b == b'\n').count() as u64;
            assert!(lines > s.counts.rejected);
        }
        Err(e) => {
            // An error names columns, lines and kinds, never a record's
            // values: no field of length >= 8 from the input may appear.
            let msg = e.to_string();
            let text = String::from_utf8_lossy(data);
            for field in text.split([',', '\n', '\r', '"']) {
                let f = field.trim();
                if f.len() >= 8 && f.bytes().filter(u8::is_ascii_digit).count() >= 4 {
                    assert!(!msg.contains(f), "error {msg:?} echoes input {f:?}");
                }
            }
        }
    }
});
