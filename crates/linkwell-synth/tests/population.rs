//! Invariants of generated populations: determinism, valid identifiers
//! except where truth says otherwise, truth joins, observed error rates
//! against configured ones, and the hard cases.

use std::collections::{HashMap, HashSet};

use linkwell::nhs::NhsNumber;
use linkwell::normalise::postcode::normalise as postcode;
use linkwell_synth::{
    generate, is_valid_nino, write_dir, Config, ErrorKind, ErrorSet, Identity, Person, Population,
    Sex, View, WriteOptions,
};

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
}

fn read_dir_files(dir: &std::path::Path) -> Vec<Vec<u8>> {
    linkwell_synth::write::output_files(dir)
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

#[test]
fn deterministic_across_thread_counts_and_paths() {
    let config = Config::default();
    let people = 3 * linkwell_synth::CHUNK_PEOPLE + 123;
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let opts = |threads| WriteOptions {
        overwrite: false,
        progress: None,
        threads: Some(threads),
    };
    write_dir(&config, people, 99, a.path(), &opts(1)).unwrap();
    write_dir(&config, people, 99, b.path(), &opts(2)).unwrap();
    let fa = read_dir_files(a.path());
    let fb = read_dir_files(b.path());
    assert_eq!(fa, fb, "files differ between 1 and 2 threads");

    // The in-memory population serialises to the same bytes.
    let pop = pool(2).install(|| generate(&config, people, 99).unwrap());
    let csv = pop.to_csv();
    for i in 0..4 {
        assert_eq!(
            csv[i], fa[i],
            "file {i} differs from the in-memory population"
        );
    }

    // Another seed gives other data.
    let c = tempfile::tempdir().unwrap();
    write_dir(&config, people, 100, c.path(), &opts(2)).unwrap();
    assert_ne!(read_dir_files(c.path())[0], fa[0]);

    // Existing files are refused unless overwriting.
    let e = write_dir(&config, 10, 1, a.path(), &opts(1)).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
}

fn population(people: u64) -> Population {
    generate(&Config::default(), people, 20_251_125).unwrap()
}

/// Checks an NHS number field against the person and the record's errors.
fn check_nhs_number(field: Option<&[u8; 10]>, p: &Person, e: ErrorSet) {
    let missing = e.contains(ErrorKind::MissingNhsNumber);
    let invalid = e.contains(ErrorKind::NhsNumberTypoInvalid);
    let valid_typo = e.contains(ErrorKind::NhsNumberTypoValid);
    match field {
        None => assert!(missing),
        Some(d) => {
            assert!(!missing);
            let parsed = NhsNumber::parse(std::str::from_utf8(d).unwrap());
            if invalid {
                assert!(parsed.is_err());
            } else if valid_typo {
                assert!(parsed.is_ok());
                assert_ne!(parsed.unwrap(), p.nhs_number);
            } else {
                assert_eq!(parsed, Ok(p.nhs_number));
            }
        }
    }
}

fn check_identity(id: &Identity, p: &Person, e: ErrorSet) {
    match &id.postcode {
        None => assert!(e.contains(ErrorKind::MissingPostcode)),
        Some(pc) if !e.contains(ErrorKind::TypoPostcode) => {
            let n = postcode(pc.as_str()).expect("valid postcode");
            assert_eq!(n.as_str(), pc.as_str());
            let expected = if e.contains(ErrorKind::Moved) {
                p.other_postcode
            } else {
                p.postcode
            };
            assert_eq!(*pc, expected);
        }
        Some(pc) => {
            assert_ne!(*pc, p.postcode);
        }
    }
    assert_eq!(
        id.given_name.is_empty(),
        e.contains(ErrorKind::MissingGivenName)
    );
    assert_eq!(
        id.family_name.is_empty(),
        e.contains(ErrorKind::MissingFamilyName)
    );
    assert_eq!(
        id.date_of_birth.is_none(),
        e.contains(ErrorKind::MissingDateOfBirth)
    );
    let dob_errors = [
        ErrorKind::DobDayMonthSwap,
        ErrorKind::DobDigit,
        ErrorKind::DobDefault,
    ];
    if let Some(d) = id.date_of_birth {
        let any = dob_errors.iter().any(|&k| e.contains(k));
        assert_eq!(d != p.date_of_birth, any);
        if e.contains(ErrorKind::DobDayMonthSwap) {
            assert_eq!(p.date_of_birth.day_month_swapped(), Some(d));
        }
        if e.contains(ErrorKind::DobDefault) {
            assert_eq!((d.year, d.month, d.day), (p.date_of_birth.year, 1, 1));
        }
    }
    let name_errors = [
        ErrorKind::Nickname,
        ErrorKind::NicknameUnlisted,
        ErrorKind::TypoGivenName,
        ErrorKind::NamesSwapped,
        ErrorKind::MissingGivenName,
    ];
    let given_ok = id
        .given_name
        .eq_ignore_ascii_case(p.given_name(linkwell_synth::NameCase::Title))
        || id.given_name == p.given_name(linkwell_synth::NameCase::Upper);
    if !name_errors.iter().any(|&k| e.contains(k)) {
        assert!(
            given_ok,
            "{} vs {}",
            id.given_name,
            p.given_name(linkwell_synth::NameCase::Title)
        );
    }
}

#[test]
fn identifiers_are_valid_except_where_truth_says() {
    let pop = population(60_000);
    let people: &[Person] = &pop.people;
    for r in &pop.nhs {
        let p = &people[r.person_id as usize];
        assert_eq!(p.id, r.person_id);
        check_nhs_number(r.nhs_number.as_ref(), p, r.errors);
        check_identity(&r.id, p, r.errors);
        assert!(p.registered);
    }
    for r in &pop.ons {
        let p = &people[r.person_id as usize];
        check_nhs_number(r.nhs_number.as_ref(), p, r.errors);
        check_identity(&r.id, p, r.errors);
        assert!(p.in_ons);
    }
    for r in &pop.dwp {
        let p = &people[r.person_id as usize];
        assert!(is_valid_nino(r.nino.as_str()), "{}", r.nino.as_str());
        assert_eq!(r.nino, p.nino);
        check_identity(&r.id, p, r.errors);
        assert!(r.claim.start >= p.date_of_birth);
        if let Some(end) = r.claim.end {
            assert!(end >= r.claim.start);
        }
    }
    // Every person's NHS number is valid, in the test range and unique;
    // NINOs are unique too.
    let mut nhs = HashSet::new();
    let mut nino = HashSet::new();
    for p in people {
        assert_eq!(NhsNumber::parse(p.nhs_number.as_str()), Ok(p.nhs_number));
        assert_eq!(p.nhs_number.issuer(), linkwell::nhs::Issuer::NotIssuedTest);
        assert!(nhs.insert(p.nhs_number));
        assert!(nino.insert(p.nino));
    }
    // Ids are unique within each file.
    let ids: HashSet<u64> = pop.nhs.iter().map(|r| r.patient_id).collect();
    assert_eq!(ids.len(), pop.nhs.len());
    let ids: HashSet<u64> = pop.ons.iter().map(|r| r.ons_id).collect();
    assert_eq!(ids.len(), pop.ons.len());
    let ids: HashSet<u64> = pop.dwp.iter().map(|r| r.claim_id).collect();
    assert_eq!(ids.len(), pop.dwp.len());
}

#[test]
fn truth_joins_every_record_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_dir(
        &Config::default(),
        25_000,
        5,
        dir.path(),
        &WriteOptions::default(),
    )
    .unwrap();
    let mut records: HashMap<(String, String), ()> = HashMap::new();
    for view in View::ALL {
        let mut rdr = csv::Reader::from_path(dir.path().join(view.file_name())).unwrap();
        let header = rdr.headers().unwrap().clone();
        assert_eq!(header.len(), 10);
        assert_eq!(&header[0], view.id_column());
        let mut n = 0;
        for row in rdr.records() {
            let row = row.unwrap();
            assert_eq!(row.len(), 10);
            let prev = records.insert((view.dataset().to_string(), row[0].to_string()), ());
            assert!(prev.is_none(), "duplicate id {}", &row[0]);
            n += 1;
        }
        let expected = match view {
            View::Nhs => summary.counts.nhs,
            View::Ons => summary.counts.ons,
            View::Dwp => summary.counts.dwp,
        };
        assert_eq!(n, expected);
    }
    let mut rdr = csv::Reader::from_path(dir.path().join("truth.csv")).unwrap();
    let mut seen = HashSet::new();
    let mut persons = HashSet::new();
    for row in rdr.records() {
        let row = row.unwrap();
        let key = (row[0].to_string(), row[1].to_string());
        assert!(
            records.contains_key(&key),
            "truth row {key:?} has no record"
        );
        assert!(seen.insert(key), "two truth rows for one record");
        let person: u64 = row[2].parse().unwrap();
        assert!(person < 25_000);
        persons.insert(person);
        for k in row[3].split(';').filter(|k| !k.is_empty()) {
            assert!(ErrorKind::from_name(k).is_some(), "unknown kind {k}");
        }
    }
    assert_eq!(seen.len(), records.len(), "a record has no truth row");
    assert_eq!(seen.len() as u64, summary.counts.truth());
    assert!(persons.len() > 24_000);
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(readme.contains("dob_day_month_swap") && readme.contains("| `nickname` |"));
}

