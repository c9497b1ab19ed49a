//! HMAC-SHA256 of short messages on the x86 SHA extensions, with the hash
//! state kept in registers from the first round of the inner block to the
//! last round of the outer block.
//!
//! Why not `sha2::compress256`, which uses the same instructions: each call
//! loads the state from memory, reorders it, and stores it back, and HMAC's
//! outer block must be written to memory from the inner digest and read
//! again. Those round trips stall on store forwarding: a token took
//! 111.5 ns that way and takes 79.2 ns here (benches/tokens.rs, 2-core AMD
//! EPYC VM, 2026-11-26). Here the inner digest goes straight
//! into the outer block's message words, and two independent MACs can be
//! interleaved so that the second fills the SHA unit while the first waits
//! on a round's latency ([`mac_short2`]).
//!
//! This is the only module of the crate that uses `unsafe`, and only to call
//! the `#[target_feature]` functions after the CPU has been checked for the
//! features they are compiled with. It is checked against the portable path
//! (RFC 4231, the `hmac` crate) by the tests in `mac.rs`, which run it on
//! every machine that has the SHA extensions.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_extract_epi64, _mm_insert_epi32,
    _mm_set_epi32, _mm_set_epi64x, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32,
    _mm_sha256rnds2_epu32, _mm_shuffle_epi32, _mm_shuffle_epi8,
};
use std::sync::atomic::{AtomicU8, Ordering};

/// The SHA-256 round constants.
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// A SHA-256 state `[a, b, c, d, e, f, g, h]` in the lane order the SHA
/// instructions use: `[f, e, b, a, h, g, d, c]` (two vectors, ABEF and
/// CDGH, lowest lane first). Computed once per key.
pub(super) fn lanes(s: &[u32; 8]) -> [u32; 8] {
    [s[5], s[4], s[1], s[0], s[7], s[6], s[3], s[2]]
}

/// Whether this CPU has the SHA extensions and SSE4.1 (0 = not yet known).
static HAVE: AtomicU8 = AtomicU8::new(0);

/// Whether the SHA-extension code can run here (checked once).
#[inline]
fn available() -> bool {
    match HAVE.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let yes = std::is_x86_feature_detected!("sha")
                && std::is_x86_feature_detected!("sse4.1")
                && std::is_x86_feature_detected!("ssse3");
            HAVE.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
            yes
        }
    }
}

/// The MAC of `msg` under the keyed states `inner` and `outer`, given in
/// [`lanes`] order; `None` when the message is longer than 55 bytes or the
/// CPU lacks the SHA extensions (the caller then takes the portable path).
#[inline]
pub(super) fn mac_short(inner: &[u32; 8], outer: &[u32; 8], msg: &[u8]) -> Option<[u8; 32]> {
    if msg.len() > 55 || !available() {
        return None;
    }
    // SAFETY: `available()` has just confirmed that the CPU has every
    // feature `hmac1` is compiled for ("sha", "sse2", "ssse3", "sse4.1");
    // the function itself touches memory only through safe references.
    Some(unsafe { hmac1(inner, outer, msg) })
}

/// Two MACs at once, `(inner_a, outer_a, a)` and `(inner_b, outer_b, b)`,
/// interleaved; `None` as for [`mac_short`].
#[inline]
pub(super) fn mac_short2(
    ka: (&[u32; 8], &[u32; 8]),
    a: &[u8],
    kb: (&[u32; 8], &[u32; 8]),
    b: &[u8],
) -> Option<[[u8; 32]; 2]> {
    if a.len() > 55 || b.len() > 55 || !available() {
        return None;
    }
    // SAFETY: as in `mac_short`: the features `hmac2` is compiled for were
    // confirmed by `available()`, and it uses no raw pointers.
    Some(unsafe { hmac2(ka, a, kb, b) })
}

/// Whether the SHA-extension path runs on this machine (for tests that
/// compare it with the portable one).
#[cfg(test)]
pub(super) fn runs_here() -> bool {
    available()
}

/// The byte shuffle that turns four big-endian words into native ones.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn bswap_mask() -> __m128i {
    _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203)
}

/// A keyed state in [`lanes`] order as the ABEF and CDGH vectors.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn state(l: &[u32; 8]) -> (__m128i, __m128i) {
    let v = |i: usize| {
        _mm_set_epi32(
            l[i + 3] as i32,
            l[i + 2] as i32,
            l[i + 1] as i32,
            l[i] as i32,
        )
    };
    (v(0), v(4))
}

/// Round constants `K[4i..4i+4]` as a vector.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn k(i: usize) -> __m128i {
    _mm_set_epi32(
        K[4 * i + 3] as i32,
        K[4 * i + 2] as i32,
        K[4 * i + 1] as i32,
        K[4 * i] as i32,
    )
}

/// Bytes `8h..8h+8` of the padded inner block of `msg` (at most 55 bytes),
/// little-endian, read straight from `msg`: the padded block is never
/// written to memory, because reading it back as vectors would wait on
/// store forwarding at the head of the critical path.
#[inline(always)]
fn padded_half(msg: &[u8], h: usize) -> u64 {
    let len = msg.len();
    let at = 8 * h;
    if at + 8 <= len {
        u64::from_le_bytes(msg[at..at + 8].try_into().expect("8 bytes"))
    } else if at < len {
        let n = len - at; // 1..=7 message bytes, then 0x80
        let tail = if len >= 8 {
            // The 8 bytes ending at the message's end hold ours at the top.
            u64::from_le_bytes(msg[len - 8..].try_into().expect("8 bytes")) >> (8 * (8 - n))
        } else {
            msg.iter()
                .rev()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
        };
        tail | 0x80 << (8 * n)
    } else if at == len {
        0x80
    } else {
        0
    }
}

