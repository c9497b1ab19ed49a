//! Grouping records of two files by equal key values: the join at the heart
//! of both match-key cascades and blocking.
//!
//! A one-column key is its interned id. Ids are small, so each side's
//! first member of an id sits in an array indexed by id, and groups are
//! opened at their first left member without sorting; where ids repeat a
//! lot or are sparse, entries `id << 32 | record` are sorted instead. A key
//! of several columns (a tuple of ids) becomes a 64-bit hash with the
//! record; entries whose hash has no partner on the other side (a bit
//! filter of that side's hashes says so) are dropped, and the rest sorted
//! ([`bucket_sort`]); runs of equal hashes are checked column by column, so
//! a hash collision can never join two records whose keys differ.

use std::ops::Range;

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

    /// Column `c` of entry `e`'s record.
    #[inline]
    fn value(&self, c: usize, e: u32) -> u32 {
        if e & RIGHT_BIT == 0 {
            self.left[c][e as usize]
        } else {
            self.right[c][(e & !RIGHT_BIT) as usize]
        }
    }

    /// Whether entries `a` and `b` have the same key.
    #[inline]
    fn same_key(&self, a: u32, b: u32) -> bool {
        (0..self.left.len()).all(|c| self.value(c, a) == self.value(c, b))
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
        self.close(l0, r0);
    }

    /// Ends the group whose members were added since `left` had `l0`
    /// and `right` had `r0`; drops them unless both sides have some.
    fn close(&mut self, l0: usize, r0: usize) {
        if self.left.len() == l0 || self.right.len() == r0 {
            self.left.truncate(l0);
            self.right.truncate(r0);
        } else {
            self.ends
                .push((self.left.len() as u32, self.right.len() as u32));
        }
    }

    /// The groups with only the members `left_ok` and `right_ok` allow,
    /// those left with members on both sides, in the same order: the
    /// groups [`groups`] would form over the allowed records alone.
    pub fn retain(
        &self,
        left_ok: &(dyn Fn(u32) -> bool + Sync),
        right_ok: &(dyn Fn(u32) -> bool + Sync),
    ) -> Groups {
        let parts: Vec<Groups> = pieces(self.len(), 14)
            .map(|range| {
                let mut g = Groups::default();
                for x in range.map(|i| self.get(i)) {
                    let (l0, r0) = (g.left.len(), g.right.len());
                    g.left.extend(x.left.iter().filter(|&&m| left_ok(m)));
                    g.right.extend(x.right.iter().filter(|&&m| right_ok(m)));
                    g.close(l0, r0);
                }
                g
            })
            .collect();
        concat(parts)
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
/// each side, in a deterministic order (by key hash, or for a one-column
/// key by id or by first left member), considering only records for which
/// `left_ok`/`right_ok` hold.
pub fn groups(
    key: &KeyColumns<'_>,
    n_left: usize,
    n_right: usize,
    left_ok: &(dyn Fn(usize) -> bool + Sync),
    right_ok: &(dyn Fn(usize) -> bool + Sync),
) -> (Groups, Eligible) {
    assert!(n_left < RIGHT_BIT as usize && n_right < RIGHT_BIT as usize);
    if let ([l], [r]) = (&key.left[..], &key.right[..]) {
        let (l, r) = (&l[..n_left], &r[..n_right]);
        if let Some(found) = one_column_direct(l, r, left_ok, right_ok, (l.len() + r.len()) / 8) {
            return found;
        }
        return one_column_sorted(l, r, left_ok, right_ok);
    }
    // A semi-join first: only entries whose hash may have a partner on the
    // other side are sorted (most records of a name key have none).
    let mut right: Vec<(u64, u32)> = Vec::new();
    right.par_extend(columns(&key.right, n_right, right_ok, RIGHT_BIT));
    let on_right = HashFilter::of(&right);
    // Left entries as `columns` makes them, counted and filtered in one
    // pass over fixed pieces (a `fold` over `columns` measured 0.05 s
    // slower on the 1M link's cascade).
    let parts: Vec<(Vec<(u64, u32)>, u64)> = pieces(n_left, 16)
        .map(|range| {
            let (mut kept, mut eligible) = (Vec::new(), 0u64);
            for i in range {
                if !left_ok(i) {
                    continue;
                }
                if let Some(h) = KeyColumns::hash(&key.left, i) {
                    eligible += 1;
                    if on_right.may_hold(h) {
                        kept.push((h, i as u32));
                    }
                }
            }
            (kept, eligible)
        })
        .collect();
    let eligible = Eligible {
        left: parts.iter().map(|p| p.1).sum(),
        right: right.len() as u64,
    };
    let mut entries: Vec<(u64, u32)> = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
    for (kept, _) in parts {
        entries.extend(kept);
    }
    let on_left = HashFilter::of(&entries);
    entries.par_extend(right.par_iter().filter(|e| on_left.may_hold(e.0)));
    drop(right);
    bucket_sort(&mut entries, |e| e.0, SMALL_SORT);
    let g = collect(
        &entries,
        |e| e.0,
        |e| e.1,
        |run, g| add_verified(key, run.iter().map(|x| x.1), g),
    );
    (g, eligible)
}

/// One bit for each of `2^k` slices of the 64-bit hash space, set for the
/// slices some entry's hash falls in: an entry whose slice is clear on the
/// other side has no partner there. A set bit may still be a near miss;
/// runs without members on both sides are dropped when collected anyway.
struct HashFilter {
    words: Vec<u64>,
    shift: u32,
}

impl HashFilter {
    /// The filter of `entries`' hashes: four to eight bits per entry (so
    /// about an eighth to a fifth of them set), at least 2^16 and at most
    /// 2^30.
    fn of(entries: &[(u64, u32)]) -> HashFilter {
        let bits = (entries.len() * 4)
            .next_power_of_two()
            .clamp(1 << 16, 1 << 30);
        let shift = u64::BITS - bits.trailing_zeros();
        let build = |part: &[(u64, u32)]| {
            let mut words = vec![0u64; bits / 64];
            for &(h, _) in part {
                let b = h >> shift;
                words[(b >> 6) as usize] |= 1 << (b & 63);
            }
            words
        };
        // A table per part, OR-ed together: at most four parts, so that
        // a machine of many cores does not hold a table per core.
        let parts = rayon::current_num_threads().clamp(1, 4);
        let per = entries.len().div_ceil(parts).max(1 << 14);
        let words = entries
            .par_chunks(per)
            .map(build)
            .reduce_with(|mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x |= y);
                a
            })
            .unwrap_or_else(|| build(&[]));
        HashFilter { words, shift }
    }

    #[inline]
    fn may_hold(&self, h: u64) -> bool {
        let b = h >> self.shift;
        self.words[(b >> 6) as usize] >> (b & 63) & 1 != 0
    }
}

