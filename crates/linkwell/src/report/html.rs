//! The report page: one self-contained HTML file (inline CSS, inline SVG,
//! no script, no external resource), readable on screen and in print.

use std::fmt::Write as _;

use super::charts::{self, MuRow, PrPoint};
use super::suppress::{Count, Rate};
use super::{InputFile, ModelSection, Quality, QualityPoint, ReportData, ReportError, Subgroup};
use crate::eval::CurveSource;

const CSS: &str = r#"
:root { --ink:#1b1f24; --muted:#5b6570; --line:#d9dee3; --band:#f4f6f8; --blue:#1f77b4; --red:#c81e1e; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); margin: 0; background: #fff; line-height: 1.45; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.3rem; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05rem; margin: 22px 0 8px; }
p.meta { color: var(--muted); margin: 0 0 16px; font-size: .92rem; }
.sdc { border: 1px solid #9cc3e6; background: #eef6fc; padding: 10px 14px; border-radius: 6px; margin: 14px 0; }
.unsuppressed { background: var(--red); color: #fff; font-weight: 700; font-size: 1.25rem; padding: 14px 18px;
                border-radius: 6px; margin: 14px 0; text-align: center; letter-spacing: .02em; }
.warn { border: 1px solid #e0a0a0; background: #fdf0f0; padding: 10px 14px; border-radius: 6px; margin: 12px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(175px, 1fr)); gap: 10px; margin: 16px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; background: var(--band); }
.card .v { font-size: 1.35rem; font-weight: 650; }
.card .k { color: var(--muted); font-size: .85rem; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: .9rem; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.n, td.r, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fafbfc; }
.ok { color: #1a7f37; font-weight: 600; }
.bad { color: var(--red); font-weight: 700; }
figure.chart { margin: 14px 0 22px; }
figure.chart svg { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: .88rem; margin-top: 6px; }
code { background: var(--band); padding: 0 3px; border-radius: 3px; }
ul.notes li { margin-bottom: 6px; }
@media print { main { max-width: none; } figure.chart { break-inside: avoid; } }
"#;

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A share as a percentage with one decimal; never rounds a share below
/// 100% up to "100.0%" or one above 0 down to "0.0%".
pub(crate) fn pct(r: Rate) -> String {
    match r {
        Some(v) if (0.9995..1.0).contains(&v) => ">99.9%".into(),
        Some(v) if v > 0.0 && v < 0.0005 => "<0.1%".into(),
        Some(v) => format!("{:.1}%", v * 100.0),
        None => "—".into(),
    }
}

fn n(c: Count) -> String {
    format!("<td class=\"n\">{}</td>", esc(&c.to_string()))
}

fn on(c: Option<Count>) -> String {
    match c {
        Some(c) => n(c),
        None => "<td class=\"n\"></td>".into(),
    }
}

fn r(x: Rate) -> String {
    format!("<td class=\"r\">{}</td>", pct(x))
}

fn check(ok: bool, yes: &str, no: &str) -> String {
    if ok {
        format!("<span class=\"ok\">✓ {}</span>", esc(yes))
    } else {
        format!("<span class=\"bad\">✗ {}</span>", esc(no))
    }
}

fn figure(id: &str, svg: &str, caption: &str) -> String {
    format!(
        "<figure class=\"chart\" data-chart=\"{}\">\n{svg}<figcaption>{}</figcaption></figure>\n",
        esc(id),
        caption
    )
}

fn card(value: &str, key: &str) -> String {
    format!(
        "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
        esc(value),
        esc(key)
    )
}

/// Renders the page.
///
/// # Errors
/// [`ReportError::Chart`] if a chart cannot be drawn.
pub fn render_html(d: &ReportData) -> Result<String, ReportError> {
    let mut h = String::with_capacity(1 << 20);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        esc(&d.title)
    );
    if !d.suppressed {
        h.push_str(
            "<div class=\"unsuppressed\" role=\"alert\">UNSUPPRESSED — for use inside the TRE only</div>\n",
        );
    }
    let _ = write!(
        h,
        "<h1>{}</h1>\n<p class=\"meta\">Generated {} by linkwell {}.</p>\n",
        esc(&d.title),
        esc(&d.generated_utc),
        esc(&d.tool_version)
    );
    if d.suppressed {
        let _ = writeln!(
            h,
            "<div class=\"sdc\" id=\"disclosure\">{}</div>",
            esc(&d.disclosure)
        );
    } else {
        let _ = writeln!(
            h,
            "<div class=\"warn\" id=\"disclosure\">{}</div>",
            esc(&d.disclosure)
        );
    }
    warnings(&mut h, d);
    summary(&mut h, d);
    inputs(&mut h, d);
    links(&mut h, d);
    if let Some(m) = &d.model {
        model(&mut h, m)?;
    }
    subgroups(&mut h, d)?;
    if let Some(q) = &d.quality {
        quality(&mut h, q)?;
    }
    h.push_str("<h2 id=\"notes\">How to read this report</h2>\n<ul class=\"notes\">\n");
    for note in &d.notes {
        let _ = writeln!(h, "<li>{}</li>", esc(note));
    }
    h.push_str("</ul>\n</main>\n</body>\n</html>\n");
    Ok(h)
}

fn warnings(h: &mut String, d: &ReportData) {
    let i = &d.inputs;
    let mut w: Vec<String> = Vec::new();
    for f in [&i.left, &i.right] {
        if !f.sha256_matches_manifest {
            w.push(format!(
                "{} does not match the SHA-256 in its manifest: it was altered after tokenising, so the figures below may not describe the data that was linked.",
                f.path
            ));
        }
        if !f.counts_reconcile {
            w.push(format!("{}'s manifest counts do not reconcile.", f.path));
        }
    }
    if !i.links.sha256_matches_manifest {
        w.push(format!(
            "{} does not match the SHA-256 in its manifest: the link table was altered after linking.",
            i.links.path
        ));
    }
    if !i.key_fingerprints_match {
        w.push("The two files were encoded under different secrets.".into());
    }
    for x in w {
        let _ = writeln!(
            h,
            "<div class=\"warn\"><strong>Warning:</strong> {}</div>",
            esc(&x)
        );
    }
}

fn summary(h: &mut String, d: &ReportData) {
    let l = &d.links;
    h.push_str("<div class=\"cards\">");
    h.push_str(&card(&l.links.to_string(), "links"));
    h.push_str(&card(
        &pct(l.left_match_rate),
        &format!("of {} records linked", side_name(&d.inputs.left)),
    ));
    h.push_str(&card(
        &pct(l.right_match_rate),
        &format!("of {} records linked", side_name(&d.inputs.right)),
    ));
    if let Some(q) = &d.quality {
        h.push_str(&card(&pct(q.precision), "precision (against truth)"));
        h.push_str(&card(&pct(q.recall), "recall (of achievable links)"));
        h.push_str(&card(&pct(q.f1), "F1"));
    }
    h.push_str("</div>\n");
}

fn side_name(f: &InputFile) -> String {
    std::path::Path::new(&f.path)
        .file_name()
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_else(|| f.path.clone())
}

fn inputs(h: &mut String, d: &ReportData) {
    let i = &d.inputs;
    h.push_str("<h2 id=\"inputs\">Inputs</h2>\n");
    let _ = writeln!(
        h,
        "<p>Key fingerprints: {}. Normalisers: {}. Link table <code>{}</code> (linkwell {}): {}.</p>",
        check(
            i.key_fingerprints_match,
            &format!("both files encoded under the secret with fingerprint {}", i.left.key_fingerprint),
            &format!("{} and {} differ", i.left.key_fingerprint, i.right.key_fingerprint)
        ),
        check(i.normalisers_match, "the same version", "different versions"),
        esc(&i.links.path),
        esc(&i.links.tool_version),
        check(
            i.links.sha256_matches_manifest,
            "SHA-256 matches its manifest",
            "SHA-256 does not match its manifest"
        )
    );
    h.push_str(
        "<table><thead><tr><th>side</th><th>file</th><th class=\"n\">read</th><th class=\"n\">written</th>\
         <th class=\"n\">rejected</th><th>counts reconcile</th><th>SHA-256 vs manifest</th><th>key fingerprint</th></tr></thead><tbody>\n",
    );
    for f in [&i.left, &i.right] {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td>{}{}{}<td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&f.side),
            esc(&f.path),
            n(f.rows_read),
            n(f.rows_written),
            n(f.rows_rejected),
            check(f.counts_reconcile, "yes", "no"),
            check(f.sha256_matches_manifest, "matches", "does not match"),
            esc(&f.key_fingerprint)
        );
    }
    h.push_str("</tbody></table>\n");
    for f in [&i.left, &i.right] {
        let _ = writeln!(
            h,
            "<h3>Identifier statuses: {} ({})</h3>",
            esc(&side_name(f)),
            esc(&f.side)
        );
        h.push_str("<table><thead><tr><th>field</th><th>status</th><th class=\"n\">records</th><th class=\"n\">share</th></tr></thead><tbody>\n");
        for fs in &f.fields {
            for (k, st) in fs.statuses.iter().enumerate() {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td>{}{}</tr>",
                    if k == 0 {
                        esc(&fs.field)
                    } else {
                        String::new()
                    },
                    esc(&st.status),
                    n(st.records),
                    r(st.share)
                );
            }
        }
        h.push_str("</tbody></table>\n");
    }
}

