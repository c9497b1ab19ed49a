//! The probabilistic model: comparisons with ordered levels, blocking
//! rules, settings; and the trained parameters.
//!
//! ```toml
//! [settings]
//! threshold_probability = 0.5
//!
//! [[blocking]]
//! name = "dob"
//! keys = ["date_of_birth_token"]
//!
//! [[comparison]]
//! name = "date_of_birth"
//! [[comparison.level]]
//! name = "exact"
//! equal = ["date_of_birth_token"]
//! [[comparison.level]]
//! name = "day_month_swapped"
//! equal = [{ left = "date_of_birth_day_month_swapped", right = "date_of_birth_token" }]
//! [[comparison.level]]
//! name = "year"
//! equal = ["date_of_birth_year"]
//! ```
//!
//! A level holds when every `equal` part is present on both sides and
//! equal, and (with `dice`) the Dice coefficient of the two Bloom filters is
//! at least `at_least`. Levels are tried in order; an `else` level is
//! implicit at the end. A comparison is *null* — it contributes nothing —
//! when any of its `null_when` columns is empty on either side (default:
//! the first level's `equal` columns).

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::link::{KeyPart, LinkError};
use crate::manifest::Manifest;

/// Most comparisons in a model (patterns pack 4 bits per comparison).
pub const MAX_COMPARISONS: usize = 32;
/// Most levels in a comparison, counting the implicit `else`.
pub const MAX_LEVELS: usize = 15;
/// The pattern code of a null comparison.
pub const NULL_LEVEL: u8 = 15;

/// One level of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    /// Name, shown in explanations.
    pub name: String,
    /// Columns that must be present and equal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equal: Vec<KeyPart>,
    /// A Bloom-filter column whose Dice coefficient is tested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dice: Option<KeyPart>,
    /// The Dice threshold (with `dice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
}

/// One comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonSpec {
    /// Name.
    pub name: String,
    /// Levels, from most to least agreement (`else` is implicit).
    #[serde(rename = "level")]
    pub levels: Vec<LevelSpec>,
    /// Columns whose absence on either side makes the comparison null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_when: Option<Vec<KeyPart>>,
    /// A token column for term-frequency adjustment of the first level:
    /// agreement on a rare value weighs more than on a common one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tf: Option<String>,
}

impl ComparisonSpec {
    /// The columns deciding nullness.
    pub fn null_columns(&self) -> Vec<KeyPart> {
        self.null_when.clone().unwrap_or_else(|| {
            self.levels
                .first()
                .map(|l| l.equal.clone())
                .unwrap_or_default()
        })
    }

    /// Every (left, right) column the comparison reads.
    pub fn columns(&self) -> Vec<KeyPart> {
        let mut v = self.null_columns();
        for l in &self.levels {
            v.extend(l.equal.iter().cloned());
            v.extend(l.dice.iter().cloned());
        }
        v
    }

    /// Level names, with the implicit `else`.
    pub fn level_names(&self) -> Vec<String> {
        self.levels
            .iter()
            .map(|l| l.name.clone())
            .chain(std::iter::once("else".to_string()))
            .collect()
    }
}

/// A blocking rule: candidate pairs agree on every key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingRule {
    /// Name.
    pub name: String,
    /// Columns that must be present and equal.
    pub keys: Vec<KeyPart>,
}

/// How to set the prior match probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Prior {
    /// A fixed probability that two random records match.
    Fixed(f64),
    /// `"estimate"`: estimated from the data by EM over the candidate
    /// pairs with m and u fixed.
    Estimate(String),
}

impl Default for Prior {
    fn default() -> Self {
        Prior::Estimate("estimate".into())
    }
}

/// Settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Link pairs whose match probability is at least this.
    #[serde(default = "default_threshold")]
    pub threshold_probability: f64,
    /// Or: link pairs whose match weight is at least this (overrides the
    /// probability).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_weight: Option<f64>,
    /// Random pairs sampled to estimate u.
    #[serde(default = "default_u_sample")]
    pub u_sample_pairs: u64,
    /// Seed for the u sample.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// EM iterations at most, per training session.
    #[serde(default = "default_iterations")]
    pub em_max_iterations: u32,
    /// EM stops when no m probability moves more than this.
    #[serde(default = "default_tolerance")]
    pub em_tolerance: f64,
    /// Refuse blocking rules that would compare more pairs than this.
    #[serde(default = "default_max_pairs")]
    pub max_pairs: u64,
    /// Training compares at most about this many of one blocking rule's
    /// pairs: a rule with more (blocking on date of birth alone, at a
    /// million people) is trained on a seeded uniform sample of its pairs,
    /// each standing for `pairs / em_max_pairs` of them. Scoring always
    /// compares every candidate pair.
    #[serde(
        default = "default_em_max_pairs",
        skip_serializing_if = "is_default_em_max_pairs"
    )]
    pub em_max_pairs: u64,
    /// Prior match probability.
    #[serde(default)]
    pub prior: Prior,
    /// Smallest u used in a term-frequency adjustment.
    #[serde(default = "default_tf_min_u")]
    pub tf_minimum_u: f64,
    /// Blocking rules to train m on, in turn (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<Vec<String>>,
}

fn default_threshold() -> f64 {
    0.5
}
fn default_u_sample() -> u64 {
    2_000_000
}
fn default_seed() -> u64 {
    42
}
fn default_iterations() -> u32 {
    25
}
fn default_tolerance() -> f64 {
    1e-4
}
fn default_max_pairs() -> u64 {
    200_000_000
}
fn default_em_max_pairs() -> u64 {
    2_000_000
}
/// Left out of saved models at its default, so that a model trained with
/// the default can still be read by a linkwell from before the setting.
fn is_default_em_max_pairs(n: &u64) -> bool {
    *n == default_em_max_pairs()
}
fn default_tf_min_u() -> f64 {
    1e-7
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            threshold_probability: default_threshold(),
            threshold_weight: None,
            u_sample_pairs: default_u_sample(),
            seed: default_seed(),
            em_max_iterations: default_iterations(),
            em_tolerance: default_tolerance(),
            max_pairs: default_max_pairs(),
            em_max_pairs: default_em_max_pairs(),
            prior: Prior::default(),
            tf_minimum_u: default_tf_min_u(),
            training: None,
        }
    }
}

/// A model as written in a TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Settings.
    #[serde(default)]
    pub settings: Settings,
    /// Blocking rules (a union).
    #[serde(rename = "blocking")]
    pub blocking: Vec<BlockingRule>,
    /// Comparisons.
    #[serde(rename = "comparison")]
    pub comparisons: Vec<ComparisonSpec>,
}