/// Adds the members of a run of equal key hashes as groups, verifying the
/// full key: a run whose keys differ (a 64-bit hash collision) is split.
/// Nearly always every member has the first's key.
fn add_verified(key: &KeyColumns<'_>, run: impl Iterator<Item = u32> + Clone, g: &mut Groups) {
    let mut all = run.clone();
    let first = all.next().expect("a run has members");
    if all.all(|e| key.same_key(first, e)) {
        g.push(run);
        return;
    }
    let mut members: Vec<(Vec<u32>, u32)> = run.map(|e| (key.key_of(e), e)).collect();
    members.sort_unstable();
    for grp in members.chunk_by(|a, b| a.0 == b.0) {
        g.push(grp.iter().map(|m| m.1));
    }
}

/// One-column groups by sorting: an entry `id << 32 | member` is one
/// `u64`, half the bytes of a hashed entry. Groups come in id order.
fn one_column_sorted(
    l: &[u32],
    r: &[u32],
    left_ok: &(dyn Fn(usize) -> bool + Sync),
    right_ok: &(dyn Fn(usize) -> bool + Sync),
) -> (Groups, Eligible) {
    let (mut entries, eligible) = both_sides(
        l.len() + r.len(),
        one_column(l, left_ok, 0),
        one_column(r, right_ok, RIGHT_BIT),
    );
    bucket_sort(&mut entries, |e| *e, SMALL_SORT);
    let g = collect(
        &entries,
        |e| e >> 32,
        |e| *e as u32,
        |run, g| {
            g.push(run.iter().map(|e| *e as u32));
        },
    );
    (g, eligible)
}

/// Marks a [`First`] entry whose id has more than one member.
const MANY: u32 = 1 << 31;

