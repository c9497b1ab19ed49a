//! Evaluating a link table against ground truth.
//!
//! Given a link table (from `linkwell link`) and a ground-truth file
//! (`dataset,record_id,person_id,errors`, as `linkwell synth` writes), this
//! module counts true and false positives and negatives, overall, per rule
//! or method, per kind of recorded error, and across match-weight
//! thresholds, and returns them as an [`Evaluation`].
//!
//! # What counts as truth
//!
//! - A link is a **true positive** when both records belong to the same
//!   person; otherwise it is a **false positive**.
//! - **Recall is measured against the best achievable linkage under the
//!   linkage's declared cardinality** (read from the links manifest,
//!   `links.csv.manifest.json`). For each person with `n_left` records on
//!   the left and `n_right` on the right, a linkage can make at most
//!   - one-to-one: `min(n_left, n_right)` correct links;
//!   - one-to-many: `n_right` correct links (when `n_left ≥ 1`): each right
//!     record can link to one of the person's left records;
//!   - many-to-many: `n_left × n_right`.
//!
//!   The sum over people is the **achievable** count. Each person's true
//!   positives are counted up to their achievable number (a link table that
//!   breaks its own cardinality cannot score more than 100%), and
//!   **false negatives** = achievable − those true positives. So a
//!   one-to-one linkage that links a person's original record and leaves
//!   their duplicate unlinked has lost nothing.
//! - **Pairwise recall** is also given for transparency: true positives
//!   over every same-person pair (`Σ n_left × n_right`). With duplicates and
//!   a one-to-one linkage it is below 1 even for a perfect linkage.
//! - **True negatives** are the cross-dataset pairs of different people
//!   that were not linked: `N_left × N_right − same-person pairs − false
//!   positives`. They are pairwise, and huge; precision and recall are the
//!   figures to read.
//! - Records are those of the two datasets in the truth file, so a record
//!   the data owner's `tokenise` rejected still counts as a missed link.
//!
//! # By rule or method
//!
//! For each `rule` value of the link table (and its `method`, where the
//! table has one): links, true and false positives, precision, and the
//! rule's contribution to recall (its true positives over the achievable
//! count; the contributions add up to the overall recall).
//!
//! # By error kind
//!
//! The truth file's `errors` column lists, `;`-separated, the kinds of error
//! put into each record. For a kind K, the **pairs** are the achievable
//! true pairs where either record carries K: per person, the same-person
//! pairs touching a record with K, at most the person's achievable number.
//! **Linked** counts the true-positive links among them (again at most that
//! number per person), **recall** is linked over pairs, and **false
//! positives** counts false links that involve a record carrying K. Under
//! one-to-one, a person's duplicate record competes with the original for
//! one achievable link, so the `duplicate` kind's recall is low by
//! construction: that is the cardinality working, not a failure.
//!
//! # Across thresholds
//!
//! Probabilistic links carry a `match_weight`. The precision–recall curve
//! keeps every deterministic link and the probabilistic links whose weight
//! is at least each threshold (links are chosen greedily by weight, so the
//! links at a higher threshold are exactly those of a lower one with
//! weight at least the higher threshold). From the link table alone the
//! curve covers **only thresholds at or above the link threshold**: pairs
//! scored below it are not in the table, and pretending otherwise would
//! overstate what is known. Given a *scores file* of every scored candidate
//! pair (`left_id,right_id,match_weight`), the curve extends down to the
//! lowest score: candidates are assigned greedily by weight under the
//! cardinality, after the deterministic links, just as `link` does. The
//! threshold with the best F1 is reported either way.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::io::IoError;
use crate::link::output::LinksManifest;
use crate::link::{Cardinality, LinkError};

/// Why an evaluation could not run. Each message names the file (and line
/// or column) and never holds a record's identifier.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A file could not be read.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Malformed CSV, or a value that cannot be read.
    #[error("{}, line {line}: {message}", .path.display())]
    BadCsv {
        /// The file.
        path: PathBuf,
        /// The line (1 is the header).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The links file is not a link table.
    #[error("{} is not a link table: {reason}", .path.display())]
    NotLinkTable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The truth file is not a ground-truth file.
    #[error("{} is not a ground-truth file: {reason}", .path.display())]
    NotTruth {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A named dataset is not in the truth file.
    #[error("{} has no records of dataset {dataset:?}; its datasets are: {available}", .path.display())]
    NoSuchDataset {
        /// The truth file.
        path: PathBuf,
        /// The dataset asked for.
        dataset: String,
        /// The datasets it has.
        available: String,
    },
    /// The dataset of one side could not be inferred.
    #[error("cannot tell which dataset of {} the {side} ids of {} belong to: {reason}; name it with --{side}-dataset", .truth.display(), .links.display())]
    CannotInfer {
        /// The links file.
        links: PathBuf,
        /// The truth file.
        truth: PathBuf,
        /// `left` or `right`.
        side: &'static str,
        /// Why.
        reason: String,
    },
    /// A link's record is not in the truth file.
    #[error("{}, line {line}: the {side} id is not a record of dataset {dataset} in {}; the truth file must cover every linked record", .links.display(), .truth.display())]
    UnknownId {
        /// The links file.
        links: PathBuf,
        /// The line.
        line: u64,
        /// `left` or `right`.
        side: &'static str,
        /// The dataset.
        dataset: String,
        /// The truth file.
        truth: PathBuf,
    },
    /// No cardinality: no links manifest and none given.
    #[error("{} has no manifest beside it ({}), so its cardinality is unknown: give the cardinality explicitly", .links.display(), .manifest.display())]
    NoCardinality {
        /// The links file.
        links: PathBuf,
        /// The manifest looked for.
        manifest: PathBuf,
    },
    /// The links manifest cannot be read.
    #[error(transparent)]
    Links(LinkError),
}

/// What to evaluate.
#[derive(Debug, Clone, Default)]
pub struct EvalRequest {
    /// The link table.
    pub links: PathBuf,
    /// The ground truth (`dataset,record_id,person_id[,errors]`).
    pub truth: PathBuf,
    /// The truth dataset of the left ids (else inferred).
    pub left_dataset: Option<String>,
    /// The truth dataset of the right ids (else inferred).
    pub right_dataset: Option<String>,
    /// Every scored candidate pair (`left_id,right_id,match_weight`), for
    /// a precision–recall curve below the link threshold.
    pub scores: Option<PathBuf>,
    /// The cardinality, overriding the links manifest's (needed when the
    /// table has no manifest).
    pub cardinality: Option<Cardinality>,
}

/// Counts and rates for the whole linkage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Distinct links (pairs) in the table.
    pub links: u64,
    /// Links joining two records of the same person.
    pub true_positives: u64,
    /// Links joining different people.
    pub false_positives: u64,
    /// Achievable correct links not made.
    pub false_negatives: u64,
    /// Cross-dataset pairs of different people not linked.
    pub true_negatives: u64,
    /// The most correct links any linkage under the cardinality could
    /// make.
    pub achievable: u64,
    /// True positives over links.
    pub precision: Option<f64>,
    /// True positives (per person at most their achievable number) over
    /// achievable.
    pub recall: Option<f64>,
    /// Harmonic mean of precision and recall.
    pub f1: Option<f64>,
    /// Every same-person pair across the two datasets.
    pub same_person_pairs: u64,
    /// True positives over same-person pairs.
    pub pairwise_recall: Option<f64>,
    /// True-positive links beyond a person's achievable number (non-zero
    /// only when the table breaks its cardinality).
    pub beyond_cardinality: u64,
    /// Rows of the table repeating a pair already seen (counted once).
    pub duplicate_rows: u64,
}

/// Figures for one rule (or method) of the link table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleMetrics {
    /// The table's `method`, where it has one.
    pub method: Option<String>,
    /// The table's `rule` (`fellegi_sunter` for probabilistic links).
    pub rule: String,
    /// Links made by it.
    pub links: u64,
    /// Of those, same-person links.
    pub true_positives: u64,
    /// Of those, links joining different people.
    pub false_positives: u64,
    /// True positives over links.
    pub precision: Option<f64>,
    /// True positives over the achievable count.
    pub recall_contribution: Option<f64>,
}