/// Whether `kind` could have been applied to a record with errors `e` of
/// person `p`, as the generator decides it.
fn eligible(
    kind: ErrorKind,
    p: &Person,
    e: ErrorSet,
    reference: linkwell::normalise::date::Date,
) -> bool {
    use ErrorKind::*;
    let has = |k| e.contains(k);
    match kind {
        Nickname | NicknameUnlisted => p.nickname().is_some() && !has(MissingGivenName),
        TypoGivenName => !has(MissingGivenName),
        TypoFamilyName => !has(MissingFamilyName),
        SurnameChange => p.other_family_name.is_some() && !has(MissingFamilyName),
        NamesSwapped => !has(MissingGivenName) && !has(MissingFamilyName),
        DobDayMonthSwap => {
            let d = p.date_of_birth;
            !has(MissingDateOfBirth)
                && d.day_month_swapped()
                    .is_some_and(|s| s != d && s <= reference)
        }
        DobDigit => !has(MissingDateOfBirth) && !has(DobDayMonthSwap),
        DobDefault => {
            !has(MissingDateOfBirth)
                && !has(DobDayMonthSwap)
                && !has(DobDigit)
                && (p.date_of_birth.month, p.date_of_birth.day) != (1, 1)
        }
        SexMismatch => !has(MissingSex),
        Moved | TypoPostcode => !has(MissingPostcode),
        NhsNumberTypoInvalid | NhsNumberTypoValid => !has(MissingNhsNumber),
        Duplicate => true,
        _ => true,
    }
}