/// Per id, the first eligible member of one side (`| MANY` if it has
/// more), and the entries `id << 32 | member` of the others, sorted.
struct First {
    first: Vec<u32>,
    others: Vec<u64>,
    eligible: u64,
}

impl First {
    fn new(col: &[u32], ok: &(dyn Fn(usize) -> bool + Sync), space: usize) -> First {
        // Two halves of the id space, one per core: each scans the whole
        // column and writes only its own half of `first`.
        let mut first = vec![NONE; space];
        let (lo, hi) = first.split_at_mut(space / 2);
        let half = |part: &mut [u32], base: usize| {
            let mut others = Vec::new();
            let mut eligible = 0u64;
            for (i, &v) in col.iter().enumerate() {
                // NONE lies beyond the id space, so it is skipped here too.
                let Some(k) = (v as usize).checked_sub(base).filter(|&k| k < part.len()) else {
                    continue;
                };
                if !ok(i) {
                    continue;
                }
                eligible += 1;
                let f = &mut part[k];
                if *f == NONE {
                    *f = i as u32;
                } else {
                    *f |= MANY;
                    others.push(u64::from(v) << 32 | i as u64);
                }
            }
            (others, eligible)
        };
        let (a, b) = rayon::join(|| half(lo, 0), || half(hi, space / 2));
        let mut others = a.0;
        others.extend(b.0);
        others.par_sort_unstable();
        First {
            first,
            others,
            eligible: a.1 + b.1,
        }
    }

    /// The members of id `v` after the first, ascending.
    fn others_of(&self, v: u32) -> &[u64] {
        let lo = self.others.partition_point(|e| (e >> 32) < u64::from(v));
        let hi = self.others.partition_point(|e| (e >> 32) <= u64::from(v));
        &self.others[lo..hi]
    }
}

/// One-column groups by direct addressing, in the order of each group's
/// first left member: the ids are dictionary ids, small enough to index
/// an array, so two passes replace the sort (the 10M × 10M join's
/// match-key stage went from 1.25 s to 0.70 s). `None` when ids are too
/// sparse for an array or more than `repeats` records share an id with an
/// earlier one (blocking on date of birth), where sorting is as good.
fn one_column_direct(
    l: &[u32],
    r: &[u32],
    left_ok: &(dyn Fn(usize) -> bool + Sync),
    right_ok: &(dyn Fn(usize) -> bool + Sync),
    repeats: usize,
) -> Option<(Groups, Eligible)> {
    let n = l.len() + r.len();
    let top = l
        .par_iter()
        .chain(r.par_iter())
        .filter(|&&v| v != NONE)
        .max()
        .copied();
    let space = top.map_or(0, |t| t as usize + 1);
    if space > 2 * n + 1024 {
        return None;
    }
    let (lf, rf) = rayon::join(
        || First::new(l, left_ok, space),
        || First::new(r, right_ok, space),
    );
    if lf.others.len() + rf.others.len() > repeats {
        return None;
    }
    let eligible = Eligible {
        left: lf.eligible,
        right: rf.eligible,
    };
    let parts: Vec<Groups> = pieces(l.len(), 16)
        .map(|range| {
            let mut g = Groups::default();
            for i in range {
                let v = l[i];
                if v == NONE {
                    continue;
                }
                // Only a group's first left member opens it (which also
                // skips records that are not eligible).
                let f = lf.first[v as usize];
                let rv = rf.first[v as usize];
                if f & !MANY != i as u32 || rv == NONE {
                    continue;
                }
                let (l0, r0) = (g.left.len(), g.right.len());
                g.left.push(i as u32);
                g.right.push(rv & !MANY);
                if (f | rv) & MANY != 0 {
                    g.left.extend(lf.others_of(v).iter().map(|&e| e as u32));
                    g.right.extend(rf.others_of(v).iter().map(|&e| e as u32));
                }
                g.close(l0, r0);
            }
            g
        })
        .collect();
    Some((concat(parts), eligible))
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
    concat(parts)
}

/// `len` indices cut into ranges of about `1 << shift` (1 to 256 ranges),
/// for parts built in parallel and joined in order.
pub(crate) fn pieces(len: usize, shift: u32) -> impl IndexedParallelIterator<Item = Range<usize>> {
    let n = (len >> shift).clamp(1, 256);
    (0..n)
        .into_par_iter()
        .map(move |p| p * len / n..(p + 1) * len / n)
}

