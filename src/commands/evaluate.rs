//! `linkwell evaluate`: a link table against ground truth.

use std::fmt::Write as _;

use linkwell::eval::{self, CurvePoint, CurveSource, EvalRequest, Evaluation};
use linkwell::link::Cardinality;
use linkwell::report::thousands;

use crate::cli::{CardinalityArg, EvaluateArgs};

pub fn run(args: &EvaluateArgs) -> anyhow::Result<()> {
    let ev = eval::evaluate(&EvalRequest {
        links: args.links.clone(),
        truth: args.truth.clone(),
        left_dataset: args.left_dataset.clone(),
        right_dataset: args.right_dataset.clone(),
        scores: args.scores.clone(),
        cardinality: args.cardinality.map(|c| match c {
            CardinalityArg::OneToOne => Cardinality::OneToOne,
            CardinalityArg::OneToMany => Cardinality::OneToMany,
            CardinalityArg::ManyToMany => Cardinality::ManyToMany,
        }),
    })?;
    print!("{}", table(&ev));
    if let Some(p) = &args.json {
        eval::write_json(&ev, p)?;
        eprintln!("linkwell: wrote {}", p.display());
    }
    Ok(())
}

/// Two decimals; a share below 1 never shows as 100.00%.
fn pct(r: Option<f64>) -> String {
    match r {
        Some(v) if (0.99995..1.0).contains(&v) => ">99.99%".into(),
        Some(v) => format!("{:.2}%", v * 100.0),
        None => "—".into(),
    }
}

fn t(n: u64) -> String {
    thousands(n)
}

/// The evaluation as a readable table.
pub fn table(ev: &Evaluation) -> String {
    let o = &ev.overall;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Evaluation of {} against {}\n  left: {} ({} records), right: {} ({} records){}; {} people on both sides\n  \
         cardinality {}{}: recall is against the {} correct links achievable under it",
        ev.links_file,
        ev.truth_file,
        ev.left_dataset,
        t(ev.left_records),
        ev.right_dataset,
        t(ev.right_records),
        if ev.datasets_inferred { " (datasets inferred from the ids)" } else { "" },
        t(ev.people_on_both_sides),
        ev.cardinality.name(),
        ev.method.as_deref().map_or(String::new(), |m| format!(", method {m}")),
        t(o.achievable),
    );
    let _ = writeln!(
        s,
        "\n{:<34} {:>11} {:>11} {:>9} {:>9} {:>10} {:>9} {:>9}",
        "overall", "links", "TP", "FP", "FN", "precision", "recall", "F1"
    );
    let _ = writeln!(
        s,
        "{:<34} {:>11} {:>11} {:>9} {:>9} {:>10} {:>9} {:>9}",
        "",
        t(o.links),
        t(o.true_positives),
        t(o.false_positives),
        t(o.false_negatives),
        pct(o.precision),
        pct(o.recall),
        pct(o.f1)
    );
    let _ = writeln!(
        s,
        "  true negatives {}; same-person pairs {} (pairwise recall {})",
        t(o.true_negatives),
        t(o.same_person_pairs),
        pct(o.pairwise_recall)
    );
    if o.beyond_cardinality > 0 {
        let _ = writeln!(
            s,
            "  {} true links beyond the cardinality (not counted towards recall)",
            t(o.beyond_cardinality)
        );
    }
    if o.duplicate_rows > 0 {
        let _ = writeln!(s, "  {} repeated rows counted once", t(o.duplicate_rows));
    }
    let _ = writeln!(
        s,
        "\n{:<34} {:>11} {:>11} {:>9} {:>10} {:>12}",
        "by rule", "links", "TP", "FP", "precision", "of achievable"
    );
    for r in &ev.by_rule {
        let name = match &r.method {
            Some(m) if m != "deterministic" => format!("{} ({m})", r.rule),
            _ => r.rule.clone(),
        };
        let _ = writeln!(
            s,
            "  {:<32} {:>11} {:>11} {:>9} {:>10} {:>12}",
            name,
            t(r.links),
            t(r.true_positives),
            t(r.false_positives),
            pct(r.precision),
            pct(r.recall_contribution)
        );
    }
    if !ev.by_error.is_empty() {
        let _ = writeln!(
            s,
            "\n{:<34} {:>11} {:>11} {:>9} {:>10} {:>12}",
            "by error kind", "true pairs", "linked", "missed", "recall", "FP involving"
        );
        for e in &ev.by_error {
            let _ = writeln!(
                s,
                "  {:<32} {:>11} {:>11} {:>9} {:>10} {:>12}",
                e.kind,
                t(e.pairs),
                t(e.linked),
                t(e.missed),
                pct(e.recall),
                t(e.false_positives)
            );
        }
    }
    match &ev.thresholds {
        Some(c) => {
            let _ = writeln!(
                s,
                "\nthresholds ({}, {} points)",
                match c.source {
                    CurveSource::Links =>
                        "from the link table: thresholds at or above the link threshold only",
                    CurveSource::Scores => "from the scores file: every scored candidate pair",
                },
                c.points.len()
            );
            let line = |name: &str, p: &CurvePoint| {
                format!(
                    "  {name:<26} weight >= {:>7.2}: {} links, precision {}, recall {}, F1 {}\n",
                    p.threshold,
                    t(p.links),
                    pct(p.precision),
                    pct(p.recall),
                    pct(p.f1)
                )
            };
            s.push_str(&line("best F1", &c.best));
            if let Some(p) = &c.at_link_threshold {
                s.push_str(&line("as linked", p));
            }
        }
        None => {
            let _ = writeln!(s, "\nthresholds: no probabilistic links, so no curve");
        }
    }
    s
}
