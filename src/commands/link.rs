use std::fmt::Write as _;

use linkwell::link::pipeline::{self, ExtractRequest, LinkMethod, LinkRequest, ModelInput, Stage};
use linkwell::link::probabilistic::model::ModelSpec;
use linkwell::link::Cardinality;
use linkwell::pseudonym::PseudonymKey;
use linkwell::secret::Secret;

use crate::cli::{CardinalityArg, LinkArgs, MethodArg};
use crate::progress;

/// Refuses files encoded under the published test secret, outside tests.
fn refuse_test_key(paths: &[&std::path::Path]) -> anyhow::Result<()> {
    if std::env::var_os("LINKWELL_ALLOW_TEST_KEY").is_some() {
        return Ok(());
    }
    for p in paths {
        if let Ok(m) = linkwell::manifest::Manifest::read_for(p) {
            anyhow::ensure!(
                m.key_fingerprint != super::tokenise::TEST_KEY_FINGERPRINT,
                "{} was encoded under linkwell's published test secret (fingerprint {}), whose tokens anyone can reverse: it must not hold real data; re-tokenise with a real key (tests may set LINKWELL_ALLOW_TEST_KEY=1)",
                p.display(),
                super::tokenise::TEST_KEY_FINGERPRINT
            );
        }
    }
    Ok(())
}

pub fn run(args: &LinkArgs) -> anyhow::Result<()> {
    refuse_test_key(&[&args.left, &args.right])?;
    let rules = args
        .rules
        .as_deref()
        .map(pipeline::read_rules)
        .transpose()?;
    let project_key = match &args.pseudonym_key_file {
        Some(p) => Some(Secret::load(p)?),
        None => None,
    };
    let pkey = match &project_key {
        Some(k) => {
            let project = args.project.as_deref().ok_or_else(|| {
                anyhow::anyhow!("--extract needs --project NAME: pseudonyms are per project, so that two projects' extracts cannot be joined")
            })?;
            for (flag, label) in [
                ("--left-label", &args.left_label),
                ("--right-label", &args.right_label),
            ] {
                linkwell::token::check_name(label).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
            }
            anyhow::ensure!(
                args.left_label != args.right_label,
                "--left-label and --right-label must differ: the label is part of each pseudonym"
            );
            // The project key is the TRE's own; the data owners' linkage
            // secret must never serve, or they could compute pseudonyms.
            let fp = k.fingerprint().to_string();
            for side in [&args.left, &args.right] {
                if let Ok(m) = linkwell::manifest::Manifest::read_for(side) {
                    anyhow::ensure!(
                        m.key_fingerprint != fp,
                        "{} is the linkage secret {} was encoded with (fingerprint {fp}): the project key must be the TRE's own key, made with `linkwell keygen`",
                        args.pseudonym_key_file.as_ref().expect("key file").display(),
                        side.display()
                    );
                }
            }
            Some(PseudonymKey::new(k, project).map_err(|e| anyhow::anyhow!("--project: {e}"))?)
        }
        None => None,
    };
    let model = args.model.as_deref().map(ModelInput::read).transpose()?;
    let bar = progress::counter_bar("linking");
    let stages = StageClock::default();
    let on_progress = |stage: Stage, n: u64| {
        stages.enter(stage);
        bar.set_message(stage_name(stage));
        bar.set_position(n);
    };
    let on_report = |msg: &str| progress::note(&bar, msg);
    let started = std::time::Instant::now();
    let req = LinkRequest {
        left: args.left.clone(),
        right: args.right.clone(),
        output: args.output.clone(),
        method: match args.method {
            MethodArg::Deterministic => LinkMethod::Deterministic,
            MethodArg::Probabilistic => LinkMethod::Probabilistic,
            MethodArg::Cascade => LinkMethod::Cascade,
        },
        rules,
        cardinality: args.cardinality.map(|c| match c {
            CardinalityArg::OneToOne => Cardinality::OneToOne,
            CardinalityArg::OneToMany => Cardinality::OneToMany,
            CardinalityArg::ManyToMany => Cardinality::ManyToMany,
        }),
        extract: match (&args.extract, &pkey) {
            (Some(path), Some(key)) => Some(ExtractRequest {
                path: path.clone(),
                key,
                left_label: args.left_label.clone(),
                right_label: args.right_label.clone(),
                include_unlinked_left: args.extract_unlinked_left,
            }),
            _ => None,
        },
        model,
        threshold_probability: args.threshold_probability,
        threshold_weight: args.threshold_weight,
        explain: args.explain,
        review_sample: args.review_sample,
        save_model: args.save_model.clone(),
        scores: args.scores.clone(),
        progress: &on_progress,
        report: &on_report,
    };
    let outcome = pipeline::link(&req)?;
    let timings = stages.finish();
    bar.finish_and_clear();
    let m = &outcome.manifest;
    let s = &m.summary;
    let secs = started.elapsed().as_secs_f64();
    let mut msg = format!(
        "linkwell: linked {} ({} records) with {} ({} records), {}, {}: {} links in {:.1}s",
        args.left.display(),
        m.left.records,
        args.right.display(),
        m.right.records,
        m.method,
        m.cardinality,
        s.links,
        secs
    );
    let _ = write!(msg, "\n  time: {timings}");
    for r in &s.rules {
        let _ = write!(
            msg,
            "\n  rule {:<24} {:>10} links  {:>8} ambiguous left  {:>8} ambiguous right",
            r.name, r.links, r.ambiguous_left, r.ambiguous_right
        );
    }
    if s.probabilistic_links > 0 {
        let _ = write!(msg, "\n  probabilistic {:>19} links", s.probabilistic_links);
    }
    let _ = write!(
        msg,
        "\n  unlinked: {} left, {} right; {} ambiguous entries in {}",
        s.unlinked_left,
        s.unlinked_right,
        s.ambiguous_entries,
        linkwell::link::output::ambiguous_path(&args.output).display()
    );
    let _ = write!(
        msg,
        "\n  wrote {} and {}",
        args.output.display(),
        linkwell::io::manifest_path(&args.output).display()
    );
    if let Some(model) = &m.model {
        let _ = write!(
            msg,
            "\n  model: prior {:.3e}, threshold weight {:.2}; candidate pairs per blocking rule: {}",
            model["prior"].as_f64().unwrap_or(f64::NAN),
            model["threshold_weight"].as_f64().unwrap_or(f64::NAN),
            model["blocking_pairs"]
                .as_array()
                .map(|a| a
                    .iter()
                    .map(|b| format!("{} {}", b["name"].as_str().unwrap_or("?"), b["new_pairs"]))
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        );
    }
    if let Some(n) = args.review_sample {
        let _ = write!(
            msg,
            "\n  wrote up to {n} pairs near the threshold to {}",
            linkwell::link::output::review_path(&args.output).display()
        );
    }
    if let (Some(p), Some(n)) = (&args.extract, outcome.extract_rows) {
        let _ = write!(
            msg,
            "\n  wrote the research extract {} ({n} rows)",
            p.display()
        );
    }
    eprintln!("{msg}");
    if args.json {
        println!("{}", serde_json::to_string_pretty(m)?);
    }
    Ok(())
}

/// When each stage began, for the summary's `time:` line: where a long
/// run spent its time, without a profiler.
#[derive(Default)]
struct StageClock(std::sync::Mutex<Vec<(Stage, std::time::Instant)>>);

impl StageClock {
    fn enter(&self, stage: Stage) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if v.last().map(|l| l.0) != Some(stage) {
            v.push((stage, std::time::Instant::now()));
        }
    }

    /// Each stage's seconds, in order, e.g. `loading left 1.52s, ...`.
    fn finish(&self) -> String {
        let now = std::time::Instant::now();
        let v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (i, (stage, at)) in v.iter().enumerate() {
            let end = v.get(i + 1).map_or(now, |n| n.1);
            out.push(format!(
                "{} {:.2}s",
                stage_name(*stage),
                end.duration_since(*at).as_secs_f64()
            ));
        }
        out.join(", ")
    }
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::LoadLeft => "loading left",
        Stage::LoadRight => "loading right",
        Stage::Deterministic => "match keys",
        Stage::Probabilistic => "probabilistic",
        Stage::Write => "writing",
    }
}

