//! The whole `link` job: check manifests, load, link, write.

use std::path::{Path, PathBuf};

use super::data::{self, Dataset, Dictionaries};
use super::deterministic::{self, Rule, RulesFile};
use super::output::{
    self, ExtractOptions, InputInfo, LinkFormat, LinkRow, LinkSummary, LinksManifest, Method,
};
use super::{check_compatible, Cardinality, LinkError};
use crate::pseudonym::PseudonymKey;

/// Which linkage to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMethod {
    /// Match-key cascade only.
    Deterministic,
    /// Fellegi–Sunter only.
    Probabilistic,
    /// The cascade, then Fellegi–Sunter over what it left unlinked.
    Cascade,
}

impl LinkMethod {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            LinkMethod::Deterministic => "deterministic",
            LinkMethod::Probabilistic => "probabilistic",
            LinkMethod::Cascade => "cascade",
        }
    }
}

/// The research extract to write.
pub struct ExtractRequest<'a> {
    /// Where.
    pub path: PathBuf,
    /// The project's pseudonym key.
    pub key: &'a PseudonymKey,
    /// Left dataset label.
    pub left_label: String,
    /// Right dataset label.
    pub right_label: String,
    /// Include unlinked left records.
    pub include_unlinked_left: bool,
}

/// Stages reported to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Loading the left file (records so far).
    LoadLeft,
    /// Loading the right file.
    LoadRight,
    /// Running the deterministic cascade.
    Deterministic,
    /// Probabilistic linkage.
    Probabilistic,
    /// Writing outputs.
    Write,
}

/// A linkage request.
pub struct LinkRequest<'a> {
    /// Left encoded file.
    pub left: PathBuf,
    /// Right encoded file.
    pub right: PathBuf,
    /// Link table to write.
    pub output: PathBuf,
    /// Which linkage.
    pub method: LinkMethod,
    /// A rules file (else the built-in cascade).
    pub rules: Option<RulesFile>,
    /// Cardinality (else the rules file's, else one-to-one).
    pub cardinality: Option<Cardinality>,
    /// The research extract, if wanted.
    pub extract: Option<ExtractRequest<'a>>,
    /// Progress: stage and records done.
    pub progress: &'a (dyn Fn(Stage, u64) + Sync),
}

/// What a linkage produced.
pub struct LinkOutcome {
    /// The manifest written beside the link table.
    pub manifest: LinksManifest,
    /// Rows written to the extract.
    pub extract_rows: Option<u64>,
}

/// Resolves the rules: the given file's, or the built-in cascade for
/// whatever columns both files have.
fn resolve_rules(
    req: &LinkRequest<'_>,
    lm: &crate::manifest::Manifest,
    rm: &crate::manifest::Manifest,
) -> Result<(Vec<Rule>, Cardinality, u64), LinkError> {
    let (rules, card, max_group) = match &req.rules {
        Some(f) => (f.rules.clone(), f.cardinality, f.max_group),
        None => (deterministic::default_rules(lm, rm), None, None),
    };
    if rules.is_empty() {
        return Err(LinkError::Invalid(format!(
            "{} and {} share none of the columns of the built-in cascade: give a rules file with --rules",
            req.left.display(),
            req.right.display()
        )));
    }
    deterministic::check_rules(&rules, &req.left, lm, &req.right, rm)?;
    let cardinality = req.cardinality.or(card).unwrap_or_default();
    Ok((rules, cardinality, max_group.unwrap_or(100)))
}

/// Runs a linkage end to end.
///
/// # Errors
/// [`LinkError`] with one sentence naming the file and the problem.
pub fn link(req: &LinkRequest<'_>) -> Result<LinkOutcome, LinkError> {
    if req.method != LinkMethod::Deterministic {
        return Err(LinkError::Invalid(format!(
            "method {} is not available in this build",
            req.method.name()
        )));
    }
    let lm = data::read_manifest(&req.left)?;
    let rm = data::read_manifest(&req.right)?;
    check_compatible(&req.left, &lm, &req.right, &rm)?;
    let (rules, cardinality, max_group) = resolve_rules(req, &lm, &rm)?;
    let (lcols, rcols) = deterministic::needed_columns(&rules);
    let with_payload = req.extract.is_some();
    let mut dicts = Dictionaries::default();
    let left = data::load(&req.left, lm, &lcols, with_payload, &mut dicts, &|n| {
        (req.progress)(Stage::LoadLeft, n)
    })?;
    let right = data::load(&req.right, rm, &rcols, with_payload, &mut dicts, &|n| {
        (req.progress)(Stage::LoadRight, n)
    })?;
    drop(dicts);
    (req.progress)(Stage::Deterministic, 0);
    let det = deterministic::run(&left, &right, &rules, cardinality, max_group);
    let rule_names: Vec<String> = rules.iter().map(|r| r.name.clone()).collect();
    let rows: Vec<LinkRow> = det
        .links
        .iter()
        .map(|l| LinkRow {
            left: l.left,
            right: l.right,
            method: Method::Deterministic,
            rule: rule_names[l.rule as usize].clone(),
            weight: None,
            probability: None,
            explain: Vec::new(),
        })
        .collect();
    (req.progress)(Stage::Write, 0);
    let manifest = LinksManifest {
        format: output::LINKS_FORMAT.into(),
        format_version: 1,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        method: req.method.name().into(),
        cardinality: cardinality.name().into(),
        left: InputInfo::of(&left),
        right: InputInfo::of(&right),
        rules: rules.clone(),
        model: None,
        summary: LinkSummary {
            links: rows.len() as u64,
            rules: det.rules.clone(),
            probabilistic_links: 0,
            unlinked_left: det.unlinked_left,
            unlinked_right: det.unlinked_right,
            ambiguous_entries: det.ambiguous.len() as u64,
        },
        links_file: String::new(),
        links_sha256: String::new(),
        ambiguous_file: String::new(),
    };
    let manifest = output::write_links(
        &req.output,
        &LinkFormat::Deterministic,
        &rows,
        &left,
        &right,
        &det.ambiguous,
        &rule_names,
        manifest,
    )?;
    let extract_rows = match &req.extract {
        Some(x) => Some(output::write_extract(
            &x.path,
            &rows,
            &left,
            &right,
            &ExtractOptions {
                key: x.key,
                left_label: &x.left_label,
                right_label: &x.right_label,
                include_unlinked_left: x.include_unlinked_left,
            },
        )?),
        None => None,
    };
    Ok(LinkOutcome {
        manifest,
        extract_rows,
    })
}

/// Loads a rules file.
///
/// # Errors
/// [`LinkError`] if it cannot be read or parsed.
pub fn read_rules(path: &Path) -> Result<RulesFile, LinkError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| crate::io::IoError::new("cannot read rules file", path, e))?;
    RulesFile::from_toml(path, &text)
}

/// A dataset handle, re-exported for report and evaluation code.
pub type Loaded = Dataset;
