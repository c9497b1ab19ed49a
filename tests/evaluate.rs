//! `linkwell evaluate` end to end on a small synthetic run, and its
//! refusals. The run is shared with `tests/report.rs`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::util::*;

/// A synthetic run: 3,000 people, the three views tokenised with the
/// example schemas, NHS↔ONS linked by the cascade (one-to-one) and NHS↔DWP
/// by Fellegi–Sunter (one-to-many), and NHS↔ONS by the match keys alone.
/// Made once per test binary.
pub struct Run3k {
    pub dir: Dir,
}

impl Run3k {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path(name)
    }
}

fn schema(name: &str) -> String {
    format!(
        "{}/examples/schemas/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

pub fn run3k() -> &'static Run3k {
    static RUN: OnceLock<Run3k> = OnceLock::new();
    RUN.get_or_init(|| {
        let d = Dir::new();
        let ok = |r: Run| assert_eq!(r.code, 0, "{}", r.stderr);
        ok(d.run(&["synth", "--people", "3000", "--seed", "7", "--out", "syn"]));
        ok(d.run(&["keygen", "--out", "k.key"]));
        for v in ["nhs_patients", "ons_employment", "dwp_claims"] {
            ok(d.run(&[
                "tokenise",
                "--key-file",
                "k.key",
                "--input",
                &format!("syn/{v}.csv"),
                "--output",
                &format!("{v}.csv"),
                "--schema",
                &schema(v),
            ]));
        }
        ok(d.run(&[
            "link",
            "--left",
            "nhs_patients.csv",
            "--right",
            "ons_employment.csv",
            "--output",
            "nhs_ons.csv",
        ]));
        ok(d.run(&[
            "link",
            "--left",
            "nhs_patients.csv",
            "--right",
            "dwp_claims.csv",
            "--output",
            "nhs_dwp.csv",
            "--cardinality",
            "one-to-many",
            "--method",
            "probabilistic",
        ]));
        ok(d.run(&[
            "link",
            "--method",
            "deterministic",
            "--left",
            "nhs_patients.csv",
            "--right",
            "ons_employment.csv",
            "--output",
            "nhs_ons_det.csv",
        ]));
        Run3k { dir: d }
    })
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn cascade_table_and_json() {
    let r = run3k();
    let out = r.path("ev_ons.json");
    let run = r.dir.run(&[
        "evaluate",
        "--links",
        "nhs_ons.csv",
        "--truth",
        "syn/truth.csv",
        "--json",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for needle in [
        "left: nhs_patients",
        "right: ons_employment",
        "datasets inferred from the ids",
        "cardinality one-to-one, method cascade",
        "overall",
        "by rule",
        "nhs_number_dob",
        "fellegi_sunter (probabilistic)",
        "by error kind",
        "surname_change",
        "thresholds (from the link table: thresholds at or above the link threshold only",
        "best F1",
    ] {
        assert!(run.stdout.contains(needle), "{needle:?} in\n{}", run.stdout);
    }
    let ev = json(&std::fs::read_to_string(&out).unwrap());
    let o = &ev["overall"];
    // The figures add up.
    assert_eq!(
        u(&o["links"]),
        u(&o["true_positives"]) + u(&o["false_positives"])
    );
    assert_eq!(
        u(&o["achievable"]),
        u(&o["true_positives"]) - u(&o["beyond_cardinality"]) + u(&o["false_negatives"])
    );
    let rules = ev["by_rule"].as_array().unwrap();
    assert_eq!(
        rules.iter().map(|r| u(&r["links"])).sum::<u64>(),
        u(&o["links"])
    );
    assert_eq!(rules[0]["rule"], "nhs_number_dob", "cascade order");
    // A good linkage of synthetic data: checked loosely, as a sanity bound.
    assert!(f(&o["precision"]) > 0.99, "{o}");
    assert!(f(&o["recall"]) > 0.95, "{o}");
    assert!(f(&o["pairwise_recall"]) <= f(&o["recall"]));
    assert_eq!(ev["cardinality"], "one-to-one");
    let kinds: Vec<&str> = ev["by_error"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"moved") && kinds.contains(&"duplicate"),
        "{kinds:?}"
    );
    let c = &ev["thresholds"];
    assert_eq!(c["source"], "links");
    assert!(f(&c["best"]["threshold"]) >= f(&c["link_threshold"]));
}

#[test]
fn probabilistic_one_to_many_with_explicit_datasets() {
    let r = run3k();
    let run = r.dir.run(&[
        "evaluate",
        "--links",
        "nhs_dwp.csv",
        "--truth",
        "syn/truth.csv",
        "--left-dataset",
        "nhs_patients",
        "--right-dataset",
        "dwp_claims",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("cardinality one-to-many"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("inferred"), "{}", run.stdout);
    assert!(run.stdout.contains("as linked"), "{}", run.stdout);
}

#[test]
fn deterministic_links_have_no_curve() {
    let r = run3k();
    let run = r.dir.run(&[
        "evaluate",
        "--links",
        "nhs_ons_det.csv",
        "--truth",
        "syn/truth.csv",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("thresholds: no probabilistic links, so no curve"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("fellegi_sunter"), "{}", run.stdout);
}

#[test]
fn refusals_are_one_sentence() {
    let r = run3k();
    let d = &r.dir;
    let run = d.run(&["evaluate", "--links", "nhs_ons.csv", "--truth", "nope.csv"]);
    assert_fails(&run, &["cannot read", "nope.csv"]);

    // A truth file without the ONS records.
    let truth = std::fs::read_to_string(r.path("syn/truth.csv")).unwrap();
    let partial: String = truth
        .lines()
        .filter(|l| !l.starts_with("ons_employment,"))
        .map(|l| format!("{l}\n"))
        .collect();
    d.write("partial_truth.csv", partial);
    let run = d.run(&[
        "evaluate",
        "--links",
        "nhs_ons.csv",
        "--truth",
        "partial_truth.csv",
        "--left-dataset",
        "nhs_patients",
        "--right-dataset",
        "ons_employment",
    ]);
    assert_fails(
        &run,
        &[
            "partial_truth.csv has no records of dataset \"ons_employment\"",
            "dwp_claims",
        ],
    );
    let run = d.run(&[
        "evaluate",
        "--links",
        "nhs_ons.csv",
        "--truth",
        "partial_truth.csv",
    ]);
    assert_fails(&run, &["cannot tell which dataset", "--right-dataset"]);

    // Not a link table.
    let run = d.run(&[
        "evaluate",
        "--links",
        "syn/nhs_patients.csv",
        "--truth",
        "syn/truth.csv",
    ]);
    assert_fails(&run, &["syn/nhs_patients.csv is not a link table"]);

    // A truth file that is not one.
    let run = d.run(&[
        "evaluate",
        "--links",
        "nhs_ons.csv",
        "--truth",
        "syn/dwp_claims.csv",
    ]);
    assert_fails(&run, &["is not a ground-truth file"]);
}

/// Where a test artefact goes: `target/test-artifacts/`.
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
