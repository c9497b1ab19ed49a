//! The comparison loop: a record pair to a pattern of levels, and its
//! weight. This is the hot path of probabilistic linkage.

use rayon::prelude::*;

use crate::bloom::{common_ones, dice_of};
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

struct Cond {
    equal: Vec<(usize, usize)>,
    dice: Option<(usize, usize, usize)>,
    at_least: f64,
}

struct Compiled {
    null: Vec<(usize, usize)>,
    levels: Vec<Cond>,
}

/// Term frequencies of one comparison's token column.
pub struct TfTable {
    left: usize,
    right: usize,
    /// Relative frequency of each token id among both files' records.
    freq: Vec<f64>,
}

/// The columns one side needs, packed row by row: a record's values sit
/// together in memory, so comparing a pair touches a cache line or two
/// per record instead of one per column.
struct Rows {
    width: usize,
    values: Vec<u32>,
}

impl Rows {
    fn new(cols: &[&[u32]], n: usize) -> Rows {
        /// Rows packed per task.
        const CHUNK: usize = 4096;
        let width = cols.len();
        let mut values = vec![NONE; n * width];
        if width > 0 {
            // Row by row, each task its own rows: the output is written
            // once, in order (column by column it was written `width`
            // times over, a stride apart).
            values
                .par_chunks_mut(width * CHUNK)
                .enumerate()
                .for_each(|(chunk, out)| {
                    for (k, row) in out.chunks_exact_mut(width).enumerate() {
                        let i = chunk * CHUNK + k;
                        for (v, c) in row.iter_mut().zip(cols) {
                            *v = c.get(i).copied().unwrap_or(NONE);
                        }
                    }
                });
        }
        Rows { width, values }
    }

    #[inline]
    fn row(&self, i: usize) -> &[u32] {
        &self.values[i * self.width..(i + 1) * self.width]
    }
}

/// A filter pair's Dice coefficient, or only a bound on it while no
/// threshold has needed more. Two filters with `p` and `q` ones share at
/// most `min(p, q)` bits, so their Dice is at most `2 min(p, q) / (p + q)`:
/// below a level's threshold, that level fails without counting the bits
/// they share.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Dice {
    value: f64,
    exact: bool,
}

impl Dice {
    fn exact(value: f64) -> Dice {
        Dice { value, exact: true }
    }

    /// What the filters' counts of ones alone say.
    fn bound(p: u32, q: u32) -> Dice {
        Dice {
            value: dice_of(p.min(q), p + q),
            exact: p + q == 0,
        }
    }

    /// Exact enough to compare with `at_least`: the bound if it already
    /// falls below, else the exact value from `compute`.
    fn enough_for(self, at_least: f64, compute: impl FnOnce() -> f64) -> Dice {
        if self.exact || self.value < at_least {
            self
        } else {
            Dice::exact(compute())
        }
    }
}

/// Comparisons compiled against two loaded files.
pub struct Comparer<'a> {
    comps: Vec<Compiled>,
    blooms: Vec<&'a BloomDict>,
    left: Rows,
    right: Rows,
    /// Term-frequency tables, per comparison.
    pub tf: Vec<Option<TfTable>>,
}

/// Column indices on one side, by name.
struct Columns<'a> {
    names: Vec<String>,
    data: Vec<&'a [u32]>,
    dataset: &'a Dataset,
}

impl<'a> Columns<'a> {
    fn index(&mut self, name: &str) -> usize {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return i;
        }
        let col = self.dataset.column(name).expect("loaded");
        let ids = col
            .token_ids()
            .or_else(|| col.bloom_ids())
            .expect("token or Bloom column");
        self.names.push(name.to_string());
        self.data.push(ids);
        self.names.len() - 1
    }
}

