use std::fmt::Write as _;

use linkwell::link::pipeline::{self, ExtractRequest, LinkMethod, LinkRequest, Stage};
use linkwell::link::Cardinality;
use linkwell::pseudonym::PseudonymKey;
use linkwell::secret::Secret;

use crate::cli::{CardinalityArg, LinkArgs, MethodArg};
use crate::progress;

pub fn run(args: &LinkArgs) -> anyhow::Result<()> {
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
        Some(k) => Some(
            PseudonymKey::new(k, &args.project).map_err(|e| anyhow::anyhow!("--project: {e}"))?,
        ),
        None => None,
    };
    let bar = progress::counter_bar("linking");
    let on_progress = |stage: Stage, n: u64| {
        let msg = match stage {
            Stage::LoadLeft => "loading left",
            Stage::LoadRight => "loading right",
            Stage::Deterministic => "match keys",
            Stage::Probabilistic => "scoring",
            Stage::Write => "writing",
        };
        bar.set_message(msg);
        bar.set_position(n);
    };
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
        progress: &on_progress,
    };
    let outcome = pipeline::link(&req)?;
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