fn links(h: &mut String, d: &ReportData) {
    let l = &d.links;
    h.push_str("<h2 id=\"links\">Links</h2>\n");
    let _ = writeln!(
        h,
        "<p>Method <strong>{}</strong>, cardinality <strong>{}</strong>: {} links; {} entries in the ambiguous-records file.</p>",
        esc(&l.method),
        esc(&l.cardinality),
        esc(&l.links.to_string()),
        esc(&l.ambiguous_entries.to_string())
    );
    h.push_str("<table><thead><tr><th>rule</th><th>method</th><th class=\"n\">links</th><th class=\"n\">share</th>\
        <th class=\"n\">ambiguous left</th><th class=\"n\">ambiguous right</th></tr></thead><tbody>\n");
    for x in &l.by_rule {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td>{}{}{}{}</tr>",
            esc(&x.rule),
            esc(x.method.as_deref().unwrap_or("")),
            n(x.links),
            r(x.share),
            on(x.ambiguous_left),
            on(x.ambiguous_right)
        );
    }
    h.push_str("</tbody></table>\n");
    h.push_str("<table><thead><tr><th>side</th><th class=\"n\">records</th><th class=\"n\">linked</th>\
        <th class=\"n\">unlinked</th><th class=\"n\">with several links</th><th class=\"n\">match rate</th></tr></thead><tbody>\n");
    for (name, rec, linked, unl, mul, rate) in [
        (
            side_name(&d.inputs.left),
            l.left_records,
            l.left_linked,
            l.left_unlinked,
            l.left_multiple,
            l.left_match_rate,
        ),
        (
            side_name(&d.inputs.right),
            l.right_records,
            l.right_linked,
            l.right_unlinked,
            l.right_multiple,
            l.right_match_rate,
        ),
    ] {
        let _ = writeln!(
            h,
            "<tr><td>{}</td>{}{}{}{}{}</tr>",
            esc(&name),
            n(rec),
            n(linked),
            n(unl),
            n(mul),
            r(rate)
        );
    }
    h.push_str("</tbody></table>\n");
}

