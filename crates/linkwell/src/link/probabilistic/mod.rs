//! Probabilistic linkage on encoded data: Fellegi–Sunter with blocking,
//! u from random pairs, m by EM, term-frequency adjustment, and a weight
//! that explains itself comparison by comparison.
//!
//! For a candidate pair with comparison levels `γ`, the match weight is
//!
//! ```text
//! w = log2(λ / (1 − λ)) + Σ_c log2(m_c[γ_c] / u_c[γ_c]) + Σ_c tf_c
//! ```
//!
//! where a null comparison contributes nothing and `tf_c`, for agreement on
//! a token with term-frequency adjustment, is `log2(u_c[exact] /
//! max(f(v), tf_minimum_u))` for the agreed value's relative frequency
//! `f(v)`. The match probability is `2^w / (1 + 2^w)`.
//!
//! Training follows Splink: `u` from a seeded random sample of pairs; `m`
//! by EM over blocked pairs, one session per training blocking rule, in
//! which comparisons that read the rule's columns are neither trained nor
//! used (every pair agrees on them by construction); each comparison's `m`
//! is the mean over the sessions that trained it. The prior `λ` is
//! estimated by EM over all candidate pairs with `m` and `u` fixed.
//!
//! Training compares at most about `em_max_pairs` of a rule's pairs: beyond
//! that, a sample chosen by a seeded hash of the pair, each compared pair
//! standing for `pairs / em_max_pairs` in the prior's counts. Scoring
//! compares every candidate pair.

pub mod compare;
pub mod model;

use std::collections::HashMap;

use rayon::prelude::*;

use self::compare::{blocked_earlier, level_of, Comparer, Pattern};
use self::model::{
    BlockingCount, ComparisonParams, EmIteration, ModelSpec, Prior, TrainedModel, MODEL_FORMAT,
    MODEL_FORMAT_VERSION, NULL_LEVEL,
};
use super::data::{Dataset, Dictionaries};
use super::keys::{self, Groups, KeyColumns};
use super::{check_comparable, Cardinality, KeyPart, LinkError};

/// Distinct patterns and how many pairs have each, sorted by pattern.
type PatternCounts = Vec<(Pattern, u64)>;

/// Patterns are our own small integers, not attacker-chosen: the memos'
/// multiply-xorshift hasher serves.
type PatternMap<V = u64> =
    HashMap<Pattern, V, std::hash::BuildHasherDefault<crate::memo::KeyHasher>>;

/// One blocking rule's pairs as training compared them.
struct RulePatterns {
    /// Patterns of the compared pairs, for EM on this rule (only the new
    /// ones when no session trains on it).
    all: PatternCounts,
    /// Patterns of the compared pairs no earlier rule produced.
    new: PatternCounts,
    /// How many of the rule's pairs no earlier rule produced (all of them
    /// counted, compared or not).
    new_pairs: u64,
    /// How many pairs were compared.
    compared: u64,
    /// How many pairs each compared pair stands for: 1, or `population /
    /// em_max_pairs` when a sample was compared.
    scale: f64,
}

