//! HMAC-SHA256 (RFC 2104) with the keyed state cached and zeroized.
//!
//! Every token is one HMAC under a long-lived subkey. Keying HMAC costs two
//! SHA-256 compressions (the ipad and opad blocks); doing it once per key and
//! keeping the two intermediate states means a short message costs exactly two
//! more compressions, which is the floor for HMAC-SHA256.
//!
//! Why not the `hmac` crate directly: its keyed state cannot be zeroized,
//! and cloning it per message costs more than the two compressions it saves
//! time for. This module is a few dozen lines over `sha2`'s compression
//! function; it is checked against RFC 4231 and, by property test and fuzz
//! target, against the `hmac` crate itself.
//!
//! On x86-64 CPUs with the SHA extensions, short messages (every token and
//! Bloom-filter position) take the register-resident path in [`shani`],
//! and [`HmacSha256::mac_pair`] computes two MACs interleaved.

#[cfg(target_arch = "x86_64")]
mod shani;

use sha2::digest::generic_array::GenericArray;
use zeroize::{Zeroize, ZeroizeOnDrop};

const BLOCK: usize = 64;

const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// A keyed HMAC-SHA256: the SHA-256 states after absorbing `key ^ ipad` and
/// `key ^ opad`. Cloning is cheap; the states are zeroized on drop and never
/// printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HmacSha256 {
    inner: [u32; 8],
    outer: [u32; 8],
    /// The same states in the lane order of the SHA instructions.
    #[cfg(target_arch = "x86_64")]
    lanes: ([u32; 8], [u32; 8]),
}

impl std::fmt::Debug for HmacSha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacSha256(<keyed state>)")
    }
}

fn compress(state: &mut [u32; 8], block: &[u8]) {
    debug_assert_eq!(block.len(), BLOCK);
    sha2::compress256(state, std::slice::from_ref(GenericArray::from_slice(block)));
}