/// Figures for one kind of recorded error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorMetrics {
    /// The error kind, as in the truth file.
    pub kind: String,
    /// Achievable true pairs where either record carries the kind.
    pub pairs: u64,
    /// Of those, linked.
    pub linked: u64,
    /// Of those, not linked.
    pub missed: u64,
    /// Linked over pairs.
    pub recall: Option<f64>,
    /// False links involving a record with the kind.
    pub false_positives: u64,
}

/// Where the threshold curve's scores come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CurveSource {
    /// The link table: thresholds at or above the link threshold only.
    Links,
    /// A file of every scored candidate pair.
    Scores,
}

/// The linkage at one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Probabilistic links need at least this match weight.
    pub threshold: f64,
    /// Links (deterministic ones included).
    pub links: u64,
    /// Same-person links.
    pub true_positives: u64,
    /// Links joining different people.
    pub false_positives: u64,
    /// True positives counted towards recall (per person at most their
    /// achievable number).
    pub recalled: u64,
    /// Precision.
    pub precision: Option<f64>,
    /// Recall against the achievable count.
    pub recall: Option<f64>,
    /// F1.
    pub f1: Option<f64>,
}

/// Precision and recall across match-weight thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdCurve {
    /// Where the scores came from.
    pub source: CurveSource,
    /// The threshold the linkage used (from the links manifest).
    pub link_threshold: Option<f64>,
    /// Points from the highest threshold to the lowest (at most a few
    /// hundred, evenly spread; the best and the link threshold's are kept).
    pub points: Vec<CurvePoint>,
    /// The point with the best F1 (the highest threshold among ties).
    pub best: CurvePoint,
    /// The point at the link threshold (the linkage as made).
    pub at_link_threshold: Option<CurvePoint>,
}

/// The evaluation of a link table against ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The link table evaluated.
    pub links_file: String,
    /// The truth file.
    pub truth_file: String,
    /// The truth dataset of the left records.
    pub left_dataset: String,
    /// The truth dataset of the right records.
    pub right_dataset: String,
    /// Whether each dataset was inferred (rather than given).
    pub datasets_inferred: bool,
    /// The cardinality recall is measured under.
    pub cardinality: Cardinality,
    /// The linkage method, from the links manifest.
    pub method: Option<String>,
    /// Records of the left dataset in the truth file.
    pub left_records: u64,
    /// Records of the right dataset in the truth file.
    pub right_records: u64,
    /// People with records in both datasets.
    pub people_on_both_sides: u64,
    /// Overall figures.
    pub overall: Metrics,
    /// Per rule, in cascade order (then any other rule, by name).
    pub by_rule: Vec<RuleMetrics>,
    /// Per error kind, by name.
    pub by_error: Vec<ErrorMetrics>,
    /// Across thresholds, when the table has probabilistic links.
    pub thresholds: Option<ThresholdCurve>,
}

/// Evaluates a link table against ground truth.
///
/// # Errors
/// [`EvalError`]: an unreadable or malformed file, a dataset that cannot be
/// found or inferred, a linked record missing from the truth, or no known
/// cardinality.
pub fn evaluate(req: &EvalRequest) -> Result<Evaluation, EvalError> {
    Ok(assess(req)?.evaluation())
}

/// Writes an evaluation as pretty JSON, atomically.
///
/// # Errors
/// [`IoError`].
pub fn write_json(ev: &Evaluation, path: &Path) -> Result<(), IoError> {
    let mut json = serde_json::to_vec_pretty(ev).expect("evaluation serialises");
    json.push(b'\n');
    crate::io::write_atomic(path, &json)
}

/// `num / den`, or `None` when `den` is 0.
pub fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The harmonic mean of precision and recall.
pub fn f1(precision: Option<f64>, recall: Option<f64>) -> Option<f64> {
    match (precision, recall) {
        (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    }
}

/// The most correct links a linkage under `card` can make for a person
/// with `nl` left and `nr` right records.
pub fn achievable(card: Cardinality, nl: u64, nr: u64) -> u64 {
    match card {
        Cardinality::OneToOne => nl.min(nr),
        Cardinality::OneToMany => {
            if nl >= 1 {
                nr
            } else {
                0
            }
        }
        Cardinality::ManyToMany => nl * nr,
    }
}

/// No group / no record.
pub(crate) const NONE: u32 = u32::MAX;

/// Distinct strings → dense indices, in order of first insertion, the
/// strings stored end to end: about 13 bytes plus the string's length per
/// entry, where a `HashMap<String, u32>` takes 60 to 90 (national-scale
/// truth has 80 million record ids and 60 million people).
#[derive(Clone, Default)]
pub(crate) struct StrIndex {
    bytes: Vec<u8>,
    /// End of each string in `bytes`.
    ends: Vec<u64>,
    /// Indices, found by the hash of their string.
    table: hashbrown::HashTable<u32>,
    hasher: std::hash::RandomState,
}

/// String `i` of strings stored end to end.
fn slice_at<'a>(bytes: &'a [u8], ends: &[u64], i: u32) -> &'a [u8] {
    let i = i as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &bytes[start..ends[i] as usize]
}

impl StrIndex {
    fn str_at(&self, i: u32) -> &[u8] {
        slice_at(&self.bytes, &self.ends, i)
    }

    fn hash(&self, s: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(s)
    }

    /// The index of `s`, if it was inserted.
    pub fn get(&self, s: &str) -> Option<u32> {
        let s = s.as_bytes();
        self.table
            .find(self.hash(s), |&i| self.str_at(i) == s)
            .copied()
    }

    /// Inserts `s` if it is new. `Ok(index)` for a new string,
    /// `Err(index)` for one seen before.
    pub fn insert(&mut self, s: &str) -> Result<u32, u32> {
        use std::hash::BuildHasher;
        let s = s.as_bytes();
        let h = self.hash(s);
        let StrIndex {
            bytes,
            ends,
            table,
            hasher,
        } = self;
        let i = u32::try_from(ends.len()).expect("fewer than 2^32 strings");
        match table.entry(
            h,
            |&j| slice_at(bytes, ends, j) == s,
            |&j| hasher.hash_one(slice_at(bytes, ends, j)),
        ) {
            hashbrown::hash_table::Entry::Occupied(e) => Err(*e.get()),
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(i);
                bytes.extend_from_slice(s);
                ends.push(bytes.len() as u64);
                Ok(i)
            }
        }
    }

    /// The index of `s`, inserting it if it is new.
    pub fn intern(&mut self, s: &str) -> u32 {
        match self.insert(s) {
            Ok(i) | Err(i) => i,
        }
    }

    /// Number of distinct strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The strings, in index order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.ends.len() as u32)
            .map(|i| std::str::from_utf8(self.str_at(i)).expect("inserted as str"))
    }
}

/// One side's truth records.
#[derive(Default)]
pub(crate) struct TruthSide {
    /// Dataset name.
    pub dataset: String,
    /// Record id → index (record indices are dense, in file order).
    pub index: StrIndex,
    /// Person of each record.
    pub person: Vec<u32>,
    /// Error kinds of each record (bit `k` = `kinds[k]`).
    pub errors: Vec<u64>,
}

/// A link, by truth record index.
#[derive(Clone, Copy)]
pub(crate) struct TruthLink {
    pub left: u32,
    pub right: u32,
    /// Index into `rules`.
    pub rule: u32,
    pub weight: Option<f64>,
}

/// Everything needed to compute figures: the truth of both sides and the
/// links resolved to truth records.
pub(crate) struct Assessed {
    pub links_path: PathBuf,
    pub truth_path: PathBuf,
    pub left: TruthSide,
    pub right: TruthSide,
    pub inferred: bool,
    pub kinds: Vec<String>,
    pub people: usize,
    pub cardinality: Cardinality,
    pub method: Option<String>,
    pub link_threshold: Option<f64>,
    /// (method, rule) per rule index, in display order.
    pub rules: Vec<(Option<String>, String)>,
    /// Distinct links.
    pub links: Vec<TruthLink>,
    pub duplicate_rows: u64,
    /// Records per person on each side.
    pub nl: Vec<u32>,
    pub nr: Vec<u32>,
    /// Scored candidates from a scores file.
    pub scores: Option<Vec<(u32, u32, f64)>>,
}