/// A pair's place in a rule's training sample: a hash of the seed, the rule
/// and the two records, so that the sample depends on nothing else (not on
/// threads or block order).
#[inline]
fn pair_hash(seed: u64, rule: usize, l: usize, r: usize) -> u64 {
    let pair = ((l as u64) << 32) | (r as u64 & 0xFFFF_FFFF);
    mix64(
        seed ^ (rule as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ pair.wrapping_mul(0xD6E8_FEB8_6659_FD93),
    )
}

/// Smallest m or u probability used in a weight.
const FLOOR: f64 = 1e-9;

/// Checks every column the model reads exists and compares across files.
///
/// # Errors
/// [`LinkError::MissingColumn`] or [`LinkError::Incomparable`].
pub fn check_model(
    spec: &ModelSpec,
    left_path: &std::path::Path,
    left: &crate::manifest::Manifest,
    right_path: &std::path::Path,
    right: &crate::manifest::Manifest,
) -> Result<(), LinkError> {
    for c in &spec.comparisons {
        for k in c.columns() {
            check_comparable(
                &format!("comparison {:?}", c.name),
                left_path,
                left,
                k.left(),
                right_path,
                right,
                k.right(),
            )?;
        }
        if let Some(t) = &c.tf {
            check_comparable(
                &format!("comparison {:?} (tf)", c.name),
                left_path,
                left,
                t,
                right_path,
                right,
                t,
            )?;
        }
    }
    for b in &spec.blocking {
        for k in &b.keys {
            let context = format!("blocking rule {:?}", b.name);
            check_comparable(
                &context,
                left_path,
                left,
                k.left(),
                right_path,
                right,
                k.right(),
            )?;
            crate::link::check_exact_key(&context, left, right, k)?;
        }
    }
    for c in &spec.comparisons {
        for l in &c.levels {
            for k in &l.equal {
                crate::link::check_exact_key(&format!("comparison {:?}", c.name), left, right, k)?;
            }
            if let Some(k) = &l.dice {
                let info = crate::link::encoded_column(left, left_path, k.left())?;
                if info.encoding.as_deref() != Some("bloom") {
                    return Err(LinkError::Incomparable {
                        context: format!("comparison {:?}", c.name),
                        left: k.left().into(),
                        right: k.right().into(),
                        reason: "`dice` needs Bloom-filter columns (encoding bloom)".into(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The columns each side needs loaded for a model.
pub fn needed_columns(spec: &ModelSpec) -> (Vec<String>, Vec<String>) {
    let mut parts: Vec<KeyPart> = Vec::new();
    for c in &spec.comparisons {
        parts.extend(c.columns());
        if let Some(t) = &c.tf {
            parts.push(KeyPart::Same(t.clone()));
        }
    }
    for b in &spec.blocking {
        parts.extend(b.keys.iter().cloned());
    }
    let mut l: Vec<String> = Vec::new();
    let mut r: Vec<String> = Vec::new();
    for p in parts {
        if !l.iter().any(|c| c == p.left()) {
            l.push(p.left().into());
        }
        if !r.iter().any(|c| c == p.right()) {
            r.push(p.right().into());
        }
    }
    (l, r)
}

/// A model made ready against two loaded files.
pub struct Prepared<'a> {
    spec: &'a ModelSpec,
    /// The compiled comparisons.
    pub comparer: Comparer<'a>,
    blocking: Vec<KeyColumns<'a>>,
    left: &'a Dataset,
    right: &'a Dataset,
    left_ok: Vec<bool>,
    right_ok: Vec<bool>,
    groups: Vec<Groups>,
}

/// Progress messages from training.
pub type Report<'a> = &'a (dyn Fn(&str) + Sync);

impl<'a> Prepared<'a> {
    /// Compiles the model and forms the blocks. `left_ok`/`right_ok` say
    /// which records take part (a cascade leaves out those already linked).
    ///
    /// # Errors
    /// [`LinkError::Invalid`] when the blocking rules would compare more
    /// pairs than `settings.max_pairs`, with the count per rule.
    pub fn new(
        spec: &'a ModelSpec,
        left: &'a Dataset,
        right: &'a Dataset,
        dicts: &'a Dictionaries,
        left_ok: Vec<bool>,
        right_ok: Vec<bool>,
    ) -> Result<Prepared<'a>, LinkError> {
        spec.validate().map_err(LinkError::Invalid)?;
        let comparer = Comparer::new(&spec.comparisons, left, right, dicts);
        let blocking: Vec<KeyColumns<'a>> = spec
            .blocking
            .iter()
            .map(|b| KeyColumns {
                left: b.keys.iter().map(|k| left.tokens(k.left())).collect(),
                right: b.keys.iter().map(|k| right.tokens(k.right())).collect(),
            })
            .collect();
        let groups: Vec<Groups> = blocking
            .iter()
            .map(|k| {
                keys::groups(k, left.len(), right.len(), &|i| left_ok[i], &|i| {
                    right_ok[i]
                })
                .0
            })
            .collect();
        let p = Prepared {
            spec,
            comparer,
            blocking,
            left,
            right,
            left_ok,
            right_ok,
            groups,
        };
        let raw: Vec<u64> = p.raw_pair_counts();
        let total: u64 = raw.iter().sum();
        if total > spec.settings.max_pairs {
            let per_rule: Vec<String> = spec
                .blocking
                .iter()
                .zip(&raw)
                .map(|(b, n)| format!("{} {n}", b.name))
                .collect();
            return Err(LinkError::Invalid(format!(
                "the blocking rules would compare {total} pairs, more than max_pairs = {} ({}): add columns to the loosest rule, or raise max_pairs in the model's [settings] if the machine can take it",
                spec.settings.max_pairs,
                per_rule.join(", ")
            )));
        }
        Ok(p)
    }

    /// [`Prepared::new`] with every record of both files taking part.
    ///
    /// # Errors
    /// As [`Prepared::new`].
    pub fn everyone(
        spec: &'a ModelSpec,
        left: &'a Dataset,
        right: &'a Dataset,
        dicts: &'a Dictionaries,
    ) -> Result<Prepared<'a>, LinkError> {
        Prepared::new(
            spec,
            left,
            right,
            dicts,
            vec![true; left.len()],
            vec![true; right.len()],
        )
    }

    /// The same blocks restricted to the records `left_ok`/`right_ok`
    /// allow: what [`Prepared::new`] would form for them, without forming
    /// the blocks or compiling the comparisons again.
    pub fn restrict(mut self, left_ok: Vec<bool>, right_ok: Vec<bool>) -> Prepared<'a> {
        self.groups = self
            .groups
            .iter()
            .map(|g| g.retain(&|m| left_ok[m as usize], &|m| right_ok[m as usize]))
            .collect();
        self.left_ok = left_ok;
        self.right_ok = right_ok;
        self
    }

    /// Pairs agreeing on each blocking rule (before removing duplicates
    /// across rules), counted from block sizes without comparing.
    pub fn raw_pair_counts(&self) -> Vec<u64> {
        self.groups
            .iter()
            .map(|g| g.iter().map(|x| x.pairs()).sum())
            .collect()
    }

    /// How many of rule `rule`'s pairs no earlier rule produced, counted
    /// without comparing them.
    fn new_pair_count(&self, rule: usize) -> u64 {
        self.groups[rule]
            .par_iter()
            .map(|g| {
                let mut n = 0u64;
                for &l in g.left {
                    for &r in g.right {
                        n += u64::from(!blocked_earlier(
                            &self.blocking,
                            rule,
                            l as usize,
                            r as usize,
                        ));
                    }
                }
                n
            })
            .sum()
    }

    /// Aggregated patterns of rule `rule`'s pairs, in one pass: all of
    /// them (for EM on this rule) and those no earlier rule produced (each
    /// candidate pair counted once). A rule no EM session trains on
    /// (`for_em` false) needs only its new pairs, and only they are
    /// compared. When the pairs to compare (`population`: the rule's pairs,
    /// or its new pairs) are more than `em_max_pairs`, a seeded uniform
    /// sample of about `em_max_pairs` of them is compared (see
    /// [`RulePatterns::scale`]); the count of new pairs stays exact.
    fn patterns(&self, rule: usize, population: u64, for_em: bool) -> RulePatterns {
        type Acc = (PatternMap, PatternMap, u64);
        // At least 1000: `Prepared::new` validated the settings.
        let cap = self.spec.settings.em_max_pairs;
        // Keep a pair when its hash falls below `keep_below`.
        let (keep_below, scale) = if population <= cap {
            (None, 1.0)
        } else {
            let rate = cap as f64 / population as f64;
            (
                Some((rate * 2f64.powi(64)) as u64),
                population as f64 / cap as f64,
            )
        };
        let seed = self.spec.settings.seed;
        let (all, new, new_pairs): Acc = self.groups[rule]
            .par_iter()
            .fold(
                || (PatternMap::default(), PatternMap::default(), 0),
                |(mut all, mut new, mut new_pairs): Acc, g| {
                    // Runs of one pattern are common (most pairs in a block
                    // disagree on everything but the block's key): count a
                    // run locally and touch the maps once per run.
                    let mut run: Option<(Pattern, u64, u64)> = None;
                    for &l in g.left {
                        for &r in g.right {
                            let (l, r) = (l as usize, r as usize);
                            let fresh = u64::from(!blocked_earlier(&self.blocking, rule, l, r));
                            new_pairs += fresh;
                            if (fresh == 0 && !for_em)
                                || keep_below.is_some_and(|k| pair_hash(seed, rule, l, r) >= k)
                            {
                                continue;
                            }
                            let p = self.comparer.pattern(l, r);
                            match &mut run {
                                Some((q, n, f)) if *q == p => {
                                    *n += 1;
                                    *f += fresh;
                                }
                                _ => {
                                    if let Some((q, n, f)) = run.take() {
                                        *all.entry(q).or_insert(0) += n;
                                        if f > 0 {
                                            *new.entry(q).or_insert(0) += f;
                                        }
                                    }
                                    run = Some((p, 1, fresh));
                                }
                            }
                        }
                    }
                    if let Some((q, n, f)) = run {
                        *all.entry(q).or_insert(0) += n;
                        if f > 0 {
                            *new.entry(q).or_insert(0) += f;
                        }
                    }
                    (all, new, new_pairs)
                },
            )
            .reduce(
                || (PatternMap::default(), PatternMap::default(), 0),
                |(mut a, mut b, x), (c, d, y)| {
                    for (k, v) in c {
                        *a.entry(k).or_insert(0) += v;
                    }
                    for (k, v) in d {
                        *b.entry(k).or_insert(0) += v;
                    }
                    (a, b, x + y)
                },
            );
        let sorted = |m: PatternMap| {
            let mut v: Vec<(Pattern, u64)> = m.into_iter().collect();
            v.sort_unstable();
            v
        };
        let all = sorted(all);
        let compared = all.iter().map(|p| p.1).sum();
        RulePatterns {
            all,
            new: sorted(new),
            new_pairs,
            compared,
            scale,
        }
    }

    /// u probabilities from a seeded random sample of pairs of all records.
    ///
    /// The sample is drawn in blocks: 256 random left records against 256
    /// random right records, all 65,536 pairs compared. Every pair in a
    /// block is a uniformly random pair (the blocks' pairs are not
    /// independent of each other, which only widens the estimate's variance
    /// a little), and a block's records stay in cache while they are
    /// compared, which makes sampling millions of pairs cheap. Returns the
    /// probabilities and the number of pairs sampled.
    fn estimate_u(&self) -> (Vec<Vec<f64>>, u64) {
        const SIDE: u64 = 256;
        let n = self.spec.settings.u_sample_pairs;
        let seed = self.spec.settings.seed;
        let (nl, nr) = (self.left.len() as u64, self.right.len() as u64);
        let levels: Vec<usize> = self
            .spec
            .comparisons
            .iter()
            .map(|c| c.levels.len() + 1)
            .collect();
        let blocks = n.div_ceil(SIDE * SIDE);
        let counts = (0..blocks)
            .into_par_iter()
            .map(|bi| {
                let mut rng = SplitMix(seed ^ bi.wrapping_mul(0xA076_1D64_78BD_642F));
                let ls: Vec<usize> = (0..SIDE)
                    .map(|_| (rng.next() % nl.max(1)) as usize)
                    .collect();
                let rs: Vec<usize> = (0..SIDE)
                    .map(|_| (rng.next() % nr.max(1)) as usize)
                    .collect();
                let mut c: Vec<Vec<u64>> = levels.iter().map(|&k| vec![0; k]).collect();
                for (ci, cc) in c.iter_mut().enumerate() {
                    for &l in &ls {
                        for &r in &rs {
                            let lv = self.comparer.level(ci, l, r);
                            if lv != NULL_LEVEL {
                                cc[lv as usize] += 1;
                            }
                        }
                    }
                }
                c
            })
            .reduce(
                || levels.iter().map(|&k| vec![0; k]).collect(),
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        for (p, q) in x.iter_mut().zip(y) {
                            *p += q;
                        }
                    }
                    a
                },
            );
        let u = counts
            .into_iter()
            .map(|c| {
                let total: u64 = c.iter().sum();
                // A level never seen among random pairs gets half a
                // count: its u is small but not zero.
                let denom = total.max(1) as f64;
                let u: Vec<f64> = c.iter().map(|&x| (x as f64).max(0.5) / denom).collect();
                normalise(u)
            })
            .collect();
        (u, blocks * SIDE * SIDE)
    }

    /// Whether comparison `c` reads any column blocking rule `rule` keys
    /// on.
    fn blocked_on(&self, c: usize, rule: usize) -> bool {
        let cols = self.spec.comparisons[c].columns();
        let bcols = &self.spec.blocking[rule].keys;
        cols.iter().any(|k| {
            bcols
                .iter()
                .any(|b| b.left() == k.left() || b.right() == k.right())
        })
    }

    /// Trains the model: u, m by EM per session, the prior.
    ///
    /// # Errors
    /// [`LinkError::Invalid`] if a comparison is never trained (every
    /// training rule blocks on it), or there is nothing to train on.
    pub fn train(&self, report: Report<'_>) -> Result<TrainedModel, LinkError> {
        let spec = self.spec;
        let nc = spec.comparisons.len();
        let raw = self.raw_pair_counts();
        let counts: Vec<String> = spec
            .blocking
            .iter()
            .zip(&raw)
            .map(|(b, n)| format!("{} {n}", b.name))
            .collect();
        report(&format!(
            "candidate pairs per blocking rule, before comparing: {}",
            counts.join(", ")
        ));
        report("estimating u from random pairs");
        let (u, u_pairs) = self.estimate_u();
        let sessions: Vec<usize> = match &spec.settings.training {
            Some(names) => names
                .iter()
                .map(|n| {
                    spec.blocking
                        .iter()
                        .position(|b| &b.name == n)
                        .expect("validated")
                })
                .collect(),
            None => (0..spec.blocking.len()).collect(),
        };
        let mut m_sum: Vec<Vec<f64>> = spec
            .comparisons
            .iter()
            .map(|c| vec![0.0; c.levels.len() + 1])
            .collect();
        let mut trained_in: Vec<Vec<String>> = vec![Vec::new(); nc];
        let mut log = Vec::new();
        // Each rule's pairs are compared at most once, and only as many as
        // training needs: a session's pairs (or a sample of them) serve its
        // EM and the prior; another rule's new pairs (or a sample) serve the
        // prior.
        let cap = spec.settings.em_max_pairs;
        if raw.iter().any(|&n| n > cap) {
            report(&format!(
                "comparing candidate pairs (training compares a seeded sample of about {cap} pairs of a rule with more)"
            ));
        } else {
            report("comparing candidate pairs");
        }
        let per_rule: Vec<RulePatterns> = (0..spec.blocking.len())
            .map(|r| {
                let for_em = sessions.contains(&r);
                let population = if for_em || raw[r] <= cap {
                    raw[r]
                } else {
                    self.new_pair_count(r)
                };
                self.patterns(r, population, for_em)
            })
            .collect();
        let mut m_weight: Vec<f64> = vec![0.0; nc];
        for &s in &sessions {
            let name = &spec.blocking[s].name;
            let fixed: Vec<bool> = (0..nc).map(|c| self.blocked_on(c, s)).collect();
            if fixed.iter().all(|&f| f) {
                continue;
            }
            report(&format!("EM on pairs blocked by {name}"));
            let pats = &per_rule[s].all;
            if pats.is_empty() {
                continue;
            }
            let (m, iters) = em(
                pats,
                &u,
                &fixed,
                spec.settings.em_max_iterations,
                spec.settings.em_tolerance,
            );
            // Each session's m counts in proportion to the matches it saw
            // (its match share times its pairs): a rule that blocks few
            // pairs gives a noisy estimate and must not weigh as much as one
            // that saw thousands of matches.
            let matches = iters.last().map_or(0.0, |it| it.lambda) * raw[s] as f64;
            if let Some(last) = iters.last() {
                report(&format!(
                    "EM on {name}: {} iterations, last max change {:.2e}, match share {:.4}",
                    iters.len(),
                    last.max_change,
                    last.lambda
                ));
            }
            for it in iters {
                log.push(EmIteration {
                    session: name.clone(),
                    ..it
                });
            }
            for c in 0..nc {
                if !fixed[c] {
                    for (a, b) in m_sum[c].iter_mut().zip(&m[c]) {
                        *a += b * matches;
                    }
                    m_weight[c] += matches;
                    trained_in[c].push(name.clone());
                }
            }
        }
        let mut comparisons = Vec::new();
        for (c, spec_c) in spec.comparisons.iter().enumerate() {
            if trained_in[c].is_empty() {
                return Err(LinkError::Invalid(format!(
                    "comparison {:?} was never trained: every training blocking rule blocks on its columns, or produced no pairs; add a training rule that does not use them",
                    spec_c.name
                )));
            }
            let k = m_weight[c].max(f64::MIN_POSITIVE);
            let m = normalise(m_sum[c].iter().map(|x| x / k).collect());
            let weights = monotone_weights(&m, &u[c]);
            comparisons.push(ComparisonParams {
                name: spec_c.name.clone(),
                levels: spec_c.level_names(),
                m,
                u: u[c].clone(),
                weights,
                trained_in: trained_in[c].clone(),
            });
        }
        let mut model = TrainedModel {
            format: MODEL_FORMAT.into(),
            format_version: MODEL_FORMAT_VERSION,
            spec: spec.clone(),
            prior: 0.0,
            comparisons,
            u_sample_pairs: u_pairs,
            em: log,
            blocking_pairs: Vec::new(),
        };
        report("estimating the prior");
        // Every candidate pair once, a sampled rule's pairs each standing
        // for `scale` of them; summed in rule order, so the same for any
        // number of threads.
        let mut merged: PatternMap<f64> = PatternMap::default();
        for (i, b) in spec.blocking.iter().enumerate() {
            let rp = &per_rule[i];
            model.blocking_pairs.push(BlockingCount {
                name: b.name.clone(),
                pairs: raw[i],
                new_pairs: rp.new_pairs,
                compared_in_training: rp.compared,
            });
            for &(p, n) in &rp.new {
                *merged.entry(p).or_insert(0.0) += n as f64 * rp.scale;
            }
        }
        let mut all: Vec<(Pattern, f64)> = merged.into_iter().collect();
        all.sort_unstable_by_key(|p| p.0);
        model.prior = match spec.settings.prior {
            Prior::Fixed(p) => p,
            Prior::Estimate(_) => estimate_prior(
                &all,
                &model,
                self.left.len() as f64 * self.right.len() as f64,
            ),
        };
        Ok(model)
    }

    /// Scores every candidate pair with a trained model; keeps pairs whose
    /// weight is at least `keep_from`, and a histogram of all weights.
    pub fn score(&self, model: &TrainedModel, keep_from: f64) -> Scores {
        let w = Weights::new(model, &self.comparer);
        let results: Vec<(Vec<Scored>, Histogram)> = (0..self.blocking.len())
            .map(|rule| {
                self.groups[rule]
                    .par_iter()
                    .fold(
                        || (Vec::new(), Histogram::default()),
                        |(mut kept, mut hist), g| {
                            for &l in g.left {
                                for &r in g.right {
                                    let (lu, ru) = (l as usize, r as usize);
                                    if blocked_earlier(&self.blocking, rule, lu, ru) {
                                        continue;
                                    }
                                    let p = self.comparer.pattern(lu, ru);
                                    let weight = w.weight(p, lu, ru);
                                    hist.add(weight);
                                    if weight >= keep_from {
                                        kept.push(Scored {
                                            left: l,
                                            right: r,
                                            weight,
                                            pattern: p,
                                        });
                                    }
                                }
                            }
                            (kept, hist)
                        },
                    )
                    .reduce(
                        || (Vec::new(), Histogram::default()),
                        |(mut a, mut ha), (b, hb)| {
                            a.extend(b);
                            ha.merge(&hb);
                            (a, ha)
                        },
                    )
            })
            .collect();
        let mut pairs = Vec::new();
        let mut histogram = Histogram::default();
        for (k, h) in results {
            pairs.extend(k);
            histogram.merge(&h);
        }
        pairs.par_sort_unstable_by(|a, b| (a.left, a.right).cmp(&(b.left, b.right)));
        Scores { pairs, histogram }
    }

    /// Whether a left record takes part.
    pub fn left_ok(&self, i: usize) -> bool {
        self.left_ok[i]
    }

    /// Whether a right record takes part.
    pub fn right_ok(&self, i: usize) -> bool {
        self.right_ok[i]
    }
}

/// A scored candidate pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Left record.
    pub left: u32,
    /// Right record.
    pub right: u32,
    /// Match weight.
    pub weight: f64,
    /// Its comparison levels.
    pub pattern: Pattern,
}

/// Scored pairs and the weight histogram.
pub struct Scores {
    /// Pairs kept, by left then right record.
    pub pairs: Vec<Scored>,
    /// Histogram of every candidate pair's weight.
    pub histogram: Histogram,
}

/// Weights of every candidate pair in half-bit bins from −64 to +64.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Histogram {
    /// Lower edge of the first bin.
    pub min: i32,
    /// Bins per bit.
    pub per_bit: u32,
    /// Counts (the first and last bins also hold everything beyond).
    pub counts: Vec<u64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            min: -64,
            per_bit: 2,
            counts: vec![0; 256],
        }
    }
}

