//! The whole `link` job: check manifests, load, link, write.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::data::{self, Dataset, Dictionaries};
use super::deterministic::{self, Rule, RulesFile};
use super::output::{
    self, ExtractOptions, InputInfo, LinkFormat, LinkRow, LinkSummary, Links, LinksManifest, Method,
};
use super::probabilistic::model::{self, ModelSpec, TrainedModel};
use super::probabilistic::{self as prob, Histogram, Prepared, Scored};
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
    /// The probabilistic model: a spec to train, or a trained model (else
    /// the built-in model, trained on these files).
    pub model: Option<ModelInput>,
    /// Override the model's threshold (match probability).
    pub threshold_probability: Option<f64>,
    /// Override the model's threshold (match weight).
    pub threshold_weight: Option<f64>,
    /// Write each comparison's level and weight per link.
    pub explain: bool,
    /// Write this many pairs nearest the threshold for clerical review.
    pub review_sample: Option<usize>,
    /// Save the trained model here.
    pub save_model: Option<PathBuf>,
    /// Write every scored candidate pair here (`left_id,right_id,
    /// match_weight,match_probability`), for precision–recall curves below
    /// the threshold. Inside the TRE only: it is far larger than the links.
    pub scores: Option<PathBuf>,
    /// Progress: stage and records done.
    pub progress: &'a (dyn Fn(Stage, u64) + Sync),
    /// Messages about long steps (training).
    pub report: &'a (dyn Fn(&str) + Sync),
}

/// A model given to `link`.
pub enum ModelInput {
    /// A model spec (TOML) to train on the files being linked.
    Spec(ModelSpec),
    /// A model trained before (`linkwell train`).
    Trained(TrainedModel),
}