pub fn train(args: &crate::cli::TrainArgs) -> anyhow::Result<()> {
    refuse_test_key(&[&args.left, &args.right])?;
    let spec = match &args.model {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read model {}: {e}", p.display()))?;
            Some(ModelSpec::from_toml(p, &text)?)
        }
        None => None,
    };
    let bar = progress::counter_bar("training");
    let on_progress = |stage: Stage, n: u64| {
        bar.set_message(stage_name(stage));
        bar.set_position(n);
    };
    let on_report = |msg: &str| progress::note(&bar, msg);
    let started = std::time::Instant::now();
    let model = pipeline::train(&args.left, &args.right, spec, &on_progress, &on_report)?;
    bar.finish_and_clear();
    let json = serde_json::to_vec_pretty(&model)?;
    linkwell::io::write_atomic(&args.out, &json)?;
    let mut msg = format!(
        "linkwell: trained a model on {} and {} in {:.1}s: prior {:.3e}",
        args.left.display(),
        args.right.display(),
        started.elapsed().as_secs_f64(),
        model.prior
    );
    let mut last: Option<&str> = None;
    for it in &model.em {
        if last != Some(it.session.as_str()) {
            let n = model.em.iter().filter(|x| x.session == it.session).count();
            let end = model
                .em
                .iter()
                .rev()
                .find(|x| x.session == it.session)
                .expect("one");
            let _ = write!(
                msg,
                "\n  EM on {}: {n} iterations, final max change {:.2e}, λ {:.4}",
                it.session, end.max_change, end.lambda
            );
            last = Some(it.session.as_str());
        }
    }
    for c in &model.comparisons {
        let levels: Vec<String> = c
            .levels
            .iter()
            .zip(&c.weights)
            .map(|(l, w)| format!("{l} {w:+.2}"))
            .collect();
        let _ = write!(msg, "\n  {}: {}", c.name, levels.join(", "));
    }
    let _ = write!(msg, "\n  wrote {}", args.out.display());
    eprintln!("{msg}");
    Ok(())
}