impl Histogram {
    fn add(&mut self, w: f64) {
        let b = ((w - f64::from(self.min)) * f64::from(self.per_bit)).floor();
        let i = b.clamp(0.0, (self.counts.len() - 1) as f64) as usize;
        self.counts[i] += 1;
    }
    fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
    }
    /// Total pairs.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Per-level weights and TF adjustment, ready for the scoring loop.
pub struct Weights<'c> {
    prior: f64,
    levels: Vec<Vec<f64>>,
    tf: Vec<Option<(f64, f64)>>,
    comparer: &'c Comparer<'c>,
}

impl<'c> Weights<'c> {
    /// Prepares a model's weights.
    pub fn new(model: &TrainedModel, comparer: &'c Comparer<'c>) -> Weights<'c> {
        Weights {
            prior: model.prior_weight(),
            levels: model
                .comparisons
                .iter()
                .map(|c| c.weights.clone())
                .collect(),
            tf: model
                .comparisons
                .iter()
                .zip(&model.spec.comparisons)
                .map(|(p, s)| {
                    s.tf.as_ref()
                        .map(|_| (p.u[0].max(FLOOR), model.spec.settings.tf_minimum_u))
                })
                .collect(),
            comparer,
        }
    }

    /// The prior weight.
    pub fn prior(&self) -> f64 {
        self.prior
    }

    /// The weight comparison `c` contributes to the pair at `level`
    /// (including its term-frequency adjustment).
    #[inline]
    pub fn contribution(&self, c: usize, level: u8, l: usize, r: usize) -> f64 {
        if level == NULL_LEVEL {
            return 0.0;
        }
        let mut w = self.levels[c][level as usize];
        if level == 0 {
            if let Some((u_exact, min_u)) = self.tf[c] {
                if let Some(f) = self.comparer.tf_freq(c, l, r) {
                    w += (u_exact / f.max(min_u)).log2();
                }
            }
        }
        w
    }

    /// The match weight of a pair.
    #[inline]
    pub fn weight(&self, p: Pattern, l: usize, r: usize) -> f64 {
        let mut w = self.prior;
        for c in 0..self.levels.len() {
            w += self.contribution(c, level_of(p, c), l, r);
        }
        w
    }
}

