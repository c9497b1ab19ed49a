//! `linkwell report` end to end: the page and its JSON, disclosure control
//! on every count, refusals, and the page rendered in headless Chromium
//! (console clean, every chart drawn, a screenshot kept as an artefact).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::evaluate::{artifacts, run3k};
use crate::util::*;

/// Charts a report with a model and truth must draw.
const CHARTS: [&str; 8] = [
    "weight-histogram",
    "m-u",
    "em",
    "subgroup-date_of_birth_age_band",
    "subgroup-sex_code",
    "subgroup-icb",
    "pr-curve",
    "error-recall",
];

fn report(out: &str, links: &str, right: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "report",
        "--links",
        links,
        "--left",
        "nhs_patients.csv",
        "--right",
        right,
        "--truth",
        "syn/truth.csv",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    run3k().dir.run(&args)
}

/// Integers that are not counts of people or pairs.
const NOT_COUNTS: [&str; 4] = ["format_version", "normaliser_version", "iteration", "base"];

/// Every count in the JSON is `"<10"` or a multiple of 5 of at least 10.
fn check_counts(v: &serde_json::Value, key: &str, seen: &mut usize) {
    match v {
        serde_json::Value::Number(n) if n.is_u64() && !NOT_COUNTS.contains(&key) => {
            let x = n.as_u64().unwrap();
            assert!(x % 5 == 0 && x >= 10, "{key}: {x} is not controlled");
            *seen += 1;
        }
        serde_json::Value::Number(n) if n.as_i64().is_some_and(|x| x < 0) => {
            panic!("{key}: negative integer {n}")
        }
        serde_json::Value::String(s) if s.starts_with('<') => {
            assert_eq!(s, "<10", "{key}");
            *seen += 1;
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| check_counts(x, key, seen)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| check_counts(x, k, seen)),
        _ => {}
    }
}

/// Every count cell of the page is `<10` or a multiple of 5.
fn check_cells(html: &str) -> usize {
    let mut n = 0;
    for cell in html.split("<td class=\"n\">").skip(1) {
        let v = &cell[..cell.find("</td>").unwrap()];
        if v.is_empty() {
            continue;
        }
        n += 1;
        if v == "&lt;10" {
            continue;
        }
        let x: u64 = v
            .replace(',', "")
            .parse()
            .unwrap_or_else(|_| panic!("cell {v:?}"));
        assert!(x % 5 == 0 && x >= 10, "cell {v}");
    }
    n
}

/// Nothing that a browser would fetch: no scripts, links, sources, URLs.
fn check_self_contained(html: &str) {
    for bad in [
        "<script", "<link", " src=", " href=", "url(", "@import", "<iframe", "<img",
    ] {
        assert!(!html.contains(bad), "the page contains {bad:?}");
    }
}

#[test]
fn suppressed_report_controls_every_count() {
    let r = report(
        "r_dwp.html",
        "nhs_dwp.csv",
        "dwp_claims.csv",
        &["--subgroup", "benefit"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.trim(),
        "linkwell: wrote r_dwp.html and r_dwp.json (small counts suppressed)"
    );
    let d = &run3k().dir;
    let html = d.read("r_dwp.html");
    let data = json(&d.read("r_dwp.json"));
    assert_eq!(data["format"], "linkwell-report");
    assert_eq!(data["suppressed"], true);
    let mut seen = 0;
    check_counts(&data, "", &mut seen);
    assert!(seen > 100, "only {seen} counts checked");
    assert!(check_cells(&html) > 100);
    check_self_contained(&html);
    assert!(html.contains("every count below 10 is shown as &lt;10"));
    assert!(!html.contains("UNSUPPRESSED"));
    // The sections and the JSON's figures.
    assert_eq!(data["links"]["cardinality"], "one-to-many");
    assert_eq!(data["quality"]["left_dataset"], "nhs_patients");
    assert!(data["model"]["histogram"]["bins"].as_array().unwrap().len() > 20);
    // How many pairs training compared, per blocking rule, controlled too.
    let blocking = data["model"]["blocking"].as_array().unwrap();
    assert!(!blocking.is_empty());
    assert!(blocking
        .iter()
        .all(|b| !b["compared_in_training"].is_null()));
    assert!(html.contains("compared in training"));
    let columns: Vec<String> = data["subgroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}:{}",
                s["side"].as_str().unwrap(),
                s["column"].as_str().unwrap()
            )
        })
        .collect();
    for c in [
        "left:date_of_birth_age_band",
        "left:sex_code",
        "left:icb",
        "right:date_of_birth_age_band",
        "right:sex_code",
        "right:benefit",
    ] {
        assert!(columns.iter().any(|x| x == c), "{c} in {columns:?}");
    }
    for c in CHARTS {
        assert!(html.contains(&format!("data-chart=\"{c}\"")), "{c}");
    }
    assert!(html.contains("data-chart=\"subgroup-benefit\""));
}