impl ModelSpec {
    /// Parses and checks a TOML model.
    ///
    /// # Errors
    /// [`LinkError::Config`] naming the problem.
    pub fn from_toml(path: &Path, text: &str) -> Result<ModelSpec, LinkError> {
        let m: ModelSpec = toml::from_str(text).map_err(|e| LinkError::Config {
            path: path.to_path_buf(),
            message: crate::schema::toml_error(text, &e),
        })?;
        m.validate().map_err(|message| LinkError::Config {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(m)
    }

    /// Checks the structure (not yet the columns).
    ///
    /// # Errors
    /// A sentence saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.comparisons.is_empty() {
            return Err("the model has no [[comparison]]".into());
        }
        if self.comparisons.len() > MAX_COMPARISONS {
            return Err(format!(
                "at most {MAX_COMPARISONS} comparisons are supported"
            ));
        }
        if self.blocking.is_empty() {
            return Err(
                "the model has no [[blocking]] rule: without blocking every pair would be compared"
                    .into(),
            );
        }
        let mut names = BTreeSet::new();
        for c in &self.comparisons {
            if !names.insert(c.name.as_str()) {
                return Err(format!("comparison name {:?} is used twice", c.name));
            }
            if c.levels.is_empty() || c.levels.len() + 1 > MAX_LEVELS {
                return Err(format!(
                    "comparison {:?} must have 1 to {} levels",
                    c.name,
                    MAX_LEVELS - 1
                ));
            }
            for l in &c.levels {
                if l.equal.is_empty() && l.dice.is_none() {
                    return Err(format!(
                        "level {:?} of comparison {:?} has neither `equal` nor `dice`",
                        l.name, c.name
                    ));
                }
                match (&l.dice, l.at_least) {
                    (Some(_), Some(t)) if (0.0..=1.0).contains(&t) => {}
                    (Some(_), _) => {
                        return Err(format!(
                        "level {:?} of comparison {:?}: `dice` needs `at_least` between 0 and 1",
                        l.name, c.name
                    ))
                    }
                    (None, Some(_)) => {
                        return Err(format!(
                            "level {:?} of comparison {:?}: `at_least` without `dice`",
                            l.name, c.name
                        ))
                    }
                    (None, None) => {}
                }
            }
            if c.null_columns().is_empty() {
                return Err(format!(
                    "comparison {:?}: give `null_when` columns (its first level tests no equal columns)",
                    c.name
                ));
            }
        }
        let mut bnames = BTreeSet::new();
        for b in &self.blocking {
            if b.keys.is_empty() {
                return Err(format!("blocking rule {:?} has no keys", b.name));
            }
            if !bnames.insert(b.name.as_str()) {
                return Err(format!("blocking rule name {:?} is used twice", b.name));
            }
        }
        if let Some(t) = &self.settings.training {
            for n in t {
                if !bnames.contains(n.as_str()) {
                    return Err(format!(
                        "training names blocking rule {n:?}, which does not exist"
                    ));
                }
            }
        }
        let s = &self.settings;
        if !(0.0..=1.0).contains(&s.threshold_probability) {
            return Err("threshold_probability must be between 0 and 1".into());
        }
        if let Prior::Fixed(p) = s.prior {
            if !(p > 0.0 && p < 1.0) {
                return Err("a fixed prior must be between 0 and 1".into());
            }
        }
        if let Prior::Estimate(x) = &s.prior {
            if x != "estimate" {
                return Err(format!(
                    "prior must be a probability or \"estimate\", not {x:?}"
                ));
            }
        }
        if s.u_sample_pairs < 1000 {
            return Err("u_sample_pairs must be at least 1000".into());
        }
        if s.em_max_pairs < 1000 {
            return Err("em_max_pairs must be at least 1000".into());
        }
        Ok(())
    }

    /// The threshold as a match weight.
    pub fn threshold_weight(&self) -> f64 {
        self.settings.threshold_weight.unwrap_or_else(|| {
            let p = self
                .settings
                .threshold_probability
                .clamp(1e-12, 1.0 - 1e-12);
            (p / (1.0 - p)).log2()
        })
    }
}

fn same(c: &str) -> KeyPart {
    KeyPart::Same(c.into())
}

fn level(name: &str, equal: &[&str]) -> LevelSpec {
    LevelSpec {
        name: name.into(),
        equal: equal.iter().map(|c| same(c)).collect(),
        dice: None,
        at_least: None,
    }
}

fn dice(name: &str, col: &str, t: f64) -> LevelSpec {
    LevelSpec {
        name: name.into(),
        equal: vec![],
        dice: Some(same(col)),
        at_least: Some(t),
    }
}