/// Below this many entries, [`bucket_sort`] leaves the work to rayon's
/// sort.
const SMALL_SORT: usize = 1 << 15;

/// Sorts `v` into the order `par_sort_unstable` gives, when `key` is the
/// leading part of that order (a hash, or a dictionary id in the high
/// bits). One pass scatters the entries into buckets by the high bits of
/// their key's offset from the smallest, a thousand or so to a bucket, and
/// the buckets sort in cache, in parallel. Keys here are hashes or ids,
/// spread well enough over their range; a bucket that is not small sorts
/// in parallel itself. (Sorting the entries of a 1M link's keys had been
/// 8% of its CPU.)
pub(crate) fn bucket_sort<T: Ord + Copy + Send + Sync>(
    v: &mut Vec<T>,
    key: impl Fn(&T) -> u64 + Sync,
    small: usize,
) {
    let n = v.len();
    if n < small.max(2) {
        v.par_sort_unstable();
        return;
    }
    let (min, max) = v
        .par_iter()
        .map(|t| (key(t), key(t)))
        .reduce(|| (u64::MAX, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    let range = u64::BITS - (max - min).leading_zeros();
    let bits = (n >> 10).max(1).ilog2().clamp(1, 16).min(range);
    let shift = range - bits;
    let bucket = |t: &T| ((key(t) - min) >> shift) as usize;
    let mut starts = vec![0usize; (1 << bits) + 1];
    for t in v.iter() {
        starts[bucket(t) + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let mut out = vec![v[0]; n];
    let mut at = starts.clone();
    for t in v.iter() {
        let b = bucket(t);
        out[at[b]] = *t;
        at[b] += 1;
    }
    let mut buckets = Vec::with_capacity(1 << bits);
    let mut rest = &mut out[..];
    for w in starts.windows(2) {
        let (b, r) = rest.split_at_mut(w[1] - w[0]);
        buckets.push(b);
        rest = r;
    }
    buckets.into_par_iter().for_each(|b| {
        if b.len() > small {
            b.par_sort_unstable();
        } else {
            b.sort_unstable();
        }
    });
    *v = out;
}

/// Groups of consecutive pieces, joined in order.
fn concat(parts: Vec<Groups>) -> Groups {
    if parts.len() <= 1 {
        return parts.into_iter().next().unwrap_or_default();
    }
    // Copied in parallel into zeroed vectors, which the allocator maps
    // fresh and the copying threads fault in (a serial copy of the 10M
    // join's groups took 0.1 s).
    let total = |f: fn(&Groups) -> usize| parts.iter().map(f).sum::<usize>();
    let mut all = Groups {
        left: vec![0; total(|p| p.left.len())],
        right: vec![0; total(|p| p.right.len())],
        ends: vec![(0, 0); total(|p| p.ends.len())],
    };
    let mut places = Vec::with_capacity(parts.len());
    let (mut left, mut right, mut ends) =
        (&mut all.left[..], &mut all.right[..], &mut all.ends[..]);
    let (mut lb, mut rb) = (0u32, 0u32);
    for p in &parts {
        let (l, rest) = std::mem::take(&mut left).split_at_mut(p.left.len());
        left = rest;
        let (r, rest) = std::mem::take(&mut right).split_at_mut(p.right.len());
        right = rest;
        let (e, rest) = std::mem::take(&mut ends).split_at_mut(p.ends.len());
        ends = rest;
        places.push((l, r, e, lb, rb));
        lb += p.left.len() as u32;
        rb += p.right.len() as u32;
    }
    places
        .into_par_iter()
        .zip(parts.par_iter())
        .for_each(|((l, r, e, lb, rb), p)| {
            l.copy_from_slice(&p.left);
            r.copy_from_slice(&p.right);
            for (d, &(le, re)) in e.iter_mut().zip(&p.ends) {
                *d = (le + lb, re + rb);
            }
        });
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sorted(g: &Groups) -> Vec<(Vec<u32>, Vec<u32>)> {
        let mut v: Vec<_> = g
            .iter()
            .map(|x| (x.left.to_vec(), x.right.to_vec()))
            .collect();
        v.sort();
        v
    }

    proptest! {
        /// Parts joined (in parallel) are the groups built one after
        /// another, member offsets and all.
        #[test]
        fn concat_is_the_parts_in_order(
            parts in proptest::collection::vec(
                proptest::collection::vec(
                    (proptest::collection::vec(0u32..1000, 1..4), proptest::collection::vec(0u32..1000, 1..4)),
                    0..6,
                ),
                0..6,
            ),
        ) {
            let build = |groups: &[(Vec<u32>, Vec<u32>)], g: &mut Groups| {
                for (l, r) in groups {
                    g.push(l.iter().copied().chain(r.iter().map(|&m| m | RIGHT_BIT)));
                }
            };
            let mut want = Groups::default();
            let mut built = Vec::new();
            for p in &parts {
                build(p, &mut want);
                let mut g = Groups::default();
                build(p, &mut g);
                built.push(g);
            }
            prop_assert_eq!(concat(built), want);
        }

        /// The bucket sort gives the order of a sort, for keys spread or
        /// bunched, whatever the threshold below which it hands over.
        #[test]
        fn bucket_sort_sorts(
            v in proptest::collection::vec((any::<u64>(), any::<u32>()), 0..3000),
            bunch in 0u32..64,
            small in 0usize..100,
        ) {
            // Keys confined to their low `64 - bunch` bits, sometimes
            // all equal.
            let mut v: Vec<(u64, u32)> = v.into_iter().map(|(k, m)| (k >> bunch, m)).collect();
            let mut want = v.clone();
            want.sort_unstable();
            bucket_sort(&mut v, |e| e.0, small);
            prop_assert_eq!(v, want);
        }
    }

    #[test]
    fn bucket_sort_sorts_ids_in_the_high_bits() {
        // Entries `id << 32 | member`, as one-column keys make them, with
        // a few ids far more common than the rest.
        let mut x = 1u64;
        let mut v: Vec<u64> = (0..200_000u64)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let id = if x % 4 == 0 { x % 3 } else { x % 40_000 };
                id << 32 | i
            })
            .collect();
        let mut want = v.clone();
        want.sort_unstable();
        bucket_sort(&mut v, |e| *e, SMALL_SORT);
        assert_eq!(v, want);
    }

    /// A column of `n` ids below `space`, a share of them empty.
    fn column(n: usize, space: u32) -> impl Strategy<Value = Vec<u32>> {
        proptest::collection::vec(prop_oneof![1 => Just(NONE), 6 => 0..space], 0..n)
    }

    #[test]
    fn direct_grouping_pairs_first_members() {
        // left: ids 5, 7, 5, N, 9; right: 7, 5, 8, 5.
        let l = [5, 7, 5, NONE, 9];
        let r = [7, 5, 8, 5];
        let (g, e) = one_column_direct(&l, &r, &|_| true, &|_| true, 8).expect("dense ids");
        let got: Vec<_> = g
            .iter()
            .map(|x| (x.left.to_vec(), x.right.to_vec()))
            .collect();
        // By first left member: id 5 (left 0), then id 7 (left 1).
        assert_eq!(got, vec![(vec![0, 2], vec![1, 3]), (vec![1], vec![0])]);
        assert_eq!((e.left, e.right), (4, 4));
    }

    #[test]
    fn a_run_of_colliding_hashes_is_split_by_key() {
        // left 0: (1, 2), left 1: (1, 3); right 0: (1, 3), right 1: (1, 2).
        let (la, lb, ra, rb) = ([1, 1], [2, 3], [1, 1], [3, 2]);
        let key = KeyColumns {
            left: vec![&la, &lb],
            right: vec![&ra, &rb],
        };
        let mut g = Groups::default();
        // As if all four had hashed alike.
        add_verified(&key, [0, 1, RIGHT_BIT, RIGHT_BIT | 1].into_iter(), &mut g);
        assert_eq!(
            sorted(&g),
            vec![(vec![0], vec![1]), (vec![1], vec![0])],
            "(1,2) with (1,2), (1,3) with (1,3)"
        );
        let mut g = Groups::default();
        add_verified(&key, [0, RIGHT_BIT | 1].into_iter(), &mut g);
        assert_eq!(sorted(&g), vec![(vec![0], vec![1])]);
    }

    proptest! {
        /// Restricting groups to some records gives the groups of those
        /// records alone.
        #[test]
        fn retained_groups_are_the_groups_of_what_is_kept(
            (l, r) in (1u32..200).prop_flat_map(|space| (column(200, space), column(200, space))),
            lmask in any::<u64>(),
            rmask in any::<u64>(),
        ) {
            let lok = |i: usize| lmask >> (i % 64) & 1 == 1;
            let rok = |i: usize| rmask >> (i % 64) & 1 == 1;
            let all = |_: usize| true;
            for key in [
                KeyColumns { left: vec![&l], right: vec![&r] },
                KeyColumns { left: vec![&l, &l], right: vec![&r, &r] },
            ] {
                let (every, _) = groups(&key, l.len(), r.len(), &all, &all);
                let kept = every.retain(&|m| lok(m as usize), &|m| rok(m as usize));
                let (want, _) = groups(&key, l.len(), r.len(), &lok, &rok);
                prop_assert_eq!(sorted(&kept), sorted(&want));
            }
        }

        /// Keys of several columns group exactly the records whose whole
        /// keys agree, as a nested loop finds them, with the same counts of
        /// eligible records, whether few keys are shared (most entries
        /// filtered out before sorting) or many.
        #[test]
        fn several_columns_group_as_a_nested_loop_does(
            (l1, l2, r1, r2) in (1u32..400).prop_flat_map(|space| (
                column(300, space), column(300, 3), column(300, space), column(300, 3))),
            lmask in any::<u64>(),
            rmask in any::<u64>(),
        ) {
            let n = l1.len().min(l2.len());
            let m = r1.len().min(r2.len());
            let lok = |i: usize| lmask >> (i % 64) & 1 == 1 || i % 3 == 0;
            let rok = |i: usize| rmask >> (i % 64) & 1 == 1 || i % 5 == 0;
            let key = KeyColumns { left: vec![&l1[..n], &l2[..n]], right: vec![&r1[..m], &r2[..m]] };
            let (got, eligible) = groups(&key, n, m, &lok, &rok);
            let complete = |a: u32, b: u32| a != NONE && b != NONE;
            let mut want: std::collections::BTreeMap<(u32, u32), (Vec<u32>, Vec<u32>)> =
                std::collections::BTreeMap::new();
            for i in (0..n).filter(|&i| lok(i) && complete(l1[i], l2[i])) {
                want.entry((l1[i], l2[i])).or_default().0.push(i as u32);
            }
            for j in (0..m).filter(|&j| rok(j) && complete(r1[j], r2[j])) {
                want.entry((r1[j], r2[j])).or_default().1.push(j as u32);
            }
            let want_left = want.values().map(|g| g.0.len() as u64).sum::<u64>();
            let want_right = want.values().map(|g| g.1.len() as u64).sum::<u64>();
            let mut want: Vec<(Vec<u32>, Vec<u32>)> =
                want.into_values().filter(|g| !g.0.is_empty() && !g.1.is_empty()).collect();
            want.sort();
            prop_assert_eq!(sorted(&got), want);
            prop_assert_eq!((eligible.left, eligible.right), (want_left, want_right));
        }

        /// Direct addressing finds exactly the groups the sort finds,
        /// members ascending, whatever the eligibility.
        #[test]
        fn direct_grouping_equals_sorting(
            (l, r) in (1u32..1500).prop_flat_map(|space| (column(300, space), column(300, space))),
            lmask in any::<u64>(),
            rmask in any::<u64>(),
        ) {
            let lok = |i: usize| lmask >> (i % 64) & 1 == 1 || i % 3 == 0;
            let rok = |i: usize| rmask >> (i % 64) & 1 == 1 || i % 5 == 0;
            let (want, we) = one_column_sorted(&l, &r, &lok, &rok);
            // The direct path whatever the share of repeated ids (`None`
            // only for ids too sparse for an array).
            if let Some((got, ge)) = one_column_direct(&l, &r, &lok, &rok, usize::MAX) {
                prop_assert_eq!(sorted(&got), sorted(&want));
                for x in got.iter() {
                    prop_assert!(x.left.windows(2).all(|w| w[0] < w[1]));
                    prop_assert!(x.right.windows(2).all(|w| w[0] < w[1]));
                }
                prop_assert_eq!((ge.left, ge.right), (we.left, we.right));
            }
            let (via, _) = groups(
                &KeyColumns { left: vec![&l], right: vec![&r] },
                l.len(),
                r.len(),
                &lok,
                &rok,
            );
            prop_assert_eq!(sorted(&via), sorted(&want));
        }
    }
}