/// The inner block of a message of at most 55 bytes, padded, as four
/// vectors of native message words `W0..W15`.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn inner_block(msg: &[u8]) -> [__m128i; 4] {
    let mask = bswap_mask();
    let word = |i: usize| {
        let (lo, hi) = (padded_half(msg, 2 * i), padded_half(msg, 2 * i + 1));
        _mm_shuffle_epi8(_mm_set_epi64x(hi as i64, lo as i64), mask)
    };
    // W15 is the length in bits of ipad's block and the message (W14, the
    // high half, is zero).
    let bits = ((64 + msg.len()) * 8) as i32;
    [
        word(0),
        word(1),
        word(2),
        _mm_insert_epi32(word(3), bits, 3),
    ]
}

/// The digest words `[a, b, c, d]` and `[e, f, g, h]` of an ABEF/CDGH state.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn words(abef: __m128i, cdgh: __m128i) -> (__m128i, __m128i) {
    let feba = _mm_shuffle_epi32(abef, 0x1b);
    let dchg = _mm_shuffle_epi32(cdgh, 0xb1);
    (
        _mm_blend_epi16(feba, dchg, 0xf0),
        _mm_alignr_epi8(dchg, feba, 8),
    )
}

/// The outer block: the inner digest, then padding for a 96-byte message.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn outer_block(abef: __m128i, cdgh: __m128i) -> [__m128i; 4] {
    let (w0, w1) = words(abef, cdgh);
    [
        w0,
        w1,
        _mm_set_epi32(0, 0, 0, 0x8000_0000u32 as i32),
        _mm_set_epi32(96 * 8, 0, 0, 0),
    ]
}

/// The final digest's bytes.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn digest(abef: __m128i, cdgh: __m128i) -> [u8; 32] {
    let (dcba, hgfe) = words(abef, cdgh);
    let mask = bswap_mask();
    let (x, y) = (_mm_shuffle_epi8(dcba, mask), _mm_shuffle_epi8(hgfe, mask));
    let mut out = [0u8; 32];
    out[0..8].copy_from_slice(&(_mm_extract_epi64(x, 0) as u64).to_le_bytes());
    out[8..16].copy_from_slice(&(_mm_extract_epi64(x, 1) as u64).to_le_bytes());
    out[16..24].copy_from_slice(&(_mm_extract_epi64(y, 0) as u64).to_le_bytes());
    out[24..32].copy_from_slice(&(_mm_extract_epi64(y, 1) as u64).to_le_bytes());
    out
}

/// The message words `W[4i..4i+4]` from the previous sixteen.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn schedule(w0: __m128i, w1: __m128i, w2: __m128i, w3: __m128i) -> __m128i {
    let t = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4));
    _mm_sha256msg2_epu32(t, w3)
}

/// Four rounds on one stream.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn rounds4(abef: &mut __m128i, cdgh: &mut __m128i, wk: __m128i) {
    *cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, wk);
    *abef = _mm_sha256rnds2_epu32(*abef, *cdgh, _mm_shuffle_epi32(wk, 0x0e));
}

/// Rounds `4I..4I+4` of `N` independent streams, with the message words
/// they need. `I` is a const parameter so that every index into `w` is a
/// constant and the words stay in registers.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn step<const N: usize, const I: usize>(
    st: &mut [(__m128i, __m128i); N],
    w: &mut [[__m128i; 4]; N],
) {
    for s in 0..N {
        if I >= 4 {
            w[s][I % 4] = schedule(
                w[s][I % 4],
                w[s][(I + 1) % 4],
                w[s][(I + 2) % 4],
                w[s][(I + 3) % 4],
            );
        }
        let (a, c) = &mut st[s];
        rounds4(a, c, _mm_add_epi32(w[s][I % 4], k(I)));
    }
}

/// One compression of `N` independent streams in lock-step, so that the
/// second stream's rounds fill the latency of the first's. Returns the new
/// states (with the feed-forward added).
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn compress_n<const N: usize>(
    mut st: [(__m128i, __m128i); N],
    mut w: [[__m128i; 4]; N],
) -> [(__m128i, __m128i); N] {
    let saved = st;
    macro_rules! steps {
        ($($i:literal)+) => { $( step::<N, $i>(&mut st, &mut w); )+ };
    }
    steps!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
    for s in 0..N {
        st[s] = (
            _mm_add_epi32(st[s].0, saved[s].0),
            _mm_add_epi32(st[s].1, saved[s].1),
        );
    }
    st
}

/// One HMAC of a message of at most 55 bytes: the inner block, then the
/// outer block made from the inner state without leaving the registers.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn hmac1(inner: &[u32; 8], outer: &[u32; 8], msg: &[u8]) -> [u8; 32] {
    let [(a, c)] = compress_n([state(inner)], [inner_block(msg)]);
    let [(a, c)] = compress_n([state(outer)], [outer_block(a, c)]);
    digest(a, c)
}

/// Two HMACs as [`hmac1`], their rounds interleaved.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn hmac2(
    ka: (&[u32; 8], &[u32; 8]),
    a: &[u8],
    kb: (&[u32; 8], &[u32; 8]),
    b: &[u8],
) -> [[u8; 32]; 2] {
    let [(a1, c1), (a2, c2)] =
        compress_n([state(ka.0), state(kb.0)], [inner_block(a), inner_block(b)]);
    let [(a1, c1), (a2, c2)] = compress_n(
        [state(ka.1), state(kb.1)],
        [outer_block(a1, c1), outer_block(a2, c2)],
    );
    [digest(a1, c1), digest(a2, c2)]
}