fn configured(config: &linkwell_synth::ViewConfig, kind: ErrorKind) -> f64 {
    use ErrorKind::*;
    let key = match kind {
        Nickname | NicknameUnlisted => "nickname",
        NhsNumberTypoInvalid | NhsNumberTypoValid => "nhs_number_typo",
        k => k.name(),
    };
    config
        .rates()
        .into_iter()
        .find(|r| r.0 == key)
        .unwrap_or_else(|| panic!("no rate for {key}"))
        .1
}

#[test]
fn observed_error_rates_match_configured_rates_at_100k_people() {
    let config = Config::default();
    let pop = generate(&config, 100_000, 7).unwrap();
    check_rates(&config, &pop);

    // A few NHS number typos land on valid numbers; most do not.
    let count = |k| {
        pop.nhs
            .iter()
            .map(|r| r.errors)
            .chain(pop.ons.iter().map(|r| r.errors))
            .filter(|e| e.contains(k))
            .count()
    };
    let valid = count(ErrorKind::NhsNumberTypoValid);
    let invalid = count(ErrorKind::NhsNumberTypoInvalid);
    assert!(invalid > 300, "{invalid}");
    assert!(valid * 15 < invalid, "{valid} valid vs {invalid} invalid");
}

#[test]
fn every_configured_rate_takes_effect() {
    // Every rate of every view at 0.2 (NHS-number rates of DWP stay 0):
    // each key must reach the generator.
    let mut text = String::new();
    for view in View::ALL {
        text.push_str(&format!("[{}]\n", view.name()));
        for (k, _) in linkwell_synth::ViewConfig::defaults(view).rates() {
            let v = if view == View::Dwp && k.contains("nhs_number") {
                0.0
            } else {
                0.2
            };
            text.push_str(&format!("{k} = {v}\n"));
        }
    }
    let config = Config::from_toml(&text).unwrap();
    let pop = generate(&config, 30_000, 3).unwrap();
    check_rates(&config, &pop);
}