/// The built-in model for the NHS / ONS / DWP schema, restricted to the
/// comparisons and blocking rules whose columns both files have.
///
/// Levels follow Splink's recommended comparisons translated to encoded
/// data: names exact (with term-frequency adjustment), nickname-canonical,
/// Bloom Dice ≥ 0.88 and ≥ 0.7 (the encoded analogue of Jaro–Winkler ≥
/// 0.92 / 0.88), phonetic, Dice ≥ 0.5 (one wrong letter in a three-letter
/// name, as `MIA`/`MJA`, shares two of four padded bigrams: Splink's
/// Jaro–Winkler ≥ 0.7 level catches these), forename-surname transposed;
/// dates exact, day and month swapped, year and month, year and day, year;
/// postcodes unit, sector, district.
///
/// Blocking follows Splink's practice of a union of cheap, selective
/// equalities: date of birth; district and surname sound; both names'
/// sounds and birth year; sector, canonical forename and birth year; both
/// names with birth month, or with birth day; full postcode and forename.
/// On the 1M NHS ↔ DWP benchmark the last three rules and the Dice ≥ 0.5
/// level raised F1 from 0.9970 to 0.9976 for 0.21M more candidate pairs
/// (README, "Accuracy").
pub fn default_model(left: &Manifest, right: &Manifest) -> ModelSpec {
    // Nicknames are forenames: a surname's canonical form is itself, so
    // surnames have no `canonical` level.
    let name = |field: &str, other: &str| ComparisonSpec {
        name: field.into(),
        levels: [
            Some(level("exact", &[&format!("{field}_token")])),
            (field == "given_name").then(|| level("canonical", &[&format!("{field}_canonical")])),
            Some(dice("dice_0.88", &format!("{field}_bloom"), 0.88)),
            Some(dice("dice_0.70", &format!("{field}_bloom"), 0.70)),
            Some(level("phonetic", &[&format!("{field}_phonetic")])),
            Some(dice("dice_0.50", &format!("{field}_bloom"), 0.50)),
            Some(LevelSpec {
                name: "transposed".into(),
                equal: vec![KeyPart::Pair {
                    left: format!("{field}_token"),
                    right: format!("{other}_token"),
                }],
                dice: None,
                at_least: None,
            }),
        ]
        .into_iter()
        .flatten()
        .collect(),
        null_when: None,
        tf: Some(format!("{field}_token")),
    };
    let comparisons = vec![
        ComparisonSpec {
            name: "nhs_number".into(),
            levels: vec![level("exact", &["nhs_number_token"])],
            null_when: None,
            tf: None,
        },
        name("given_name", "family_name"),
        name("family_name", "given_name"),
        ComparisonSpec {
            name: "date_of_birth".into(),
            levels: vec![
                level("exact", &["date_of_birth_token"]),
                LevelSpec {
                    name: "day_month_swapped".into(),
                    equal: vec![KeyPart::Pair {
                        left: "date_of_birth_day_month_swapped".into(),
                        right: "date_of_birth_token".into(),
                    }],
                    dice: None,
                    at_least: None,
                },
                level("year_month", &["date_of_birth_year", "date_of_birth_month"]),
                level("year_day", &["date_of_birth_year", "date_of_birth_day"]),
                level("month_day", &["date_of_birth_month", "date_of_birth_day"]),
                level("year", &["date_of_birth_year"]),
            ],
            null_when: None,
            tf: None,
        },
        ComparisonSpec {
            name: "sex".into(),
            levels: vec![level("exact", &["sex_token"])],
            null_when: None,
            tf: None,
        },
        ComparisonSpec {
            name: "postcode".into(),
            levels: vec![
                level("exact", &["postcode_token"]),
                level("sector", &["postcode_sector"]),
                level("district", &["postcode_district"]),
                level("area", &["postcode_area"]),
            ],
            null_when: None,
            tf: Some("postcode_token".into()),
        },
    ];
    let blocking = vec![
        BlockingRule {
            name: "nhs_number".into(),
            keys: vec![same("nhs_number_token")],
        },
        BlockingRule {
            name: "date_of_birth".into(),
            keys: vec![same("date_of_birth_token")],
        },
        BlockingRule {
            name: "district_surname_phonetic".into(),
            keys: vec![same("postcode_district"), same("family_name_phonetic")],
        },
        BlockingRule {
            name: "names_phonetic_birth_year".into(),
            keys: vec![
                same("given_name_phonetic"),
                same("family_name_phonetic"),
                same("date_of_birth_year"),
            ],
        },
        BlockingRule {
            name: "sector_forename_birth_year".into(),
            keys: vec![
                same("postcode_sector"),
                same("given_name_canonical"),
                same("date_of_birth_year"),
            ],
        },
        // Both names agree but the date of birth has a wrong digit and the
        // person has moved district: month or day still agrees unless two
        // digits are wrong. Far fewer pairs than both names alone.
        BlockingRule {
            name: "names_birth_month".into(),
            keys: vec![
                same("given_name_token"),
                same("family_name_token"),
                same("date_of_birth_month"),
            ],
        },
        BlockingRule {
            name: "names_birth_day".into(),
            keys: vec![
                same("given_name_token"),
                same("family_name_token"),
                same("date_of_birth_day"),
            ],
        },
        // A changed surname with a missing or mistyped date of birth, at
        // the same address.
        BlockingRule {
            name: "postcode_forename".into(),
            keys: vec![same("postcode_token"), same("given_name_token")],
        },
    ];
    let has = |m: &Manifest, c: &str| {
        m.columns
            .iter()
            .any(|x| x.name == c && x.role == "encoding")
    };
    let both = |k: &KeyPart| has(left, k.left()) && has(right, k.right());
    let comparisons: Vec<ComparisonSpec> = comparisons
        .into_iter()
        .filter_map(|mut c| {
            // Keep the levels whose columns exist; drop the comparison if
            // its first level cannot be tested.
            if !c.levels[0].equal.iter().all(both) {
                return None;
            }
            c.levels
                .retain(|l| l.equal.iter().all(both) && l.dice.iter().all(both));
            if c.tf
                .as_deref()
                .is_some_and(|t| !(has(left, t) && has(right, t)))
            {
                c.tf = None;
            }
            Some(c)
        })
        .collect();
    let blocking: Vec<BlockingRule> = blocking
        .into_iter()
        .filter(|b| b.keys.iter().all(both))
        .collect();
    // Train on rules that block on a single field family each, so every
    // comparison is trained at least once on pairs not blocked on it.
    let training: Vec<String> = [
        "date_of_birth",
        "district_surname_phonetic",
        "sector_forename_birth_year",
    ]
    .iter()
    .filter(|n| blocking.iter().any(|b| b.name == **n))
    .map(|n| n.to_string())
    .collect();
    ModelSpec {
        settings: Settings {
            training: (!training.is_empty()).then_some(training),
            ..Settings::default()
        },
        blocking,
        comparisons,
    }
}

