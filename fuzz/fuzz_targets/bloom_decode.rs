//! Decoding Bloom filters and tokens from untrusted encoded files: never
//! panics; decoded filters re-encode to the same text; the loader's
//! decoder (onto the end of a buffer, for a known filter length) takes
//! exactly the filters of that length the plain one takes, and leaves the
//! buffer as it was when it refuses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linkwell::{bloom, token::Token};

fuzz_target!(|data: &[u8]| {
    if let Some(words) = bloom::from_base64(data) {
        let again = bloom::to_base64(&words);
        assert_eq!(bloom::from_base64(again.as_bytes()), Some(words.clone()));
        let _ = bloom::dice(&words, &words);
    }
    // Filters of up to 65,536 bits (`BloomParams::validate`); one length
    // at most has this many base64 characters.
    let (mut scratch, mut out) = (Vec::new(), vec![7u64]);
    for w in (1..=1024).filter(|&w| bloom::base64_len(w) == data.len()) {
        let taken = bloom::append_from_base64(data, w, &mut scratch, &mut out);
        let plain = bloom::from_base64(data).filter(|v| v.len() == w);
        assert_eq!(taken, plain.is_some());
        assert_eq!(out[1..], plain.unwrap_or_default()[..]);
        out.truncate(1);
    }
    if let Ok(t) = Token::from_hex(data) {
        assert_eq!(Token::from_hex(&t.to_hex()), Ok(t));
    }
});