fn check_rates(config: &Config, pop: &Population) {
    let reference = config.reference_date();
    let views: [(View, Vec<(u64, ErrorSet)>); 3] = [
        (
            View::Nhs,
            pop.nhs.iter().map(|r| (r.person_id, r.errors)).collect(),
        ),
        (
            View::Ons,
            pop.ons.iter().map(|r| (r.person_id, r.errors)).collect(),
        ),
        (
            View::Dwp,
            pop.dwp.iter().map(|r| (r.person_id, r.errors)).collect(),
        ),
    ];
    let mut report = String::new();
    let mut failures = Vec::new();
    for (view, recs) in &views {
        let cfg = config.view(*view);
        // Group the kinds that share one rate.
        let groups: Vec<Vec<ErrorKind>> = vec![
            vec![ErrorKind::Nickname, ErrorKind::NicknameUnlisted],
            vec![
                ErrorKind::NhsNumberTypoInvalid,
                ErrorKind::NhsNumberTypoValid,
            ],
        ];
        let mut kinds: Vec<Vec<ErrorKind>> = groups.clone();
        for &k in ErrorKind::ALL {
            if !groups.iter().any(|g| g.contains(&k)) {
                kinds.push(vec![k]);
            }
        }
        for group in kinds {
            let first = group[0];
            if *view == View::Dwp
                && matches!(
                    first,
                    ErrorKind::MissingNhsNumber | ErrorKind::NhsNumberTypoInvalid
                )
            {
                continue;
            }
            let p_conf = configured(cfg, first);
            let (mut n, mut hits) = (0u64, 0u64);
            for &(person, e) in recs {
                let p = &pop.people[person as usize];
                if first == ErrorKind::Duplicate {
                    if !e.contains(ErrorKind::Duplicate) {
                        n += 1;
                    } else {
                        hits += 1;
                    }
                    continue;
                }
                if eligible(first, p, e, reference) {
                    n += 1;
                    if group.iter().any(|&k| e.contains(k)) {
                        hits += 1;
                    }
                }
            }
            let obs = hits as f64 / n.max(1) as f64;
            // Moves are decided per household: allow for the clustering.
            let deff = if first == ErrorKind::Moved { 4.0 } else { 1.5 };
            let sd = (p_conf * (1.0 - p_conf) * deff / n.max(1) as f64).sqrt();
            let tol = 4.5 * sd + 0.04 * p_conf + 1e-5;
            report.push_str(&format!(
                "{:4} {:24} configured {:.4} observed {:.4} (n = {n}, tolerance {:.4})\n",
                view.name(),
                first.name(),
                p_conf,
                obs,
                tol
            ));
            if (obs - p_conf).abs() > tol {
                failures.push(format!("{} {}", view.name(), first.name()));
            }
        }
    }
    println!("{report}");
    assert!(
        failures.is_empty(),
        "rates out of tolerance: {failures:?}\n{report}"
    );
}

