//! Decoding Bloom filters and tokens from untrusted encoded files: never
//! panics; decoded filters re-encode to the same text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::{bloom, token::Token};

fuzz_target!(|data: &[u8]| {
    if let Some(words) = bloom::from_base64(data) {
        let again = bloom::to_base64(&words);
        assert_eq!(bloom::from_base64(again.as_bytes()), Some(words.clone()));
        let _ = bloom::dice(&words, &words);
    }
    if let Ok(t) = Token::from_hex(data) {
        assert_eq!(Token::from_hex(&t.to_hex()), Ok(t));
    }
});
