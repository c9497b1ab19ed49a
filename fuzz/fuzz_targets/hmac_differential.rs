//! Differential: linkwell's cached-state HMAC-SHA256 against the RustCrypto
//! `hmac` crate, for arbitrary keys and messages.
#![no_main]
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use linkwell::mac::HmacSha256;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let split = usize::from(data[0]) % data.len();
    let (key, msg) = data[1..].split_at(split.min(data.len() - 1));
    let mut r = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    r.update(msg);
    let want = r.finalize().into_bytes();
    assert_eq!(&HmacSha256::new(key).mac(msg)[..], &want[..]);
});