struct LinksHeader {
    left: usize,
    right: usize,
    method: Option<usize>,
    rule: Option<usize>,
    weight: Option<usize>,
}

fn csv_reader(path: &Path) -> Result<csv::Reader<std::fs::File>, EvalError> {
    let f = std::fs::File::open(path).map_err(|e| IoError::new("cannot read", path, e))?;
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .buffer_capacity(1 << 20)
        .from_reader(f))
}

fn csv_error(path: &Path, e: csv::Error) -> EvalError {
    let line = e.position().map_or(0, |p| p.line());
    // csv's message can quote the record; keep only its kind.
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_string(),
        csv::ErrorKind::Io(io) => {
            return EvalError::Io(IoError::new(
                "cannot read",
                path,
                std::io::Error::new(io.kind(), io.to_string()),
            ))
        }
        _ => "is not valid CSV".to_string(),
    };
    EvalError::BadCsv {
        path: path.to_path_buf(),
        line,
        message,
    }
}

fn header_of(path: &Path, rdr: &mut csv::Reader<std::fs::File>) -> Result<Vec<String>, EvalError> {
    Ok(rdr
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect())
}

fn links_header(path: &Path, h: &[String]) -> Result<LinksHeader, EvalError> {
    let find = |n: &str| h.iter().position(|c| c == n);
    match (find("left_id"), find("right_id")) {
        (Some(left), Some(right)) => Ok(LinksHeader {
            left,
            right,
            method: find("method"),
            rule: find("rule"),
            weight: find("match_weight"),
        }),
        _ => Err(EvalError::NotLinkTable {
            path: path.to_path_buf(),
            reason: "its header has no left_id and right_id columns".into(),
        }),
    }
}

fn parse_weight(path: &Path, line: u64, s: &str) -> Result<Option<f64>, EvalError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(w) if !w.is_nan() => Ok(Some(w)),
        _ => Err(EvalError::BadCsv {
            path: path.to_path_buf(),
            line,
            message: "match_weight is not a number".into(),
        }),
    }
}

/// The first few thousand ids of each side, for inferring datasets.
fn sample_ids(path: &Path) -> Result<(HashSet<String>, HashSet<String>), EvalError> {
    let mut rdr = csv_reader(path)?;
    let h = header_of(path, &mut rdr)?;
    let lh = links_header(path, &h)?;
    let (mut l, mut r) = (HashSet::new(), HashSet::new());
    let mut rec = csv::StringRecord::new();
    let mut n = 0;
    while n < 2000 && rdr.read_record(&mut rec).map_err(|e| csv_error(path, e))? {
        l.insert(rec[lh.left].to_string());
        r.insert(rec[lh.right].to_string());
        n += 1;
    }
    Ok((l, r))
}

struct TruthHeader {
    dataset: usize,
    record: usize,
    person: usize,
    errors: Option<usize>,
}

fn truth_header(path: &Path, h: &[String]) -> Result<TruthHeader, EvalError> {
    let find = |n: &str| h.iter().position(|c| c == n);
    match (find("dataset"), find("record_id"), find("person_id")) {
        (Some(dataset), Some(record), Some(person)) => Ok(TruthHeader {
            dataset,
            record,
            person,
            errors: find("errors"),
        }),
        _ => Err(EvalError::NotTruth {
            path: path.to_path_buf(),
            reason: "its header needs the columns dataset, record_id and person_id".into(),
        }),
    }
}

/// Per truth dataset: records, and how many of the sampled left and right
/// ids it holds.
fn scan_truth(
    path: &Path,
    left: &HashSet<String>,
    right: &HashSet<String>,
) -> Result<BTreeMap<String, (u64, u64, u64)>, EvalError> {
    let mut rdr = csv_reader(path)?;
    let h = header_of(path, &mut rdr)?;
    let th = truth_header(path, &h)?;
    let mut out: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(|e| csv_error(path, e))? {
        let e = out.entry(rec[th.dataset].to_string()).or_default();
        e.0 += 1;
        let id = &rec[th.record];
        if left.contains(id) {
            e.1 += 1;
        }
        if right.contains(id) {
            e.2 += 1;
        }
    }
    Ok(out)
}