/// The match probability of a weight.
pub fn probability(weight: f64) -> f64 {
    let b = weight.exp2();
    if b.is_infinite() {
        1.0
    } else {
        b / (1.0 + b)
    }
}

fn normalise(mut v: Vec<f64>) -> Vec<f64> {
    for x in &mut v {
        *x = x.max(FLOOR);
    }
    let s: f64 = v.iter().sum();
    v.iter().map(|x| x / s).collect()
}

/// Level weights `log2(m/u)`, made non-increasing from the first level to
/// `else` by pooling adjacent levels that violate the order (pool adjacent
/// violators, pooling m and u): a closer agreement never weighs less than a
/// looser one.
pub fn monotone_weights(m: &[f64], u: &[f64]) -> Vec<f64> {
    // Blocks of (m sum, u sum, count).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for (&mi, &ui) in m.iter().zip(u) {
        blocks.push((mi.max(FLOOR), ui.max(FLOOR), 1));
        while blocks.len() >= 2 {
            let n = blocks.len();
            let (a, b) = (blocks[n - 2], blocks[n - 1]);
            if (b.0 / b.1).log2() > (a.0 / a.1).log2() {
                blocks[n - 2] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
                blocks.pop();
            } else {
                break;
            }
        }
    }
    blocks
        .into_iter()
        .flat_map(|(ms, us, k)| std::iter::repeat_n((ms / us).log2(), k))
        .collect()
}

