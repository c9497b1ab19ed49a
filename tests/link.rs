//! `linkwell link --method deterministic` end to end: refusals, semantics,
//! outputs and the research extract.

use crate::util::*;

const HEADER: &str = "id,nhs_number,given_name,family_name,date_of_birth,sex,postcode,clinic\n";

fn setup() -> Dir {
    let d = Dir::new();
    d.key("k.key", TEST_KEY_HEX);
    d.key("p.key", &"ab".repeat(32));
    d
}

fn tokenise(d: &Dir, name: &str, rows: &str, extra: &[&str]) {
    d.write(&format!("{name}.raw.csv"), format!("{HEADER}{rows}"));
    let input = format!("{name}.raw.csv");
    let output = format!("{name}.csv");
    let mut args = vec![
        "tokenise",
        "--key-file",
        "k.key",
        "--input",
        &input,
        "--output",
        &output,
    ];
    args.extend_from_slice(extra);
    let r = d.run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn link(d: &Dir, extra: &[&str]) -> Run {
    let mut args = vec![
        "link",
        "--method",
        "deterministic",
        "--left",
        "l.csv",
        "--right",
        "r.csv",
        "--output",
        "links.csv",
    ];
    args.extend_from_slice(extra);
    d.run(&args)
}

const LEFT: &str = "L1,9434765919,John,Smith,1980-03-05,1,SW1A 1AA,North\n\
                    L2,,Mary,Jones,1975-12-25,2,LS2 9JT,South\n\
                    L3,,Bill,Brown,1990-07-14,1,M1 1AE,East\n\
                    L4,,Ann,Twin,2000-01-02,2,B33 8TH,West\n\
                    L5,,Ann,Twin,2000-01-02,2,B33 8TH,West\n\
                    L6,,Nobody,Here,1950-01-01,1,NE1 4ST,North\n";
const RIGHT: &str = "R1,943 476 5919,Jon,Smith,05/03/1980,M,SW1A 1AA,x\n\
                     R2,,mary,JONES,25/12/1975,F,LS2 9JT,y\n\
                     R3,,William,Brown,14/07/1990,M,M1 1AE,z\n\
                     R4,,Ann,Twin,02/01/2000,F,B33 8TH,w\n\
                     R5,,Someone,Else,1960-06-06,F,CR2 6XH,v\n";

#[test]
fn cascade_links_explains_ambiguity_and_writes_manifest() {
    let d = setup();
    tokenise(&d, "l", LEFT, &["--id-column", "id", "--keep", "clinic"]);
    tokenise(&d, "r", RIGHT, &["--id-column", "id"]);
    let r = link(&d, &["--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (h, rows) = csv_rows(&d.read("links.csv"));
    assert_eq!(h, ["left_id", "right_id", "rule"]);
    let got: Vec<(String, String, String)> = rows
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    let want = [
        ("L1", "R1", "nhs_number_dob"),
        ("L2", "R2", "exact"),
        ("L3", "R3", "nickname"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0.as_str(), g.1.as_str(), g.2.as_str()), w);
    }
    // L4/L5 are the same key: ambiguous, listed, not linked.
    let (_, amb) = csv_rows(&d.read("links.csv.ambiguous.csv"));
    let exact: Vec<&Vec<String>> = amb.iter().filter(|a| a[0] == "exact").collect();
    assert_eq!(exact.len(), 3, "{amb:?}");
    assert!(exact.iter().any(|a| a[2] == "left" && a[3] == "L4"));
    assert!(exact.iter().any(|a| a[2] == "left" && a[3] == "L5"));
    assert!(exact.iter().any(|a| a[2] == "right" && a[3] == "R4"));
    let m = json(&d.read("links.csv.manifest.json"));
    assert_eq!(m["format"], "linkwell-links");
    assert_eq!(m["summary"]["links"], 3);
    assert_eq!(m["summary"]["unlinked_left"], 3);
    assert_eq!(m["summary"]["unlinked_right"], 2);
    assert_eq!(m["left"]["key_fingerprint"], "6d1cc2b0ca43e3cb");
    let stdout = json(&r.stdout);
    assert_eq!(stdout["summary"], m["summary"]);
    assert!(r.stderr.contains("3 links"), "{}", r.stderr);
    // Each stage's time, in order.
    let time = r
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("time: "))
        .unwrap_or_else(|| panic!("no time line: {}", r.stderr));
    let stages: Vec<&str> = time
        .trim_start()
        .trim_start_matches("time: ")
        .split(", ")
        .map(|s| s.rsplit_once(' ').expect("stage and seconds").0)
        .collect();
    assert_eq!(
        stages,
        ["loading left", "loading right", "match keys", "writing"],
        "{time}"
    );
}

#[test]
fn research_extract_has_pseudonyms_and_payload_only() {
    let d = setup();
    tokenise(&d, "l", LEFT, &["--id-column", "id", "--keep", "clinic"]);
    tokenise(&d, "r", RIGHT, &["--id-column", "id", "--keep", "clinic"]);
    let r = link(
        &d,
        &[
            "--extract",
            "x.csv",
            "--pseudonym-key-file",
            "p.key",
            "--project",
            "work_health",
            "--left-label",
            "nhs",
            "--right-label",
            "ons",
            "--extract-unlinked-left",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = d.read("x.csv");
    let (h, rows) = csv_rows(&text);
    assert_eq!(
        h,
        [
            "nhs_pseudonym",
            "ons_pseudonym",
            "method",
            "match_probability",
            "nhs_clinic",
            "ons_clinic"
        ]
    );
    assert_eq!(rows.len(), 6, "3 links + 3 unlinked left");
    assert_eq!(rows[0][4], "North");
    assert_eq!(rows[0][5], "x");
    for id in ["L1", "R1", "L6"] {
        assert!(!text.contains(id), "id {id} in the extract");
    }
    let tokens = d.read("l.csv");
    for line in tokens.lines().skip(1) {
        let t = line.split(',').nth(1).unwrap();
        if !t.is_empty() {
            assert!(!text.contains(t), "a token in the extract");
        }
    }
    assert_eq!(rows[0][0].len(), 64);
    // Another project: unrelated pseudonyms.
    let r = link(
        &d,
        &[
            "--extract",
            "y.csv",
            "--pseudonym-key-file",
            "p.key",
            "--project",
            "other",
            "--left-label",
            "nhs",
            "--right-label",
            "ons",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, other) = csv_rows(&d.read("y.csv"));
    assert_ne!(other[0][0], rows[0][0]);
    // A world-readable project key is refused.
    set_mode(&d.path("p.key"), 0o644);
    assert_fails(
        &link(&d, &["--extract", "z.csv", "--pseudonym-key-file", "p.key"]),
        &["p.key", "chmod 600"],
    );
}

#[test]
fn refusals_one_sentence_each() {
    let d = setup();
    tokenise(&d, "l", LEFT, &["--id-column", "id"]);
    tokenise(&d, "r", RIGHT, &["--id-column", "id"]);
    // Different secrets.
    d.key("other.key", &"cd".repeat(32));
    d.write("o.raw.csv", format!("{HEADER}{RIGHT}"));
    let r = d.run(&[
        "tokenise",
        "--key-file",
        "other.key",
        "--input",
        "o.raw.csv",
        "--output",
        "o.csv",
    ]);
    assert_eq!(r.code, 0);
    assert_fails(
        &d.run(&[
            "link",
            "--method",
            "deterministic",
            "--left",
            "l.csv",
            "--right",
            "o.csv",
            "--output",
            "x.csv",
        ]),
        &["different secrets", "6d1cc2b0ca43e3cb"],
    );
    // Missing manifest.
    std::fs::copy(d.path("r.csv"), d.path("nomanifest.csv")).unwrap();
    assert_fails(
        &d.run(&[
            "link",
            "--left",
            "l.csv",
            "--right",
            "nomanifest.csv",
            "--output",
            "x.csv",
        ]),
        &["nomanifest.csv", "no manifest"],
    );
    // Altered data: a changed byte, and a truncation.
    let mut bytes = std::fs::read(d.path("r.csv")).unwrap();
    let n = bytes.len();
    bytes[n / 2] = if bytes[n / 2] == b'a' { b'b' } else { b'a' };
    d.write("alt.csv", &bytes);
    std::fs::copy(
        d.path("r.csv.manifest.json"),
        d.path("alt.csv.manifest.json"),
    )
    .unwrap();
    assert_fails(
        &d.run(&[
            "link",
            "--method",
            "deterministic",
            "--left",
            "l.csv",
            "--right",
            "alt.csv",
            "--output",
            "x.csv",
        ]),
        &["alt.csv", "SHA-256", "altered"],
    );
    let full = std::fs::read(d.path("r.csv")).unwrap();
    d.write("cut.csv", &full[..full.len() - 40]);
    std::fs::copy(
        d.path("r.csv.manifest.json"),
        d.path("cut.csv.manifest.json"),
    )
    .unwrap();
    assert_fails(
        &d.run(&[
            "link",
            "--method",
            "deterministic",
            "--left",
            "l.csv",
            "--right",
            "cut.csv",
            "--output",
            "x.csv",
        ]),
        &["cut.csv", "truncated or altered"],
    );
    assert!(!d.path("x.csv").exists(), "no output after a refusal");
    // A rule naming a column that is not there, and incomparable columns.
    d.write(
        "rules.toml",
        "[[rule]]\nname = \"a\"\nkeys = [\"nino_token\"]\n",
    );
    assert_fails(
        &link(&d, &["--rules", "rules.toml"]),
        &["nino_token", "its encoded columns are"],
    );
    d.write(
        "rules.toml",
        "[[rule]]\nname = \"a\"\nkeys = [{ left = \"given_name_token\", right = \"date_of_birth_token\" }]\n",
    );
    assert_fails(
        &link(&d, &["--rules", "rules.toml"]),
        &["rule \"a\"", "domains differ"],
    );
    d.write("rules.toml", "[[rule]]\nname = \"a\"\nkeys = []\n");
    assert_fails(
        &link(&d, &["--rules", "rules.toml"]),
        &["rules.toml", "no keys"],
    );
    d.write("rules.toml", "[[rules]]\nname = \"a\"\n");
    assert_fails(
        &link(&d, &["--rules", "rules.toml"]),
        &["rules.toml", "line 1"],
    );
    // Bloom filters with different parameters.
    d.write(
        "s512.toml",
        "id_column = \"id\"\n[[field]]\ncolumn = \"given_name\"\nkind = \"name\"\nencodings = [\"bloom\"]\nbloom = { bits = 512 }\n",
    );
    d.write(
        "s1024.toml",
        "id_column = \"id\"\n[[field]]\ncolumn = \"given_name\"\nkind = \"name\"\nencodings = [\"bloom\"]\n",
    );
    for (name, schema) in [("b1", "s512.toml"), ("b2", "s1024.toml")] {
        d.write(&format!("{name}.raw.csv"), format!("{HEADER}{LEFT}"));
        let r = d.run(&[
            "tokenise",
            "--key-file",
            "k.key",
            "--input",
            &format!("{name}.raw.csv"),
            "--output",
            &format!("{name}.csv"),
            "--schema",
            schema,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    d.write(
        "rb.toml",
        "[[rule]]\nname = \"b\"\nkeys = [\"given_name_bloom\"]\n",
    );
    assert_fails(
        &d.run(&[
            "link",
            "--method",
            "deterministic",
            "--left",
            "b1.csv",
            "--right",
            "b2.csv",
            "--output",
            "x.csv",
            "--rules",
            "rb.toml",
        ]),
        &["Bloom filter parameters differ"],
    );
}

#[test]
fn one_to_many_links_a_person_to_several_claims() {
    let d = setup();
    tokenise(
        &d,
        "l",
        "P1,,Ann,Lee,1970-01-01,2,SW1A 1AA,\nP2,,Bob,Lee,1971-01-01,1,SW1A 1AA,\n",
        &["--id-column", "id"],
    );
    tokenise(
        &d,
        "r",
        "C1,,Ann,Lee,1970-01-01,F,SW1A 1AA,\nC2,,Ann,Lee,1970-01-01,F,SW1A 1AA,\nC3,,Bob,Lee,1971-01-01,M,SW1A 1AA,\n",
        &["--id-column", "id"],
    );
    let r = link(&d, &["--cardinality", "one-to-many"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, rows) = csv_rows(&d.read("links.csv"));
    let pairs: Vec<(String, String)> = rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    assert_eq!(
        pairs,
        [
            ("P1".into(), "C1".into()),
            ("P1".into(), "C2".into()),
            ("P2".into(), "C3".into())
        ]
    );
    let r = link(&d, &["--cardinality", "one-to-one"]);
    assert_eq!(r.code, 0);
    let (_, rows) = csv_rows(&d.read("links.csv"));
    assert_eq!(rows.len(), 1, "Ann's two claims are ambiguous one-to-one");
}

#[test]
fn extract_safeguards() {
    let d = setup();
    tokenise(
        &d,
        "l",
        LEFT,
        &["--id-column", "id", "--keep", "clinic,nhs_number"],
    );
    tokenise(&d, "r", RIGHT, &["--id-column", "id"]);
    // A project name is required, labels must be names and differ.
    assert_fails(
        &link(&d, &["--extract", "x.csv", "--pseudonym-key-file", "p.key"]),
        &["--project"],
    );
    assert_fails(
        &link(
            &d,
            &[
                "--extract",
                "x.csv",
                "--pseudonym-key-file",
                "p.key",
                "--project",
                "p",
                "--left-label",
                "a b",
            ],
        ),
        &["--left-label"],
    );
    assert_fails(
        &link(
            &d,
            &[
                "--extract",
                "x.csv",
                "--pseudonym-key-file",
                "p.key",
                "--project",
                "p",
                "--left-label",
                "same",
                "--right-label",
                "same",
            ],
        ),
        &["must differ"],
    );
    // The data owners' linkage secret is refused as the project key.
    assert_fails(
        &link(
            &d,
            &[
                "--extract",
                "x.csv",
                "--pseudonym-key-file",
                "k.key",
                "--project",
                "p",
            ],
        ),
        &["linkage secret", "project key"],
    );
    // A kept identifier never reaches the extract.
    let r = link(
        &d,
        &[
            "--extract",
            "x.csv",
            "--pseudonym-key-file",
            "p.key",
            "--project",
            "p",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (h, _) = csv_rows(&d.read("x.csv"));
    assert!(h.contains(&"left_clinic".to_string()), "{h:?}");
    assert!(!h.iter().any(|c| c.contains("nhs_number")), "{h:?}");
    assert!(!d.read("x.csv").contains("9434765919"));
}

/// A malformed record in a file whose manifest vouches for it (a faulty
/// encoder, not an alteration) is refused with its line number, counted
/// across the slices the loader parses in parallel.
#[test]
fn a_malformed_record_is_refused_at_its_line() {
    use sha2::{Digest, Sha256};
    let d = setup();
    d.write(
        "nhs.toml",
        "id_column = \"id\"\n[[field]]\ncolumn = \"nhs_number\"\nkind = \"nhs_number\"\n",
    );
    // Long ids make the file a few MiB, so it is parsed in several slices.
    let mut raw = String::from("id,nhs_number\n");
    for i in 0..40_000 {
        raw.push_str(&format!("P{i:0>70},\n"));
    }
    d.write("big.raw.csv", &raw);
    for name in ["l", "big"] {
        let input = format!("{name}.raw.csv");
        if name == "l" {
            d.write(&input, "id,nhs_number\nL1,9434765919\n");
        }
        let output = format!("{name}.csv");
        let r = d.run(&[
            "tokenise",
            "--key-file",
            "k.key",
            "--schema",
            "nhs.toml",
            "--input",
            &input,
            "--output",
            &output,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // Line 35,001 of the file (the header is line 1): a token that is not
    // hex. The manifest is resealed over the new bytes.
    let text = d.read("big.csv");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines[35_000].contains(",,"), "{}", lines[35_000]);
    lines[35_000] = lines[35_000].replacen(",,", ",zz,", 1);
    let body = lines.join("\n") + "\n";
    assert!(body.len() > 3 << 20);
    d.write("big.csv", &body);
    let mut m = json(&d.read("big.csv.manifest.json"));
    m["data_sha256"] = Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into();
    m["data_bytes"] = body.len().into();
    d.write("big.csv.manifest.json", m.to_string());
    d.write(
        "nhs-rules.toml",
        "[[rule]]\nname = \"nhs\"\nkeys = [\"nhs_number_token\"]\n",
    );
    let r = d.run(&[
        "link",
        "--rules",
        "nhs-rules.toml",
        "--method",
        "deterministic",
        "--left",
        "l.csv",
        "--right",
        "big.csv",
        "--output",
        "x.csv",
    ]);
    assert_fails(
        &r,
        &[
            "big.csv",
            "line 35001",
            "nhs_number_token",
            "64-character hex token",
        ],
    );
}

/// Links copies `bl.csv` and `br.csv` of two tokenised files whose
/// manifests `edit` has changed (both alike, so that they still agree).
fn link_with_edited_manifests(edit: impl Fn(&mut serde_json::Value)) -> Run {
    let d = setup();
    tokenise(&d, "l", LEFT, &["--id-column", "id"]);
    tokenise(&d, "r", RIGHT, &["--id-column", "id"]);
    for side in ["l", "r"] {
        std::fs::copy(
            d.path(&format!("{side}.csv")),
            d.path(&format!("b{side}.csv")),
        )
        .unwrap();
        let mut m = json(&d.read(&format!("{side}.csv.manifest.json")));
        edit(&mut m);
        d.write(&format!("b{side}.csv.manifest.json"), m.to_string());
    }
    d.run(&[
        "link",
        "--method",
        "probabilistic",
        "--left",
        "bl.csv",
        "--right",
        "br.csv",
        "--output",
        "x.csv",
    ])
}

#[test]
fn impossible_bloom_parameters_in_a_manifest_are_refused() {
    // A manifest is untrusted input: Bloom parameters no tokenise run can
    // write (here 100 bits, not a power of two) are refused before they
    // size anything.
    let r = link_with_edited_manifests(|m| {
        let mut changed = 0;
        for f in m["schema"]["fields"].as_array_mut().unwrap() {
            if f["bloom"].is_object() {
                f["bloom"]["bits"] = 100.into();
                changed += 1;
            }
        }
        assert!(changed > 0, "the default schema has Bloom filters");
    });
    assert_fails(
        &r,
        &[
            "bl.csv",
            "Bloom filter parameters are not valid",
            "bits = 100",
        ],
    );
}

#[test]
fn bloom_filters_of_two_lengths_in_one_domain_are_refused() {
    // Given and family names share the domain `name`; a manifest that
    // gives their filters two lengths is refused before any filter is
    // stored by the wrong length.
    let r = link_with_edited_manifests(|m| {
        let fields = m["schema"]["fields"].as_array_mut().unwrap();
        let mut blooms = fields.iter_mut().filter(|f| f["bloom"].is_object());
        let first = blooms.next().expect("a Bloom field");
        assert!(
            blooms.any(|f| f["domain"] == first["domain"]),
            "two in one domain"
        );
        first["bloom"]["bits"] = 2048.into();
    });
    assert_fails(
        &r,
        &[
            "bl.csv",
            "Bloom filters, but its domain's other filters have",
        ],
    );
}
