//! The linkage-quality report: one self-contained HTML page with inline SVG
//! charts, and a JSON file with the same figures.
//!
//! [`build`] reads the link table, its manifest, the two encoded files and
//! their manifests (and optionally a trained model, ground truth and a
//! scores file) and returns [`ReportData`]; [`write()`] writes the page and
//! the JSON beside it. Every count passes through the request's
//! [`Suppression`] policy inside [`build`], so the data can be released as
//! it is when the default policy is used.
//!
//! The report shows:
//! - **inputs**: rows read, written and rejected, per-field status counts,
//!   key fingerprints (and whether they agree), and whether each file's
//!   SHA-256 still matches its manifest;
//! - **links**: per rule and method, ambiguous records per rule, linked and
//!   unlinked records per side;
//! - **model** (probabilistic links): the match-weight histogram with the
//!   threshold, m and u per comparison level, EM convergence, candidate
//!   pairs per blocking rule;
//! - **match rates by subgroup**: the share of records with a link by age
//!   band, sex, ICB and any payload column named, per side — linkage error
//!   that differs between groups biases research results;
//! - **quality against ground truth** (with truth): precision, recall and
//!   F1 as defined in [`crate::eval`], by rule, by error kind, recall by
//!   subgroup, and the precision–recall curve.
//!
//! ```no_run
//! use linkwell::report::{self, ReportRequest};
//! let data = report::build(&ReportRequest {
//!     links: "nhs_ons.csv".into(),
//!     left: "nhs.csv".into(),
//!     right: "ons.csv".into(),
//!     truth: Some("truth.csv".into()),
//!     ..Default::default()
//! })?;
//! let json = report::write(&data, "report.html".as_ref())?;
//! # Ok::<(), linkwell::report::ReportError>(())
//! ```

mod charts;
mod html;
mod suppress;

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use html::render_html;
pub use suppress::{thousands, Count, Rate, Suppression};

use crate::eval::{self, EvalError, EvalRequest, Evaluation};
use crate::io::IoError;
use crate::link::output::LinksManifest;
use crate::link::probabilistic::model::TrainedModel;
use crate::link::probabilistic::Histogram;
use crate::link::LinkError;
use crate::manifest::{Manifest, ManifestError};

/// The `format` of a report's JSON.
pub const REPORT_FORMAT: &str = "linkwell-report";

/// Subgroup columns reported whenever a side has them.
pub const DEFAULT_SUBGROUPS: [&str; 3] = ["date_of_birth_age_band", "sex_code", "icb"];

/// Most distinct values shown for one subgroup column; the rest are
/// merged into "(other values)".
pub const MAX_SUBGROUP_VALUES: usize = 60;

/// Why a report could not be made. Each message names the file (and line
/// or column); none holds a record's identifier.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// An encoded file's manifest is missing or unreadable.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The links manifest or a model file is missing or unreadable.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The evaluation against ground truth failed.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// An encoded file is not the one the links were made from.
    #[error("{} is not the {side} file the links were made from: its manifest's SHA-256 differs from the one recorded in {}", .path.display(), .links_manifest.display())]
    NotTheLinkedFile {
        /// The encoded file.
        path: PathBuf,
        /// `left` or `right`.
        side: &'static str,
        /// The links manifest.
        links_manifest: PathBuf,
    },
    /// Malformed data.
    #[error("{}, line {line}: {message}", .path.display())]
    BadData {
        /// The file.
        path: PathBuf,
        /// The line (1 is the header; 0 when unknown).
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
    /// A link names a record the encoded file does not have.
    #[error("{}, line {line}: the {side} id is not a record of {}", .links.display(), .data.display())]
    UnknownId {
        /// The links file.
        links: PathBuf,
        /// The line.
        line: u64,
        /// `left` or `right`.
        side: &'static str,
        /// The encoded file.
        data: PathBuf,
    },
    /// A subgroup column neither file has.
    #[error("neither {} nor {} has a column {column:?} to report subgroups by; their payload columns are: {available}", .left.display(), .right.display())]
    NoSuchColumn {
        /// The column.
        column: String,
        /// Left file.
        left: PathBuf,
        /// Right file.
        right: PathBuf,
        /// Payload and status columns of both.
        available: String,
    },
    /// A subgroup column that holds identifiers or tokens.
    #[error("column {column:?} of {} is an {role} column, not a payload or status column: subgroups are reported only by clear payload or status columns", .path.display())]
    NotPayload {
        /// The column.
        column: String,
        /// The file.
        path: PathBuf,
        /// Its role.
        role: String,
    },
    /// Drawing a chart failed.
    #[error("cannot draw the {chart} chart: {message}")]
    Chart {
        /// Which chart.
        chart: &'static str,
        /// Why.
        message: String,
    },
    /// Anything else about the request that cannot work.
    #[error("{0}")]
    Invalid(String),
}

/// What to report on.
#[derive(Debug, Clone, Default)]
pub struct ReportRequest {
    /// The link table (its manifest must sit beside it).
    pub links: PathBuf,
    /// The left encoded file.
    pub left: PathBuf,
    /// The right encoded file.
    pub right: PathBuf,
    /// A trained model (else the links manifest's model, if any).
    pub model: Option<PathBuf>,
    /// Ground truth, for the quality section.
    pub truth: Option<PathBuf>,
    /// The truth dataset of the left file (else inferred).
    pub left_dataset: Option<String>,
    /// The truth dataset of the right file (else inferred).
    pub right_dataset: Option<String>,
    /// Every scored candidate pair, for the curve below the threshold.
    pub scores: Option<PathBuf>,
    /// Payload columns to report match rates by, besides
    /// [`DEFAULT_SUBGROUPS`].
    pub subgroups: Vec<String>,
    /// Disclosure control (default: `<10` and rounding to 5).
    pub suppression: Suppression,
    /// The page title (default: "Linkage report: LEFT ↔ RIGHT").
    pub title: Option<String>,
}

