//! Grouping records of two files by equal key values: the join at the heart
//! of both match-key cascades and blocking.
//!
//! Each eligible record's key (a tuple of interned token ids) becomes a
//! 64-bit hash — the id itself for one-column keys, so those never collide.
//! A parallel sort brings equal hashes together; runs of equal hashes are
//! checked column by column, so a hash collision can never join two
//! records whose keys differ.

use rayon::prelude::*;

use super::data::NONE;

const RIGHT_BIT: u32 = 1 << 31;

#[inline]
fn mix(h: u64, v: u32) -> u64 {
    (h.rotate_left(5) ^ u64::from(v)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The columns of a key on each side.
pub struct KeyColumns<'a> {
    /// Left columns, in key order.
    pub left: Vec<&'a [u32]>,
    /// Right columns.
    pub right: Vec<&'a [u32]>,
}

impl KeyColumns<'_> {
    #[inline]
    fn hash(cols: &[&[u32]], i: usize) -> Option<u64> {
        if cols.len() == 1 {
            let v = cols[0][i];
            return (v != NONE).then_some(u64::from(v));
        }
        let mut h = 0u64;
        for c in cols {
            let v = c[i];
            if v == NONE {
                return None;
            }
            h = mix(h, v);
        }
        Some(h)
    }

    /// Whether left record `l` and right record `r` have equal, complete
    /// keys.
    #[inline]
    pub fn matches(&self, l: usize, r: usize) -> bool {
        self.left.iter().zip(&self.right).all(|(a, b)| {
            let x = a[l];
            x != NONE && x == b[r]
        })
    }

    fn key_of(&self, e: u32) -> Vec<u32> {
        let (cols, i) = if e & RIGHT_BIT == 0 {
            (&self.left, e as usize)
        } else {
            (&self.right, (e & !RIGHT_BIT) as usize)
        };
        cols.iter().map(|c| c[i]).collect()
    }
}

/// A group of records sharing a key value: at least one on each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Left record indices, ascending.
    pub left: Vec<u32>,
    /// Right record indices, ascending.
    pub right: Vec<u32>,
}

impl Group {
    /// Number of pairs in the group.
    pub fn pairs(&self) -> u64 {
        self.left.len() as u64 * self.right.len() as u64
    }
}

/// Counts of eligible records (complete key, allowed by the filters).
#[derive(Debug, Clone, Copy, Default)]
pub struct Eligible {
    /// Left records.
    pub left: u64,
    /// Right records.
    pub right: u64,
}

/// Every group of records sharing a key value with at least one record on
/// each side, in a deterministic order (by key hash), considering only
/// records for which `left_ok`/`right_ok` hold.
pub fn groups(
    key: &KeyColumns<'_>,
    n_left: usize,
    n_right: usize,
    left_ok: &(dyn Fn(usize) -> bool + Sync),
    right_ok: &(dyn Fn(usize) -> bool + Sync),
) -> (Vec<Group>, Eligible) {
    assert!(n_left < RIGHT_BIT as usize && n_right < RIGHT_BIT as usize);
    let mut entries: Vec<(u64, u32)> = (0..n_left as u32)
        .into_par_iter()
        .filter(|&i| left_ok(i as usize))
        .filter_map(|i| KeyColumns::hash(&key.left, i as usize).map(|h| (h, i)))
        .chain(
            (0..n_right as u32)
                .into_par_iter()
                .filter(|&i| right_ok(i as usize))
                .filter_map(|i| {
                    KeyColumns::hash(&key.right, i as usize).map(|h| (h, i | RIGHT_BIT))
                }),
        )
        .collect();
    let left_count = entries.iter().filter(|e| e.1 & RIGHT_BIT == 0).count() as u64;
    let eligible = Eligible {
        left: left_count,
        right: entries.len() as u64 - left_count,
    };
    entries.par_sort_unstable();
    // Runs of equal hash with both sides present.
    let mut runs = Vec::new();
    let mut s = 0;
    for i in 1..=entries.len() {
        if i == entries.len() || entries[i].0 != entries[s].0 {
            let run = &entries[s..i];
            // Sorted by (hash, record|side): lefts come first, rights last.
            if run.len() > 1 && run[0].1 & RIGHT_BIT == 0 && run[run.len() - 1].1 & RIGHT_BIT != 0 {
                runs.push((s, i));
            }
            s = i;
        }
    }
    let single = key.left.len() == 1;
    let split = |members: &mut dyn Iterator<Item = u32>| -> Group {
        let (mut l, mut r) = (Vec::new(), Vec::new());
        for m in members {
            if m & RIGHT_BIT == 0 {
                l.push(m);
            } else {
                r.push(m & !RIGHT_BIT);
            }
        }
        l.sort_unstable();
        r.sort_unstable();
        Group { left: l, right: r }
    };
    let groups = runs
        .par_iter()
        .flat_map_iter(|&(s, e)| {
            let run = &entries[s..e];
            if single {
                return vec![split(&mut run.iter().map(|x| x.1))];
            }
            let mut members: Vec<(Vec<u32>, u32)> =
                run.iter().map(|x| (key.key_of(x.1), x.1)).collect();
            members.sort_unstable();
            members
                .chunk_by(|a, b| a.0 == b.0)
                .map(|g| split(&mut g.iter().map(|m| m.1)))
                .filter(|g| !g.left.is_empty() && !g.right.is_empty())
                .collect()
        })
        .collect();
    (groups, eligible)
}