/// EM for m over aggregated patterns with u fixed. Comparisons marked
/// `fixed` are ignored. Returns m and the per-iteration log.
pub fn em(
    patterns: &[(Pattern, u64)],
    u: &[Vec<f64>],
    fixed: &[bool],
    max_iterations: u32,
    tolerance: f64,
) -> (Vec<Vec<f64>>, Vec<EmIteration>) {
    let nc = u.len();
    // Initial m: most mass on the closest level, falling geometrically.
    let mut m: Vec<Vec<f64>> = u
        .iter()
        .map(|uc| {
            let k = uc.len();
            normalise((0..k).map(|i| 0.5f64.powi(i as i32 + 1)).collect())
        })
        .collect();
    let mut lambda: f64 = 0.05;
    let mut log = Vec::new();
    let total: f64 = patterns.iter().map(|p| p.1 as f64).sum();
    for it in 1..=max_iterations {
        let mut num: Vec<Vec<f64>> = u.iter().map(|uc| vec![0.0; uc.len()]).collect();
        let mut matches = 0.0;
        for &(p, count) in patterns {
            let (mut lm, mut lu) = (lambda.ln(), (1.0 - lambda).ln());
            for c in 0..nc {
                if fixed[c] {
                    continue;
                }
                let lv = level_of(p, c);
                if lv == NULL_LEVEL {
                    continue;
                }
                lm += m[c][lv as usize].max(FLOOR).ln();
                lu += u[c][lv as usize].max(FLOOR).ln();
            }
            let post = 1.0 / (1.0 + (lu - lm).exp());
            let w = post * count as f64;
            matches += w;
            for c in 0..nc {
                let lv = level_of(p, c);
                if !fixed[c] && lv != NULL_LEVEL {
                    num[c][lv as usize] += w;
                }
            }
        }
        let mut max_change: f64 = 0.0;
        for c in 0..nc {
            if fixed[c] {
                continue;
            }
            let s: f64 = num[c].iter().sum();
            if s <= 0.0 {
                continue;
            }
            let new = normalise(num[c].iter().map(|x| x / s).collect());
            for (a, b) in m[c].iter().zip(&new) {
                max_change = max_change.max((a - b).abs());
            }
            m[c] = new;
        }
        lambda = (matches / total.max(1.0)).clamp(1e-9, 1.0 - 1e-9);
        log.push(EmIteration {
            session: String::new(),
            iteration: it,
            max_change,
            lambda,
        });
        if max_change < tolerance {
            break;
        }
    }
    (m, log)
}