/// The figures of a report, after disclosure control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    /// Always [`REPORT_FORMAT`].
    pub format: String,
    /// 1.
    pub format_version: u32,
    /// The linkwell version that made it.
    pub tool_version: String,
    /// Title.
    pub title: String,
    /// When it was made (UTC, ISO 8601).
    pub generated_utc: String,
    /// Whether disclosure control was applied.
    pub suppressed: bool,
    /// The policy applied.
    pub suppression: Suppression,
    /// The disclosure rule in one sentence.
    pub disclosure: String,
    /// The input files and their checks.
    pub inputs: Inputs,
    /// What was linked.
    pub links: LinksSection,
    /// The probabilistic model, when there is one.
    pub model: Option<ModelSection>,
    /// Match rates (and recall, with truth) by subgroup.
    pub subgroups: Vec<Subgroup>,
    /// Quality against ground truth.
    pub quality: Option<Quality>,
    /// How to read the figures.
    pub notes: Vec<String>,
}

/// The inputs and their checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// The left encoded file.
    pub left: InputFile,
    /// The right encoded file.
    pub right: InputFile,
    /// The link table.
    pub links: LinksFile,
    /// Whether both files were encoded under the same secret.
    pub key_fingerprints_match: bool,
    /// Whether both files were normalised by the same rules.
    pub normalisers_match: bool,
}

/// An encoded input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputFile {
    /// `left` or `right`.
    pub side: String,
    /// The file as given.
    pub path: String,
    /// The linkwell version that encoded it.
    pub tool_version: String,
    /// Fingerprint of the secret it was encoded under.
    pub key_fingerprint: String,
    /// Normaliser version.
    pub normaliser_version: u32,
    /// Records the data owner read.
    pub rows_read: Count,
    /// Records written.
    pub rows_written: Count,
    /// Records rejected.
    pub rows_rejected: Count,
    /// Whether read = written + rejected and every field's statuses add up.
    pub counts_reconcile: bool,
    /// Records per status of each identifier field.
    pub fields: Vec<FieldStatuses>,
    /// Whether the data file's SHA-256, recomputed now, matches its
    /// manifest.
    pub sha256_matches_manifest: bool,
    /// Payload (clear) columns.
    pub payload_columns: Vec<String>,
}

/// Status counts of one identifier field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldStatuses {
    /// The field (input column).
    pub field: String,
    /// Each status with its records and share.
    pub statuses: Vec<StatusCount>,
}

/// Records with one status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusCount {
    /// `valid`, `missing`, `check_digit_mismatch`, ...
    pub status: String,
    /// Records.
    pub records: Count,
    /// Share of the records written.
    pub share: Rate,
}

/// The link table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinksFile {
    /// The file as given.
    pub path: String,
    /// The linkwell version that linked.
    pub tool_version: String,
    /// Whether its SHA-256, recomputed now, matches its manifest.
    pub sha256_matches_manifest: bool,
}

/// What was linked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinksSection {
    /// `deterministic`, `probabilistic` or `cascade`.
    pub method: String,
    /// Cardinality.
    pub cardinality: String,
    /// Links.
    pub links: Count,
    /// Per rule (cascade order), then probabilistic.
    pub by_rule: Vec<RuleLinks>,
    /// Entries in the ambiguous-records file.
    pub ambiguous_entries: Count,
    /// Left records.
    pub left_records: Count,
    /// Left records with at least one link.
    pub left_linked: Count,
    /// Left records with none.
    pub left_unlinked: Count,
    /// Left records with more than one link.
    pub left_multiple: Count,
    /// Share of left records linked.
    pub left_match_rate: Rate,
    /// Right records.
    pub right_records: Count,
    /// Right records with at least one link.
    pub right_linked: Count,
    /// Right records with none.
    pub right_unlinked: Count,
    /// Right records with more than one link.
    pub right_multiple: Count,
    /// Share of right records linked.
    pub right_match_rate: Rate,
}

/// Links made by one rule or method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleLinks {
    /// `deterministic` or `probabilistic`, where the table says.
    pub method: Option<String>,
    /// The rule.
    pub rule: String,
    /// Links.
    pub links: Count,
    /// Share of all links.
    pub share: Rate,
    /// Left records the rule left unlinked because their key was shared.
    pub ambiguous_left: Option<Count>,
    /// Right records likewise.
    pub ambiguous_right: Option<Count>,
}

/// The probabilistic model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSection {
    /// Where the parameters come from.
    pub source: String,
    /// Prior probability that two random records match.
    pub prior: f64,
    /// The prior as a match weight.
    pub prior_weight: f64,
    /// The link threshold as a match weight.
    pub threshold_weight: Option<f64>,
    /// EM tolerance.
    pub em_tolerance: f64,
    /// Comparisons and their levels.
    pub comparisons: Vec<ComparisonParams>,
    /// EM iterations per training session.
    pub em: Vec<EmSession>,
    /// Candidate pairs per blocking rule.
    pub blocking: Vec<BlockingPairs>,
    /// Match weights of every candidate pair.
    pub histogram: Option<WeightHistogram>,
}

/// One comparison's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonParams {
    /// Name.
    pub name: String,
    /// Levels, from most agreement to `else`.
    pub levels: Vec<LevelParams>,
    /// Sessions that trained its m.
    pub trained_in: Vec<String>,
}