fn model(h: &mut String, m: &ModelSection) -> Result<(), ReportError> {
    h.push_str("<h2 id=\"model\">Probabilistic model</h2>\n");
    let _ = writeln!(
        h,
        "<p>Parameters from <code>{}</code>. Prior match probability {:.3e} (weight {:.2}); link threshold {}.</p>",
        esc(&m.source),
        m.prior,
        m.prior_weight,
        m.threshold_weight
            .map_or("not recorded".into(), |t| format!("match weight {t:.2}"))
    );
    if let Some(hist) = &m.histogram {
        let bins: Vec<(f64, f64, Count)> =
            hist.bins.iter().map(|b| (b.from, b.to, b.pairs)).collect();
        let svg = charts::weight_histogram(&bins, m.threshold_weight)?;
        h.push_str(&figure(
            "weight-histogram",
            &svg,
            &format!(
                "Match weights of all {} candidate pairs scored, in half-bit bins (log scale); the red line is the link threshold. \
                 Pairs to its right were eligible to link (subject to the cardinality). A clear valley between the two humps means \
                 matches and non-matches separate well.",
                esc(&hist.total.to_string())
            ),
        ));
    }
    let mut rows = Vec::new();
    for c in &m.comparisons {
        for (i, l) in c.levels.iter().enumerate() {
            rows.push(MuRow {
                label: format!("{}: {}", c.name, l.level),
                m: l.m,
                u: l.u,
                first_of_comparison: i == 0,
            });
        }
    }
    if !rows.is_empty() {
        let svg = charts::m_u(&rows)?;
        h.push_str(&figure(
            "m-u",
            &svg,
            "m (the chance of the level among true matches) and u (among non-matches) per comparison level, log scale. \
             The further m lies to the right of u, the more the level's agreement counts for a match.",
        ));
        h.push_str("<table><thead><tr><th>comparison</th><th>level</th><th class=\"n\">m</th><th class=\"n\">u</th><th class=\"n\">weight</th><th>trained in</th></tr></thead><tbody>\n");
        for c in &m.comparisons {
            for (i, l) in c.levels.iter().enumerate() {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td class=\"r\">{:.4e}</td><td class=\"r\">{:.4e}</td><td class=\"r\">{:+.2}</td><td>{}</td></tr>",
                    if i == 0 { esc(&c.name) } else { String::new() },
                    esc(&l.level),
                    l.m,
                    l.u,
                    l.weight,
                    if i == 0 { esc(&c.trained_in.join(", ")) } else { String::new() }
                );
            }
        }
        h.push_str("</tbody></table>\n");
    }
    if !m.em.is_empty() {
        let sessions: Vec<(String, Vec<(u32, f64)>)> =
            m.em.iter()
                .map(|s| {
                    (
                        s.session.clone(),
                        s.iterations
                            .iter()
                            .map(|i| (i.iteration, i.max_change))
                            .collect(),
                    )
                })
                .collect();
        let svg = charts::em(&sessions, Some(m.em_tolerance))?;
        h.push_str(&figure(
            "em",
            &svg,
            "Expectation–maximisation per training session (each session trains m on the pairs of one blocking rule): \
             the largest change of any m per iteration. A session has converged when its line falls below the tolerance.",
        ));
        h.push_str("<table><thead><tr><th>session</th><th class=\"n\">iterations</th><th class=\"n\">final change</th><th class=\"n\">match share λ</th><th>converged</th></tr></thead><tbody>\n");
        for s in &m.em {
            if let Some(last) = s.iterations.last() {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td class=\"r\">{}</td><td class=\"r\">{:.2e}</td><td class=\"r\">{:.4}</td><td>{}</td></tr>",
                    esc(&s.session),
                    s.iterations.len(),
                    last.max_change,
                    last.lambda,
                    check(last.max_change <= m.em_tolerance, "yes", "no (stopped at the iteration limit)")
                );
            }
        }
        h.push_str("</tbody></table>\n");
    }
    if !m.blocking.is_empty() {
        h.push_str("<h3>Candidate pairs per blocking rule</h3>\n<table><thead><tr><th>blocking rule</th><th class=\"n\">pairs</th><th class=\"n\">new pairs</th><th class=\"n\">compared in training</th></tr></thead><tbody>\n");
        for b in &m.blocking {
            let _ = writeln!(
                h,
                "<tr><td>{}</td>{}{}{}</tr>",
                esc(&b.name),
                n(b.pairs),
                n(b.new_pairs),
                n(b.compared_in_training)
            );
        }
        h.push_str("</tbody></table>\n");
    }
    Ok(())
}