fn infer(
    req: &EvalRequest,
    side: &'static str,
    sample: usize,
    hits: &BTreeMap<String, (u64, u64, u64)>,
    pick: impl Fn(&(u64, u64, u64)) -> u64,
) -> Result<String, EvalError> {
    let fail = |reason: String| EvalError::CannotInfer {
        links: req.links.clone(),
        truth: req.truth.clone(),
        side,
        reason,
    };
    if sample == 0 {
        return Err(fail("the link table has no links".into()));
    }
    let full: Vec<&String> = hits
        .iter()
        .filter(|(_, h)| pick(h) as usize == sample)
        .map(|(d, _)| d)
        .collect();
    match full.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let best = hits.iter().max_by_key(|(_, h)| pick(h));
            Err(fail(match best {
                Some((d, h)) if pick(h) > 0 => format!(
                    "no dataset holds all of them (the most, {:.1}%, are in {d})",
                    100.0 * pick(h) as f64 / sample as f64
                ),
                _ => "no dataset holds any of them".into(),
            }))
        }
        many => Err(fail(format!(
            "several datasets hold them all ({})",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn load_truth(
    path: &Path,
    left_ds: &str,
    right_ds: &str,
) -> Result<(TruthSide, TruthSide, Vec<String>, usize), EvalError> {
    let mut rdr = csv_reader(path)?;
    let h = header_of(path, &mut rdr)?;
    let th = truth_header(path, &h)?;
    let mut left = TruthSide {
        dataset: left_ds.to_string(),
        ..TruthSide::default()
    };
    let mut right = TruthSide {
        dataset: right_ds.to_string(),
        ..TruthSide::default()
    };
    let same = left_ds == right_ds;
    let mut people = StrIndex::default();
    let mut kinds: Vec<String> = Vec::new();
    let mut kind_ix: HashMap<String, u32> = HashMap::new();
    let mut datasets: Vec<String> = Vec::new();
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(|e| csv_error(path, e))? {
        let ds = &rec[th.dataset];
        let is_left = ds == left_ds;
        let is_right = ds == right_ds;
        if !is_left && !is_right {
            if !datasets.iter().any(|d| d == ds) {
                datasets.push(ds.to_string());
            }
            continue;
        }
        let line = rec.position().map_or(0, |p| p.line());
        let person = people.intern(&rec[th.person]);
        let mut mask = 0u64;
        if let Some(ei) = th.errors {
            for k in rec[ei].split(';').map(str::trim).filter(|k| !k.is_empty()) {
                let bit = match kind_ix.get(k) {
                    Some(&b) => b,
                    None => {
                        if kinds.len() == 64 {
                            return Err(EvalError::NotTruth {
                                path: path.to_path_buf(),
                                reason: "it has more than 64 distinct error kinds".into(),
                            });
                        }
                        kinds.push(k.to_string());
                        kind_ix.insert(k.to_string(), kinds.len() as u32 - 1);
                        kinds.len() as u32 - 1
                    }
                };
                mask |= 1 << bit;
            }
        }
        let s = if is_left { &mut left } else { &mut right };
        if s.index.insert(&rec[th.record]).is_err() {
            return Err(EvalError::BadCsv {
                path: path.to_path_buf(),
                line,
                message: format!("record_id repeats an earlier record of dataset {ds}"),
            });
        }
        s.person.push(person);
        s.errors.push(mask);
    }
    if same {
        right.index = left.index.clone();
        right.person = left.person.clone();
        right.errors = left.errors.clone();
    }
    for (side, ds) in [(&left, left_ds), (&right, right_ds)] {
        if side.person.is_empty() {
            let mut v: Vec<String> = datasets.clone();
            if !left.person.is_empty() {
                v.push(left_ds.into());
            }
            if !right.person.is_empty() {
                v.push(right_ds.into());
            }
            v.sort();
            v.dedup();
            return Err(EvalError::NoSuchDataset {
                path: path.to_path_buf(),
                dataset: ds.to_string(),
                available: if v.is_empty() {
                    "none".into()
                } else {
                    v.join(", ")
                },
            });
        }
    }
    Ok((left, right, kinds, people.len()))
}

/// Reads the links manifest, if there is one.
fn links_manifest(path: &Path) -> Result<Option<LinksManifest>, EvalError> {
    if !crate::io::manifest_path(path).exists() {
        return Ok(None);
    }
    LinksManifest::read_for(path)
        .map(Some)
        .map_err(EvalError::Links)
}

/// The link threshold recorded in a links manifest.
pub(crate) fn manifest_threshold(m: &LinksManifest) -> Option<f64> {
    m.model
        .as_ref()
        .and_then(|v| v.get("threshold_weight"))
        .and_then(|v| v.as_f64())
}

/// Reads the truth and the links.
pub(crate) fn assess(req: &EvalRequest) -> Result<Assessed, EvalError> {
    // Is it a link table at all? (Before asking for its manifest.)
    {
        let mut rdr = csv_reader(&req.links)?;
        let h = header_of(&req.links, &mut rdr)?;
        links_header(&req.links, &h)?;
    }
    let manifest = links_manifest(&req.links)?;
    let cardinality = match (req.cardinality, &manifest) {
        (Some(c), _) => c,
        (None, Some(m)) => m.cardinality.parse().map_err(|e: String| {
            EvalError::Links(LinkError::Config {
                path: crate::io::manifest_path(&req.links),
                message: e,
            })
        })?,
        (None, None) => {
            return Err(EvalError::NoCardinality {
                links: req.links.clone(),
                manifest: crate::io::manifest_path(&req.links),
            })
        }
    };
    // Which datasets.
    let inferred = req.left_dataset.is_none() || req.right_dataset.is_none();
    let (left_ds, right_ds) = if inferred {
        let (ls, rs) = sample_ids(&req.links)?;
        let hits = scan_truth(&req.truth, &ls, &rs)?;
        let l = match &req.left_dataset {
            Some(d) => d.clone(),
            None => infer(req, "left", ls.len(), &hits, |h| h.1)?,
        };
        let r = match &req.right_dataset {
            Some(d) => d.clone(),
            None => infer(req, "right", rs.len(), &hits, |h| h.2)?,
        };
        (l, r)
    } else {
        (
            req.left_dataset.clone().unwrap_or_default(),
            req.right_dataset.clone().unwrap_or_default(),
        )
    };
    let (left, right, kinds, people) = load_truth(&req.truth, &left_ds, &right_ds)?;

    // The links.
    let mut rdr = csv_reader(&req.links)?;
    let h = header_of(&req.links, &mut rdr)?;
    let lh = links_header(&req.links, &h)?;
    let mut rule_ix: HashMap<(Option<String>, String), u32> = HashMap::new();
    let mut rules: Vec<(Option<String>, String)> = Vec::new();
    let mut seen: HashSet<(u32, u32)> = HashSet::new();
    let mut links = Vec::new();
    let mut duplicate_rows = 0u64;
    let mut rec = csv::StringRecord::new();
    let resolve = |side: &TruthSide, id: &str, line: u64, name: &'static str| {
        side.index.get(id).ok_or_else(|| EvalError::UnknownId {
            links: req.links.clone(),
            line,
            side: name,
            dataset: side.dataset.clone(),
            truth: req.truth.clone(),
        })
    };
    while rdr
        .read_record(&mut rec)
        .map_err(|e| csv_error(&req.links, e))?
    {
        let line = rec.position().map_or(0, |p| p.line());
        let l = resolve(&left, &rec[lh.left], line, "left")?;
        let r = resolve(&right, &rec[lh.right], line, "right")?;
        let method = lh
            .method
            .map(|i| rec[i].trim().to_string())
            .filter(|m| !m.is_empty());
        let rule = lh
            .rule
            .map(|i| rec[i].trim().to_string())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| method.clone().unwrap_or_else(|| "(none)".into()));
        let weight = match lh.weight {
            Some(i) => parse_weight(&req.links, line, &rec[i])?,
            None => None,
        };
        let key = (method, rule);
        let ri = match rule_ix.get(&key) {
            Some(&i) => i,
            None => {
                rules.push(key.clone());
                rule_ix.insert(key, rules.len() as u32 - 1);
                rules.len() as u32 - 1
            }
        };
        if !seen.insert((l, r)) {
            duplicate_rows += 1;
            continue;
        }
        links.push(TruthLink {
            left: l,
            right: r,
            rule: ri,
            weight,
        });
    }
    // Rules in cascade order, then the rest by name.
    let order: Vec<String> = manifest
        .as_ref()
        .map(|m| m.rules.iter().map(|r| r.name.clone()).collect())
        .unwrap_or_default();
    let rank = |r: &(Option<String>, String)| {
        (
            order.iter().position(|n| *n == r.1).unwrap_or(usize::MAX),
            r.1.clone(),
            r.0.clone(),
        )
    };
    let mut perm: Vec<u32> = (0..rules.len() as u32).collect();
    perm.sort_by_key(|&i| rank(&rules[i as usize]));
    let mut remap = vec![0u32; rules.len()];
    for (new, &old) in perm.iter().enumerate() {
        remap[old as usize] = new as u32;
    }
    let rules: Vec<(Option<String>, String)> =
        perm.iter().map(|&i| rules[i as usize].clone()).collect();
    for l in &mut links {
        l.rule = remap[l.rule as usize];
    }

    let mut nl = vec![0u32; people];
    let mut nr = vec![0u32; people];
    for &p in &left.person {
        nl[p as usize] += 1;
    }
    for &p in &right.person {
        nr[p as usize] += 1;
    }
    let scores = match &req.scores {
        Some(p) => Some(read_scores(p, req, &left, &right)?),
        None => None,
    };
    Ok(Assessed {
        links_path: req.links.clone(),
        truth_path: req.truth.clone(),
        left,
        right,
        inferred,
        kinds,
        people,
        cardinality,
        method: manifest.as_ref().map(|m| m.method.clone()),
        link_threshold: manifest.as_ref().and_then(manifest_threshold),
        rules,
        links,
        duplicate_rows,
        nl,
        nr,
        scores,
    })
}

fn read_scores(
    path: &Path,
    req: &EvalRequest,
    left: &TruthSide,
    right: &TruthSide,
) -> Result<Vec<(u32, u32, f64)>, EvalError> {
    let mut rdr = csv_reader(path)?;
    let h = header_of(path, &mut rdr)?;
    let lh = links_header(path, &h)?;
    let wi = lh.weight.ok_or_else(|| EvalError::NotLinkTable {
        path: path.to_path_buf(),
        reason: "a scores file needs a match_weight column".into(),
    })?;
    let mut out = Vec::new();
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(|e| csv_error(path, e))? {
        let line = rec.position().map_or(0, |p| p.line());
        let unknown = |side: &'static str, ds: &str| EvalError::UnknownId {
            links: path.to_path_buf(),
            line,
            side,
            dataset: ds.to_string(),
            truth: req.truth.clone(),
        };
        let l = left
            .index
            .get(&rec[lh.left])
            .ok_or_else(|| unknown("left", &left.dataset))?;
        let r = right
            .index
            .get(&rec[lh.right])
            .ok_or_else(|| unknown("right", &right.dataset))?;
        let w = parse_weight(path, line, &rec[wi])?.ok_or_else(|| EvalError::BadCsv {
            path: path.to_path_buf(),
            line,
            message: "match_weight is empty".into(),
        })?;
        out.push((l, r, w));
    }
    Ok(out)
}

/// Per person, counts of a subset's pairs and linked pairs.
#[derive(Default, Clone, Copy)]
struct Acc {
    a: u64,
    b: u64,
    linked: u64,
}

impl Assessed {
    fn is_tp(&self, l: &TruthLink) -> bool {
        self.left.person[l.left as usize] == self.right.person[l.right as usize]
    }

    fn person_of(&self, l: &TruthLink) -> usize {
        self.left.person[l.left as usize] as usize
    }