/// One level's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelParams {
    /// Level name.
    pub level: String,
    /// P(level | match).
    pub m: f64,
    /// P(level | non-match).
    pub u: f64,
    /// Match weight.
    pub weight: f64,
}

/// One EM training session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmSession {
    /// The blocking rule trained on.
    pub session: String,
    /// Iterations.
    pub iterations: Vec<EmStep>,
}

/// One EM iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmStep {
    /// From 1.
    pub iteration: u32,
    /// Largest change of any m.
    pub max_change: f64,
    /// Match proportion among the session's pairs.
    pub lambda: f64,
}

/// Candidate pairs of one blocking rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockingPairs {
    /// Rule.
    pub name: String,
    /// Pairs agreeing on its keys.
    pub pairs: Count,
    /// Of those, pairs no earlier rule produced.
    pub new_pairs: Count,
    /// Pairs training compared: all, new ones only, or a seeded sample
    /// (`em_max_pairs`).
    pub compared_in_training: Count,
}

/// Match weights of the candidate pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightHistogram {
    /// Bins from the lowest weight seen to the highest; the first and last
    /// bins of the scale hold everything beyond.
    pub bins: Vec<WeightBin>,
    /// Every candidate pair.
    pub total: Count,
}

/// One bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightBin {
    /// Lower edge (inclusive).
    pub from: f64,
    /// Upper edge (exclusive).
    pub to: f64,
    /// Pairs.
    pub pairs: Count,
}

/// Match rates by the values of one column on one side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subgroup {
    /// `left` or `right`.
    pub side: String,
    /// The side's file name.
    pub file: String,
    /// The column.
    pub column: String,
    /// One row per value.
    pub rows: Vec<SubgroupRow>,
}

/// One value of a subgroup column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubgroupRow {
    /// The value (`(missing)` for empty, `(other values)` for the rest).
    pub value: String,
    /// Records.
    pub records: Count,
    /// Records with at least one link.
    pub linked: Count,
    /// Linked over records.
    pub match_rate: Rate,
    /// With truth: achievable true pairs whose record on this side is in
    /// the group.
    pub true_pairs: Option<Count>,
    /// With truth: of those, linked.
    pub true_linked: Option<Count>,
    /// With truth: true_linked over true_pairs.
    pub recall: Option<Rate>,
}

/// Quality against ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// The truth file.
    pub truth_file: String,
    /// Truth dataset of the left records.
    pub left_dataset: String,
    /// Truth dataset of the right records.
    pub right_dataset: String,
    /// Whether the datasets were inferred from the ids.
    pub datasets_inferred: bool,
    /// Cardinality recall is measured under.
    pub cardinality: String,
    /// Links.
    pub links: Count,
    /// Same-person links.
    pub true_positives: Count,
    /// Links joining different people.
    pub false_positives: Count,
    /// Achievable links not made.
    pub false_negatives: Count,
    /// Pairs of different people not linked.
    pub true_negatives: Count,
    /// The most correct links possible under the cardinality.
    pub achievable: Count,
    /// Every same-person pair.
    pub same_person_pairs: Count,
    /// Precision.
    pub precision: Rate,
    /// Recall against achievable.
    pub recall: Rate,
    /// F1.
    pub f1: Rate,
    /// True positives over same-person pairs.
    pub pairwise_recall: Rate,
    /// Per rule.
    pub by_rule: Vec<QualityByRule>,
    /// Per error kind.
    pub by_error: Vec<QualityByError>,
    /// Across thresholds.
    pub curve: Option<QualityCurve>,
}

/// Quality of one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityByRule {
    /// Method.
    pub method: Option<String>,
    /// Rule.
    pub rule: String,
    /// Links.
    pub links: Count,
    /// Same-person links.
    pub true_positives: Count,
    /// Wrong links.
    pub false_positives: Count,
    /// Precision.
    pub precision: Rate,
    /// Share of the achievable links it made.
    pub recall_contribution: Rate,
}

/// Quality by error kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityByError {
    /// Error kind.
    pub kind: String,
    /// Achievable true pairs touching a record with the kind.
    pub pairs: Count,
    /// Of those, linked.
    pub linked: Count,
    /// Of those, missed.
    pub missed: Count,
    /// Linked over pairs.
    pub recall: Rate,
    /// Wrong links involving a record with the kind.
    pub false_positives: Count,
}

/// The precision–recall curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityCurve {
    /// `links` (thresholds at or above the link threshold only) or
    /// `scores`.
    pub source: eval::CurveSource,
    /// The threshold used.
    pub link_threshold: Option<f64>,
    /// The threshold with the best F1 (computed before disclosure control).
    pub best_threshold: f64,
    /// The point with the best F1.
    pub best: QualityPoint,
    /// The linkage as made.
    pub at_link_threshold: Option<QualityPoint>,
    /// From the highest threshold to the lowest.
    pub points: Vec<QualityPoint>,
}

/// One threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityPoint {
    /// Threshold (match weight).
    pub threshold: f64,
    /// Links.
    pub links: Count,
    /// Same-person links.
    pub true_positives: Count,
    /// Wrong links.
    pub false_positives: Count,
    /// Precision.
    pub precision: Rate,
    /// Recall.
    pub recall: Rate,
    /// F1 (from the controlled precision and recall).
    pub f1: Rate,
}

/// The JSON file beside a report page: same stem, `.json`.
pub fn json_path(html: &Path) -> PathBuf {
    html.with_extension("json")
}