/// Absorbs `msg` (of which `prefix_len` bytes were already absorbed into
/// `state`), pads, and returns the digest.
fn finish(mut state: [u32; 8], msg: &[u8], prefix_len: u64) -> [u8; 32] {
    let mut chunks = msg.chunks_exact(BLOCK);
    for block in &mut chunks {
        compress(&mut state, block);
    }
    let rem = chunks.remainder();
    let bits = (prefix_len + msg.len() as u64) * 8;
    if rem.len() + 9 <= BLOCK {
        // The common case (every token): one padded block.
        let mut buf = [0u8; BLOCK];
        buf[..rem.len()].copy_from_slice(rem);
        buf[rem.len()] = 0x80;
        buf[BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
        compress(&mut state, &buf);
        return digest(state);
    }
    // The padding does not fit after the remainder: two blocks.
    let mut buf = [0u8; 2 * BLOCK];
    buf[..rem.len()].copy_from_slice(rem);
    buf[rem.len()] = 0x80;
    buf[2 * BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
    compress(&mut state, &buf[..BLOCK]);
    compress(&mut state, &buf[BLOCK..]);
    digest(state)
}

/// The big-endian bytes of a final state.
#[inline]
fn digest(state: [u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// SHA-256 of `msg`. Crate-private: an unkeyed hash of an identifier is
/// reversible by brute force, so none is offered.
pub(crate) fn sha256(msg: &[u8]) -> [u8; 32] {
    finish(H0, msg, 0)
}

impl HmacSha256 {
    /// Keys HMAC-SHA256 with `key` of any length (keys longer than the
    /// 64-byte block are hashed first, as RFC 2104 says).
    pub fn new(key: &[u8]) -> HmacSha256 {
        let mut k = [0u8; BLOCK];
        if key.len() > BLOCK {
            let mut d = sha256(key);
            k[..32].copy_from_slice(&d);
            d.zeroize();
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut pad = [0u8; BLOCK];
        let mut inner = H0;
        for (p, &b) in pad.iter_mut().zip(&k) {
            *p = b ^ 0x36;
        }
        compress(&mut inner, &pad);
        let mut outer = H0;
        for (p, &b) in pad.iter_mut().zip(&k) {
            *p = b ^ 0x5c;
        }
        compress(&mut outer, &pad);
        k.zeroize();
        pad.zeroize();
        HmacSha256 {
            inner,
            outer,
            #[cfg(target_arch = "x86_64")]
            lanes: (shani::lanes(&inner), shani::lanes(&outer)),
        }
    }

    /// The MAC of `msg`. For messages up to 55 bytes this is exactly two
    /// SHA-256 compressions.
    ///
    /// Per-message buffers are not zeroized: they hold the message (an
    /// identifier that is in the caller's memory anyway) and hash states
    /// that have already absorbed it, which do not reveal the key. The
    /// keyed states themselves are zeroized on drop. (Volatile zeroing of
    /// the padding buffers cost 40% of a token; see benches/tokens.rs.)
    pub fn mac(&self, msg: &[u8]) -> [u8; 32] {
        #[cfg(target_arch = "x86_64")]
        if let Some(t) = shani::mac_short(&self.lanes.0, &self.lanes.1, msg) {
            return t;
        }
        self.mac_portable(msg)
    }

    /// Two MACs, possibly under different keys: `[a.0.mac(a.1),
    /// b.0.mac(b.1)]`. When both messages are short and the CPU has the SHA
    /// extensions, the two are computed interleaved, in little more time
    /// than one (benches/tokens.rs `linkwell_mac_pair_10_bytes`).
    pub fn mac_pair(a: (&HmacSha256, &[u8]), b: (&HmacSha256, &[u8])) -> [[u8; 32]; 2] {
        #[cfg(target_arch = "x86_64")]
        {
            let ka = (&a.0.lanes.0, &a.0.lanes.1);
            let kb = (&b.0.lanes.0, &b.0.lanes.1);
            if let Some(pair) = shani::mac_short2(ka, a.1, kb, b.1) {
                return pair;
            }
        }
        [a.0.mac(a.1), b.0.mac(b.1)]
    }

    /// The MAC without the SHA-extension path: `sha2`'s compression
    /// function, block by block.
    fn mac_portable(&self, msg: &[u8]) -> [u8; 32] {
        if msg.len() + 9 <= BLOCK {
            // Every token: one inner block, then the outer block written
            // straight from the inner state's words.
            let mut b = [0u8; BLOCK];
            b[..msg.len()].copy_from_slice(msg);
            b[msg.len()] = 0x80;
            b[BLOCK - 8..].copy_from_slice(&(((BLOCK + msg.len()) * 8) as u64).to_be_bytes());
            let mut inner = self.inner;
            compress(&mut inner, &b);
            let mut o = [0u8; BLOCK];
            for (c, w) in o[..32].chunks_exact_mut(4).zip(inner) {
                c.copy_from_slice(&w.to_be_bytes());
            }
            o[32] = 0x80;
            o[BLOCK - 8..].copy_from_slice(&(((BLOCK + 32) * 8) as u64).to_be_bytes());
            let mut outer = self.outer;
            compress(&mut outer, &o);
            return digest(outer);
        }
        let inner = finish(self.inner, msg, BLOCK as u64);
        finish(self.outer, &inner, BLOCK as u64)
    }

    /// The MAC of the concatenation of `parts`, without copying them into
    /// one buffer first when they are short.
    pub fn mac_parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total <= 256 {
            let mut buf = [0u8; 256];
            let mut at = 0;
            for p in parts {
                buf[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
            self.mac(&buf[..total])
        } else {
            self.mac(&parts.concat())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use proptest::prelude::*;

    fn unhex(s: &str) -> Vec<u8> {
        crate::hex::decode(s).unwrap()
    }

    /// RFC 4231 section 4, HMAC-SHA-256 outputs (test case 5 is truncated
    /// to 128 bits in the RFC; we compare that prefix).
    #[test]
    fn rfc4231() {
        let long_key = vec![0xaa; 131];
        let cases: Vec<(Vec<u8>, Vec<u8>, &str)> = vec![
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                (1..=25).collect(),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0x0c; 20],
                b"Test With Truncation".to_vec(),
                "a3b6167473100ee06e0c796c2955552b",
            ),
            (
                long_key.clone(),
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                long_key,
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (i, (key, data, want)) in cases.iter().enumerate() {
            let got = HmacSha256::new(key).mac(data);
            let want = unhex(want);
            assert_eq!(&got[..want.len()], &want[..], "RFC 4231 case {}", i + 1);
            // Both code paths: the portable one, and the SHA-extension one
            // (which `mac` takes for short messages when the CPU has it).
            let portable = HmacSha256::new(key).mac_portable(data);
            assert_eq!(
                &portable[..want.len()],
                &want[..],
                "RFC 4231 case {}",
                i + 1
            );
            let k = HmacSha256::new(key);
            let pair = HmacSha256::mac_pair((&k, b"other"), (&k, data));
            assert_eq!(&pair[1][..want.len()], &want[..], "RFC 4231 case {}", i + 1);
            assert_eq!(pair[0], k.mac(b"other"));
            // A flipped bit in the message must change the MAC.
            let mut flipped = data.clone();
            flipped[0] ^= 1;
            assert_ne!(&HmacSha256::new(key).mac(&flipped)[..want.len()], &want[..]);
        }
    }

    /// Every message length through the one-block limit and past it, under
    /// a short and a long key, on every path against the `hmac` crate.
    #[test]
    fn every_short_length() {
        for key in [&b"k"[..], &[0x5a; 100][..]] {
            let k = HmacSha256::new(key);
            for len in 0..=70 {
                let msg: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
                let mut r = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
                r.update(&msg);
                let want: [u8; 32] = r.finalize().into_bytes().into();
                assert_eq!(k.mac(&msg), want, "length {len}");
                assert_eq!(k.mac_portable(&msg), want, "length {len}");
                assert_eq!(
                    HmacSha256::mac_pair((&k, &msg), (&k, b"x"))[0],
                    want,
                    "length {len}"
                );
            }
        }
    }

    #[test]
    fn sha256_known_answers() {
        assert_eq!(
            crate::hex::encode(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            crate::hex::encode(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    /// On a CPU with the SHA extensions, the path `mac` takes for short
    /// messages is that one, and it agrees with the portable path (the
    /// comparisons above then cover it; elsewhere they cover the portable
    /// path only).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sha_extension_path_runs_where_it_can() {
        let k = HmacSha256::new(b"key");
        let got = shani::mac_short(&k.lanes.0, &k.lanes.1, b"9434765919");
        assert_eq!(got.is_some(), shani::runs_here());
        if let Some(t) = got {
            assert_eq!(t, k.mac_portable(b"9434765919"));
        }
        assert!(shani::mac_short(&k.lanes.0, &k.lanes.1, &[0; 56]).is_none());
    }

    #[test]
    fn debug_hides_state() {
        assert_eq!(
            format!("{:?}", HmacSha256::new(b"k")),
            "HmacSha256(<keyed state>)"
        );
    }

    proptest! {
        /// Differential: equal to the RustCrypto `hmac` crate for every key
        /// and message length, including the padding boundaries at 55/56
        /// and 64 bytes.
        #[test]
        fn agrees_with_hmac_crate(key in proptest::collection::vec(any::<u8>(), 0..150),
                                  msg in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut r = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
            r.update(&msg);
            let want = r.finalize().into_bytes();
            prop_assert_eq!(&HmacSha256::new(&key).mac(&msg)[..], &want[..]);
            let split = msg.len() / 3;
            prop_assert_eq!(&HmacSha256::new(&key).mac_parts(&[&msg[..split], &msg[split..]])[..], &want[..]);
        }

        /// Two MACs interleaved equal two MACs one by one, under equal or
        /// different keys, across the one-block limit (55 bytes).
        #[test]
        fn pair_agrees_with_single(ka in proptest::collection::vec(any::<u8>(), 0..70),
                                   kb in proptest::collection::vec(any::<u8>(), 0..70),
                                   a in proptest::collection::vec(any::<u8>(), 0..70),
                                   b in proptest::collection::vec(any::<u8>(), 0..70)) {
            let (ka, kb) = (HmacSha256::new(&ka), HmacSha256::new(&kb));
            let pair = HmacSha256::mac_pair((&ka, &a), (&kb, &b));
            prop_assert_eq!(pair[0], ka.mac_portable(&a));
            prop_assert_eq!(pair[1], kb.mac_portable(&b));
            prop_assert_eq!(HmacSha256::mac_pair((&ka, &a), (&ka, &b))[1], ka.mac(&b));
            prop_assert_eq!(ka.mac(&a), ka.mac_portable(&a));
        }

        #[test]
        fn sha256_agrees_with_sha2(msg in proptest::collection::vec(any::<u8>(), 0..300)) {
            use sha2::Digest;
            prop_assert_eq!(&sha256(&msg)[..], &sha2::Sha256::digest(&msg)[..]);
        }
    }
}
