//! `linkwell demo`: the main job on built-in data.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use linkwell::eval::{self, EvalRequest};
use linkwell::link::pipeline::{self, ExtractRequest, LinkMethod, LinkRequest};
use linkwell::link::Cardinality;
use linkwell::pseudonym::PseudonymKey;
use linkwell::report::{self, ReportRequest};
use linkwell::schema::SchemaSpec;
use linkwell::secret::Secret;
use linkwell::tokenise::{tokenise_file, TokeniseOptions};

use crate::cli::DemoArgs;
use crate::progress;

/// The schemas the data owners use, as shipped in examples/schemas.
const SCHEMAS: [(&str, &str); 3] = [
    (
        "nhs_patients",
        include_str!("../../examples/schemas/nhs_patients.toml"),
    ),
    (
        "ons_employment",
        include_str!("../../examples/schemas/ons_employment.toml"),
    ),
    (
        "dwp_claims",
        include_str!("../../examples/schemas/dwp_claims.toml"),
    ),
];

struct Step {
    name: String,
    seconds: f64,
}

fn fresh_key(path: &Path) -> anyhow::Result<Secret> {
    // Demo keys are throwaway: replace the previous run's.
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    Ok(Secret::generate_to_file(path)?)
}

pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let out = &args.out;
    let raw = out.join("raw");
    let owners = out.join("data_owners");
    let tre = out.join("tre");
    for d in [&raw, &owners, &tre] {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let mut steps: Vec<Step> = Vec::new();
    let mut timed = |name: &str, t: Instant| {
        steps.push(Step {
            name: name.to_string(),
            seconds: t.elapsed().as_secs_f64(),
        })
    };

    // 1. The population, its three views and the truth.
    let t = Instant::now();
    let bar = progress::counter_bar("synthesising");
    let on = |n: u64| bar.set_position(n);
    let synth = linkwell_synth::write_dir(
        &linkwell_synth::Config::default(),
        args.people,
        args.seed,
        &raw,
        &linkwell_synth::WriteOptions {
            overwrite: true,
            progress: Some(&on),
            threads: None,
        },
    )?;
    bar.finish_and_clear();
    timed("synthesise population", t);

    // 2. Keys: the data owners' linkage secret, the TRE's project key.
    let linkage_key = fresh_key(&owners.join("linkage.key"))?;
    let project_key = fresh_key(&tre.join("project.key"))?;
    let pseudonyms =
        PseudonymKey::new(&project_key, "work_and_health").map_err(|e| anyhow::anyhow!("{e}"))?;

    // 3. Each owner tokenises its own file.
    let mut encoded: Vec<PathBuf> = Vec::new();
    for (name, schema) in SCHEMAS {
        let t = Instant::now();
        let spec = SchemaSpec::from_toml(schema).context("built-in schema")?;
        let input = raw.join(format!("{name}.csv"));
        let output = owners.join(format!("{name}.encoded.csv"));
        let bar = progress::bytes_bar(&format!("tokenising {name}"), None);
        let on_progress = |p: linkwell::tokenise::Progress| {
            if let Some(t) = p.total_bytes {
                bar.set_length(t);
            }
            bar.set_position(p.bytes);
        };
        let s = tokenise_file(
            &linkage_key,
            Some(&spec),
            &input,
            &output,
            &TokeniseOptions {
                progress: Some(&on_progress),
                ..TokeniseOptions::default()
            },
        )?;
        bar.finish_and_clear();
        anyhow::ensure!(
            s.manifest.counts.reconciles(),
            "counts do not reconcile for {name}"
        );
        timed(&format!("tokenise {name}"), t);
        encoded.push(output);
    }

    // 4. The TRE links the encoded files, holding no secret but its own
    //    project key.
    let links = [
        (
            "nhs_ons",
            &encoded[0],
            &encoded[1],
            LinkMethod::Cascade,
            Cardinality::OneToOne,
            "nhs",
            "ons",
        ),
        (
            "nhs_dwp",
            &encoded[0],
            &encoded[2],
            LinkMethod::Probabilistic,
            Cardinality::OneToMany,
            "nhs",
            "dwp",
        ),
    ];
    let mut results = Vec::new();
    for (name, left, right, method, cardinality, ll, rl) in links {
        let t = Instant::now();
        let bar = progress::counter_bar(&format!("linking {name}"));
        let on_progress = |_: pipeline::Stage, n: u64| bar.set_position(n);
        let on_report = |m: &str| bar.set_message(format!("{name}: {m}"));
        let output = tre.join(format!("{name}.links.csv"));
        let outcome = pipeline::link(&LinkRequest {
            left: left.clone(),
            right: right.clone(),
            output: output.clone(),
            method,
            rules: None,
            cardinality: Some(cardinality),
            extract: Some(ExtractRequest {
                path: tre.join(format!("{name}.extract.csv")),
                key: &pseudonyms,
                left_label: ll.into(),
                right_label: rl.into(),
                include_unlinked_left: false,
            }),
            model: None,
            threshold_probability: None,
            threshold_weight: None,
            explain: false,
            review_sample: Some(50),
            save_model: Some(tre.join(format!("{name}.model.json"))),
            scores: Some(tre.join(format!("{name}.scores.csv"))),
            progress: &on_progress,
            report: &on_report,
        })?;
        bar.finish_and_clear();
        timed(&format!("link {name} ({})", method.name()), t);
        results.push((name, output, outcome));
    }

    // 5. Evaluate against the truth, and write the reports (suppressed:
    //    fit to leave the TRE).
    let truth = raw.join("truth.csv");
    let mut quality = Vec::new();
    for (i, (name, output, _)) in results.iter().enumerate() {
        let t = Instant::now();
        let bar = progress::counter_bar(&format!("evaluating {name}"));
        let scores = tre.join(format!("{name}.scores.csv"));
        let ev = eval::evaluate(&EvalRequest {
            links: output.clone(),
            truth: truth.clone(),
            scores: Some(scores.clone()),
            ..EvalRequest::default()
        })?;
        eval::write_json(&ev, &tre.join(format!("{name}.evaluation.json")))?;
        let right = &encoded[if i == 0 { 1 } else { 2 }];
        let html = tre.join(format!("{name}.report.html"));
        let data = report::build(&ReportRequest {
            links: output.clone(),
            left: encoded[0].clone(),
            right: right.clone(),
            truth: Some(truth.clone()),
            scores: Some(scores),
            title: Some(format!("linkwell demo: {name}")),
            ..ReportRequest::default()
        })?;
        report::write(&data, &html)?;
        bar.finish_and_clear();
        timed(&format!("evaluate and report {name}"), t);
        quality.push((*name, ev, html));
    }

    // 6. Summary.
    let mut table = String::new();
    table.push_str(&format!(
        "linkwell demo: {} people -> {} NHS patients, {} ONS records, {} DWP claims (seed {})\n\n",
        synth.counts.people, synth.counts.nhs, synth.counts.ons, synth.counts.dwp, args.seed
    ));
    table.push_str(&format!(
        "{:<9} {:<13} {:>8} {:>13} {:>9} {:>9} {:>9} {:>8}\n",
        "linkage", "method", "links", "deterministic", "precision", "recall", "F1", "seconds"
    ));
    let pct = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
    for ((name, _, outcome), (_, ev, _)) in results.iter().zip(&quality) {
        let s = &outcome.manifest.summary;
        let det: u64 = s.rules.iter().map(|r| r.links).sum();
        let secs = steps
            .iter()
            .find(|x| x.name.starts_with(&format!("link {name}")))
            .map_or(0.0, |x| x.seconds);
        table.push_str(&format!(
            "{:<9} {:<13} {:>8} {:>13} {:>9} {:>9} {:>9} {:>8.2}\n",
            name,
            outcome.manifest.method,
            s.links,
            det,
            pct(ev.overall.precision),
            pct(ev.overall.recall),
            pct(ev.overall.f1),
            secs
        ));
    }
    table.push_str("\nstep                                   seconds\n");
    for s in &steps {
        table.push_str(&format!("{:<38} {:>7.2}\n", s.name, s.seconds));
    }
    table.push_str(&format!(
        "{:<38} {:>7.2}\n",
        "total",
        started.elapsed().as_secs_f64()
    ));
    table.push_str("\nrecall is against the best linkage possible under each cardinality; see `linkwell evaluate --help`\n");
    for (name, _, html) in &quality {
        table.push_str(&format!("report ({name}): {}\n", html.display()));
    }
    table.push_str(&format!("all outputs: {}\n", out.display()));
    eprint!("{table}");
    Ok(())
}