/// Writes the page to `html` and the JSON beside it ([`json_path`]), each
/// atomically; returns the JSON's path.
///
/// # Errors
/// [`ReportError::Invalid`] if `html` ends in `.json`; [`ReportError::Io`].
pub fn write(data: &ReportData, html: &Path) -> Result<PathBuf, ReportError> {
    let json = json_path(html);
    if json == html {
        return Err(ReportError::Invalid(format!(
            "{} would be overwritten by the report's JSON: name the page .html",
            html.display()
        )));
    }
    write_html(data, html)?;
    write_json(data, &json)?;
    Ok(json)
}

/// Renders and writes the HTML page atomically.
///
/// # Errors
/// [`ReportError::Chart`] or [`ReportError::Io`].
pub fn write_html(data: &ReportData, path: &Path) -> Result<(), ReportError> {
    let page = render_html(data)?;
    crate::io::write_atomic(path, page.as_bytes())?;
    Ok(())
}

/// Writes the JSON atomically.
///
/// # Errors
/// [`ReportError::Io`].
pub fn write_json(data: &ReportData, path: &Path) -> Result<(), ReportError> {
    let mut json = serde_json::to_vec_pretty(data).expect("report serialises");
    json.push(b'\n');
    crate::io::write_atomic(path, &json)?;
    Ok(())
}

/// An encoded file as the report needs it: ids, and the values of the
/// subgroup columns.
struct Encoded {
    /// The ids, in file order, each with its record index.
    ids: eval::StrIndex,
    /// Per subgroup column: the value index of each record, and the values.
    groups: Vec<(String, Vec<u32>, Vec<String>)>,
    sha_ok: bool,
}

fn read_encoded(path: &Path, m: &Manifest, columns: &[String]) -> Result<Encoded, ReportError> {
    let file = File::open(path).map_err(|e| IoError::new("cannot read", path, e))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .buffer_capacity(1 << 20)
        .from_reader(BufReader::with_capacity(
            1 << 20,
            crate::io::TeeReader::new(file),
        ));
    let bad = |line: u64, message: String| ReportError::BadData {
        path: path.to_path_buf(),
        line,
        message,
    };
    let header: Vec<String> = rdr
        .byte_headers()
        .map_err(|_| bad(1, "the header is not valid CSV".into()))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let expected: Vec<&str> = m.columns.iter().map(|c| c.name.as_str()).collect();
    if header != expected {
        return Err(bad(
            1,
            "the header does not match the manifest's columns: the file was altered or the manifest belongs to another file".into(),
        ));
    }
    let id_col = m.columns.iter().position(|c| c.role == "id").unwrap_or(0);
    let cols: Vec<usize> = columns
        .iter()
        .map(|c| header.iter().position(|h| h == c).expect("checked"))
        .collect();
    let mut ids = eval::StrIndex::default();
    let mut groups: Vec<(String, Vec<u32>, Vec<String>)> = columns
        .iter()
        .map(|c| (c.clone(), Vec::new(), Vec::new()))
        .collect();
    let mut value_ix: Vec<HashMap<Vec<u8>, u32>> = vec![HashMap::new(); columns.len()];
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(bad(
                    line,
                    "is not valid CSV or has the wrong number of fields".into(),
                ));
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        let id = std::str::from_utf8(&rec[id_col])
            .map_err(|_| bad(line, "the id is not valid UTF-8".into()))?;
        if ids.insert(id).is_err() {
            return Err(bad(line, "the id repeats an earlier record's".into()));
        }
        for (k, &c) in cols.iter().enumerate() {
            let v = &rec[c];
            let next = value_ix[k].len() as u32;
            let g = *value_ix[k].entry(v.to_vec()).or_insert_with(|| {
                groups[k]
                    .2
                    .push(String::from_utf8_lossy(v).trim().to_string());
                next
            });
            groups[k].1.push(g);
        }
    }
    let (digest, bytes) = rdr.into_inner().into_inner().finish();
    let sha_ok = crate::hex::encode(&digest) == m.data_sha256 && bytes == m.data_bytes;
    Ok(Encoded {
        ids,
        groups,
        sha_ok,
    })
}

/// Links resolved to encoded records.
struct ReadLinks {
    /// (method, rule) in first-seen order.
    rules: Vec<(Option<String>, String)>,
    per_rule: Vec<u64>,
    total: u64,
    left_links: Vec<u32>,
    right_links: Vec<u32>,
}

