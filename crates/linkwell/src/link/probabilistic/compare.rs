//! The comparison loop: a record pair to a pattern of levels, and its
//! weight. This is the hot path of probabilistic linkage.

use crate::bloom::common_ones;
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
        let width = cols.len();
        let mut values = vec![NONE; n * width];
        for (j, c) in cols.iter().enumerate() {
            for (i, &v) in c.iter().enumerate() {
                values[i * width + j] = v;
            }
        }
        Rows { width, values }
    }

    #[inline]
    fn row(&self, i: usize) -> &[u32] {
        &self.values[i * self.width..(i + 1) * self.width]
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
        let tf = tf_cols
            .into_iter()
            .map(|c| {
                c.map(|(jl, jr)| {
                    let (l, r) = (lc.data[jl], rc.data[jr]);
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
        // its Dice is worked out once, and only when needed. Two filters
        // with `p` and `q` ones have Dice at most `2 min(p, q) / (p + q)`:
        // below a level's threshold, that level fails without counting the
        // bits the filters share. (filter columns, Dice or its bound, exact)
        let mut last_dice: Option<(usize, usize, f64, bool)> = None;
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
                let (d, exact) = match last_dice {
                    Some((pa, pb, v, e)) if pa == a && pb == b => (v, e),
                    _ if x == y => (1.0, true),
                    _ => {
                        let (p, q) = (bd.ones(x), bd.ones(y));
                        let total = p + q;
                        if total == 0 {
                            (0.0, true)
                        } else {
                            (f64::from(2 * p.min(q)) / f64::from(total), false)
                        }
                    }
                };
                let (d, exact) = if exact || d < cond.at_least {
                    (d, exact)
                } else {
                    let total = bd.ones(x) + bd.ones(y);
                    let both = common_ones(bd.get(x), bd.get(y));
                    (f64::from(2 * both) / f64::from(total), true)
                };
                last_dice = Some((a, b, d, exact));
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