/// The prior that two random records match, by EM on the mixing weight over
/// all `n_pairs` record pairs: candidate pairs contribute their posterior,
/// pairs no blocking rule produced are taken as non-matches.
fn estimate_prior(patterns: &[(Pattern, f64)], model: &TrainedModel, n_pairs: f64) -> f64 {
    let bf: Vec<(f64, f64)> = patterns
        .iter()
        .map(|&(p, n)| {
            let mut w = 0.0;
            for (c, params) in model.comparisons.iter().enumerate() {
                let lv = level_of(p, c);
                if lv != NULL_LEVEL {
                    w += params.weights[lv as usize];
                }
            }
            (w, n)
        })
        .collect();
    let mut lambda: f64 = 1e-6;
    for _ in 0..200 {
        let prior_w = (lambda / (1.0 - lambda)).log2();
        let expected: f64 = bf.iter().map(|&(w, n)| n * probability(prior_w + w)).sum();
        let next = (expected / n_pairs.max(1.0)).clamp(1e-15, 0.5);
        if (next - lambda).abs() <= 1e-6 * lambda {
            lambda = next;
            break;
        }
        lambda = next;
    }
    lambda
}

/// A small, fast, seedable generator (SplitMix64) for sampling pairs: the
/// sample depends only on the seed and chunk, never on thread scheduling.
struct SplitMix(u64);