fn read_links(
    path: &Path,
    left_path: &Path,
    left: &Encoded,
    right_path: &Path,
    right: &Encoded,
) -> Result<ReadLinks, ReportError> {
    let f = File::open(path).map_err(|e| IoError::new("cannot read", path, e))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(BufReader::with_capacity(1 << 20, f));
    let h: Vec<String> = rdr
        .headers()
        .map_err(|_| ReportError::NotLinkTable {
            path: path.to_path_buf(),
            reason: "its header is not valid CSV".into(),
        })?
        .iter()
        .map(str::to_string)
        .collect();
    let find = |n: &str| h.iter().position(|c| c == n);
    let (li, ri) = match (find("left_id"), find("right_id")) {
        (Some(l), Some(r)) => (l, r),
        _ => {
            return Err(ReportError::NotLinkTable {
                path: path.to_path_buf(),
                reason: "its header has no left_id and right_id columns".into(),
            })
        }
    };
    let (mi, rui) = (find("method"), find("rule"));
    let mut out = ReadLinks {
        rules: Vec::new(),
        per_rule: Vec::new(),
        total: 0,
        left_links: vec![0; left.ids.len()],
        right_links: vec![0; right.ids.len()],
    };
    let mut rule_ix: HashMap<(Option<String>, String), usize> = HashMap::new();
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(ReportError::BadData {
                    path: path.to_path_buf(),
                    line: e.position().map_or(0, |p| p.line()),
                    message: "is not valid CSV or has the wrong number of fields".into(),
                })
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        let unknown = |side: &'static str, data: &Path| ReportError::UnknownId {
            links: path.to_path_buf(),
            line,
            side,
            data: data.to_path_buf(),
        };
        let l = left
            .ids
            .get(&rec[li])
            .ok_or_else(|| unknown("left", left_path))?;
        let r = right
            .ids
            .get(&rec[ri])
            .ok_or_else(|| unknown("right", right_path))?;
        out.left_links[l as usize] += 1;
        out.right_links[r as usize] += 1;
        out.total += 1;
        let method = mi.map(|i| rec[i].to_string()).filter(|s| !s.is_empty());
        let rule = rui
            .map(|i| rec[i].to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| method.clone().unwrap_or_else(|| "(none)".into()));
        let key = (method, rule);
        let k = match rule_ix.get(&key) {
            Some(&k) => k,
            None => {
                out.rules.push(key.clone());
                out.per_rule.push(0);
                rule_ix.insert(key, out.rules.len() - 1);
                out.rules.len() - 1
            }
        };
        out.per_rule[k] += 1;
    }
    Ok(out)
}

fn input_file(side: &str, path: &Path, m: &Manifest, sha_ok: bool, s: &Suppression) -> InputFile {
    let written = s.count(m.counts.written);
    InputFile {
        side: side.into(),
        path: path.display().to_string(),
        tool_version: m.tool_version.clone(),
        key_fingerprint: m.key_fingerprint.clone(),
        normaliser_version: m.normaliser_version,
        rows_read: s.count(m.counts.read),
        rows_written: written,
        rows_rejected: s.count(m.counts.rejected),
        counts_reconcile: m.counts.reconciles(),
        fields: m
            .counts
            .fields
            .iter()
            .map(|(field, statuses)| FieldStatuses {
                field: field.clone(),
                statuses: statuses
                    .iter()
                    .map(|(st, &n)| {
                        let c = s.count(n);
                        StatusCount {
                            status: st.clone(),
                            records: c,
                            share: s.rate(c, written),
                        }
                    })
                    .collect(),
            })
            .collect(),
        sha256_matches_manifest: sha_ok,
        payload_columns: m
            .columns
            .iter()
            .filter(|c| c.role == "payload")
            .map(|c| c.name.clone())
            .collect(),
    }
}

/// Which subgroup columns each side has: the defaults it has, and every
/// requested column (which must be payload or status on a side that has
/// it, and exist on at least one side).
fn subgroup_columns(
    req: &ReportRequest,
    lm: &Manifest,
    rm: &Manifest,
) -> Result<(Vec<String>, Vec<String>), ReportError> {
    let role = |m: &Manifest, c: &str| {
        m.columns
            .iter()
            .find(|x| x.name == c)
            .map(|x| x.role.clone())
    };
    let ok = |r: &str| r == "payload" || r == "status";
    let mut l = Vec::new();
    let mut r = Vec::new();
    for c in DEFAULT_SUBGROUPS {
        if role(lm, c).is_some_and(|x| ok(&x)) {
            l.push(c.to_string());
        }
        if role(rm, c).is_some_and(|x| ok(&x)) {
            r.push(c.to_string());
        }
    }
    for c in &req.subgroups {
        let (lr, rr) = (role(lm, c), role(rm, c));
        if lr.is_none() && rr.is_none() {
            let mut avail: Vec<String> = lm
                .columns
                .iter()
                .chain(&rm.columns)
                .filter(|x| ok(&x.role))
                .map(|x| x.name.clone())
                .collect();
            avail.sort();
            avail.dedup();
            return Err(ReportError::NoSuchColumn {
                column: c.clone(),
                left: req.left.clone(),
                right: req.right.clone(),
                available: avail.join(", "),
            });
        }
        for (x, path, list) in [(lr, &req.left, &mut l), (rr, &req.right, &mut r)] {
            match x {
                Some(x) if ok(&x) && !list.contains(c) => list.push(c.clone()),
                Some(x) if ok(&x) => {}
                Some(x) => {
                    return Err(ReportError::NotPayload {
                        column: c.clone(),
                        path: path.clone(),
                        role: if x == "id" { "id".into() } else { x },
                    })
                }
                None => {}
            }
        }
    }
    Ok((l, r))
}

/// A readable label for a subgroup value.
fn value_label(column: &str, v: &str) -> String {
    if v.is_empty() {
        return "(missing)".into();
    }
    if column.starts_with("sex") {
        match v {
            "1" => return "1 (male)".into(),
            "2" => return "2 (female)".into(),
            _ => {}
        }
    }
    v.to_string()
}

/// Sort key: a leading number numerically, then the text; `(missing)` and
/// `(other values)` last.
fn natural_key(v: &str) -> (u8, u64, String) {
    if v.is_empty() {
        return (2, 0, String::new());
    }
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<u64>() {
        Ok(n) => (0, n, v.to_string()),
        Err(_) => (1, 0, v.to_string()),
    }
}

struct SideCtx<'a> {
    side: &'static str,
    path: &'a Path,
    enc: &'a Encoded,
    links: &'a [u32],
    /// Truth record index of each encoded record.
    truth_ix: Option<Vec<u32>>,
}