fn subgroups(h: &mut String, d: &ReportData) -> Result<(), ReportError> {
    if d.subgroups.is_empty() {
        return Ok(());
    }
    h.push_str("<h2 id=\"subgroups\">Match rates by subgroup</h2>\n<p>Linkage error is not random: when some groups link less often, \
        analyses of the linked data under-represent them and estimates are biased. Compare each group's rate with the others'.</p>\n");
    let mut columns: Vec<&str> = Vec::new();
    for s in &d.subgroups {
        if !columns.contains(&s.column.as_str()) {
            columns.push(&s.column);
        }
    }
    for col in columns {
        let sides: Vec<&Subgroup> = d.subgroups.iter().filter(|s| s.column == col).collect();
        let mut values: Vec<String> = Vec::new();
        for s in &sides {
            for r in &s.rows {
                if !values.contains(&r.value) {
                    values.push(r.value.clone());
                }
            }
        }
        let series: Vec<String> = sides
            .iter()
            .map(|s| format!("{} ({})", s.file, s.side))
            .collect();
        let rows: Vec<(String, Vec<Option<f64>>)> = values
            .iter()
            .map(|v| {
                (
                    v.clone(),
                    sides
                        .iter()
                        .map(|s| {
                            s.rows
                                .iter()
                                .find(|r| &r.value == v)
                                .and_then(|r| r.match_rate)
                        })
                        .collect(),
                )
            })
            .collect();
        let svg = charts::share_bars(
            &format!("Match rate by {col}"),
            "records with at least one link",
            &series,
            &rows,
            None,
        )?;
        let _ = writeln!(h, "<h3>By <code>{}</code></h3>", esc(col));
        h.push_str(&figure(
            &format!("subgroup-{col}"),
            &svg,
            &format!(
                "Share of each side's records with at least one link, by <code>{}</code>. \
                 Rates made from a count below the disclosure threshold are marked suppressed.",
                esc(col)
            ),
        ));
        let truth = sides
            .iter()
            .any(|s| s.rows.iter().any(|r| r.recall.is_some()));
        h.push_str("<table><thead><tr><th>side</th><th>value</th><th class=\"n\">records</th><th class=\"n\">linked</th><th class=\"n\">match rate</th>");
        if truth {
            h.push_str("<th class=\"n\">true pairs</th><th class=\"n\">linked</th><th class=\"n\">recall</th>");
        }
        h.push_str("</tr></thead><tbody>\n");
        for s in &sides {
            for (k, row) in s.rows.iter().enumerate() {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td>{}{}{}",
                    if k == 0 {
                        esc(&format!("{} ({})", s.file, s.side))
                    } else {
                        String::new()
                    },
                    esc(&row.value),
                    n(row.records),
                    n(row.linked),
                    r(row.match_rate)
                );
                if truth {
                    let _ = write!(
                        h,
                        "{}{}{}",
                        on(row.true_pairs),
                        on(row.true_linked),
                        r(row.recall.flatten())
                    );
                }
                h.push_str("</tr>\n");
            }
        }
        h.push_str("</tbody></table>\n");
    }
    Ok(())
}

