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
pub(crate) const LIMIT: usize = 1 << 16;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh instance id for a key.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The memo key: instance id, length, value bytes.
pub(crate) type Key = [u8; 40];

/// Builds the memo key, or `None` when the value is too long.
#[inline]
pub(crate) fn key(id: u64, parts: &[&[u8]]) -> Option<Key> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > MAX_VALUE {
        return None;
    }
    let mut k = [0u8; 40];
    k[..8].copy_from_slice(&id.to_le_bytes());
    k[8] = len as u8;
    let mut at = 9;
    for p in parts {
        k[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    Some(k)
}

/// FNV-1a over the key's words: keys are short and not adversarial (they
/// are the data owner's own values on their own machine).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0100_0000_01b3);
            h ^= h >> 29;
        }
        self.0 = h;
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