impl<'a> Comparer<'a> {
    /// Compiles `specs` (columns already checked and loaded).
    pub fn new(
        specs: &[ComparisonSpec],
        left: &'a Dataset,
        right: &'a Dataset,
        dicts: &'a Dictionaries,
    ) -> Comparer<'a> {
        let mut lc = Columns {
            names: Vec::new(),
            data: Vec::new(),
            dataset: left,
        };
        let mut rc = Columns {
            names: Vec::new(),
            data: Vec::new(),
            dataset: right,
        };
        let mut blooms: Vec<&'a BloomDict> = Vec::new();
        let mut comps = Vec::new();
        let mut tf_cols = Vec::new();
        for s in specs {
            let mut pair = |k: &KeyPart| (lc.index(k.left()), rc.index(k.right()));
            let null = s.null_columns().iter().map(&mut pair).collect();
            let mut levels = Vec::new();
            for l in &s.levels {
                let equal = l.equal.iter().map(&mut pair).collect();
                let dice = l.dice.as_ref().map(|k| {
                    let (a, b) = pair(k);
                    let domain = left
                        .column(k.left())
                        .and_then(|c| c.domain())
                        .expect("encoded")
                        .to_string();
                    let dict = &dicts.blooms[&domain];
                    let idx = blooms
                        .iter()
                        .position(|b| std::ptr::eq(*b, dict))
                        .unwrap_or_else(|| {
                            blooms.push(dict);
                            blooms.len() - 1
                        });
                    (a, b, idx)
                });
                levels.push(Cond {
                    equal,
                    dice,
                    at_least: l.at_least.unwrap_or(0.0),
                });
            }
            comps.push(Compiled { null, levels });
            tf_cols.push(s.tf.as_ref().map(|col| pair(&KeyPart::Same(col.clone()))));
        }
        let (ld, rd) = (&lc.data, &rc.data);
        let tf = tf_cols
            .into_par_iter()
            .map(|c| {
                c.map(|(jl, jr)| {
                    let (l, r) = (ld[jl], rd[jr]);
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
                        left: jl,
                        right: jr,
                        freq: counts
                            .iter()
                            .map(|&c| c as f64 / total.max(1) as f64)
                            .collect(),
                    }
                })
            })
            .collect();
        Comparer {
            comps,
            blooms,
            left: Rows::new(&lc.data, left.len()),
            right: Rows::new(&rc.data, right.len()),
            tf,
        }
    }

    /// Number of comparisons.
    pub fn len(&self) -> usize {
        self.comps.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.comps.is_empty()
    }

    /// Relative frequency of the value a pair agrees on in comparison
    /// `c`'s term-frequency column, if it has one and they agree.
    #[inline]
    pub fn tf_freq(&self, c: usize, l: usize, r: usize) -> Option<f64> {
        let t = self.tf[c].as_ref()?;
        let a = self.left.row(l)[t.left];
        (a != NONE && a == self.right.row(r)[t.right]).then(|| t.freq[a as usize])
    }

    /// The level of comparison `c` for the pair: `0..` for the levels in
    /// order, `levels` for `else`, [`NULL_LEVEL`] when null.
    #[inline]
    pub fn level(&self, c: usize, l: usize, r: usize) -> u8 {
        self.level_rows(c, self.left.row(l), self.right.row(r))
    }

    #[inline]
    fn level_rows(&self, c: usize, lrow: &[u32], rrow: &[u32]) -> u8 {
        let comp = &self.comps[c];
        for &(a, b) in &comp.null {
            if lrow[a] == NONE || rrow[b] == NONE {
                return NULL_LEVEL;
            }
        }
        // Levels usually test the same filter pair at falling thresholds:
        // its Dice is worked out once, and only as far as needed.
        let mut last_dice: Option<(usize, usize, Dice)> = None;
        'levels: for (k, cond) in comp.levels.iter().enumerate() {
            for &(a, b) in &cond.equal {
                let x = lrow[a];
                if x == NONE || x != rrow[b] {
                    continue 'levels;
                }
            }
            if let Some((a, b, dict)) = cond.dice {
                let (x, y) = (lrow[a], rrow[b]);
                if x == NONE || y == NONE {
                    continue;
                }
                let bd = self.blooms[dict];
                let known = match last_dice {
                    Some((pa, pb, d)) if pa == a && pb == b => d,
                    _ if x == y => Dice::exact(1.0),
                    _ => Dice::bound(bd.ones(x), bd.ones(y)),
                };
                let d = known.enough_for(cond.at_least, || {
                    dice_of(common_ones(bd.get(x), bd.get(y)), bd.ones(x) + bd.ones(y))
                });
                last_dice = Some((a, b, d));
                if d.value < cond.at_least {
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
        let (lrow, rrow) = (self.left.row(l), self.right.row(r));
        let mut p: Pattern = 0;
        for c in 0..self.comps.len() {
            p |= Pattern::from(self.level_rows(c, lrow, rrow)) << (4 * c);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bloom::{dice, ones};
    use proptest::prelude::*;

    proptest! {
        /// A threshold passes on the worked-out Dice exactly when it passes
        /// on the filters' Dice, and a value that passes is the exact one.
        #[test]
        fn dice_worked_out_as_far_as_needed_decides_as_dice_does(
            a in prop::collection::vec(any::<u64>().prop_map(|w| w & w >> 3), 4),
            b in prop::collection::vec(any::<u64>().prop_map(|w| w & w >> 1), 4),
            at_least in 0.0f64..1.0,
        ) {
            let want = dice(&a, &b);
            let d = Dice::bound(ones(&a), ones(&b)).enough_for(at_least, || want);
            prop_assert_eq!(d.value >= at_least, want >= at_least);
            prop_assert!(d.value >= want);
            if d.value >= at_least {
                prop_assert_eq!(d, Dice::exact(want));
            }
        }
    }
}