#[test]
fn hard_cases_exist() {
    let pop = population(100_000);
    let people = &pop.people;
    // Twins: same household, surname, date of birth and postcode, different forename.
    let mut twins = 0;
    for w in people.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if a.twin && b.twin && a.household == b.household && a.date_of_birth == b.date_of_birth {
            assert_eq!(a.family_name, b.family_name);
            assert_eq!(a.postcode, b.postcode);
            assert_ne!(
                a.given_name(linkwell_synth::NameCase::Title),
                b.given_name(linkwell_synth::NameCase::Title)
            );
            twins += 1;
        }
    }
    assert!(twins > 100, "{twins} twin pairs");

    // Same forename and surname within a postcode district, different people.
    let mut by_key: HashMap<(String, String, String), Vec<&Person>> = HashMap::new();
    for p in people {
        by_key
            .entry((
                p.given_name(linkwell_synth::NameCase::Title).to_string(),
                p.family_name
                    .text(linkwell_synth::NameCase::Title)
                    .into_owned(),
                p.postcode.outward().to_string(),
            ))
            .or_default()
            .push(p);
    }
    let colliding = by_key.values().filter(|v| v.len() > 1).count();
    assert!(colliding > 100, "{colliding} name collisions in a district");
    assert!(people.iter().filter(|p| p.name_collision).count() > 50);

    // Families at one address.
    let mut households: HashMap<u64, Vec<&Person>> = HashMap::new();
    for p in people {
        households.entry(p.household).or_default().push(p);
    }
    let families = households
        .values()
        .filter(|h| h.len() >= 3 && h.iter().all(|p| p.postcode == h[0].postcode))
        .count();
    assert!(families > 5_000, "{families}");
    let mean = people.len() as f64 / households.len() as f64;
    assert!((2.0..2.6).contains(&mean), "mean household size {mean}");

    // Surname change candidates are adult women.
    assert!(people
        .iter()
        .filter(|p| p.other_family_name.is_some())
        .all(|p| p.sex == Sex::Female));
    // A small fraction of people is not registered with a GP, and some of
    // them still appear in ONS or DWP.
    let unregistered = people.iter().filter(|p| !p.registered).count();
    assert!((500..1_600).contains(&unregistered), "{unregistered}");
    assert!(people
        .iter()
        .any(|p| !p.registered && (p.in_ons || !p.claims.is_empty())));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(6))]

    #[test]
    fn any_seed_is_deterministic_across_thread_counts(seed in proptest::prelude::any::<u64>(), people in 1u64..20_000) {
        let config = Config::default();
        let one = pool(1).install(|| generate(&config, people, seed).unwrap()).to_csv();
        let two = pool(2).install(|| generate(&config, people, seed).unwrap()).to_csv();
        proptest::prop_assert!(one == two);
    }
}

/// Guards "byte-identical on any machine": the output for a small
/// population is committed, so a run on another machine (CI) or after a
/// dependency upgrade is compared with it. A deliberate change to the
/// generator updates the files with `LINKWELL_SYNTH_BLESS=1 cargo test -p
/// linkwell-synth --test population golden`.
#[test]
fn golden_output_for_a_fixed_seed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let pop = generate(&Config::default(), 60, 42).unwrap();
    let files = pop.to_csv();
    let names = [
        "nhs_patients.csv",
        "ons_employment.csv",
        "dwp_claims.csv",
        "truth.csv",
    ];
    if std::env::var_os("LINKWELL_SYNTH_BLESS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in names.iter().zip(&files) {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in names.iter().zip(&files) {
        let golden = std::fs::read(dir.join(name)).unwrap();
        assert!(
            golden == *bytes,
            "{name} differs from tests/golden/{name}; if the change is deliberate, rerun with LINKWELL_SYNTH_BLESS=1"
        );
    }
}
