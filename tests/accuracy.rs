//! Linkage accuracy end to end on synthetic data, with floors a broken
//! model or cascade cannot pass. Truth is read directly from truth.csv here,
//! independently of `linkwell evaluate`.

use std::collections::HashMap;

use crate::util::*;

struct World {
    d: Dir,
    truth: HashMap<(String, String), String>,
}

/// Synthesises `people`, tokenises the three sources with the example
/// schemas.
fn world(people: u64) -> World {
    let d = Dir::new();
    d.key("k.key", TEST_KEY_HEX);
    let r = d.run(&[
        "synth",
        "--people",
        &people.to_string(),
        "--seed",
        "5",
        "--out",
        "raw",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for name in ["nhs_patients", "ons_employment", "dwp_claims"] {
        let schema = format!(
            "{}/examples/schemas/{name}.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let r = d.run(&[
            "tokenise",
            "--key-file",
            "k.key",
            "--input",
            &format!("raw/{name}.csv"),
            "--output",
            &format!("{name}.csv"),
            "--schema",
            &schema,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let (_, rows) = csv_rows(&d.read("raw/truth.csv"));
    let truth = rows
        .into_iter()
        .map(|r| ((r[0].clone(), r[1].clone()), r[2].clone()))
        .collect();
    World { d, truth }
}

struct Score {
    precision: f64,
    recall: f64,
    f1: f64,
}

/// Precision against truth; recall against the best achievable linkage
/// under the cardinality (each right record whose person is on the left
/// can link once; one-to-one also at most once per left duplicate).
fn score(w: &World, links: &str, left: &str, right: &str, one_to_one: bool) -> Score {
    let (h, rows) = csv_rows(&w.d.read(links));
    let (li, ri) = (
        h.iter().position(|c| c == "left_id").unwrap(),
        h.iter().position(|c| c == "right_id").unwrap(),
    );
    let person = |ds: &str, id: &str| w.truth[&(ds.to_string(), id.to_string())].clone();
    let tp = rows
        .iter()
        .filter(|r| person(left, &r[li]) == person(right, &r[ri]))
        .count() as f64;
    let mut nl: HashMap<String, u64> = HashMap::new();
    let mut nr: HashMap<String, u64> = HashMap::new();
    for ((ds, _), p) in &w.truth {
        if ds == left {
            *nl.entry(p.clone()).or_default() += 1;
        } else if ds == right {
            *nr.entry(p.clone()).or_default() += 1;
        }
    }
    let achievable: u64 = nr
        .iter()
        .filter_map(|(p, &r)| nl.get(p).map(|&l| if one_to_one { l.min(r) } else { r }))
        .sum();
    let precision = tp / rows.len().max(1) as f64;
    let recall = tp / achievable as f64;
    Score {
        precision,
        recall,
        f1: 2.0 * precision * recall / (precision + recall),
    }
}

#[test]
fn nhs_ons_deterministic_precision_and_cascade_f1() {
    let w = world(20_000);
    let r = w.d.run(&[
        "link",
        "--method",
        "deterministic",
        "--left",
        "nhs_patients.csv",
        "--right",
        "ons_employment.csv",
        "--output",
        "det.csv",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = score(&w, "det.csv", "nhs_patients", "ons_employment", true);
    assert!(
        s.precision >= 0.999,
        "deterministic precision {}",
        s.precision
    );
    assert!(s.recall >= 0.9, "deterministic recall {}", s.recall);
    let r = w.d.run(&[
        "link",
        "--left",
        "nhs_patients.csv",
        "--right",
        "ons_employment.csv",
        "--output",
        "cascade.csv",
        "--explain",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = score(&w, "cascade.csv", "nhs_patients", "ons_employment", true);
    assert!(
        c.f1 >= 0.99,
        "cascade F1 {} (precision {}, recall {})",
        c.f1,
        c.precision,
        c.recall
    );
    assert!(c.recall > s.recall, "the probabilistic step adds links");
    // The explanation sums to the weight on every probabilistic link.
    let (h, rows) = csv_rows(&w.d.read("cascade.csv"));
    let wi = h.iter().position(|c| c == "match_weight").unwrap();
    let parts: Vec<usize> = h
        .iter()
        .enumerate()
        .filter(|(_, c)| *c == "prior_weight" || c.ends_with("_weight") && *c != "match_weight")
        .map(|(i, _)| i)
        .collect();
    let mut checked = 0;
    for r in rows.iter().filter(|r| !r[wi].is_empty()) {
        let sum: f64 = parts.iter().map(|&i| r[i].parse::<f64>().unwrap()).sum();
        let weight: f64 = r[wi].parse().unwrap();
        assert!((sum - weight).abs() < 1e-4, "{sum} vs {weight}");
        checked += 1;
    }
    assert!(checked > 0);
}

#[test]
fn nhs_dwp_probabilistic_f1_and_model_reuse() {
    let w = world(20_000);
    let r = w.d.run(&[
        "link",
        "--method",
        "probabilistic",
        "--cardinality",
        "one-to-many",
        "--left",
        "nhs_patients.csv",
        "--right",
        "dwp_claims.csv",
        "--output",
        "p.csv",
        "--save-model",
        "trained.json",
        "--review-sample",
        "25",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = score(&w, "p.csv", "nhs_patients", "dwp_claims", false);
    assert!(
        s.f1 >= 0.97,
        "F1 {} (precision {}, recall {})",
        s.f1,
        s.precision,
        s.recall
    );
    let (rh, review) = csv_rows(&w.d.read("p.csv.review.csv"));
    assert_eq!(review.len(), 25);
    assert!(rh.contains(&"given_name_level".to_string()));
    // Reusing the trained model gives the same links.
    let r = w.d.run(&[
        "link",
        "--method",
        "probabilistic",
        "--cardinality",
        "one-to-many",
        "--left",
        "nhs_patients.csv",
        "--right",
        "dwp_claims.csv",
        "--output",
        "q.csv",
        "--model",
        "trained.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(w.d.read("p.csv"), w.d.read("q.csv"));
    // `train` gives the same model as training inside `link`.
    let r = w.d.run(&[
        "train",
        "--left",
        "nhs_patients.csv",
        "--right",
        "dwp_claims.csv",
        "--out",
        "t2.json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let a = json(&w.d.read("trained.json"));
    let b = json(&w.d.read("t2.json"));
    assert_eq!(a["comparisons"], b["comparisons"]);
    assert_eq!(a["prior"], b["prior"]);
}

/// The schema and model formats describe datasets that are not ours: a
/// social-security id, free-text addresses and a date, linked with a model
/// written for them.
#[test]
fn other_kinds_and_a_custom_model() {
    let d = Dir::new();
    d.key("k.key", TEST_KEY_HEX);
    let streets = [
        "Rue de la Paix",
        "Hauptstraße",
        "Calle Mayor",
        "Via Roma",
        "Main Street",
        "High Street",
    ];
    let towns = ["Lyon", "Köln", "Sevilla", "Torino", "Dublin", "Leeds"];
    let mut a = String::from("rec,ssn,street,town,born\n");
    let mut b = String::from("ref,ssn,street,town,born\n");
    for i in 0..300u32 {
        let street = format!("{} {}", 1 + i % 97, streets[(i % 6) as usize]);
        let town = towns[((i / 6) % 6) as usize];
        let born = format!("{:02}/{:02}/{}", 1 + i % 28, 1 + i % 12, 1940 + i % 60);
        a.push_str(&format!(
            "a{i},SSN-{:06},{street},{town},{born}\n",
            i * 7919 % 1_000_000
        ));
        // The other side: ids formatted differently, a typo in some streets,
        // the SSN missing on some records.
        let ssn = if i % 5 == 0 {
            String::new()
        } else {
            format!("ssn {:06}", i * 7919 % 1_000_000)
        };
        let street_b = if i % 4 == 0 {
            street.replacen('a', "e", 1)
        } else {
            street.to_uppercase()
        };
        b.push_str(&format!("b{i},{ssn},\"{street_b}\",{town},{born}\n"));
    }
    d.write("a.raw.csv", a);
    d.write("b.raw.csv", b);
    let schema = |id: &str| {
        format!(
            "id_column = \"{id}\"\n\
             [[field]]\ncolumn = \"ssn\"\nkind = \"identifier\"\n\
             [[field]]\ncolumn = \"street\"\nkind = \"text\"\nencodings = [\"token\", \"bloom\"]\n\
             [[field]]\ncolumn = \"town\"\nkind = \"text\"\n\
             [[field]]\ncolumn = \"born\"\nkind = \"date\"\nformats = [\"%d/%m/%Y\"]\nencodings = [\"token\", \"year\"]\n"
        )
    };
    d.write("a.toml", schema("rec"));
    d.write("b.toml", schema("ref"));
    for (n, s) in [("a", "a.toml"), ("b", "b.toml")] {
        let r = d.run(&[
            "tokenise",
            "--key-file",
            "k.key",
            "--input",
            &format!("{n}.raw.csv"),
            "--output",
            &format!("{n}.csv"),
            "--schema",
            s,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    d.write(
        "model.toml",
        r#"
[settings]
u_sample_pairs = 20000
threshold_probability = 0.9

[[blocking]]
name = "born"
keys = ["born_token"]

[[blocking]]
name = "street"
keys = ["street_token"]

[[comparison]]
name = "ssn"
[[comparison.level]]
name = "exact"
equal = ["ssn_token"]

[[comparison]]
name = "street"
[[comparison.level]]
name = "exact"
equal = ["street_token"]
[[comparison.level]]
name = "similar"
dice = "street_bloom"
at_least = 0.8

[[comparison]]
name = "town"
[[comparison.level]]
name = "exact"
equal = ["town_token"]

[[comparison]]
name = "born"
[[comparison.level]]
name = "exact"
equal = ["born_token"]
[[comparison.level]]
name = "year"
equal = ["born_year"]
"#,
    );
    let r = d.run(&[
        "link",
        "--method",
        "probabilistic",
        "--left",
        "a.csv",
        "--right",
        "b.csv",
        "--output",
        "l.csv",
        "--model",
        "model.toml",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, rows) = csv_rows(&d.read("l.csv"));
    let correct = rows.iter().filter(|r| r[0][1..] == r[1][1..]).count();
    assert!(rows.len() >= 290, "{} links", rows.len());
    assert!(
        correct as f64 / rows.len() as f64 >= 0.99,
        "{correct} of {}",
        rows.len()
    );
    // A Bloom filter cannot be a blocking key or match key.
    let m = d
        .read("model.toml")
        .replace("keys = [\"street_token\"]", "keys = [\"street_bloom\"]");
    d.write("bad.toml", m);
    let r = d.run(&[
        "link",
        "--method",
        "probabilistic",
        "--left",
        "a.csv",
        "--right",
        "b.csv",
        "--output",
        "x.csv",
        "--model",
        "bad.toml",
    ]);
    assert_fails(&r, &["street_bloom", "Bloom"]);
}

/// A record-level Bloom filter (CLK) of the names, with the date of birth,
/// sex and postcode district as tokens: linking NHS to DWP with the example
/// schema and model finds the true pairs, and a right file whose CLK was
/// built with other parameters is refused.
#[test]
fn clk_of_names_links_nhs_to_dwp() {
    let d = Dir::new();
    d.key("k.key", TEST_KEY_HEX);
    let r = d.run(&["synth", "--people", "2000", "--seed", "5", "--out", "raw"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let examples = format!("{}/examples", env!("CARGO_MANIFEST_DIR"));
    let nhs_schema =
        std::fs::read_to_string(format!("{examples}/schemas/nhs_patients_clk.toml")).unwrap();
    d.write("nhs.toml", &nhs_schema);
    d.write(
        "dwp.toml",
        nhs_schema.replace("id_column = \"patient_id\"", "id_column = \"claim_id\""),
    );
    // The same, but the family name sets 10 bits a bigram, not 20.
    d.write(
        "dwp10.toml",
        nhs_schema
            .replace("id_column = \"patient_id\"", "id_column = \"claim_id\"")
            .replace(
                "[[clk.field]]\ncolumn = \"family_name\"",
                "[[clk.field]]\ncolumn = \"family_name\"\nhashes = 10",
            ),
    );
    // The same CLK with its fields listed the other way round: the same
    // bits, so comparable.
    d.write(
        "dwp_reversed.toml",
        nhs_schema
            .replace("id_column = \"patient_id\"", "id_column = \"claim_id\"")
            .replace(
                "[[clk.field]]\ncolumn = \"given_name\"\n[[clk.field]]\ncolumn = \"family_name\"",
                "[[clk.field]]\ncolumn = \"family_name\"\n[[clk.field]]\ncolumn = \"given_name\"",
            ),
    );
    assert_ne!(d.read("dwp_reversed.toml"), d.read("dwp.toml"));
    for (input, output, schema) in [
        ("nhs_patients", "nhs_patients.csv", "nhs.toml"),
        ("dwp_claims", "dwp_claims.csv", "dwp.toml"),
        ("dwp_claims", "dwp10.csv", "dwp10.toml"),
        ("dwp_claims", "dwp_reversed.csv", "dwp_reversed.toml"),
    ] {
        let r = d.run(&[
            "tokenise",
            "--key-file",
            "k.key",
            "--input",
            &format!("raw/{input}.csv"),
            "--output",
            output,
            "--schema",
            schema,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let (h, _) = csv_rows(&d.read("nhs_patients.csv"));
    assert!(h.contains(&"clk".to_string()), "{h:?}");
    // A file with a CLK needs format version 2 to be read; one without
    // still says 1, so that earlier builds read it.
    let version = |f: &str| {
        let m: serde_json::Value =
            serde_json::from_str(&d.read(&format!("{f}.manifest.json"))).unwrap();
        m["format_version"].as_u64().unwrap()
    };
    assert_eq!(version("nhs_patients.csv"), 2);
    let r = d.run(&[
        "tokenise",
        "--key-file",
        "k.key",
        "--input",
        "raw/nhs_patients.csv",
        "--output",
        "plain.csv",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(version("plain.csv"), 1);
    assert!(
        !h.iter()
            .any(|c| c.starts_with("given_name_") && c != "given_name_status"),
        "{h:?}"
    );
    let model = format!("{examples}/models/clk_names.toml");
    let (_, rows) = csv_rows(&d.read("raw/truth.csv"));
    let w = World {
        truth: rows
            .into_iter()
            .map(|r| ((r[0].clone(), r[1].clone()), r[2].clone()))
            .collect(),
        d,
    };
    let link = |right: &str, out: &str| {
        w.d.run(&[
            "link",
            "--method",
            "probabilistic",
            "--left",
            "nhs_patients.csv",
            "--right",
            right,
            "--output",
            out,
            "--model",
            &model,
        ])
    };
    let r = link("dwp_claims.csv", "links.csv");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = score(&w, "links.csv", "nhs_patients", "dwp_claims", true);
    assert!(
        s.f1 >= 0.98,
        "CLK F1 {} (precision {}, recall {})",
        s.f1,
        s.precision,
        s.recall
    );
    let r = link("dwp_reversed.csv", "reversed.csv");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(w.d.read("reversed.csv"), w.d.read("links.csv"));
    // A manifest with a CLK that claims format version 1 was altered.
    let manifest = w.d.read("dwp_reversed.csv.manifest.json");
    assert!(manifest.contains("\"format_version\": 2"));
    w.d.write(
        "dwp_reversed.csv.manifest.json",
        manifest.replace("\"format_version\": 2", "\"format_version\": 1"),
    );
    assert_fails(
        &link("dwp_reversed.csv", "y.csv"),
        &["format version 1", "record-level filter", "altered"],
    );
    let r = link("dwp10.csv", "x.csv");
    assert_fails(
        &r,
        &["clk", "Bloom filter parameters differ", "\"hashes\":10"],
    );
}