fn subgroups_of(
    ctx: &SideCtx<'_>,
    assessed: Option<&eval::Assessed>,
    s: &Suppression,
) -> Vec<Subgroup> {
    let mut out = Vec::new();
    for (column, groups, values) in &ctx.enc.groups {
        // Raw counts per value.
        let k = values.len();
        let mut records = vec![0u64; k];
        let mut linked = vec![0u64; k];
        for (i, &g) in groups.iter().enumerate() {
            records[g as usize] += 1;
            if ctx.links[i] > 0 {
                linked[g as usize] += 1;
            }
        }
        // Keep the most common values; merge the rest.
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| records[b].cmp(&records[a]).then(a.cmp(&b)));
        let mut target = vec![0u32; k];
        let mut labels: Vec<String> = Vec::new();
        let merge = k > MAX_SUBGROUP_VALUES;
        let keep = if merge { MAX_SUBGROUP_VALUES - 1 } else { k };
        for (rank, &v) in order.iter().enumerate() {
            if rank < keep {
                target[v] = labels.len() as u32;
                labels.push(values[v].clone());
            }
        }
        let other = labels.len() as u32;
        if merge {
            for &v in order.iter().skip(keep) {
                target[v] = other;
            }
            labels.push("\u{0}other".into());
        }
        let n = labels.len();
        let (mut rec2, mut link2) = (vec![0u64; n], vec![0u64; n]);
        for v in 0..k {
            rec2[target[v] as usize] += records[v];
            link2[target[v] as usize] += linked[v];
        }
        let recall: Option<Vec<(u64, u64)>> = match (assessed, &ctx.truth_ix) {
            (Some(a), Some(tix)) => {
                let truth_len = if ctx.side == "left" {
                    a.left.person.len()
                } else {
                    a.right.person.len()
                };
                let mut group = vec![eval::NONE; truth_len];
                for (i, &g) in groups.iter().enumerate() {
                    if tix[i] != eval::NONE {
                        group[tix[i] as usize] = target[g as usize];
                    }
                }
                Some(a.recall_by_group(ctx.side == "left", &group, n))
            }
            _ => None,
        };
        let mut rows: Vec<(usize, SubgroupRow)> = (0..n)
            .map(|g| {
                let (rc, lc) = (s.count(rec2[g]), s.count(link2[g]));
                let (tp, tl) = match &recall {
                    Some(v) => (Some(s.count(v[g].0)), Some(s.count(v[g].1))),
                    None => (None, None),
                };
                let value = if labels[g] == "\u{0}other" {
                    "(other values)".to_string()
                } else {
                    value_label(column, &labels[g])
                };
                (
                    g,
                    SubgroupRow {
                        value,
                        records: rc,
                        linked: lc,
                        match_rate: s.rate(lc, rc),
                        true_pairs: tp,
                        true_linked: tl,
                        recall: match (tp, tl) {
                            (Some(p), Some(l)) => Some(s.rate(l, p)),
                            _ => None,
                        },
                    },
                )
            })
            .collect();
        rows.sort_by_key(|(g, _)| {
            if labels[*g] == "\u{0}other" {
                (3, 0, String::new())
            } else {
                natural_key(&labels[*g])
            }
        });
        out.push(Subgroup {
            side: ctx.side.into(),
            file: ctx
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            column: column.clone(),
            rows: rows.into_iter().map(|(_, r)| r).collect(),
        });
    }
    out
}

fn model_section(
    req: &ReportRequest,
    lm: &LinksManifest,
    s: &Suppression,
) -> Result<Option<ModelSection>, ReportError> {
    let (model, source) = match &req.model {
        Some(p) => (Some(TrainedModel::read(p)?), p.display().to_string()),
        // The model the linkage trained, checked as a model file is (its
        // format version, parameters that fit its comparisons).
        None => (
            lm.model
                .as_ref()
                .map(|v| {
                    TrainedModel::from_json(&crate::io::manifest_path(&req.links), &v.to_string())
                })
                .transpose()?,
            format!(
                "{} (trained during linkage)",
                crate::io::manifest_path(&req.links).display()
            ),
        ),
    };
    let Some(model) = model else {
        return Ok(None);
    };
    let threshold = eval::manifest_threshold(lm).or_else(|| Some(model.spec.threshold_weight()));
    let histogram = lm
        .model
        .as_ref()
        .and_then(|v| v.get("weight_histogram"))
        .and_then(|h| serde_json::from_value::<Histogram>(h.clone()).ok())
        .map(|h| histogram(&h, s));
    let mut em: Vec<EmSession> = Vec::new();
    for it in &model.em {
        if em.last().is_none_or(|e| e.session != it.session) {
            em.push(EmSession {
                session: it.session.clone(),
                iterations: Vec::new(),
            });
        }
        em.last_mut().expect("pushed").iterations.push(EmStep {
            iteration: it.iteration,
            max_change: it.max_change,
            lambda: it.lambda,
        });
    }
    Ok(Some(ModelSection {
        source,
        prior: model.prior,
        prior_weight: model.prior_weight(),
        threshold_weight: threshold,
        em_tolerance: model.spec.settings.em_tolerance,
        comparisons: model
            .comparisons
            .iter()
            .map(|c| ComparisonParams {
                name: c.name.clone(),
                levels: c
                    .levels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| LevelParams {
                        level: l.clone(),
                        m: c.m.get(i).copied().unwrap_or(f64::NAN),
                        u: c.u.get(i).copied().unwrap_or(f64::NAN),
                        weight: c.weights.get(i).copied().unwrap_or(f64::NAN),
                    })
                    .collect(),
                trained_in: c.trained_in.clone(),
            })
            .collect(),
        em,
        blocking: model
            .blocking_pairs
            .iter()
            .map(|b| BlockingPairs {
                name: b.name.clone(),
                pairs: s.count(b.pairs),
                new_pairs: s.count(b.new_pairs),
                compared_in_training: s.count(b.compared_in_training),
            })
            .collect(),
        histogram,
    }))
}