#[test]
fn unsuppressed_report_says_so() {
    let r = report(
        "raw.html",
        "nhs_ons.csv",
        "ons_employment.csv",
        &["--unsuppressed"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("UNSUPPRESSED"), "{}", r.stdout);
    let d = &run3k().dir;
    let html = d.read("raw.html");
    assert!(html.contains("UNSUPPRESSED — for use inside the TRE only"));
    let data = json(&d.read("raw.json"));
    assert_eq!(data["suppressed"], false);
    // Exact counts: the links manifest's total appears as it is.
    let m = json(&d.read("nhs_ons.csv.manifest.json"));
    assert_eq!(data["links"]["links"], m["summary"]["links"]);
}

#[test]
fn deterministic_report_without_truth() {
    let d = &run3k().dir;
    let r = d.run(&[
        "report",
        "--links",
        "nhs_ons_det.csv",
        "--left",
        "nhs_patients.csv",
        "--right",
        "ons_employment.csv",
        "--out",
        "det.html",
        "--title",
        "Deterministic <NHS> & ONS",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = d.read("det.html");
    let data = json(&d.read("det.json"));
    assert!(data["model"].is_null() && data["quality"].is_null());
    let mut seen = 0;
    check_counts(&data, "", &mut seen);
    check_cells(&html);
    check_self_contained(&html);
    assert!(html.contains("<title>Deterministic &lt;NHS&gt; &amp; ONS</title>"));
    assert!(html.contains("data-chart=\"subgroup-icb\""));
    assert!(!html.contains("data-chart=\"pr-curve\""));
    // Every rule of the cascade, with its ambiguity.
    let rules = data["links"]["by_rule"].as_array().unwrap();
    assert_eq!(rules[0]["rule"], "nhs_number_dob");
    assert!(rules.iter().all(|r| !r["ambiguous_left"].is_null()));
}

#[test]
fn refusals_are_one_sentence() {
    let r = report(
        "x.html",
        "nhs_dwp.csv",
        "dwp_claims.csv",
        &["--subgroup", "shoe_size"],
    );
    assert_fails(&r, &["has a column \"shoe_size\"", "benefit"]);
    let r = report(
        "x.html",
        "nhs_dwp.csv",
        "dwp_claims.csv",
        &["--subgroup", "nino_token"],
    );
    assert_fails(&r, &["\"nino_token\"", "is an encoding column"]);
    let r = report("x.html", "nhs_dwp.csv", "ons_employment.csv", &[]);
    assert_fails(
        &r,
        &["ons_employment.csv is not the right file the links were made from"],
    );
    let r = report("x.json", "nhs_dwp.csv", "dwp_claims.csv", &[]);
    assert_fails(&r, &["name the page .html"]);
    // The model a linkage trained is checked as a model file is: one of
    // another format version is refused, not drawn.
    let d = &run3k().dir;
    d.write("v2.csv", d.read("nhs_dwp.csv"));
    d.write("v2.csv.ambiguous.csv", d.read("nhs_dwp.csv.ambiguous.csv"));
    let mut m = json(&d.read("nhs_dwp.csv.manifest.json"));
    assert_eq!(m["model"]["format_version"], 1);
    m["model"]["format_version"] = 2.into();
    m["links_file"] = "v2.csv".into();
    m["ambiguous_file"] = "v2.csv.ambiguous.csv".into();
    d.write("v2.csv.manifest.json", m.to_string());
    let r = report("x.html", "v2.csv", "dwp_claims.csv", &[]);
    assert_fails(&r, &["v2.csv.manifest.json", "model format version 2"]);
    assert!(!run3k().dir.path("x.html").exists());
}

/// Runs chromium with the flags this closed network needs, killing it
/// after a minute.
fn chromium(exe: &Path, args: &[String]) -> Run {
    let profile = tempfile::tempdir().unwrap();
    let mut c = Command::new(exe);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = c.spawn().expect("chromium starts");
    let id = child.id();
    let started = Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let watchdog = std::thread::spawn(move || {
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            if started.elapsed() > Duration::from_secs(60) {
                let _ = Command::new("kill").arg(id.to_string()).status();
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    watchdog.join().unwrap();
    out.into()
}

/// Console messages chromium logged (the page has no script, so any is a
/// problem: a parse error, a blocked resource, a CSP violation).
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

fn browser() -> Option<PathBuf> {
    let exe = std::env::var_os("LINKWELL_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if exe.exists() {
        return Some(exe);
    }
    if std::env::var("LINKWELL_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!(
            "LINKWELL_REQUIRE_BROWSER=1 but {} is not installed (apt-get install chromium)",
            exe.display()
        );
    }
    eprintln!(
        "SKIPPED: the report's browser test needs Chromium at {} (apt-get install chromium)",
        exe.display()
    );
    None
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(exe) = browser() else { return };
    let d = &run3k().dir;
    // The harness sees console messages: a control page that logs one.
    let control = d.write(
        "control.html",
        "<!DOCTYPE html><title>c</title><script>console.error('control-error')</script>",
    );
    let c = chromium(
        &exe,
        &["--dump-dom".into(), format!("file://{}", control.display())],
    );
    assert!(
        console_lines(&c.stderr)
            .iter()
            .any(|l| l.contains("control-error")),
        "the harness must see console messages; chromium said:\n{}",
        c.stderr
    );

    let r = report(
        "browser.html",
        "nhs_ons.csv",
        "ons_employment.csv",
        &["--subgroup", "employment_status"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = format!("file://{}", d.path("browser.html").display());
    let dom = chromium(&exe, &["--dump-dom".into(), page.clone()]);
    assert_eq!(dom.code, 0, "{}", dom.stderr);
    let console = console_lines(&dom.stderr);
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(dom.stdout.contains("</html>"), "no DOM: {}", dom.stdout);
    let mut charts: Vec<&str> = CHARTS.to_vec();
    charts.push("subgroup-employment_status");
    for id in charts {
        let at = dom
            .stdout
            .find(&format!("data-chart=\"{id}\""))
            .unwrap_or_else(|| panic!("chart {id} is missing from the DOM"));
        let fig = &dom.stdout[at..];
        let fig = &fig[..fig.find("</figure>").expect("figure closes")];
        let svg = &fig[fig
            .find("<svg")
            .unwrap_or_else(|| panic!("chart {id} has no svg"))..];
        assert!(svg.contains("</svg>"), "chart {id}: svg not closed");
        let shapes: usize = ["<rect", "<circle", "<polyline", "<path", "<line"]
            .iter()
            .map(|t| svg.matches(t).count())
            .sum();
        assert!(shapes >= 10, "chart {id} is empty ({shapes} shapes)");
        assert!(
            svg.matches("<text").count() >= 3,
            "chart {id} has no labels"
        );
    }
    let png = artifacts().join("report.png");
    let _ = std::fs::remove_file(&png);
    let shot = chromium(
        &exe,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,4000".into(),
            page,
        ],
    );
    assert_eq!(shot.code, 0, "{}", shot.stderr);
    assert!(console_lines(&shot.stderr).is_empty(), "{}", shot.stderr);
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        bytes.len() > 50_000,
        "screenshot looks blank ({} bytes)",
        bytes.len()
    );
    eprintln!("screenshot: {}", png.display());
}