fn pr(p: &QualityPoint) -> Option<PrPoint> {
    Some(PrPoint {
        threshold: p.threshold,
        recall: p.recall?,
        precision: p.precision?,
    })
}

fn quality(h: &mut String, q: &Quality) -> Result<(), ReportError> {
    h.push_str("<h2 id=\"quality\">Quality against ground truth</h2>\n");
    let _ = writeln!(
        h,
        "<p>Against <code>{}</code>: left records are dataset <code>{}</code>, right records <code>{}</code>{}. \
         Recall is measured against the best linkage possible under the <strong>{}</strong> cardinality \
         ({} achievable correct links; {} same-person pairs in all).</p>",
        esc(&q.truth_file),
        esc(&q.left_dataset),
        esc(&q.right_dataset),
        if q.datasets_inferred { " (inferred from the ids)" } else { "" },
        esc(&q.cardinality),
        esc(&q.achievable.to_string()),
        esc(&q.same_person_pairs.to_string())
    );
    h.push_str("<table><thead><tr><th class=\"n\">links</th><th class=\"n\">true positives</th><th class=\"n\">false positives</th>\
        <th class=\"n\">false negatives</th><th class=\"n\">true negatives</th><th class=\"n\">precision</th><th class=\"n\">recall</th>\
        <th class=\"n\">F1</th><th class=\"n\">pairwise recall</th></tr></thead><tbody>\n");
    let _ = writeln!(
        h,
        "<tr>{}{}{}{}{}{}{}{}{}</tr>",
        n(q.links),
        n(q.true_positives),
        n(q.false_positives),
        n(q.false_negatives),
        n(q.true_negatives),
        r(q.precision),
        r(q.recall),
        r(q.f1),
        r(q.pairwise_recall)
    );
    h.push_str("</tbody></table>\n<h3>By rule and method</h3>\n<table><thead><tr><th>rule</th><th>method</th><th class=\"n\">links</th>\
        <th class=\"n\">true positives</th><th class=\"n\">false positives</th><th class=\"n\">precision</th><th class=\"n\">share of achievable</th></tr></thead><tbody>\n");
    for x in &q.by_rule {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td>{}{}{}{}{}</tr>",
            esc(&x.rule),
            esc(x.method.as_deref().unwrap_or("")),
            n(x.links),
            n(x.true_positives),
            n(x.false_positives),
            r(x.precision),
            r(x.recall_contribution)
        );
    }
    h.push_str("</tbody></table>\n");
    if let Some(c) = &q.curve {
        let pts: Vec<PrPoint> = c.points.iter().filter_map(pr).collect();
        if !pts.is_empty() {
            let best = pr(&c.best);
            let at = c.at_link_threshold.as_ref().and_then(pr);
            let caption = match c.source {
                CurveSource::Links => {
                    "Precision and recall across thresholds (at or above the link threshold only)"
                }
                CurveSource::Scores => "Precision and recall across thresholds (all scored pairs)",
            };
            let svg = charts::pr_curve(&pts, best.as_ref(), at.as_ref(), caption)?;
            let note = match c.source {
                CurveSource::Links => "The curve covers only thresholds at or above the link threshold: pairs scored below it are not in the link table, \
                    so what a lower threshold would have gained is not known from it.",
                CurveSource::Scores => "The curve covers every scored candidate pair, assigned greedily by weight under the cardinality.",
            };
            h.push_str(&figure(
                "pr-curve",
                &svg,
                &format!(
                    "Each point keeps the deterministic links and the probabilistic links with at least a given match weight. {} \
                     Best F1 at match weight ≥ {:.2}{}.",
                    esc(note),
                    c.best_threshold,
                    c.link_threshold
                        .map_or(String::new(), |t| format!("; the linkage used ≥ {t:.2}"))
                ),
            ));
        }
        let _ = writeln!(
            h,
            "<table><thead><tr><th>threshold</th><th class=\"n\">links</th><th class=\"n\">true positives</th><th class=\"n\">false positives</th>\
             <th class=\"n\">precision</th><th class=\"n\">recall</th><th class=\"n\">F1</th></tr></thead><tbody>"
        );
        for (name, p) in [
            ("best F1", Some(&c.best)),
            ("as linked", c.at_link_threshold.as_ref()),
        ] {
            if let Some(p) = p {
                let _ = writeln!(
                    h,
                    "<tr><td>{} (≥ {:.2})</td>{}{}{}{}{}{}</tr>",
                    name,
                    p.threshold,
                    n(p.links),
                    n(p.true_positives),
                    n(p.false_positives),
                    r(p.precision),
                    r(p.recall),
                    r(p.f1)
                );
            }
        }
        h.push_str("</tbody></table>\n");
    }
    if !q.by_error.is_empty() {
        h.push_str("<h3>By kind of recorded error</h3>\n");
        let rows: Vec<(String, Vec<Option<f64>>)> = q
            .by_error
            .iter()
            .map(|e| (e.kind.clone(), vec![e.recall]))
            .collect();
        let svg = charts::share_bars(
            "Recall by kind of recorded error",
            "achievable true pairs linked",
            &["recall".to_string()],
            &rows,
            q.recall.map(|r| ("overall recall".to_string(), r)),
        )?;
        h.push_str(&figure(
            "error-recall",
            &svg,
            "For each kind of error put into a record, the share of the achievable true pairs touching such a record that were linked. \
             Under one-to-one, a duplicate record competes with its original for one link, so <code>duplicate</code> is low by construction.",
        ));
        h.push_str("<table><thead><tr><th>error kind</th><th class=\"n\">true pairs</th><th class=\"n\">linked</th><th class=\"n\">missed</th>\
            <th class=\"n\">recall</th><th class=\"n\">false positives involving it</th></tr></thead><tbody>\n");
        for e in &q.by_error {
            let _ = writeln!(
                h,
                "<tr><td>{}</td>{}{}{}{}{}</tr>",
                esc(&e.kind),
                n(e.pairs),
                n(e.linked),
                n(e.missed),
                r(e.recall),
                n(e.false_positives)
            );
        }
        h.push_str("</tbody></table>\n");
    }
    Ok(())
}