/// The histogram's bins from the first non-empty to the last, controlled.
fn histogram(h: &Histogram, s: &Suppression) -> WeightHistogram {
    let first = h.counts.iter().position(|&c| c > 0);
    let last = h.counts.iter().rposition(|&c| c > 0);
    let per = f64::from(h.per_bit.max(1));
    let bins = match (first, last) {
        (Some(a), Some(b)) => (a..=b)
            .map(|i| WeightBin {
                from: f64::from(h.min) + i as f64 / per,
                to: f64::from(h.min) + (i + 1) as f64 / per,
                pairs: s.count(h.counts[i]),
            })
            .collect(),
        _ => Vec::new(),
    };
    WeightHistogram {
        bins,
        total: s.count(h.total()),
    }
}

fn quality(ev: &Evaluation, s: &Suppression) -> Quality {
    let o = &ev.overall;
    let c = |n: u64| s.count(n);
    let (links, tp, ach) = (c(o.links), c(o.true_positives), c(o.achievable));
    let recall_num = c(o.achievable - o.false_negatives);
    let precision = s.rate(tp, links);
    let recall = s.rate(recall_num, ach);
    let point = |p: &eval::CurvePoint| {
        let (l, t) = (c(p.links), c(p.true_positives));
        let precision = s.rate(t, l);
        let recall = s.rate(c(p.recalled), ach);
        QualityPoint {
            threshold: p.threshold,
            links: l,
            true_positives: t,
            false_positives: c(p.false_positives),
            precision,
            recall,
            f1: eval::f1(precision, recall),
        }
    };
    Quality {
        truth_file: ev.truth_file.clone(),
        left_dataset: ev.left_dataset.clone(),
        right_dataset: ev.right_dataset.clone(),
        datasets_inferred: ev.datasets_inferred,
        cardinality: ev.cardinality.name().into(),
        links,
        true_positives: tp,
        false_positives: c(o.false_positives),
        false_negatives: c(o.false_negatives),
        true_negatives: c(o.true_negatives),
        achievable: ach,
        same_person_pairs: c(o.same_person_pairs),
        precision,
        recall,
        f1: eval::f1(precision, recall),
        pairwise_recall: s.rate(tp, c(o.same_person_pairs)),
        by_rule: ev
            .by_rule
            .iter()
            .map(|r| {
                let (l, t) = (c(r.links), c(r.true_positives));
                QualityByRule {
                    method: r.method.clone(),
                    rule: r.rule.clone(),
                    links: l,
                    true_positives: t,
                    false_positives: c(r.false_positives),
                    precision: s.rate(t, l),
                    recall_contribution: s.rate(t, ach),
                }
            })
            .collect(),
        by_error: ev
            .by_error
            .iter()
            .map(|e| {
                let (p, l) = (c(e.pairs), c(e.linked));
                QualityByError {
                    kind: e.kind.clone(),
                    pairs: p,
                    linked: l,
                    missed: c(e.missed),
                    recall: s.rate(l, p),
                    false_positives: c(e.false_positives),
                }
            })
            .collect(),
        curve: ev.thresholds.as_ref().map(|t| QualityCurve {
            source: t.source,
            link_threshold: t.link_threshold,
            best_threshold: t.best.threshold,
            best: point(&t.best),
            at_link_threshold: t.at_link_threshold.as_ref().map(point),
            points: t.points.iter().map(point).collect(),
        }),
    }
}

