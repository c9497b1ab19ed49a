//! Per-thread memos of keyed computations on short values.
//!
//! Tokenising a file computes the same few thousand tokens (years, months,
//! postcode districts, common names, bigrams of names) millions of times.
//! A memo keyed by (the key's instance id, the value) returns the earlier
//! result without an HMAC. Values longer than [`MAX_VALUE`] bytes are not
//! memoised. Each memo is bounded: it is cleared when it reaches
//! [`LIMIT`] entries.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest value memoised.
pub(crate) const MAX_VALUE: usize = 31;
/// Most entries per memo before it is cleared.
pub(crate) const LIMIT: usize = 1 << 12;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh instance id for a key.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The memo key: instance id, then length and value bytes packed into
/// little-endian words (words, not bytes, so that comparing two keys is a
/// few integer operations rather than a call to `memcmp`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key([u64; 5]);

impl PartialEq for Key {
    /// XOR and OR of the words: a derived (or `&&`-chained) comparison of
    /// the array is merged by LLVM into a call to `bcmp`, which showed as
    /// 2% of `tokenise` in a profile.
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        self.0
            .iter()
            .zip(&other.0)
            .fold(0, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        for &w in &self.0 {
            h.write_u64(w);
        }
    }
}

/// Builds the memo key, or `None` when the value is too long.
#[inline]
pub(crate) fn key(id: u64, parts: &[&[u8]]) -> Option<Key> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > MAX_VALUE {
        return None;
    }
    let mut b = [0u8; 32];
    b[0] = len as u8;
    let mut at = 1;
    for p in parts {
        b[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    let mut k = [id, 0, 0, 0, 0];
    for (w, c) in k[1..].iter_mut().zip(b.chunks_exact(8)) {
        *w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
    }
    Some(Key(k))
}

/// A multiply-xorshift hash of the key's words, finished with the
/// MurmurHash3 mixer so that the high bits (which hashbrown uses to tell
/// entries of one group apart) depend on every input bit. Keys are short
/// and not adversarial (the data owner's own values on their own machine).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl KeyHasher {
    #[inline]
    fn word(&mut self, w: u64) {
        self.0 = (self.0 ^ w)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(27);
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u64(&mut self, w: u64) {
        self.word(w);
    }
    #[inline]
    fn write_usize(&mut self, w: usize) {
        self.word(w as u64);
    }
}

/// A bounded memo map.
pub(crate) type Map<V> = HashMap<Key, V, BuildHasherDefault<KeyHasher>>;

/// Looks `k` up in the thread's memo, computing and storing on a miss.
#[inline]
pub(crate) fn get_or<V: Clone>(
    memo: &'static std::thread::LocalKey<RefCell<Map<V>>>,
    k: Key,
    compute: impl FnOnce() -> V,
) -> V {
    if let Some(v) = memo.with(|m| m.borrow().get(&k).cloned()) {
        return v;
    }
    let v = compute();
    memo.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= LIMIT {
            m.clear();
        }
        m.insert(k, v.clone());
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::Cell;

    thread_local! {
        static TEST_MEMO: RefCell<Map<u32>> = RefCell::new(Map::default());
    }

    #[test]
    fn a_value_is_computed_once() {
        let calls = Cell::new(0);
        let k = key(next_id(), &[b"SMITH"]).unwrap();
        for _ in 0..3 {
            let v = get_or(&TEST_MEMO, k, || {
                calls.set(calls.get() + 1);
                7
            });
            assert_eq!(v, 7);
        }
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn long_values_are_not_memoised() {
        assert!(key(1, &[&[b'a'; MAX_VALUE]]).is_some());
        assert!(key(1, &[&[b'a'; MAX_VALUE + 1]]).is_none());
        assert!(key(1, &[&[b'a'; 20], &[b'b'; 12]]).is_none());
    }

    proptest! {
        /// Two keys are equal exactly when the instance ids and the values
        /// are (trailing zero bytes included: the length is in the key).
        #[test]
        fn keys_are_injective(a in prop::collection::vec(any::<u8>(), 0..=MAX_VALUE),
                              b in prop::collection::vec(any::<u8>(), 0..=MAX_VALUE),
                              ia in 0u64..3, ib in 0u64..3) {
            let (ka, kb) = (key(ia, &[&a]).unwrap(), key(ib, &[&b]).unwrap());
            prop_assert_eq!(ka == kb, ia == ib && a == b);
            let mut z = a.clone();
            if z.len() < MAX_VALUE {
                z.push(0);
                prop_assert_ne!(key(ia, &[&z]).unwrap(), ka);
            }
        }

        /// Parts are concatenated: the key does not depend on where the
        /// value is cut.
        #[test]
        fn parts_concatenate(v in prop::collection::vec(any::<u8>(), 0..=MAX_VALUE), cut in 0usize..=MAX_VALUE) {
            let cut = cut.min(v.len());
            prop_assert_eq!(key(5, &[&v[..cut], &v[cut..]]), key(5, &[&v]));
        }
    }
}
