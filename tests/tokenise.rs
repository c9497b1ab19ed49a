//! `linkwell tokenise` end to end: the happy path and every bad input.

use crate::util::*;

const NHS_ONLY: &str =
    "id_column = \"id\"\n[[field]]\ncolumn = \"nhs_number\"\nkind = \"nhs_number\"\n";
const KAT_TOKEN: &str = "ee300ebd22e30c26fe84c28c76f903bfefc2422db9fc144b9d5470e19c2d7671";

fn setup() -> Dir {
    let d = Dir::new();
    d.key("k.key", TEST_KEY_HEX);
    d
}

fn tokenise(d: &Dir, extra: &[&str]) -> Run {
    let mut args = vec![
        "tokenise",
        "--key-file",
        "k.key",
        "--input",
        "in.csv",
        "--output",
        "out.csv",
    ];
    args.extend_from_slice(extra);
    d.run(&args)
}

#[test]
fn happy_path_tokens_statuses_manifest() {
    let d = setup();
    d.write(
        "in.csv",
        "id,nhs_number,name,clinic\n\
         a1,943 476 5919,Jo Bloggs,North\n\
         a2,943-476-5919,Ann Other,\"South, East\"\n\
         a3,,No Number,North\n\
         a4,9434765918,Bad Check,North\n\
         a5,1111111111,Placeholder,North\n\
         a6,94347659,Short,North\n",
    );
    let r = tokenise(
        &d,
        &[
            "--id-column",
            "id",
            "--nhs-column",
            "nhs_number",
            "--keep",
            "clinic",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("read 6 records = 6 written + 0 rejected"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("fingerprint 6d1cc2b0ca43e3cb"),
        "{}",
        r.stderr
    );
    let (header, rows) = csv_rows(&d.read("out.csv"));
    assert_eq!(
        header,
        ["id", "nhs_number_token", "nhs_number_status", "clinic"]
    );
    let col = |r: &Vec<String>, i: usize| r[i].clone();
    assert_eq!(col(&rows[0], 1), KAT_TOKEN);
    assert_eq!(col(&rows[1], 1), KAT_TOKEN);
    assert_eq!(col(&rows[1], 3), "South, East");
    let statuses: Vec<String> = rows.iter().map(|r| col(r, 2)).collect();
    assert_eq!(
        statuses,
        [
            "valid",
            "valid",
            "missing",
            "check_digit_mismatch",
            "placeholder",
            "wrong_length"
        ]
    );
    assert!(rows[2..].iter().all(|r| r[1].is_empty()));
    let out = d.read("out.csv");
    assert!(
        !out.contains("943") && !out.contains("Bloggs"),
        "no raw identifier unless kept"
    );
    let m = json(&d.read("out.csv.manifest.json"));
    assert_eq!(m["format"], "linkwell-encoded");
    assert_eq!(m["key_fingerprint"], "6d1cc2b0ca43e3cb");
    assert_eq!(m["counts"]["read"], 6);
    assert_eq!(m["counts"]["written"], 6);
    assert_eq!(m["counts"]["rejected"], 0);
    assert_eq!(m["counts"]["fields"]["nhs_number"]["valid"], 2);
    assert_eq!(m["counts"]["fields"]["nhs_number"]["placeholder"], 1);
    assert_eq!(m["schema"]["fields"][0]["domain"], "nhs_number");
    use sha2::Digest;
    let digest = sha2::Sha256::digest(out.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(m["data_sha256"], hex);
    assert_eq!(d.read("out.csv.rejects.csv"), "line,reason\n");
}

#[test]
fn schema_file_nhs_only() {
    let d = setup();
    d.write("nhs.toml", NHS_ONLY);
    d.write("in.csv", "id,nhs_number,given_name\n1,9434765919,Jo\n");
    let r = tokenise(&d, &["--schema", "nhs.toml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        d.read("out.csv"),
        format!("id,nhs_number_token,nhs_number_status\n1,{KAT_TOKEN},valid\n")
    );
}

#[test]
fn bom_crlf_quotes_and_the_env_var() {
    let d = setup();
    d.write(
        "in.csv",
        b"\xef\xbb\xbfid,nhs_number\r\n\"x,1\",\"943 476 5919\"\r\n\"x\"\"2\",\r\n".as_slice(),
    );
    let key = d.path("k.key");
    let r = d.run_env(
        &["tokenise", "--input", "in.csv", "--output", "out.csv"],
        &[("LINKWELL_KEY_FILE", key.to_str().unwrap())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (header, rows) = csv_rows(&d.read("out.csv"));
    assert_eq!(header[0], "id", "BOM stripped");
    assert_eq!(rows[0], ["x,1", KAT_TOKEN, "valid"]);
    assert_eq!(rows[1], ["x\"2", "", "missing"]);
}

#[test]
fn malformed_rows_go_to_rejects_and_counts_reconcile() {
    let d = setup();
    let mut input = b"id,nhs_number\n1,9434765919\n2,1,surplus\n".to_vec();
    input.extend_from_slice(b"3,\xff\n4\n5,9434765919\n");
    d.write("in.csv", &input);
    let r = tokenise(&d, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("read 5 records = 2 written + 3 rejected"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("line 3: has 3 fields but the header has 2"),
        "{}",
        r.stderr
    );
    let (_, rows) = csv_rows(&d.read("out.csv.rejects.csv"));
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][0], "3");
    assert_eq!(rows[1][0], "4");
    assert!(rows[1][1].contains("not valid UTF-8"));
    assert_eq!(rows[2][0], "5");
    assert!(!d.read("out.csv.rejects.csv").contains("surplus"));
    let m = json(&d.read("out.csv.manifest.json"));
    assert_eq!(
        (
            m["counts"]["read"].as_u64(),
            m["counts"]["written"].as_u64(),
            m["counts"]["rejected"].as_u64()
        ),
        (Some(5), Some(2), Some(3))
    );
}

#[test]
fn missing_columns_are_refused_with_the_columns_present() {
    let d = setup();
    d.write("in.csv", "ref,nhs\n1,9434765919\n");
    assert_fails(
        &tokenise(&d, &["--id-column", "id"]),
        &["\"id\"", "ref, nhs"],
    );
    assert_fails(
        &tokenise(&d, &["--nhs-column", "nhs_number"]),
        &["\"nhs_number\"", "ref, nhs"],
    );
    assert_fails(&tokenise(&d, &[]), &["no identifier columns", "ref, nhs"]);
    assert!(!d.path("out.csv").exists(), "no output on failure");
    assert_eq!(d.files(), ["in.csv", "k.key"], "no temporary files left");
}

#[test]
fn empty_and_header_only_files() {
    let d = setup();
    d.write("in.csv", "");
    assert_fails(&tokenise(&d, &[]), &["in.csv", "empty", "header"]);
    assert_eq!(d.files(), ["in.csv", "k.key"]);
    d.write("in.csv", "id,nhs_number\n");
    let r = tokenise(&d, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("read 0 records = 0 written + 0 rejected"));
    assert_eq!(d.read("out.csv"), "id,nhs_number_token,nhs_number_status\n");
}

#[test]
fn bad_keys_and_paths() {
    let d = setup();
    d.write("in.csv", "id,nhs_number\n1,9434765919\n");
    assert_fails(
        &d.run(&[
            "tokenise",
            "--key-file",
            "none.key",
            "--input",
            "in.csv",
            "--output",
            "o.csv",
        ]),
        &["none.key", "does not exist"],
    );
    assert_fails(
        &d.run(&[
            "tokenise",
            "--key-file",
            "k.key",
            "--input",
            "missing.csv",
            "--output",
            "o.csv",
        ]),
        &["missing.csv"],
    );
    assert_fails(
        &d.run(&[
            "tokenise",
            "--key-file",
            "k.key",
            "--input",
            "in.csv",
            "--output",
            "in.csv",
        ]),
        &["is the input"],
    );
    assert_eq!(d.read("in.csv"), "id,nhs_number\n1,9434765919\n");
    d.write(
        "bad.toml",
        "[[field]]\ncolumn = \"nhs_number\"\nkind = \"nhs\"\n",
    );
    assert_fails(
        &tokenise(&d, &["--schema", "bad.toml"]),
        &["bad.toml", "unknown variant"],
    );
}

#[test]
fn default_schema_encodes_every_standard_identifier() {
    let d = setup();
    d.write(
        "in.csv",
        "patient_id,nhs_number,given_name,family_name,date_of_birth,sex,postcode,icb\n\
         P1,9434765919,Zoë,O'Brien,05/03/1980,2,sw1a 1aa,North East\n\
         P2,,,,31/04/1980,X,nope,\n",
    );
    let r = tokenise(&d, &["--keep", "icb"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (header, rows) = csv_rows(&d.read("out.csv"));
    assert_eq!(header[0], "patient_id");
    assert_eq!(header.last().unwrap(), "icb");
    let get =
        |row: usize, col: &str| rows[row][header.iter().position(|h| h == col).unwrap()].clone();
    assert_eq!(get(0, "date_of_birth_status"), "valid");
    assert_eq!(get(1, "date_of_birth_status"), "impossible_date");
    assert_eq!(get(1, "postcode_status"), "invalid_postcode");
    assert_eq!(get(1, "sex_status"), "missing");
    assert_eq!(get(0, "given_name_bloom").len(), 172);
    assert_eq!(get(0, "icb"), "North East");
    let out = d.read("out.csv");
    for raw in ["Zo", "Brien", "1980", "SW1A", "sw1a"] {
        assert!(!out.contains(raw), "{raw} leaked");
    }
}

/// Golden file: the sample patients encoded under the fixed test secret.
/// Any change to normalisation, token derivation or Bloom encoding changes
/// this output and fails here; other implementations can test against it.
/// Regenerate deliberately with `LINKWELL_BLESS=1 cargo test golden`.
#[test]
fn golden_encoding_of_the_sample_patients() {
    let d = setup();
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/patients.csv");
    let r = d.run(&[
        "tokenise",
        "--key-file",
        "k.key",
        "--input",
        sample,
        "--output",
        "out.csv",
        "--keep",
        "referral",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let golden = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/patients.encoded.csv"
    );
    let got = d.read("out.csv");
    if std::env::var_os("LINKWELL_BLESS").is_some() {
        std::fs::write(golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(golden).expect("golden file; bless with LINKWELL_BLESS=1");
    assert!(
        got == want,
        "encoded output differs from tests/golden/patients.encoded.csv"
    );
}

#[test]
fn the_published_test_key_and_identifier_ids_are_refused() {
    let d = setup();
    d.write("in.csv", "id,nhs_number\n1,9434765919\n");
    let r = d.run_env(
        &[
            "tokenise",
            "--key-file",
            "k.key",
            "--input",
            "in.csv",
            "--output",
            "out.csv",
        ],
        &[("LINKWELL_ALLOW_TEST_KEY", "")],
    );
    // An empty variable still counts as set; remove it instead.
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_linkwell"));
    c.args([
        "tokenise",
        "--key-file",
        "k.key",
        "--input",
        "in.csv",
        "--output",
        "out.csv",
    ])
    .current_dir(d.tmp.path())
    .env_remove("LINKWELL_ALLOW_TEST_KEY");
    let refused: Run = c.output().unwrap().into();
    assert_fails(&refused, &["published test secret", "linkwell keygen"]);
    assert_eq!(r.code, 0, "the variable allows it: {}", r.stderr);
    // A first column of NHS numbers would be the id, in clear: refused.
    let mut rows = String::from("nhs_no,given_name\n");
    for i in 0..20u32 {
        let n = linkwell::nhs::NhsNumber::from_first_nine(400_000_000 + i * 101)
            .or_else(|| linkwell::nhs::NhsNumber::from_first_nine(400_000_001 + i * 101))
            .unwrap();
        rows.push_str(&format!("{n},Jo\n"));
    }
    d.write("ids.csv", rows);
    assert_fails(
        &d.run(&[
            "tokenise",
            "--key-file",
            "k.key",
            "--input",
            "ids.csv",
            "--output",
            "o.csv",
        ]),
        &["\"nhs_no\"", "NHS numbers", "--id-column"],
    );
    assert!(!d.path("o.csv").exists());
}