impl SplitMix {
    #[inline]
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }
}

/// SplitMix64's finaliser: a bijection of `u64` whose every output bit
/// depends on every input bit.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Chooses links from scored pairs: those at or above `threshold`, then,
/// for one-to-one, greedily by weight (ties by left then right record) so
/// that no record is used twice; for one-to-many, each right record keeps
/// its best left record.
pub fn assign(pairs: &[Scored], threshold: f64, cardinality: Cardinality) -> Vec<Scored> {
    let mut c: Vec<Scored> = pairs
        .iter()
        .copied()
        .filter(|p| p.weight >= threshold)
        .collect();
    if cardinality == Cardinality::ManyToMany {
        return c;
    }
    c.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then(a.left.cmp(&b.left))
            .then(a.right.cmp(&b.right))
    });
    let mut used_l = std::collections::HashSet::new();
    let mut used_r = std::collections::HashSet::new();
    let mut out = Vec::new();
    for p in c {
        if used_r.contains(&p.right) {
            continue;
        }
        if cardinality == Cardinality::OneToOne && used_l.contains(&p.left) {
            continue;
        }
        used_l.insert(p.left);
        used_r.insert(p.right);
        out.push(p);
    }
    out.sort_by_key(|p| (p.left, p.right));
    out
}

#[cfg(test)]
mod tests;