/// Civil date and time (UTC) of a Unix time, ISO 8601.
fn iso_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Builds a report's figures, with disclosure control applied.
///
/// # Errors
/// [`ReportError`]: a missing or unreadable manifest or file, an encoded
/// file that is not the one linked, a link to a record the file does not
/// have, a subgroup column that does not exist or is not payload, or a
/// failed evaluation against truth.
pub fn build(req: &ReportRequest) -> Result<ReportData, ReportError> {
    let s = req.suppression;
    let links_manifest_path = crate::io::manifest_path(&req.links);
    if !links_manifest_path.exists() {
        return Err(ReportError::NotLinkTable {
            path: req.links.clone(),
            reason: format!(
                "it has no manifest beside it ({}); the report needs the manifest `linkwell link` writes",
                links_manifest_path.display()
            ),
        });
    }
    let lkm = LinksManifest::read_for(&req.links)?;
    let lm = Manifest::read_for(&req.left)?;
    let rm = Manifest::read_for(&req.right)?;
    for (side, path, m, info) in [
        ("left", &req.left, &lm, &lkm.left),
        ("right", &req.right, &rm, &lkm.right),
    ] {
        if m.data_sha256 != info.data_sha256 {
            return Err(ReportError::NotTheLinkedFile {
                path: path.clone(),
                side,
                links_manifest: links_manifest_path.clone(),
            });
        }
    }
    let (lcols, rcols) = subgroup_columns(req, &lm, &rm)?;
    let left = read_encoded(&req.left, &lm, &lcols)?;
    let right = read_encoded(&req.right, &rm, &rcols)?;
    let (links_digest, _) = crate::io::sha256_file(&req.links)?;
    let links_sha_ok = crate::hex::encode(&links_digest) == lkm.links_sha256;
    let rl = read_links(&req.links, &req.left, &left, &req.right, &right)?;

    // Links by rule: cascade order, then the rest as first seen.
    let mut by_rule: Vec<RuleLinks> = Vec::new();
    let total = s.count(rl.total);
    let mut order: Vec<usize> = (0..rl.rules.len()).collect();
    order.sort_by_key(|&i| {
        lkm.rules
            .iter()
            .position(|r| r.name == rl.rules[i].1)
            .unwrap_or(usize::MAX)
    });
    for i in order {
        let (method, rule) = &rl.rules[i];
        let stats = lkm.summary.rules.iter().find(|r| &r.name == rule);
        let n = s.count(rl.per_rule[i]);
        by_rule.push(RuleLinks {
            method: method.clone(),
            rule: rule.clone(),
            links: n,
            share: s.rate(n, total),
            ambiguous_left: stats.map(|r| s.count(r.ambiguous_left)),
            ambiguous_right: stats.map(|r| s.count(r.ambiguous_right)),
        });
    }
    // Rules that made no links still show their ambiguity.
    for r in &lkm.summary.rules {
        if !by_rule.iter().any(|b| b.rule == r.name) {
            by_rule.push(RuleLinks {
                method: Some("deterministic".into()),
                rule: r.name.clone(),
                links: s.count(0),
                share: None,
                ambiguous_left: Some(s.count(r.ambiguous_left)),
                ambiguous_right: Some(s.count(r.ambiguous_right)),
            });
        }
    }
    let side_counts = |v: &[u32]| {
        let linked = v.iter().filter(|&&n| n > 0).count() as u64;
        let multiple = v.iter().filter(|&&n| n > 1).count() as u64;
        (v.len() as u64, linked, multiple)
    };
    let (ln, ll, lmu) = side_counts(&rl.left_links);
    let (rn, rlk, rmu) = side_counts(&rl.right_links);
    let (lnc, llc, rnc, rlc) = (s.count(ln), s.count(ll), s.count(rn), s.count(rlk));
    let links = LinksSection {
        method: lkm.method.clone(),
        cardinality: lkm.cardinality.clone(),
        links: total,
        by_rule,
        ambiguous_entries: s.count(lkm.summary.ambiguous_entries),
        left_records: lnc,
        left_linked: llc,
        left_unlinked: s.count(ln - ll),
        left_multiple: s.count(lmu),
        left_match_rate: s.rate(llc, lnc),
        right_records: rnc,
        right_linked: rlc,
        right_unlinked: s.count(rn - rlk),
        right_multiple: s.count(rmu),
        right_match_rate: s.rate(rlc, rnc),
    };

    // Truth.
    let assessed = match &req.truth {
        Some(t) => Some(eval::assess(&EvalRequest {
            links: req.links.clone(),
            truth: t.clone(),
            left_dataset: req.left_dataset.clone(),
            right_dataset: req.right_dataset.clone(),
            scores: req.scores.clone(),
            cardinality: None,
        })?),
        None => None,
    };
    let truth_ix = |enc: &Encoded, side: Option<&eval::TruthSide>| {
        side.map(|t| {
            enc.ids
                .iter()
                .map(|id| t.index.get(id).unwrap_or(eval::NONE))
                .collect::<Vec<u32>>()
        })
    };
    let lctx = SideCtx {
        side: "left",
        path: &req.left,
        enc: &left,
        links: &rl.left_links,
        truth_ix: truth_ix(&left, assessed.as_ref().map(|a| &a.left)),
    };
    let rctx = SideCtx {
        side: "right",
        path: &req.right,
        enc: &right,
        links: &rl.right_links,
        truth_ix: truth_ix(&right, assessed.as_ref().map(|a| &a.right)),
    };
    let mut subgroups = subgroups_of(&lctx, assessed.as_ref(), &s);
    subgroups.extend(subgroups_of(&rctx, assessed.as_ref(), &s));
    let quality = assessed.as_ref().map(|a| quality(&a.evaluation(), &s));
    let model = model_section(req, &lkm, &s)?;

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut notes = vec![
        s.describe(),
        "Match rate: the share of a side's records with at least one link.".into(),
    ];
    if quality.is_some() {
        notes.push(
            "A link is correct when both records belong to the same person. Recall is measured \
             against the best linkage possible under the declared cardinality: per person, \
             one-to-one can make min(left, right) correct links, one-to-many one per right \
             record, many-to-many every pair. Pairwise recall (over every same-person pair) is \
             shown for transparency."
                .into(),
        );
        if let Some(q) = &quality {
            if q.curve
                .as_ref()
                .is_some_and(|c| c.source == eval::CurveSource::Links)
            {
                notes.push(
                    "The precision–recall curve covers only thresholds at or above the link \
                     threshold: pairs scored below it are not in the link table."
                        .into(),
                );
            }
        }
    }
    Ok(ReportData {
        format: REPORT_FORMAT.into(),
        format_version: 1,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        title: req.title.clone().unwrap_or_else(|| {
            format!(
                "Linkage report: {} ↔ {}",
                file_name(&req.left),
                file_name(&req.right)
            )
        }),
        generated_utc: iso_utc(now),
        suppressed: s.is_suppressed(),
        suppression: s,
        disclosure: s.describe(),
        inputs: Inputs {
            key_fingerprints_match: lm.key_fingerprint == rm.key_fingerprint,
            normalisers_match: lm.normaliser_version == rm.normaliser_version,
            left: input_file("left", &req.left, &lm, left.sha_ok, &s),
            right: input_file("right", &req.right, &rm, right.sha_ok, &s),
            links: LinksFile {
                path: req.links.display().to_string(),
                tool_version: lkm.tool_version.clone(),
                sha256_matches_manifest: links_sha_ok,
            },
        },
        links,
        model,
        subgroups,
        quality,
        notes,
    })
}

#[cfg(test)]
mod tests;
