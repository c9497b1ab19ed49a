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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group<'g> {
    /// Left record indices, ascending.
    pub left: &'g [u32],
    /// Right record indices, ascending.
    pub right: &'g [u32],
}

impl Group<'_> {
    /// Number of pairs in the group.
    pub fn pairs(&self) -> u64 {
        self.left.len() as u64 * self.right.len() as u64
    }
}

/// Groups stored end to end (no allocation per group).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Groups {
    left: Vec<u32>,
    right: Vec<u32>,
    /// (end in `left`, end in `right`) of each group.
    ends: Vec<(u32, u32)>,
}

impl Groups {
    /// Number of groups.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Group `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Group<'_> {
        let (ls, rs) = if i == 0 { (0, 0) } else { self.ends[i - 1] };
        let (le, re) = self.ends[i];
        Group {
            left: &self.left[ls as usize..le as usize],
            right: &self.right[rs as usize..re as usize],
        }
    }

    /// The groups in order.
    pub fn iter(&self) -> impl Iterator<Item = Group<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The groups in order, in parallel.
    pub fn par_iter(&self) -> impl IndexedParallelIterator<Item = Group<'_>> + '_ {
        (0..self.len()).into_par_iter().map(|i| self.get(i))
    }

    fn push(&mut self, members: impl Iterator<Item = u32>) {
        let (l0, r0) = (self.left.len(), self.right.len());
        for m in members {
            if m & RIGHT_BIT == 0 {
                self.left.push(m);
            } else {
                self.right.push(m & !RIGHT_BIT);
            }
        }
        self.left[l0..].sort_unstable();
        self.right[r0..].sort_unstable();
        if self.left.len() == l0 || self.right.len() == r0 {
            self.left.truncate(l0);
            self.right.truncate(r0);
            return;
        }
        self.ends
            .push((self.left.len() as u32, self.right.len() as u32));
    }

    fn append(&mut self, other: Groups) {
        let (lb, rb) = (self.left.len() as u32, self.right.len() as u32);
        self.left.extend(other.left);
        self.right.extend(other.right);
        self.ends
            .extend(other.ends.into_iter().map(|(l, r)| (l + lb, r + rb)));
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
) -> (Groups, Eligible) {
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
    let parts: Vec<Groups> = runs
        .par_chunks(4096)
        .map(|chunk| {
            let mut g = Groups::default();
            for &(s, e) in chunk {
                let run = &entries[s..e];
                if single {
                    g.push(run.iter().map(|x| x.1));
                    continue;
                }
                // Verify the full key: split a run whose keys differ (a
                // 64-bit hash collision).
                let mut members: Vec<(Vec<u32>, u32)> =
                    run.iter().map(|x| (key.key_of(x.1), x.1)).collect();
                members.sort_unstable();
                for grp in members.chunk_by(|a, b| a.0 == b.0) {
                    g.push(grp.iter().map(|m| m.1));
                }
            }
            g
        })
        .collect();
    let mut all = Groups::default();
    for p in parts {
        all.append(p);
    }
    (all, eligible)
}
