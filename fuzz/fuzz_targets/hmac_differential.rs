//! Differential: linkwell's cached-state HMAC-SHA256 against the RustCrypto
//! `hmac` crate, for arbitrary keys and messages, through both the one-MAC
//! path and the interleaved pair path (with the message split in two).
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
    let k = HmacSha256::new(key);
    assert_eq!(&k.mac(msg)[..], &want[..]);
    let (a, b) = msg.split_at(msg.len() / 2);
    let [ma, mb] = HmacSha256::mac_pair((&k, a), (&k, b));
    assert_eq!(ma, k.mac(a));
    assert_eq!(mb, k.mac(b));
    assert_eq!(
        &HmacSha256::mac_pair((&k, b"x"), (&k, msg))[1][..],
        &want[..]
    );
});
