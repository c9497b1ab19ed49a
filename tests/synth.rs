//! End-to-end tests of `linkwell synth`.

use std::path::Path;
use std::process::{Command, Output};

fn linkwell(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linkwell"))
        .args(args)
        .env_remove("LINKWELL_KEY_FILE")
        .output()
        .expect("run linkwell")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn synth(people: u64, seed: u64, out: &Path, extra: &[&str]) -> Output {
    let people = people.to_string();
    let seed = seed.to_string();
    let mut args = vec![
        "synth",
        "--people",
        &people,
        "--seed",
        &seed,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    linkwell(&args)
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

const FILES: [&str; 5] = [
    "nhs_patients.csv",
    "ons_employment.csv",
    "dwp_claims.csv",
    "truth.csv",
    "README.md",
];

#[test]
fn synth_writes_the_files_and_a_one_line_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pop");
    let o = synth(12_000, 3, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("synthesised 12000 people"), "{err}");
    for f in FILES {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let records: usize = FILES[..3].iter().map(|f| lines(&out.join(f)) - 1).sum();
    assert_eq!(lines(&out.join("truth.csv")) - 1, records);
    let nhs = lines(&out.join("nhs_patients.csv")) - 1;
    assert!((11_800..12_300).contains(&nhs), "{nhs}");
    assert!(err.contains(&format!("{nhs} NHS patients")), "{err}");
    let header = std::fs::read_to_string(out.join("dwp_claims.csv")).unwrap();
    assert!(header.starts_with(
        "claim_id,nino,given_name,family_name,date_of_birth,sex,postcode,benefit,claim_start,claim_end\n"
    ));
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), FILES.len());
}

#[test]
fn synth_is_byte_identical_for_a_seed_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    assert!(synth(20_000, 11, &a, &["--threads", "1"]).status.success());
    assert!(synth(20_000, 11, &b, &["--threads", "2"]).status.success());
    for f in FILES {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn synth_refuses_a_non_empty_directory_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
    let o = synth(100, 1, dir.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let o = synth(100, 1, dir.path(), &["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("truth.csv").is_file());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn synth_bad_config_is_one_clear_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_s = out.to_str().unwrap();

    let missing = dir.path().join("nope.toml");
    let o = linkwell(&[
        "synth",
        "--people",
        "10",
        "--out",
        out_s,
        "--config",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("nope.toml") && err.contains("cannot read"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    for (text, needles) in [
        (
            "[ons]\nnickname = 0.1\ntypo_givn_name = 0.02\n",
            &["bad.toml", "line 3", "[ons]", "typo_givn_name"][..],
        ),
        (
            "[dwp]\nmoved = 2.0\n",
            &["bad.toml", "dwp.moved", "probability"][..],
        ),
        ("[nhs\n", &["bad.toml", "line 1"][..]),
    ] {
        let cfg = dir.path().join("bad.toml");
        std::fs::write(&cfg, text).unwrap();
        let o = linkwell(&[
            "synth",
            "--people",
            "10",
            "--out",
            out_s,
            "--config",
            cfg.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1), "{text}");
        let err = stderr(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        for n in needles {
            assert!(err.contains(n), "{n:?} not in {err}");
        }
        assert!(!out.exists(), "nothing is written for a bad config");
    }

    let o = linkwell(&["synth", "--people", "10"]);
    assert!(!o.status.success());
}

#[test]
fn synth_print_config_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let o = linkwell(&["synth", "--print-config"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("[ons]") && text.contains("missing_nhs_number = 0.12"));
    let cfg = dir.path().join("synth.toml");
    std::fs::write(
        &cfg,
        text.replace("date_format = \"iso\"", "date_format = \"mixed\""),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = synth(2_000, 1, &out, &["--config", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let nhs = std::fs::read_to_string(out.join("nhs_patients.csv")).unwrap();
    assert!(
        nhs.lines().any(|l| l.contains('/')),
        "some DD/MM/YYYY dates"
    );
}

#[test]
fn synthetic_files_tokenise_without_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pop");
    assert!(synth(5_000, 8, &out, &[]).status.success());
    let key = dir.path().join("key");
    let o = linkwell(&["keygen", "--out", key.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Error kinds per dataset, from truth.csv.
    let truth = std::fs::read_to_string(out.join("truth.csv")).unwrap();
    let count = |dataset: &str, kind: &str| {
        truth
            .lines()
            .skip(1)
            .filter(|l| l.starts_with(&format!("{dataset},")))
            .filter(|l| l.rsplit(',').next().unwrap().split(';').any(|k| k == kind))
            .count() as u64
    };
    for (dataset, f) in [
        ("nhs_patients", "nhs_patients.csv"),
        ("ons_employment", "ons_employment.csv"),
        ("dwp_claims", "dwp_claims.csv"),
    ] {
        let enc = dir.path().join(format!("{f}.enc.csv"));
        let o = linkwell(&[
            "tokenise",
            "--key-file",
            key.to_str().unwrap(),
            "--input",
            out.join(f).to_str().unwrap(),
            "--output",
            enc.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{f}: {}", stderr(&o));
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(format!("{}.manifest.json", enc.display())).unwrap(),
        )
        .unwrap();
        let c = &manifest["counts"];
        assert_eq!(c["rejected"], 0, "{f}: {c}");
        assert_eq!(
            c["read"].as_u64().unwrap() as usize,
            lines(&out.join(f)) - 1
        );
        // The core crate's validators agree with truth: postcodes are valid
        // except some of the deliberate typos, NHS numbers are valid except
        // the typos truth calls invalid, and missing is missing.
        let status = |field: &str, s: &str| c["fields"][field][s].as_u64().unwrap_or(0);
        let read = c["read"].as_u64().unwrap();
        assert!(
            status("postcode", "invalid_postcode") <= count(dataset, "typo_postcode"),
            "{f}: {c}"
        );
        assert_eq!(
            status("postcode", "missing"),
            count(dataset, "missing_postcode"),
            "{f}"
        );
        assert_eq!(
            status("date_of_birth", "missing"),
            count(dataset, "missing_date_of_birth"),
            "{f}"
        );
        assert_eq!(
            status("date_of_birth", "valid") + status("date_of_birth", "missing"),
            read,
            "{f}: {c}"
        );
        assert_eq!(
            status("sex", "missing"),
            count(dataset, "missing_sex"),
            "{f}"
        );
        if dataset != "dwp" {
            let bad = status("nhs_number", "check_digit_mismatch")
                + status("nhs_number", "check_value_ten")
                + status("nhs_number", "placeholder");
            assert_eq!(bad, count(dataset, "nhs_number_typo_invalid"), "{f}: {c}");
            assert_eq!(
                status("nhs_number", "missing"),
                count(dataset, "missing_nhs_number"),
                "{f}"
            );
        }
    }
}