impl ModelInput {
    /// Reads a model file: `.json` is a trained model, anything else a
    /// TOML spec.
    ///
    /// # Errors
    /// [`LinkError`] if it cannot be read or is not valid.
    pub fn read(path: &Path) -> Result<ModelInput, LinkError> {
        if path.extension().is_some_and(|e| e == "json") {
            return Ok(ModelInput::Trained(TrainedModel::read(path)?));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| crate::io::IoError::new("cannot read model", path, e))?;
        Ok(ModelInput::Spec(ModelSpec::from_toml(path, &text)?))
    }
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
    let lm = data::read_manifest(&req.left)?;
    let rm = data::read_manifest(&req.right)?;
    check_compatible(&req.left, &lm, &req.right, &rm)?;
    let deterministic = req.method != LinkMethod::Probabilistic;
    let probabilistic = req.method != LinkMethod::Deterministic;
    let (rules, cardinality, max_group) = if deterministic {
        resolve_rules(req, &lm, &rm)?
    } else {
        let card = req
            .cardinality
            .or(req.rules.as_ref().and_then(|r| r.cardinality))
            .unwrap_or_default();
        (Vec::new(), card, 100)
    };
    let mut trained: Option<TrainedModel> = None;
    let spec: Option<ModelSpec> = if probabilistic {
        let mut spec = match &req.model {
            Some(ModelInput::Spec(s)) => s.clone(),
            Some(ModelInput::Trained(t)) => {
                trained = Some(t.clone());
                t.spec.clone()
            }
            None => model::default_model(&lm, &rm),
        };
        if let Some(p) = req.threshold_probability {
            spec.settings.threshold_probability = p;
            spec.settings.threshold_weight = None;
        }
        if let Some(w) = req.threshold_weight {
            spec.settings.threshold_weight = Some(w);
        }
        if spec.comparisons.is_empty() || spec.blocking.is_empty() {
            return Err(LinkError::Invalid(format!(
                "{} and {} share too few encoded columns for the built-in model: give a model with --model",
                req.left.display(),
                req.right.display()
            )));
        }
        prob::check_model(&spec, &req.left, &lm, &req.right, &rm)?;
        if let Some(t) = &mut trained {
            t.spec.settings = spec.settings.clone();
        }
        Some(spec)
    } else {
        None
    };
    let (mut lcols, mut rcols) = deterministic::needed_columns(&rules);
    if let Some(s) = &spec {
        let (l, r) = prob::needed_columns(s);
        lcols.extend(
            l.into_iter()
                .filter(|c| !lcols.contains(c))
                .collect::<Vec<_>>(),
        );
        rcols.extend(
            r.into_iter()
                .filter(|c| !rcols.contains(c))
                .collect::<Vec<_>>(),
        );
    }
    let with_payload = req.extract.is_some();
    let mut dicts = Dictionaries::default();
    let mut left = data::load(&req.left, lm, &lcols, with_payload, &mut dicts, &|n| {
        (req.progress)(Stage::LoadLeft, n)
    })?;
    let mut right = data::load(&req.right, rm, &rcols, with_payload, &mut dicts, &|n| {
        (req.progress)(Stage::LoadRight, n)
    })?;
    let mut rule_names: Vec<String> = rules.iter().map(|r| r.name.clone()).collect();
    let mut rows: Vec<LinkRow> = Vec::new();
    let mut det = if deterministic {
        (req.progress)(Stage::Deterministic, 0);
        deterministic::run(&left, &right, &rules, cardinality, max_group)
    } else {
        deterministic::DeterministicLinks::default()
    };
    let mut histogram: Option<Histogram> = None;
    let mut review: Vec<Scored> = Vec::new();
    let mut explain_columns: Vec<String> = Vec::new();
    let mut probabilistic_links = 0u64;
    if let Some(spec) = &spec {
        (req.progress)(Stage::Probabilistic, 0);
        // The table will mix methods: each deterministic link becomes a
        // full row. (Without this stage, they are written as they are.)
        rows.par_extend(det.links.par_iter().map(LinkRow::from));
        // Training sees every record; scoring only those the cascade left
        // (with no deterministic links, the same blocks serve both).
        let mut everyone: Option<Prepared<'_>> = None;
        let model = match trained.take() {
            Some(t) => t,
            None => {
                let all = Prepared::everyone(spec, &left, &right, &dicts)?;
                let m = all.train(req.report)?;
                everyone = Some(all);
                m
            }
        };
        if let Some(p) = &req.save_model {
            let json = serde_json::to_vec_pretty(&model).expect("model serialises");
            crate::io::write_atomic(p, &json)?;
        }
        // Score only what the cascade left: records that can take no more
        // links are out.
        let mut left_ok = vec![true; left.len()];
        let mut right_ok = vec![true; right.len()];
        for l in &det.links {
            if cardinality.left_unique() {
                left_ok[l.left as usize] = false;
            }
            if cardinality.right_unique() {
                right_ok[l.right as usize] = false;
            }
        }
        (req.report)("scoring candidate pairs");
        let scorer = match everyone {
            Some(p) if det.links.is_empty() => p,
            Some(p) => p.restrict(left_ok, right_ok),
            None => Prepared::new(spec, &left, &right, &dicts, left_ok, right_ok)?,
        };
        let threshold = model.spec.threshold_weight();
        let keep_from = if req.scores.is_some() {
            f64::NEG_INFINITY
        } else if req.review_sample.is_some() {
            threshold - 10.0
        } else {
            threshold
        };
        let scores = scorer.score(&model, keep_from);
        if let Some(p) = &req.scores {
            output::write_scores(p, &scores.pairs, &left, &right)?;
        }
        let chosen = prob::assign(&scores.pairs, threshold, cardinality);
        probabilistic_links = chosen.len() as u64;
        let weights = prob::Weights::new(&model, &scorer.comparer);
        if req.explain {
            explain_columns.push("prior_weight".into());
            for c in &model.comparisons {
                explain_columns.push(format!("{}_level", c.name));
                explain_columns.push(format!("{}_weight", c.name));
            }
        }
        let fs_rule = rule_names.len() as u16;
        rows.extend(chosen.iter().map(|s| LinkRow {
            left: s.left,
            right: s.right,
            method: Method::Probabilistic,
            rule: fs_rule,
            weight: Some(s.weight),
            explain: if req.explain {
                explain_cells(&model, &weights, s).into()
            } else {
                Box::default()
            },
        }));
        if let Some(n) = req.review_sample {
            let mut near: Vec<Scored> = scores.pairs.clone();
            near.sort_by(|a, b| {
                (a.weight - threshold)
                    .abs()
                    .total_cmp(&(b.weight - threshold).abs())
                    .then((a.left, a.right).cmp(&(b.left, b.right)))
            });
            near.truncate(n);
            near.sort_by_key(|s| (s.left, s.right));
            review = near;
        }
        histogram = Some(scores.histogram);
        trained = Some(model);
        rule_names.push("fellegi_sunter".into());
    }
    let scored = spec.is_some();
    let (unlinked_left, unlinked_right) = if scored {
        if req.explain {
            for r in &mut rows {
                if r.explain.is_empty() {
                    r.explain = vec![String::new(); explain_columns.len()].into();
                }
            }
        }
        rows.sort_by_key(|r| (r.left, r.right));
        // Links per side, for the unlinked counts.
        let mut lk = vec![false; left.len()];
        let mut rk = vec![false; right.len()];
        for r in &rows {
            lk[r.left as usize] = true;
            rk[r.right as usize] = true;
        }
        let none = |v: &[bool]| v.iter().filter(|&&x| !x).count() as u64;
        (none(&lk), none(&rk))
    } else {
        (det.unlinked_left, det.unlinked_right)
    };
    // Writing needs none of the dictionaries, encoded columns or (when
    // they were made into rows) links by rule (at 10M × 10M, a gigabyte):
    // a thread of their own frees them while the links are written,
    // instead of after.
    let _freeing = DropAside::new((
        dicts,
        left.take_encoded(),
        right.take_encoded(),
        if scored {
            std::mem::take(&mut det.links)
        } else {
            Vec::new()
        },
    ));
    // Sorted by left, then right record: `deterministic::run` sorts its
    // links so, and the rows were sorted above.
    let table = if scored {
        Links::Scored(&rows)
    } else {
        Links::Deterministic(&det.links)
    };
    (req.progress)(Stage::Write, 0);
    let model_json = trained.as_ref().map(|m| {
        let mut v = serde_json::to_value(m).expect("model serialises");
        if let Some(h) = &histogram {
            v["weight_histogram"] = serde_json::to_value(h).expect("histogram serialises");
        }
        v["threshold_weight"] = serde_json::json!(m.spec.threshold_weight());
        v
    });
    let manifest = LinksManifest {
        format: output::LINKS_FORMAT.into(),
        format_version: 1,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        method: req.method.name().into(),
        cardinality: cardinality.name().into(),
        left: InputInfo::of(&left),
        right: InputInfo::of(&right),
        rules: rules.clone(),
        model: model_json,
        summary: LinkSummary {
            links: table.len() as u64,
            rules: det.rules.clone(),
            probabilistic_links,
            unlinked_left,
            unlinked_right,
            ambiguous_entries: det.ambiguous.len() as u64,
        },
        links_file: String::new(),
        links_sha256: String::new(),
        ambiguous_file: String::new(),
    };
    let format = if req.method == LinkMethod::Deterministic {
        LinkFormat::Deterministic
    } else {
        LinkFormat::Scored {
            explain: explain_columns,
        }
    };
    let manifest = output::write_links(
        &req.output,
        &format,
        table,
        &left,
        &right,
        &det.ambiguous,
        &rule_names,
        manifest,
    )?;
    if let (Some(_), Some(model)) = (req.review_sample, &trained) {
        output::write_review(&req.output, &review, &left, &right, model)?;
    }
    let extract_rows = match &req.extract {
        Some(x) => Some(output::write_extract(
            &x.path,
            table,
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

/// Drops a value on a thread of its own, and joins that thread when the
/// guard itself is dropped: the memory is freed while the caller works on,
/// and never after [`link`] has returned.
struct DropAside(Option<std::thread::JoinHandle<()>>);

impl DropAside {
    fn new<T: Send + 'static>(value: T) -> Self {
        // If no thread can be started, the closure and its value are
        // dropped here, on this thread.
        Self(
            std::thread::Builder::new()
                .name("linkwell-free".into())
                .spawn(move || drop(value))
                .ok(),
        )
    }
}

impl Drop for DropAside {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            // Dropping vectors and maps does not panic; if it ever did,
            // the value is gone either way.
            let _ = h.join();
        }
    }
}

fn explain_cells(model: &TrainedModel, w: &prob::Weights<'_>, s: &Scored) -> Vec<String> {
    let mut v = vec![format!("{:.6}", w.prior())];
    for (c, params) in model.comparisons.iter().enumerate() {
        let lv = prob::compare::level_of(s.pattern, c);
        if lv == model::NULL_LEVEL {
            v.push("null".into());
            v.push(format!("{:.6}", 0.0));
        } else {
            v.push(params.levels[lv as usize].clone());
            v.push(format!(
                "{:.6}",
                w.contribution(c, lv, s.left as usize, s.right as usize)
            ));
        }
    }
    v
}

/// Trains a model on two encoded files without linking them.
///
/// # Errors
/// [`LinkError`] as for [`link`].
pub fn train(
    left_path: &Path,
    right_path: &Path,
    spec: Option<ModelSpec>,
    progress: &(dyn Fn(Stage, u64) + Sync),
    report: &(dyn Fn(&str) + Sync),
) -> Result<TrainedModel, LinkError> {
    let lm = data::read_manifest(left_path)?;
    let rm = data::read_manifest(right_path)?;
    check_compatible(left_path, &lm, right_path, &rm)?;
    let spec = spec.unwrap_or_else(|| model::default_model(&lm, &rm));
    if spec.comparisons.is_empty() || spec.blocking.is_empty() {
        return Err(LinkError::Invalid(format!(
            "{} and {} share too few encoded columns for the built-in model: give a model with --model",
            left_path.display(),
            right_path.display()
        )));
    }
    prob::check_model(&spec, left_path, &lm, right_path, &rm)?;
    let (lcols, rcols) = prob::needed_columns(&spec);
    let mut dicts = Dictionaries::default();
    let left = data::load(left_path, lm, &lcols, false, &mut dicts, &|n| {
        progress(Stage::LoadLeft, n)
    })?;
    let right = data::load(right_path, rm, &rcols, false, &mut dicts, &|n| {
        progress(Stage::LoadRight, n)
    })?;
    progress(Stage::Probabilistic, 0);
    let p = Prepared::everyone(&spec, &left, &right, &dicts)?;
    p.train(report)
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::DropAside;

    /// Sets its flag when dropped, slowly.
    struct Slow(Arc<AtomicBool>);

    impl Drop for Slow {
        fn drop(&mut self) {
            std::thread::sleep(std::time::Duration::from_millis(30));
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_value_dropped_aside_is_gone_when_its_guard_is() {
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = DropAside::new(Slow(Arc::clone(&dropped)));
        drop(guard);
        assert!(dropped.load(Ordering::SeqCst));
    }
}