    fn ach(&self, p: usize) -> u64 {
        achievable(
            self.cardinality,
            u64::from(self.nl[p]),
            u64::from(self.nr[p]),
        )
    }

    /// True positives counted per person up to the achievable number.
    fn capped_tp(&self, tp_per_person: &[u32]) -> u64 {
        tp_per_person
            .iter()
            .enumerate()
            .map(|(p, &t)| u64::from(t).min(self.ach(p)))
            .sum()
    }

    /// Sums a subset's achievable pairs and linked pairs over people: `acc`
    /// holds per person how many left (`a`) and right (`b`) records are in
    /// the subset and how many true links touch it.
    fn subset_totals<'a>(&self, acc: impl Iterator<Item = (usize, &'a Acc)>) -> (u64, u64) {
        let (mut pairs, mut linked) = (0u64, 0u64);
        for (p, x) in acc {
            let (nl, nr) = (u64::from(self.nl[p]), u64::from(self.nr[p]));
            let touching = nl * nr - (nl - x.a) * (nr - x.b);
            let ach = touching.min(self.ach(p));
            pairs += ach;
            linked += x.linked.min(ach);
        }
        (pairs, linked)
    }

    /// For records of one side grouped by `group` (per truth record of that
    /// side, [`NONE`] for none), the achievable true pairs whose record on
    /// that side is in the group and how many were linked, per group.
    pub(crate) fn recall_by_group(
        &self,
        left_side: bool,
        group: &[u32],
        groups: usize,
    ) -> Vec<(u64, u64)> {
        let side = if left_side { &self.left } else { &self.right };
        let mut acc: HashMap<(u32, u32), Acc> = HashMap::new();
        for (i, &g) in group.iter().enumerate() {
            if g == NONE {
                continue;
            }
            let e = acc.entry((side.person[i], g)).or_default();
            if left_side {
                e.a += 1;
            } else {
                e.b += 1;
            }
        }
        for l in self.links.iter().filter(|l| self.is_tp(l)) {
            let rec = if left_side { l.left } else { l.right };
            let g = group[rec as usize];
            if g != NONE {
                if let Some(e) = acc.get_mut(&(side.person[rec as usize], g)) {
                    e.linked += 1;
                }
            }
        }
        let mut per: Vec<Vec<(usize, Acc)>> = vec![Vec::new(); groups];
        for ((p, g), x) in acc {
            per[g as usize].push((p as usize, x));
        }
        per.iter()
            .map(|v| self.subset_totals(v.iter().map(|(p, x)| (*p, x))))
            .collect()
    }

    fn metrics(&self) -> Metrics {
        let mut tp_pp = vec![0u32; self.people];
        let mut tp = 0u64;
        for l in &self.links {
            if self.is_tp(l) {
                tp += 1;
                tp_pp[self.person_of(l)] += 1;
            }
        }
        let capped = self.capped_tp(&tp_pp);
        let achievable: u64 = (0..self.people).map(|p| self.ach(p)).sum();
        let same: u64 = (0..self.people)
            .map(|p| u64::from(self.nl[p]) * u64::from(self.nr[p]))
            .sum();
        let links = self.links.len() as u64;
        let fp = links - tp;
        let total_pairs = (self.left.person.len() as u128) * (self.right.person.len() as u128);
        let tn = total_pairs
            .saturating_sub(u128::from(same) + u128::from(fp))
            .min(u128::from(u64::MAX)) as u64;
        let precision = ratio(tp, links);
        let recall = ratio(capped, achievable);
        Metrics {
            links,
            true_positives: tp,
            false_positives: fp,
            false_negatives: achievable - capped,
            true_negatives: tn,
            achievable,
            precision,
            recall,
            f1: f1(precision, recall),
            same_person_pairs: same,
            pairwise_recall: ratio(tp, same),
            beyond_cardinality: tp - capped,
            duplicate_rows: self.duplicate_rows,
        }
    }

    fn by_rule(&self, achievable: u64) -> Vec<RuleMetrics> {
        let mut c = vec![(0u64, 0u64); self.rules.len()];
        for l in &self.links {
            let e = &mut c[l.rule as usize];
            e.0 += 1;
            if self.is_tp(l) {
                e.1 += 1;
            }
        }
        self.rules
            .iter()
            .zip(c)
            .map(|((method, rule), (links, tp))| RuleMetrics {
                method: method.clone(),
                rule: rule.clone(),
                links,
                true_positives: tp,
                false_positives: links - tp,
                precision: ratio(tp, links),
                recall_contribution: ratio(tp, achievable),
            })
            .collect()
    }

    fn by_error(&self) -> Vec<ErrorMetrics> {
        let k = self.kinds.len();
        let mut acc: HashMap<(u32, u8), Acc> = HashMap::new();
        let bits = |m: u64| (0..64u8).filter(move |b| m & (1 << b) != 0);
        for (i, &m) in self.left.errors.iter().enumerate() {
            for b in bits(m) {
                acc.entry((self.left.person[i], b)).or_default().a += 1;
            }
        }
        for (i, &m) in self.right.errors.iter().enumerate() {
            for b in bits(m) {
                acc.entry((self.right.person[i], b)).or_default().b += 1;
            }
        }
        let mut fp = vec![0u64; k];
        for l in &self.links {
            let m = self.left.errors[l.left as usize] | self.right.errors[l.right as usize];
            if self.is_tp(l) {
                let p = self.left.person[l.left as usize];
                for b in bits(m) {
                    if let Some(e) = acc.get_mut(&(p, b)) {
                        e.linked += 1;
                    }
                }
            } else {
                for b in bits(m) {
                    fp[b as usize] += 1;
                }
            }
        }
        let mut per: Vec<Vec<(usize, Acc)>> = vec![Vec::new(); k];
        for ((p, b), x) in acc {
            per[b as usize].push((p as usize, x));
        }
        let mut out: Vec<ErrorMetrics> = per
            .iter()
            .enumerate()
            .map(|(b, v)| {
                let (pairs, linked) = self.subset_totals(v.iter().map(|(p, x)| (*p, x)));
                ErrorMetrics {
                    kind: self.kinds[b].clone(),
                    pairs,
                    linked,
                    missed: pairs - linked,
                    recall: ratio(linked, pairs),
                    false_positives: fp[b],
                }
            })
            .collect();
        out.sort_by(|a, b| a.kind.cmp(&b.kind));
        out
    }

    fn curve(&self, achievable: u64) -> Option<ThresholdCurve> {
        let (source, mut cands): (CurveSource, Vec<(u32, u32, f64)>) = match &self.scores {
            Some(s) => (CurveSource::Scores, s.clone()),
            None => (
                CurveSource::Links,
                self.links
                    .iter()
                    .filter_map(|l| l.weight.map(|w| (l.left, l.right, w)))
                    .collect(),
            ),
        };
        if cands.is_empty() {
            return None;
        }
        let fixed: Vec<&TruthLink> = self.links.iter().filter(|l| l.weight.is_none()).collect();
        let card = self.cardinality;
        let mut used_l: HashSet<u32> = HashSet::new();
        let mut used_r: HashSet<u32> = HashSet::new();
        let mut pairs: HashSet<(u32, u32)> = HashSet::new();
        let mut tp_pp = vec![0u32; self.people];
        let (mut links, mut tp, mut capped) = (0u64, 0u64, 0u64);
        let add = |l: u32, r: u32, tp_pp: &mut Vec<u32>, tp: &mut u64, capped: &mut u64| {
            let p = self.left.person[l as usize];
            if p == self.right.person[r as usize] {
                *tp += 1;
                let before = tp_pp[p as usize];
                tp_pp[p as usize] += 1;
                if u64::from(before) < self.ach(p as usize) {
                    *capped += 1;
                }
            }
        };
        for l in &fixed {
            used_l.insert(l.left);
            used_r.insert(l.right);
            pairs.insert((l.left, l.right));
            links += 1;
            add(l.left, l.right, &mut tp_pp, &mut tp, &mut capped);
        }
        // Greedy by weight; a stable sort keeps file order among ties, as
        // `link` breaks ties by record order.
        cands.sort_by(|a, b| b.2.total_cmp(&a.2));
        let point = |t: f64, links: u64, tp: u64, capped: u64| {
            let precision = ratio(tp, links);
            let recall = ratio(capped, achievable);
            CurvePoint {
                threshold: t,
                links,
                true_positives: tp,
                false_positives: links - tp,
                recalled: capped,
                precision,
                recall,
                f1: f1(precision, recall),
            }
        };
        let mut points: Vec<CurvePoint> = Vec::new();
        let mut i = 0;
        while i < cands.len() {
            let w = cands[i].2;
            while i < cands.len() && cands[i].2 == w {
                let (l, r, _) = cands[i];
                i += 1;
                if pairs.contains(&(l, r)) {
                    continue;
                }
                if card != Cardinality::ManyToMany
                    && (used_r.contains(&r)
                        || (card == Cardinality::OneToOne && used_l.contains(&l)))
                {
                    continue;
                }
                used_l.insert(l);
                used_r.insert(r);
                pairs.insert((l, r));
                links += 1;
                add(l, r, &mut tp_pp, &mut tp, &mut capped);
            }
            points.push(point(w, links, tp, capped));
        }
        let f = |p: &CurvePoint| p.f1.unwrap_or(-1.0);
        let mut best = 0;
        for (j, p) in points.iter().enumerate() {
            if f(p) > f(&points[best]) {
                best = j;
            }
        }
        let at_link = self.link_threshold.and_then(|t| {
            points
                .iter()
                .rposition(|p| p.threshold >= t)
                .map(|j| points[j].clone())
        });
        let best_point = points[best].clone();
        let points = thin(points, 300, &[best_point.threshold]);
        Some(ThresholdCurve {
            source,
            link_threshold: self.link_threshold,
            points,
            best: best_point,
            at_link_threshold: at_link,
        })
    }

    pub(crate) fn evaluation(&self) -> Evaluation {
        let overall = self.metrics();
        let by_rule = self.by_rule(overall.achievable);
        let by_error = self.by_error();
        let thresholds = self.curve(overall.achievable);
        Evaluation {
            links_file: self.links_path.display().to_string(),
            truth_file: self.truth_path.display().to_string(),
            left_dataset: self.left.dataset.clone(),
            right_dataset: self.right.dataset.clone(),
            datasets_inferred: self.inferred,
            cardinality: self.cardinality,
            method: self.method.clone(),
            left_records: self.left.person.len() as u64,
            right_records: self.right.person.len() as u64,
            people_on_both_sides: (0..self.people)
                .filter(|&p| self.nl[p] > 0 && self.nr[p] > 0)
                .count() as u64,
            overall,
            by_rule,
            by_error,
            thresholds,
        }
    }
}

