//! The comparison loop: a record pair to a pattern of levels, and its
//! weight. This is the hot path of probabilistic linkage.

use crate::bloom::dice;
use crate::link::data::{BloomDict, Dataset, Dictionaries, NONE};
use crate::link::keys::KeyColumns;
use crate::link::KeyPart;

use super::model::{ComparisonSpec, NULL_LEVEL};

/// A pattern: 4 bits per comparison, comparison `c` in bits `4c..4c+4`.
pub type Pattern = u128;

/// The level of comparison `c` in a pattern.
#[inline]
pub fn level_of(p: Pattern, c: usize) -> u8 {
    ((p >> (4 * c)) & 0xf) as u8
}

struct Cond<'a> {
    equal: Vec<(&'a [u32], &'a [u32])>,
    dice: Option<(&'a [u32], &'a [u32], usize)>,
    at_least: f64,
}

struct Compiled<'a> {
    null: Vec<(&'a [u32], &'a [u32])>,
    levels: Vec<Cond<'a>>,
}

/// Term frequencies of one comparison's token column.
pub struct TfTable<'a> {
    left: &'a [u32],
    right: &'a [u32],
    /// Relative frequency of each token id among both files' records.
    freq: Vec<f64>,
}

impl TfTable<'_> {
    /// Relative frequency of the value the left record has.
    #[inline]
    pub fn freq_of_pair(&self, l: usize, r: usize) -> Option<f64> {
        let a = self.left[l];
        (a != NONE && a == self.right[r]).then(|| self.freq[a as usize])
    }
}

/// Comparisons compiled against two loaded files.
pub struct Comparer<'a> {
    comps: Vec<Compiled<'a>>,
    blooms: Vec<&'a BloomDict>,
    /// Term-frequency tables, per comparison.
    pub tf: Vec<Option<TfTable<'a>>>,
}

fn tokens<'a>(d: &'a Dataset, col: &str) -> &'a [u32] {
    d.tokens(col)
}

impl<'a> Comparer<'a> {
    /// Compiles `specs` (columns already checked and loaded).
    pub fn new(
        specs: &[ComparisonSpec],
        left: &'a Dataset,
        right: &'a Dataset,
        dicts: &'a Dictionaries,
    ) -> Comparer<'a> {
        let mut blooms: Vec<&'a BloomDict> = Vec::new();
        let mut bloom_index = |k: &KeyPart| -> (&'a [u32], &'a [u32], usize) {
            let lc = left.column(k.left()).expect("loaded");
            let domain = lc.domain().expect("encoded").to_string();
            let dict = &dicts.blooms[&domain];
            let idx = blooms
                .iter()
                .position(|b| std::ptr::eq(*b, dict))
                .unwrap_or_else(|| {
                    blooms.push(dict);
                    blooms.len() - 1
                });
            (
                lc.bloom_ids().expect("bloom column"),
                right
                    .column(k.right())
                    .and_then(|c| c.bloom_ids())
                    .expect("bloom column"),
                idx,
            )
        };
        let mut comps = Vec::new();
        let mut tf = Vec::new();
        for s in specs {
            let pair = |k: &KeyPart| (tokens(left, k.left()), tokens(right, k.right()));
            let null = s
                .null_columns()
                .iter()
                .map(|k| {
                    // Null columns may be Bloom columns (a comparison of
                    // filters only).
                    match left.column(k.left()).and_then(|c| c.bloom_ids()) {
                        Some(l) => (
                            l,
                            right
                                .column(k.right())
                                .and_then(|c| c.bloom_ids())
                                .expect("bloom column"),
                        ),
                        None => pair(k),
                    }
                })
                .collect();
            let levels = s
                .levels
                .iter()
                .map(|l| Cond {
                    equal: l.equal.iter().map(pair).collect(),
                    dice: l.dice.as_ref().map(&mut bloom_index),
                    at_least: l.at_least.unwrap_or(0.0),
                })
                .collect();
            comps.push(Compiled { null, levels });
            tf.push(s.tf.as_ref().map(|col| {
                let (l, r) = (tokens(left, col), tokens(right, col));
                let max = l
                    .iter()
                    .chain(r)
                    .filter(|&&v| v != NONE)
                    .max()
                    .map_or(0, |&m| m as usize + 1);
                let mut counts = vec![0u64; max];
                let mut total = 0u64;
                for &v in l.iter().chain(r) {
                    if v != NONE {
                        counts[v as usize] += 1;
                        total += 1;
                    }
                }
                TfTable {
                    left: l,
                    right: r,
                    freq: counts
                        .iter()
                        .map(|&c| c as f64 / total.max(1) as f64)
                        .collect(),
                }
            }));
        }
        Comparer { comps, blooms, tf }
    }

    /// Number of comparisons.
    pub fn len(&self) -> usize {
        self.comps.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.comps.is_empty()
    }

    /// The level of comparison `c` for the pair: `0..` for the levels in
    /// order, `levels` for `else`, [`NULL_LEVEL`] when null.
    #[inline]
    pub fn level(&self, c: usize, l: usize, r: usize) -> u8 {
        let comp = &self.comps[c];
        for (a, b) in &comp.null {
            if a[l] == NONE || b[r] == NONE {
                return NULL_LEVEL;
            }
        }
        // Levels usually test the same filter pair at falling thresholds:
        // compute its Dice once.
        let mut last_dice: Option<(*const u32, *const u32, f64)> = None;
        'levels: for (k, cond) in comp.levels.iter().enumerate() {
            for (a, b) in &cond.equal {
                let x = a[l];
                if x == NONE || x != b[r] {
                    continue 'levels;
                }
            }
            if let Some((a, b, dict)) = cond.dice {
                let (x, y) = (a[l], b[r]);
                if x == NONE || y == NONE {
                    continue;
                }
                let d = match last_dice {
                    Some((pa, pb, v)) if pa == a.as_ptr() && pb == b.as_ptr() => v,
                    _ => {
                        let v = if x == y {
                            1.0
                        } else {
                            let bd = self.blooms[dict];
                            dice(bd.get(x), bd.get(y))
                        };
                        last_dice = Some((a.as_ptr(), b.as_ptr(), v));
                        v
                    }
                };
                if d < cond.at_least {
                    continue;
                }
            }
            return k as u8;
        }
        comp.levels.len() as u8
    }

    /// The pattern of a pair.
    #[inline]
    pub fn pattern(&self, l: usize, r: usize) -> Pattern {
        let mut p: Pattern = 0;
        for c in 0..self.comps.len() {
            p |= Pattern::from(self.level(c, l, r)) << (4 * c);
        }
        p
    }
}

/// Whether an earlier blocking rule also produced this pair (so a later
/// rule skips it, and each candidate pair is compared once).
#[inline]
pub fn blocked_earlier(rules: &[KeyColumns<'_>], before: usize, l: usize, r: usize) -> bool {
    rules[..before].iter().any(|k| k.matches(l, r))
}