/// One iteration of one EM session, for the convergence report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmIteration {
    /// The blocking rule trained on.
    pub session: String,
    /// Iteration number from 1.
    pub iteration: u32,
    /// Largest change of any m probability.
    pub max_change: f64,
    /// The session's match proportion among its pairs.
    pub lambda: f64,
}

/// Trained parameters of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonParams {
    /// The comparison's name.
    pub name: String,
    /// Level names including `else`.
    pub levels: Vec<String>,
    /// P(level | match).
    pub m: Vec<f64>,
    /// P(level | non-match).
    pub u: Vec<f64>,
    /// Match weight of each level, log2(m/u), made non-increasing from the
    /// first level to `else` by pooling adjacent levels that violate it.
    pub weights: Vec<f64>,
    /// Sessions that trained m (comparisons blocked on are not trained in
    /// that session).
    pub trained_in: Vec<String>,
}

/// A trained model: the spec plus its parameters. Saved as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedModel {
    /// `linkwell-model`.
    pub format: String,
    /// [`MODEL_FORMAT_VERSION`] when written. Files from before the field
    /// existed read as version 1, which they are.
    #[serde(default = "first_version")]
    pub format_version: u32,
    /// The spec trained.
    pub spec: ModelSpec,
    /// The prior probability that two random records match.
    pub prior: f64,
    /// Parameters per comparison, in spec order.
    pub comparisons: Vec<ComparisonParams>,
    /// Random pairs sampled for u.
    pub u_sample_pairs: u64,
    /// EM convergence, per session and iteration.
    pub em: Vec<EmIteration>,
    /// Candidate pairs per blocking rule (raw, and new after removing pairs
    /// an earlier rule already produced).
    pub blocking_pairs: Vec<BlockingCount>,
}