/// At most `max` points spread evenly, always keeping the first, the last,
/// and those at the thresholds in `keep`.
fn thin(points: Vec<CurvePoint>, max: usize, keep: &[f64]) -> Vec<CurvePoint> {
    let n = points.len();
    if n <= max {
        return points;
    }
    points
        .into_iter()
        .enumerate()
        .filter(|(i, p)| {
            *i == 0
                || *i == n - 1
                || keep.contains(&p.threshold)
                || (i * (max - 1) / (n - 1)) != ((i - 1) * (max - 1) / (n - 1))
        })
        .map(|(_, p)| p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `StrIndex` behaves as a map from strings to dense indices in
        /// order of first insertion.
        #[test]
        fn str_index_is_a_dense_map(words in proptest::collection::vec("[a-c]{0,3}", 0..60)) {
            let mut ix = StrIndex::default();
            let mut model: HashMap<String, u32> = HashMap::new();
            for w in &words {
                let expected = model.get(w).copied();
                let got = ix.insert(w);
                match expected {
                    Some(i) => proptest::prop_assert_eq!(got, Err(i)),
                    None => {
                        let i = model.len() as u32;
                        model.insert(w.clone(), i);
                        proptest::prop_assert_eq!(got, Ok(i));
                    }
                }
                proptest::prop_assert_eq!(ix.len(), model.len());
            }
            for w in ["", "a", "abc", "cab", "d"] {
                proptest::prop_assert_eq!(ix.get(w), model.get(w).copied());
            }
        }
    }

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Files {
            Files {
                dir: tempfile::tempdir().unwrap(),
            }
        }
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let p = self.dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        }
        fn manifest(&self, links: &str, cardinality: &str, threshold: Option<f64>) {
            let model = threshold.map_or(String::new(), |t| {
                format!(r#","model":{{"threshold_weight":{t}}}"#)
            });
            let info = r#"{"path":"x","data_sha256":"","key_fingerprint":"","records":0}"#;
            self.write(
                &format!("{links}.manifest.json"),
                &format!(
                    r#"{{"format":"linkwell-links","format_version":1,"tool_version":"t","method":"cascade",
                    "cardinality":"{cardinality}","left":{info},"right":{info},
                    "rules":[{{"name":"nhs","keys":["a"]}},{{"name":"exact","keys":["b"]}}]{model},
                    "summary":{{"links":0,"unlinked_left":0,"unlinked_right":0,"ambiguous_entries":0}},
                    "links_file":"{links}","links_sha256":"","ambiguous_file":""}}"#
                ),
            );
        }
    }

    /// People 1..6. Left (A): a1..a5; right (B): b1..b6.
    /// Person 1: a1 ↔ b1. Person 2: a2 ↔ b2 and a duplicate b2d.
    /// Person 3: a3 (surname change) ↔ b3. Person 4: a4 only.
    /// Person 5: b5 only. Person 6: a6 (moved) ↔ b6 (moved; typo).
    const TRUTH: &str = "dataset,record_id,person_id,errors\n\
        A,a1,1,\n\
        A,a2,2,\n\
        A,a3,3,surname_change\n\
        A,a4,4,\n\
        A,a6,6,moved\n\
        B,b1,1,\n\
        B,b2,2,\n\
        B,b2d,2,duplicate\n\
        B,b3,3,\n\
        B,b5,5,\n\
        B,b6,6,moved;typo\n\
        C,c1,1,\n";

    fn req(f: &Files, links: &Path) -> EvalRequest {
        EvalRequest {
            links: links.to_path_buf(),
            truth: f.write("truth.csv", TRUTH),
            ..Default::default()
        }
    }

    #[test]
    fn one_to_one_figures_by_hand() {
        let f = Files::new();
        // a1-b1 (TP, nhs), a2-b2d (TP, exact: the duplicate), a3-b5 (FP,
        // fellegi_sunter 3.0), a6-b6 (TP, fellegi_sunter 8.0). a3-b3 missed.
        let links = f.write(
            "links.csv",
            "left_id,right_id,method,rule,match_weight,match_probability\n\
             a1,b1,deterministic,nhs,,\n\
             a2,b2d,deterministic,exact,,\n\
             a3,b5,probabilistic,fellegi_sunter,3.0,0.9\n\
             a6,b6,probabilistic,fellegi_sunter,8.0,0.99\n",
        );
        f.manifest("links.csv", "one-to-one", Some(2.0));
        let ev = evaluate(&req(&f, &links)).unwrap();
        assert_eq!(ev.left_dataset, "A");
        assert_eq!(ev.right_dataset, "B");
        assert!(ev.datasets_inferred);
        assert_eq!(ev.cardinality, Cardinality::OneToOne);
        assert_eq!((ev.left_records, ev.right_records), (5, 6));
        assert_eq!(ev.people_on_both_sides, 4);
        let o = &ev.overall;
        // Achievable: persons 1, 2 (min(1,2)=1), 3, 6 = 4.
        assert_eq!(o.achievable, 4);
        assert_eq!((o.links, o.true_positives, o.false_positives), (4, 3, 1));
        assert_eq!(o.false_negatives, 1);
        assert_eq!(o.same_person_pairs, 5);
        // 5 × 6 = 30 pairs; 5 same-person; 1 FP.
        assert_eq!(o.true_negatives, 24);
        assert_eq!(o.precision, Some(0.75));
        assert_eq!(o.recall, Some(0.75));
        assert_eq!(o.f1, Some(0.75));
        assert_eq!(o.pairwise_recall, Some(0.6));
        assert_eq!(o.beyond_cardinality, 0);
        // Rules in cascade order.
        let names: Vec<&str> = ev.by_rule.iter().map(|r| r.rule.as_str()).collect();
        assert_eq!(names, ["nhs", "exact", "fellegi_sunter"]);
        let fs = &ev.by_rule[2];
        assert_eq!(fs.method.as_deref(), Some("probabilistic"));
        assert_eq!((fs.links, fs.true_positives, fs.false_positives), (2, 1, 1));
        assert_eq!(fs.precision, Some(0.5));
        assert_eq!(fs.recall_contribution, Some(0.25));
        // Error kinds.
        let kind = |k: &str| ev.by_error.iter().find(|e| e.kind == k).unwrap().clone();
        // duplicate: person 2's pair a2-b2d; achievable min(1, 1) = 1; linked.
        let d = kind("duplicate");
        assert_eq!(
            (d.pairs, d.linked, d.missed, d.false_positives),
            (1, 1, 0, 0)
        );
        // surname_change: a3-b3 not linked; a3 in the FP a3-b5.
        let s = kind("surname_change");
        assert_eq!((s.pairs, s.linked, s.false_positives), (1, 0, 1));
        assert_eq!(s.recall, Some(0.0));
        let m = kind("moved");
        assert_eq!((m.pairs, m.linked), (1, 1));
        assert_eq!(kind("typo").pairs, 1);
        // Curve: deterministic 2 links (2 TP) always; at 8.0: +a6-b6 TP →
        // 3 links, 3 TP; at 3.0: +a3-b5 FP → 4 links, 3 TP.
        let c = ev.thresholds.unwrap();
        assert_eq!(c.source, CurveSource::Links);
        assert_eq!(c.points.len(), 2);
        assert_eq!(c.points[0].threshold, 8.0);
        assert_eq!((c.points[0].links, c.points[0].true_positives), (3, 3));
        assert_eq!(c.points[0].precision, Some(1.0));
        assert_eq!(c.points[0].recall, Some(0.75));
        assert_eq!(c.best.threshold, 8.0);
        let at = c.at_link_threshold.unwrap();
        assert_eq!((at.threshold, at.links, at.false_positives), (3.0, 4, 1));
    }

    #[test]
    fn one_to_many_and_many_to_many_achievable() {
        assert_eq!(achievable(Cardinality::OneToOne, 2, 3), 2);
        assert_eq!(achievable(Cardinality::OneToMany, 2, 3), 3);
        assert_eq!(achievable(Cardinality::OneToMany, 0, 3), 0);
        assert_eq!(achievable(Cardinality::ManyToMany, 2, 3), 6);
        let f = Files::new();
        let links = f.write(
            "l.csv",
            "left_id,right_id,rule\na2,b2,x\na2,b2d,x\na2,b2,x\n",
        );
        f.manifest("l.csv", "one-to-many", None);
        let ev = evaluate(&EvalRequest {
            left_dataset: Some("A".into()),
            right_dataset: Some("B".into()),
            ..req(&f, &links)
        })
        .unwrap();
        assert!(!ev.datasets_inferred);
        // Achievable: 1 + 2 + 1 + 1 = 5; both person-2 claims linked.
        assert_eq!(ev.overall.achievable, 5);
        assert_eq!(ev.overall.true_positives, 2);
        assert_eq!(ev.overall.duplicate_rows, 1);
        assert_eq!(ev.overall.recall, Some(0.4));
        assert!(ev.thresholds.is_none());
        // Under one-to-one the same table breaks the cardinality: person 2
        // counts once.
        let ev = evaluate(&EvalRequest {
            cardinality: Some(Cardinality::OneToOne),
            ..req(&f, &links)
        })
        .unwrap();
        assert_eq!(ev.overall.achievable, 4);
        assert_eq!(ev.overall.beyond_cardinality, 1);
        assert_eq!(ev.overall.false_negatives, 3);
    }

    #[test]
    fn scores_extend_the_curve_below_the_threshold() {
        let f = Files::new();
        let links = f.write(
            "links.csv",
            "left_id,right_id,method,rule,match_weight,match_probability\n\
             a1,b1,deterministic,nhs,,\n\
             a6,b6,probabilistic,fellegi_sunter,8.0,0.99\n",
        );
        f.manifest("links.csv", "one-to-one", Some(5.0));
        // a1-b2 is blocked by the deterministic link of a1; a3-b5 (FP)
        // outranks a3-b3 (TP) at 1.0 ... then a3-b3 cannot link (a3 used).
        let scores = f.write(
            "scores.csv",
            "left_id,right_id,match_weight\n\
             a6,b6,8.0\na1,b2,7.0\na2,b2,4.0\na3,b5,1.5\na3,b3,1.0\na4,b1,-3\n",
        );
        let ev = evaluate(&EvalRequest {
            scores: Some(scores),
            ..req(&f, &links)
        })
        .unwrap();
        let c = ev.thresholds.unwrap();
        assert_eq!(c.source, CurveSource::Scores);
        let th: Vec<f64> = c.points.iter().map(|p| p.threshold).collect();
        assert_eq!(th, [8.0, 7.0, 4.0, 1.5, 1.0, -3.0]);
        let l: Vec<u64> = c.points.iter().map(|p| p.links).collect();
        assert_eq!(l, [2, 2, 3, 4, 4, 4]);
        // Best F1: at 4.0 (3 TP of 4 achievable, precision 1).
        assert_eq!(c.best.threshold, 4.0);
        assert_eq!(c.best.recall, Some(0.75));
        assert_eq!(c.at_link_threshold.unwrap().threshold, 7.0);
    }

    #[test]
    fn refusals_name_the_file_and_line() {
        let f = Files::new();
        let links = f.write("links.csv", "a,b\n1,2\n");
        f.manifest("links.csv", "one-to-one", None);
        let e = evaluate(&req(&f, &links)).unwrap_err().to_string();
        assert!(e.contains("is not a link table"), "{e}");

        let links = f.write("l2.csv", "left_id,right_id,rule\na1,b1,x\na1,zz,x\n");
        f.manifest("l2.csv", "one-to-one", None);
        let e = evaluate(&EvalRequest {
            left_dataset: Some("A".into()),
            right_dataset: Some("B".into()),
            ..req(&f, &links)
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 3: the right id is not a record of dataset B"),
            "{e}"
        );
        // (The temporary directory's random name could contain any letters.)
        let without_dir = e.replace(&*f.dir.path().to_string_lossy(), "");
        assert!(!without_dir.contains("zz"), "no id in messages: {e}");
        // Inference: the sample holds an id no dataset has.
        let e = evaluate(&req(&f, &links)).unwrap_err().to_string();
        assert!(e.contains("--right-dataset"), "{e}");
        assert!(e.contains("no dataset holds all of them"), "{e}");

        let e = evaluate(&EvalRequest {
            left_dataset: Some("A".into()),
            right_dataset: Some("Z".into()),
            ..req(&f, &links)
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("no records of dataset \"Z\"; its datasets are: A, B, C"),
            "{e}"
        );

        let nomanifest = f.write("l3.csv", "left_id,right_id\na1,b1\n");
        let e = evaluate(&req(&f, &nomanifest)).unwrap_err().to_string();
        assert!(e.contains("cardinality is unknown"), "{e}");

        let links = f.write("l4.csv", "left_id,right_id\n");
        f.manifest("l4.csv", "one-to-one", None);
        let e = evaluate(&req(&f, &links)).unwrap_err().to_string();
        assert!(e.contains("the link table has no links"), "{e}");

        let links = f.write(
            "l5.csv",
            "left_id,right_id,method,rule,match_weight\na1,b1,p,f,heavy\n",
        );
        f.manifest("l5.csv", "one-to-one", None);
        let e = evaluate(&req(&f, &links)).unwrap_err().to_string();
        assert!(e.contains("line 2: match_weight is not a number"), "{e}");

        let mut r = req(&f, &links);
        r.truth = f.write("t2.csv", "dataset,id\nA,a1\n");
        let e = evaluate(&r).unwrap_err().to_string();
        assert!(e.contains("is not a ground-truth file"), "{e}");
    }

    #[test]
    fn thinning_keeps_ends_and_best() {
        let pts: Vec<CurvePoint> = (0..1000)
            .map(|i| CurvePoint {
                threshold: f64::from(1000 - i),
                links: i as u64,
                true_positives: 0,
                false_positives: 0,
                recalled: 0,
                precision: None,
                recall: None,
                f1: None,
            })
            .collect();
        let t = thin(pts, 100, &[555.0]);
        assert!(t.len() <= 102, "{}", t.len());
        assert_eq!(t[0].threshold, 1000.0);
        assert_eq!(t.last().unwrap().threshold, 1.0);
        assert!(t.iter().any(|p| p.threshold == 555.0));
        assert!(t.windows(2).all(|w| w[0].threshold > w[1].threshold));
    }

    #[test]
    fn f1_and_ratio() {
        assert_eq!(ratio(1, 0), None);
        assert_eq!(f1(Some(0.0), Some(0.0)), Some(0.0));
        assert_eq!(f1(Some(1.0), None), None);
        assert!((f1(Some(0.5), Some(1.0)).unwrap() - 2.0 / 3.0).abs() < 1e-12);
    }
}

#[cfg(test)]
mod reference {
    //! The threshold curve and subgroup recall against slow, obviously
    //! correct references.
    use super::*;
    use proptest::prelude::*;

    fn assessed(
        card: Cardinality,
        lp: Vec<u32>,
        rp: Vec<u32>,
        det: &[(u32, u32)],
        scores: Vec<(u32, u32, f64)>,
    ) -> Assessed {
        let people = lp
            .iter()
            .chain(&rp)
            .copied()
            .max()
            .map_or(0, |m| m as usize + 1);
        let mut nl = vec![0u32; people];
        let mut nr = vec![0u32; people];
        lp.iter().for_each(|&p| nl[p as usize] += 1);
        rp.iter().for_each(|&p| nr[p as usize] += 1);
        let side = |p: Vec<u32>, name: &str| TruthSide {
            dataset: name.into(),
            index: StrIndex::default(),
            errors: vec![0; p.len()],
            person: p,
        };
        Assessed {
            links_path: "l".into(),
            truth_path: "t".into(),
            left: side(lp, "A"),
            right: side(rp, "B"),
            inferred: false,
            kinds: vec![],
            people,
            cardinality: card,
            method: None,
            link_threshold: None,
            rules: vec![(None, "d".into())],
            links: det
                .iter()
                .map(|&(l, r)| TruthLink {
                    left: l,
                    right: r,
                    rule: 0,
                    weight: None,
                })
                .collect(),
            duplicate_rows: 0,
            nl,
            nr,
            scores: Some(scores),
        }
    }

    /// Links at threshold `t`, made from scratch as `link` makes them.
    fn naive_links(a: &Assessed, t: f64) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = a.links.iter().map(|l| (l.left, l.right)).collect();
        let mut c: Vec<(u32, u32, f64)> = a
            .scores
            .clone()
            .unwrap()
            .into_iter()
            .filter(|s| s.2 >= t)
            .collect();
        c.sort_by(|x, y| y.2.total_cmp(&x.2));
        for (l, r, _) in c {
            if out.contains(&(l, r)) {
                continue;
            }
            let l_used = out.iter().any(|p| p.0 == l);
            let r_used = out.iter().any(|p| p.1 == r);
            let ok = match a.cardinality {
                Cardinality::OneToOne => !l_used && !r_used,
                Cardinality::OneToMany => !r_used,
                Cardinality::ManyToMany => true,
            };
            if ok {
                out.push((l, r));
            }
        }
        out
    }

    fn naive_point(a: &Assessed, t: f64) -> (u64, u64, u64) {
        let links = naive_links(a, t);
        let mut per: HashMap<u32, u64> = HashMap::new();
        let mut tp = 0;
        for &(l, r) in &links {
            let p = a.left.person[l as usize];
            if p == a.right.person[r as usize] {
                tp += 1;
                *per.entry(p).or_default() += 1;
            }
        }
        let recalled = per.iter().map(|(&p, &n)| n.min(a.ach(p as usize))).sum();
        (links.len() as u64, tp, recalled)
    }

    fn card() -> impl Strategy<Value = Cardinality> {
        prop_oneof![
            Just(Cardinality::OneToOne),
            Just(Cardinality::OneToMany),
            Just(Cardinality::ManyToMany)
        ]
    }

    proptest! {
        /// Every point of the curve equals a linkage made from scratch at
        /// its threshold.
        #[test]
        fn curve_matches_relinking_at_each_threshold(
            card in card(),
            lp in proptest::collection::vec(0u32..5, 1..8),
            rp in proptest::collection::vec(0u32..5, 1..8),
            det_raw in proptest::collection::vec((0usize..8, 0usize..8), 0..3),
            cands in proptest::collection::vec((0usize..8, 0usize..8, -3i32..5), 1..20),
        ) {
            let (nl, nr) = (lp.len(), rp.len());
            // Deterministic links that respect the cardinality.
            let mut det: Vec<(u32, u32)> = Vec::new();
            for (l, r) in det_raw {
                let (l, r) = ((l % nl) as u32, (r % nr) as u32);
                let clash = det.iter().any(|p| {
                    *p == (l, r)
                        || (card != Cardinality::ManyToMany && p.1 == r)
                        || (card == Cardinality::OneToOne && p.0 == l)
                });
                if !clash {
                    det.push((l, r));
                }
            }
            let scores: Vec<(u32, u32, f64)> = cands
                .into_iter()
                .map(|(l, r, w)| ((l % nl) as u32, (r % nr) as u32, f64::from(w)))
                .collect();
            let a = assessed(card, lp, rp, &det, scores);
            let achievable: u64 = (0..a.people).map(|p| a.ach(p)).sum();
            let curve = a.curve(achievable).expect("candidates");
            prop_assert!(curve.points.windows(2).all(|w| w[0].threshold > w[1].threshold));
            for p in &curve.points {
                let (links, tp, recalled) = naive_point(&a, p.threshold);
                prop_assert_eq!((p.links, p.true_positives, p.recalled), (links, tp, recalled),
                    "threshold {}", p.threshold);
            }
            let best = curve.points.iter().map(|p| p.f1.unwrap_or(-1.0)).fold(-1.0, f64::max);
            prop_assert_eq!(curve.best.f1.unwrap_or(-1.0), best);
        }

        /// Recall by subgroup: per group, the achievable pairs whose left
        /// record is in it, and the links among them, both at most the
        /// person's achievable number, against explicit pair enumeration.
        #[test]
        fn group_recall_matches_enumeration(
            card in card(),
            lp in proptest::collection::vec(0u32..4, 1..8),
            rp in proptest::collection::vec(0u32..4, 1..8),
            groups in proptest::collection::vec(0u32..3, 8),
            links_raw in proptest::collection::vec((0usize..8, 0usize..8), 0..10),
        ) {
            let (nl, nr) = (lp.len(), rp.len());
            let mut links: Vec<(u32, u32)> = links_raw
                .into_iter()
                .map(|(l, r)| ((l % nl) as u32, (r % nr) as u32))
                .collect();
            links.sort_unstable();
            links.dedup();
            let a = assessed(card, lp.clone(), rp.clone(), &links, vec![]);
            let group: Vec<u32> = (0..nl).map(|i| groups[i]).collect();
            let got = a.recall_by_group(true, &group, 3);
            for g in 0..3u32 {
                let (mut pairs, mut linked) = (0u64, 0u64);
                for p in 0..a.people as u32 {
                    let ach = a.ach(p as usize);
                    let touching = (0..nl)
                        .filter(|&i| lp[i] == p && group[i] == g)
                        .count() as u64
                        * rp.iter().filter(|&&q| q == p).count() as u64;
                    let ach_g = touching.min(ach);
                    let tp = links
                        .iter()
                        .filter(|&&(l, r)| {
                            lp[l as usize] == p && rp[r as usize] == p && group[l as usize] == g
                        })
                        .count() as u64;
                    pairs += ach_g;
                    linked += tp.min(ach_g);
                }
                prop_assert_eq!(got[g as usize], (pairs, linked), "group {}", g);
            }
        }
    }
}
