//! Grouping records of two files by equal key values: the join at the heart
//! of both match-key cascades and blocking.
//!
//! A one-column key is its interned id, and each eligible record becomes
//! one `u64`, id and record. A key of several columns (a tuple of ids)
//! becomes a 64-bit hash with the record. A parallel sort brings equal keys
//! together; runs of equal hashes are checked column by column, so a hash
//! collision can never join two records whose keys differ.

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
    /// The hash of record `i`'s key of several columns (one-column keys
    /// are not hashed: see [`groups`]); `None` if a column is empty.
    #[inline]
    fn hash(cols: &[&[u32]], i: usize) -> Option<u64> {
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
    if let ([l], [r]) = (&key.left[..], &key.right[..]) {
        // One column: the id is the key, and an entry `id << 32 | member`
        // is one u64, half the bytes to sort.
        let (mut entries, eligible) = both_sides(
            n_left + n_right,
            one_column(&l[..n_left], left_ok, 0),
            one_column(&r[..n_right], right_ok, RIGHT_BIT),
        );
        entries.par_sort_unstable();
        let g = collect(
            &entries,
            |e| e >> 32,
            |e| *e as u32,
            |run, g| {
                g.push(run.iter().map(|e| *e as u32));
            },
        );
        return (g, eligible);
    }
    let (mut entries, eligible) = both_sides(
        n_left + n_right,
        columns(&key.left, n_left, left_ok, 0),
        columns(&key.right, n_right, right_ok, RIGHT_BIT),
    );
    entries.par_sort_unstable();
    let g = collect(
        &entries,
        |e| e.0,
        |e| e.1,
        |run, g| {
            // Verify the full key: split a run whose keys differ (a 64-bit
            // hash collision).
            let mut members: Vec<(Vec<u32>, u32)> =
                run.iter().map(|x| (key.key_of(x.1), x.1)).collect();
            members.sort_unstable();
            for grp in members.chunk_by(|a, b| a.0 == b.0) {
                g.push(grp.iter().map(|m| m.1));
            }
        },
    );
    (g, eligible)
}

/// Both sides' entries, lefts first, with how many each side gave.
fn both_sides<T: Send>(
    capacity: usize,
    left: impl ParallelIterator<Item = T>,
    right: impl ParallelIterator<Item = T>,
) -> (Vec<T>, Eligible) {
    let mut entries = Vec::with_capacity(capacity);
    entries.par_extend(left);
    let lefts = entries.len() as u64;
    entries.par_extend(right);
    let eligible = Eligible {
        left: lefts,
        right: entries.len() as u64 - lefts,
    };
    (entries, eligible)
}

/// Entries `id << 32 | member` of one side's records with a key allowed by
/// `ok`; `bit` marks the side.
fn one_column<'a>(
    col: &'a [u32],
    ok: &'a (dyn Fn(usize) -> bool + Sync),
    bit: u32,
) -> impl ParallelIterator<Item = u64> + 'a {
    col.par_iter()
        .enumerate()
        .filter(move |&(i, &v)| v != NONE && ok(i))
        .map(move |(i, &v)| u64::from(v) << 32 | u64::from(i as u32 | bit))
}

/// Entries `(hash, member)` of one side's first `n` records with a complete
/// key allowed by `ok`; `bit` marks the side.
fn columns<'a>(
    cols: &'a [&'a [u32]],
    n: usize,
    ok: &'a (dyn Fn(usize) -> bool + Sync),
    bit: u32,
) -> impl ParallelIterator<Item = (u64, u32)> + 'a {
    (0..n as u32)
        .into_par_iter()
        .filter(move |&i| ok(i as usize))
        .filter_map(move |i| KeyColumns::hash(cols, i as usize).map(|h| (h, i | bit)))
}

/// The groups of `entries`, sorted by (hash, member): each run of equal
/// hash with members on both sides goes to `add`. Runs are found and added
/// in parallel, in pieces that start at a run's start, and joined in order.
fn collect<E: Sync>(
    entries: &[E],
    hash: impl Fn(&E) -> u64 + Sync,
    member: impl Fn(&E) -> u32 + Sync,
    add: impl Fn(&[E], &mut Groups) + Sync,
) -> Groups {
    let pieces = (entries.len() / (1 << 16)).clamp(1, 256);
    let mut cuts: Vec<usize> = (0..=pieces).map(|k| k * entries.len() / pieces).collect();
    for c in &mut cuts[1..pieces] {
        while *c > 0 && *c < entries.len() && hash(&entries[*c]) == hash(&entries[*c - 1]) {
            *c += 1;
        }
    }
    let parts: Vec<Groups> = cuts
        .par_windows(2)
        .map(|w| {
            let mut g = Groups::default();
            let piece = &entries[w[0].min(w[1])..w[1]];
            for run in piece.chunk_by(|a, b| hash(a) == hash(b)) {
                // Sorted by (hash, member): lefts first, rights last.
                if run.len() > 1
                    && member(&run[0]) & RIGHT_BIT == 0
                    && member(&run[run.len() - 1]) & RIGHT_BIT != 0
                {
                    add(run, &mut g);
                }
            }
            g
        })
        .collect();
    let mut all = Groups::default();
    all.left.reserve(parts.iter().map(|p| p.left.len()).sum());
    all.right.reserve(parts.iter().map(|p| p.right.len()).sum());
    all.ends.reserve(parts.iter().map(|p| p.ends.len()).sum());
    for p in parts {
        all.append(p);
    }
    all
}