/// Pairs a blocking rule yields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingCount {
    /// Rule name.
    pub name: String,
    /// Pairs agreeing on the rule's keys.
    pub pairs: u64,
    /// Of those, pairs no earlier rule produced.
    pub new_pairs: u64,
    /// How many of the rule's pairs training compared: for a rule an EM
    /// session trains on, all of them or a seeded sample of about
    /// `em_max_pairs`; for another rule, its new pairs or a sample of about
    /// `em_max_pairs` of them.
    #[serde(default)]
    pub compared_in_training: u64,
}

/// The format name of a trained model file.
pub const MODEL_FORMAT: &str = "linkwell-model";

/// The version of the trained-model format this linkwell writes and reads.
/// A change to the meaning of any field (a level, a weight, a comparison's
/// parameters) bumps it, so that a model trained by another version is
/// refused instead of scoring pairs wrongly.
pub const MODEL_FORMAT_VERSION: u32 = 1;

fn first_version() -> u32 {
    1
}

impl TrainedModel {
    /// Prior as a match weight.
    pub fn prior_weight(&self) -> f64 {
        (self.prior / (1.0 - self.prior)).log2()
    }

    /// Reads a trained model.
    ///
    /// # Errors
    /// [`LinkError::Config`] if it is not a trained linkwell model.
    pub fn read(path: &Path) -> Result<TrainedModel, LinkError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| crate::io::IoError::new("cannot read model", path, e))?;
        TrainedModel::from_json(path, &text)
    }

    /// Parses a trained model (`path` only names it in errors) and checks
    /// that its parameters fit its spec: one `levels`, `m`, `u` and
    /// `weights` entry per level and `else`, probabilities in [0, 1],
    /// finite weights, a prior strictly between 0 and 1. A model file may
    /// come from another run or another project; a bad one is refused here
    /// rather than met as a panic or a NaN while scoring.
    ///
    /// # Errors
    /// [`LinkError::Config`] naming the problem.
    pub fn from_json(path: &Path, text: &str) -> Result<TrainedModel, LinkError> {
        let config = |message: String| LinkError::Config {
            path: path.to_path_buf(),
            message,
        };
        let m: TrainedModel = serde_json::from_str(text).map_err(|e| {
            config(format!(
                "not a trained linkwell model ({e}); train one with `linkwell train`"
            ))
        })?;
        if m.format != MODEL_FORMAT {
            return Err(config(format!(
                "format is {:?}, not {MODEL_FORMAT:?}",
                m.format
            )));
        }
        if m.format_version != MODEL_FORMAT_VERSION {
            return Err(config(format!(
                "model format version {} is not the version {MODEL_FORMAT_VERSION} this linkwell reads: train the model again with this linkwell, or use the linkwell that trained it",
                m.format_version
            )));
        }
        m.spec.validate().map_err(config)?;
        if m.comparisons.len() != m.spec.comparisons.len() {
            return Err(config(format!(
                "{} comparisons' parameters for {} comparisons: parameters do not fit the model's comparisons",
                m.comparisons.len(),
                m.spec.comparisons.len()
            )));
        }
        for (p, c) in m.comparisons.iter().zip(&m.spec.comparisons) {
            let n = c.levels.len() + 1;
            if p.name != c.name
                || [p.levels.len(), p.m.len(), p.u.len(), p.weights.len()]
                    .iter()
                    .any(|&k| k != n)
            {
                return Err(config(format!(
                    "comparison {:?}: parameters do not fit the model's comparisons (it has {} levels and else)",
                    c.name,
                    n - 1
                )));
            }
            let probability = |x: &f64| (0.0..=1.0).contains(x);
            if !p.m.iter().chain(&p.u).all(probability) || !p.weights.iter().all(|w| w.is_finite())
            {
                return Err(config(format!(
                    "comparison {:?}: m and u must be probabilities and weights finite numbers",
                    c.name
                )));
            }
        }
        if !(m.prior > 0.0 && m.prior < 1.0) {
            return Err(config(format!(
                "prior {} is not a probability strictly between 0 and 1",
                m.prior
            )));
        }
        Ok(m)
    }
}
