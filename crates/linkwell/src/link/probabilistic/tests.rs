use proptest::prelude::*;

use super::model::{BlockingRule, ComparisonSpec, LevelSpec, ModelSpec, Settings};
use super::*;
use crate::link::data::{Dictionaries, NONE};
use crate::link::test_util::dataset;

fn same(c: &str) -> KeyPart {
    KeyPart::Same(c.into())
}

fn eq_level(name: &str, cols: &[&str]) -> LevelSpec {
    LevelSpec {
        name: name.into(),
        equal: cols.iter().map(|c| same(c)).collect(),
        dice: None,
        at_least: None,
    }
}

proptest! {
    /// Weights never increase from the closest level to `else`, and a model
    /// whose weights already fall is unchanged.
    #[test]
    fn weights_are_monotone_in_agreement_level(
        m in proptest::collection::vec(0.0001f64..1.0, 2..8),
        u in proptest::collection::vec(0.0001f64..1.0, 8),
    ) {
        let u = &u[..m.len()];
        let w = monotone_weights(&m, u);
        prop_assert_eq!(w.len(), m.len());
        for pair in w.windows(2) {
            prop_assert!(pair[0] >= pair[1] - 1e-12, "{:?}", w);
        }
        let raw: Vec<f64> = m.iter().zip(u).map(|(a, b)| (a / b).log2()).collect();
        if raw.windows(2).all(|p| p[0] >= p[1]) {
            for (a, b) in w.iter().zip(&raw) {
                prop_assert!((a - b).abs() < 1e-9);
            }
        }
    }
}

/// A deterministic generator for simulation.
fn rng(seed: u64) -> SplitMix {
    SplitMix(seed)
}

fn draw(r: &mut SplitMix, probs: &[f64]) -> u8 {
    let x = (r.next() >> 11) as f64 / (1u64 << 53) as f64;
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if x < acc {
            return i as u8;
        }
    }
    (probs.len() - 1) as u8
}

/// EM recovers known m probabilities from patterns simulated from a known
/// Fellegi–Sunter model (conditional independence, u known).
#[test]
fn em_recovers_known_m_from_simulated_patterns() {
    let m_true = [
        vec![0.85, 0.10, 0.05],
        vec![0.7, 0.2, 0.1],
        vec![0.95, 0.05],
    ];
    let u_true = [
        vec![0.01, 0.04, 0.95],
        vec![0.02, 0.08, 0.90],
        vec![0.5, 0.5],
    ];
    let lambda = 0.2;
    let mut r = rng(7);
    let mut counts: HashMap<Pattern, u64> = HashMap::new();
    for _ in 0..200_000 {
        let is_match = draw(&mut r, &[lambda, 1.0 - lambda]) == 0;
        let mut p: Pattern = 0;
        for c in 0..3 {
            let probs = if is_match { &m_true[c] } else { &u_true[c] };
            p |= Pattern::from(draw(&mut r, probs)) << (4 * c);
        }
        *counts.entry(p).or_insert(0) += 1;
    }
    let mut pats: Vec<(Pattern, u64)> = counts.into_iter().collect();
    pats.sort_unstable();
    let u: Vec<Vec<f64>> = u_true.to_vec();
    let (m, log) = em(&pats, &u, &[false, false, false], 200, 1e-7);
    for c in 0..3 {
        for (a, b) in m[c].iter().zip(&m_true[c]) {
            assert!(
                (a - b).abs() < 0.02,
                "comparison {c}: {:?} vs {:?}",
                m[c],
                m_true[c]
            );
        }
    }
    let last = log.last().unwrap();
    assert!(
        (last.lambda - lambda).abs() < 0.01,
        "lambda {}",
        last.lambda
    );
    assert!(log.windows(2).all(|w| w[0].iteration + 1 == w[1].iteration));
}

/// Fixed comparisons are neither trained nor used.
#[test]
fn em_ignores_fixed_comparisons() {
    let u = vec![vec![0.1, 0.9], vec![0.1, 0.9]];
    // Comparison 1 agrees everywhere (blocked on); comparison 0 separates.
    let pats = vec![(0, 400), (1, 600)];
    let (m, _) = em(&pats, &u, &[false, true], 50, 1e-9);
    assert!(m[0][0] > u[0][0], "{:?}", m[0]);
    assert_eq!(m[1], normalise(vec![0.5, 0.25]), "untouched initial m");
}

/// A small population: `n` people, each in both files; the right copy has
/// errors in some fields. Tokens are ids; column layout mirrors the
/// default schema's token columns.
fn population(n: u32, seed: u64) -> (crate::link::data::Dataset, crate::link::data::Dataset) {
    let mut r = rng(seed);
    let mut cols_l: Vec<Vec<u32>> = vec![Vec::new(); 4];
    let mut cols_r: Vec<Vec<u32>> = vec![Vec::new(); 4];
    for i in 0..n {
        // given (skewed), family, dob, postcode
        let given = (r.next() % 50) as u32;
        let family = (r.next() % 400) as u32;
        let dob = (r.next() % 2000) as u32;
        let pc = 10_000 + i / 3;
        let person = [given, family, dob, pc];
        for c in 0..4 {
            cols_l[c].push(person[c]);
            let noisy = match r.next() % 100 {
                0..=4 => 999_999 - (r.next() % 1000) as u32,
                5..=6 => NONE,
                _ => person[c],
            };
            cols_r[c].push(noisy);
        }
    }
    // Shuffle the right side deterministically so that order tells nothing.
    let mut order: Vec<usize> = (0..n as usize).collect();
    for i in (1..order.len()).rev() {
        let j = (r.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let names = ["g", "f", "d", "p"];
    let l = dataset(
        &names
            .iter()
            .zip(&cols_l)
            .map(|(n, c)| (*n, c.clone()))
            .collect::<Vec<_>>(),
    );
    let rr = dataset(
        &names
            .iter()
            .zip(&cols_r)
            .map(|(n, c)| (*n, order.iter().map(|&i| c[i]).collect()))
            .collect::<Vec<_>>(),
    );
    (l, rr)
}

fn small_model() -> ModelSpec {
    let cmp = |name: &str, col: &str, tf: bool| ComparisonSpec {
        name: name.into(),
        levels: vec![eq_level("exact", &[col])],
        null_when: None,
        tf: tf.then(|| col.to_string()),
    };
    ModelSpec {
        settings: Settings {
            u_sample_pairs: 200_000,
            training: Some(vec!["by_d".into(), "by_fp".into()]),
            ..Settings::default()
        },
        blocking: vec![
            BlockingRule {
                name: "by_d".into(),
                keys: vec![same("d")],
            },
            BlockingRule {
                name: "by_fp".into(),
                keys: vec![same("f"), same("p")],
            },
        ],
        comparisons: vec![
            cmp("given", "g", true),
            cmp("family", "f", true),
            cmp("dob", "d", false),
            cmp("postcode", "p", false),
        ],
    }
}

fn train_and_link(n: u32, seed: u64) -> (TrainedModel, Vec<Scored>, Scores) {
    train_and_link_with(n, seed, small_model())
}

fn train_and_link_with(n: u32, seed: u64, spec: ModelSpec) -> (TrainedModel, Vec<Scored>, Scores) {
    let (l, r) = population(n, seed);
    let dicts = Dictionaries::default();
    let p = Prepared::everyone(&spec, &l, &r, &dicts).unwrap();
    let model = p.train(&|_| {}).unwrap();
    let scores = p.score(&model, -100.0);
    let links = assign(
        &scores.pairs,
        model.spec.threshold_weight(),
        Cardinality::OneToOne,
    );
    (model, links, scores)
}

/// On a simulated population, training gives sensible parameters and the
/// links are accurate (a floor a broken model cannot pass).
#[test]
fn trains_and_links_a_simulated_population() {
    let n = 3000;
    let (model, links, scores) = train_and_link(n, 11);
    // Ground truth: left record i is right record order^-1(i); recover it
    // from the exact tokens: a link is right if the left's p (unique per
    // 3 people) ... compare by construction: all four fields.
    let (l, r) = population(n, 11);
    let truth = |a: u32, b: u32| {
        // The same person has identical values except for noise; the
        // postcode block and dob identify it within this population.
        let cols = ["g", "f", "d", "p"];
        let agree = cols
            .iter()
            .filter(|c| l.tokens(c)[a as usize] == r.tokens(c)[b as usize])
            .count();
        agree >= 3
    };
    let correct = links.iter().filter(|x| truth(x.left, x.right)).count();
    let precision = correct as f64 / links.len() as f64;
    let recall = correct as f64 / n as f64;
    assert!(precision > 0.98, "precision {precision}");
    assert!(recall > 0.95, "recall {recall}");
    for c in &model.comparisons {
        assert!(
            c.weights[0] > 3.0,
            "{}: exact weight {:?}",
            c.name,
            c.weights
        );
        assert!(
            c.weights[1] < 0.0,
            "{}: else weight {:?}",
            c.name,
            c.weights
        );
    }
    // The prior is close to one match per left record among n*n pairs.
    let expected = 1.0 / f64::from(n);
    assert!(
        model.prior > expected / 3.0 && model.prior < expected * 3.0,
        "prior {} vs {expected}",
        model.prior
    );
    assert_eq!(scores.histogram.total(), scores.pairs.len() as u64);
    assert!(!model.em.is_empty());
}

/// `f` run on one thread and on three: what each gives.
fn on_one_and_three_threads<T: Send>(f: impl Fn() -> T + Send + Sync) -> (T, T) {
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(&f)
    };
    (run(1), run(3))
}

/// Training is deterministic for a seed whatever the number of threads.
#[test]
fn training_is_deterministic_across_thread_counts() {
    let ((a, la), (b, lb)) = on_one_and_three_threads(|| {
        let (model, links, _) = train_and_link(800, 5);
        (serde_json::to_string(&model).unwrap(), links)
    });
    assert_eq!(a, b);
    assert_eq!(la, lb);
}

/// A model whose `em_max_pairs` is below a training rule's pairs.
fn sampled_model(cap: u64) -> ModelSpec {
    let mut spec = small_model();
    spec.settings.em_max_pairs = cap;
    spec
}

/// Training on a seeded sample of a rule's pairs finds nearly the model
/// that training on all of them finds, counts every rule's new pairs
/// exactly, compares about `em_max_pairs` of the sampled rule's pairs, and
/// links as well.
#[test]
fn training_on_a_sample_of_pairs_agrees_with_training_on_all() {
    let n = 3000;
    let (full, full_links, _) = train_and_link(n, 11);
    let by_d = &full.blocking_pairs[0];
    assert_eq!(by_d.compared_in_training, by_d.pairs);
    let cap = by_d.pairs / 4;
    assert!(
        cap >= 1000,
        "the population must give the rule enough pairs"
    );
    let (sampled, sampled_links, _) = train_and_link_with(n, 11, sampled_model(cap));
    for (a, b) in full.blocking_pairs.iter().zip(&sampled.blocking_pairs) {
        assert_eq!((a.pairs, a.new_pairs), (b.pairs, b.new_pairs), "{}", a.name);
    }
    // A rule over the cap has about `cap` of its pairs compared; one under
    // it, all of them.
    for b in &sampled.blocking_pairs {
        if b.pairs <= cap {
            assert_eq!(b.compared_in_training, b.pairs, "{}", b.name);
        } else {
            let compared = b.compared_in_training as f64;
            assert!(
                (compared / cap as f64 - 1.0).abs() < 0.15,
                "{}: compared {compared} for a sample of {cap}",
                b.name
            );
        }
    }
    for (a, b) in full.comparisons.iter().zip(&sampled.comparisons) {
        for (x, y) in a.m.iter().zip(&b.m) {
            assert!((x - y).abs() < 0.03, "{}: m {:?} vs {:?}", a.name, a.m, b.m);
        }
    }
    let ratio = sampled.prior / full.prior;
    assert!(
        (0.8..1.25).contains(&ratio),
        "prior {} vs {}",
        sampled.prior,
        full.prior
    );
    let full_set: std::collections::HashSet<(u32, u32)> =
        full_links.iter().map(|x| (x.left, x.right)).collect();
    let same = sampled_links
        .iter()
        .filter(|x| full_set.contains(&(x.left, x.right)))
        .count();
    assert!(
        sampled_links.len().abs_diff(full_links.len()) <= n as usize / 100
            && same >= full_links.len() * 97 / 100,
        "{} links vs {}, {same} the same",
        sampled_links.len(),
        full_links.len()
    );
}

/// The sample depends on the seed only: the same model for any number of
/// threads.
#[test]
fn sampled_training_is_deterministic_across_thread_counts() {
    let ((a, la), (b, lb)) = on_one_and_three_threads(|| {
        let (model, links, _) = train_and_link_with(3000, 5, sampled_model(1000));
        let b = &model.blocking_pairs[0];
        assert!(b.compared_in_training < b.pairs);
        (serde_json::to_string(&model).unwrap(), links)
    });
    assert_eq!(a, b);
    assert_eq!(la, lb);
}

/// The pairs compared for training are chosen by the seed: the same seed
/// compares the same pairs, another seed others, about as many.
#[test]
fn the_training_sample_follows_the_seed() {
    let (l, r) = population(3000, 5);
    let dicts = Dictionaries::default();
    let patterns = |seed: u64| {
        let mut spec = sampled_model(1000);
        spec.settings.seed = seed;
        let p = Prepared::everyone(&spec, &l, &r, &dicts).unwrap();
        let raw = p.raw_pair_counts()[0];
        assert!(raw > 2000, "the rule must have more pairs than the cap");
        let rp = p.patterns(0, raw, true);
        (rp.all, rp.compared, rp.new_pairs, raw)
    };
    let (a, na, new_a, raw) = patterns(1);
    let (b, nb, _, _) = patterns(1);
    let (c, nc, new_c, _) = patterns(2);
    assert_eq!((&a, na), (&b, nb));
    assert_ne!(a, c);
    assert_eq!(
        (new_a, new_c),
        (raw, raw),
        "the first rule's pairs are all new, and all counted"
    );
    for n in [na, nc] {
        assert!(
            (n as f64 / 1000.0 - 1.0).abs() < 0.15,
            "compared {n} for a cap of 1000"
        );
    }
}

/// A rule no EM session trains on compares only its new pairs: one whose
/// pairs an earlier rule already produced compares none and changes nothing
/// but its own counts; one with many new pairs compares a sample of them,
/// counts them exactly and gives nearly the same prior.
#[test]
fn rules_outside_training_compare_only_their_new_pairs() {
    let with_rule = |keys: &[&str], cap: u64| {
        let mut spec = sampled_model(cap);
        spec.blocking.push(BlockingRule {
            name: "extra".into(),
            keys: keys.iter().map(|k| same(k)).collect(),
        });
        train_and_link_with(3000, 11, spec).0
    };
    let (base, _, _) = train_and_link(3000, 11);
    // Every pair agreeing on d and p agrees on d: nothing new.
    let redundant = with_rule(&["d", "p"], 2_000_000);
    let extra = redundant.blocking_pairs.last().unwrap();
    assert!(extra.pairs > 0);
    assert_eq!((extra.new_pairs, extra.compared_in_training), (0, 0));
    assert_eq!(redundant.prior, base.prior);
    assert_eq!(redundant.comparisons, base.comparisons);
    // Blocking on the forename alone: many new pairs, sampled.
    let full = with_rule(&["g"], 2_000_000);
    let sampled = with_rule(&["g"], 5_000);
    let (f, s) = (
        full.blocking_pairs.last().unwrap(),
        sampled.blocking_pairs.last().unwrap(),
    );
    assert!(f.new_pairs > 20_000 && f.new_pairs < f.pairs, "{f:?}");
    assert_eq!(f.compared_in_training, f.new_pairs);
    assert_eq!((s.pairs, s.new_pairs), (f.pairs, f.new_pairs));
    assert!(
        (s.compared_in_training as f64 / 5000.0 - 1.0).abs() < 0.15,
        "{s:?}"
    );
    let ratio = sampled.prior / full.prior;
    assert!(
        (0.8..1.25).contains(&ratio),
        "prior {} vs {}",
        sampled.prior,
        full.prior
    );
}

/// A pair's weight is the prior plus the sum of its comparisons'
/// contributions, term-frequency adjustments included.
#[test]
fn weight_is_the_sum_of_its_explanation() {
    let (l, r) = population(500, 3);
    let spec = small_model();
    let dicts = Dictionaries::default();
    let p = Prepared::everyone(&spec, &l, &r, &dicts).unwrap();
    let model = p.train(&|_| {}).unwrap();
    let w = Weights::new(&model, &p.comparer);
    let scores = p.score(&model, -1000.0);
    assert!(!scores.pairs.is_empty());
    for s in scores.pairs.iter().take(500) {
        let (a, b) = (s.left as usize, s.right as usize);
        let parts: f64 = (0..p.comparer.len())
            .map(|c| w.contribution(c, level_of(s.pattern, c), a, b))
            .sum();
        assert!((w.prior() + parts - s.weight).abs() < 1e-9);
    }
}

#[test]
fn too_many_pairs_are_refused_with_counts() {
    let (l, r) = population(300, 3);
    let mut spec = small_model();
    spec.settings.max_pairs = 10;
    let dicts = Dictionaries::default();
    let e = Prepared::everyone(&spec, &l, &r, &dicts).err().unwrap();
    let msg = e.to_string();
    assert!(msg.contains("by_d") && msg.contains("max_pairs"), "{msg}");
}

fn scored(left: u32, right: u32, weight: f64) -> Scored {
    Scored {
        left,
        right,
        weight,
        pattern: 0,
    }
}

#[test]
fn assignment_by_cardinality() {
    let pairs = vec![
        scored(0, 0, 10.0),
        scored(0, 1, 9.0),
        scored(1, 0, 9.5),
        scored(1, 1, 3.0),
        scored(2, 2, -5.0),
    ];
    let one = assign(&pairs, 0.0, Cardinality::OneToOne);
    assert_eq!(
        one.iter().map(|p| (p.left, p.right)).collect::<Vec<_>>(),
        vec![(0, 0), (1, 1)]
    );
    let many = assign(&pairs, 0.0, Cardinality::OneToMany);
    assert_eq!(
        many.iter().map(|p| (p.left, p.right)).collect::<Vec<_>>(),
        vec![(0, 0), (0, 1)]
    );
    assert_eq!(assign(&pairs, 0.0, Cardinality::ManyToMany).len(), 4);
    // Ties are broken by record order, whatever the input order.
    let tied = vec![scored(1, 0, 5.0), scored(0, 0, 5.0)];
    assert_eq!(assign(&tied, 0.0, Cardinality::OneToOne)[0].left, 0);
}

proptest! {
    #[test]
    fn one_to_one_assignment_never_repeats(ws in proptest::collection::vec((0u32..6, 0u32..6, -5.0f64..5.0), 0..40)) {
        let pairs: Vec<Scored> = ws.iter().map(|&(l, r, w)| scored(l, r, w)).collect();
        let out = assign(&pairs, 0.0, Cardinality::OneToOne);
        let mut ls = std::collections::HashSet::new();
        let mut rs = std::collections::HashSet::new();
        for p in &out {
            prop_assert!(p.weight >= 0.0);
            prop_assert!(ls.insert(p.left) && rs.insert(p.right));
        }
    }
}

#[test]
fn model_validation() {
    let mut m = small_model();
    assert!(m.validate().is_ok());
    m.comparisons[0].levels[0].equal.clear();
    assert!(m.validate().unwrap_err().contains("neither"));
    let mut m = small_model();
    m.blocking.clear();
    assert!(m.validate().unwrap_err().contains("blocking"));
    let mut m = small_model();
    m.settings.em_max_pairs = 999;
    assert!(m.validate().unwrap_err().contains("em_max_pairs"));
    let mut m = small_model();
    m.settings.training = Some(vec!["nope".into()]);
    assert!(m.validate().unwrap_err().contains("nope"));
    let toml = r#"
[[blocking]]
name = "b"
keys = ["d"]
[[comparison]]
name = "c"
[[comparison.level]]
name = "close"
dice = "g_bloom"
at_least = 1.5
"#;
    let e = ModelSpec::from_toml(std::path::Path::new("m.toml"), toml).unwrap_err();
    assert!(e.to_string().contains("at_least"), "{e}");
}

#[test]
fn probability_of_weight() {
    assert!((probability(0.0) - 0.5).abs() < 1e-12);
    assert!(probability(2000.0) == 1.0);
    assert!(probability(-2000.0) == 0.0);
}

/// A manifest with the given encoding columns.
fn manifest_with(columns: &[&str]) -> crate::manifest::Manifest {
    let mut m = dataset(&[("x", vec![0])]).manifest;
    m.columns = columns
        .iter()
        .map(|c| crate::manifest::ColumnInfo {
            name: (*c).into(),
            role: "encoding".into(),
            field: None,
            encoding: None,
            domain: None,
        })
        .collect();
    m
}

/// The built-in model keeps exactly the rules and levels whose columns both
/// files have, and is valid either way.
#[test]
fn default_model_follows_the_columns() {
    let full = [
        "given_name_token",
        "given_name_canonical",
        "given_name_phonetic",
        "given_name_bloom",
        "family_name_token",
        "family_name_phonetic",
        "family_name_bloom",
        "date_of_birth_token",
        "date_of_birth_day_month_swapped",
        "date_of_birth_year",
        "date_of_birth_month",
        "date_of_birth_day",
        "sex_token",
        "postcode_token",
        "postcode_sector",
        "postcode_district",
        "postcode_area",
    ];
    let m = manifest_with(&full);
    let spec = model::default_model(&m, &m);
    assert!(spec.validate().is_ok());
    let rules: Vec<&str> = spec.blocking.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        rules,
        [
            "date_of_birth",
            "district_surname_phonetic",
            "names_phonetic_birth_year",
            "sector_forename_birth_year",
            "names_birth_month",
            "names_birth_day",
            "postcode_forename"
        ]
    );
    let given = &spec
        .comparisons
        .iter()
        .find(|c| c.name == "given_name")
        .unwrap();
    let levels: Vec<&str> = given.levels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        levels,
        [
            "exact",
            "canonical",
            "dice_0.88",
            "dice_0.70",
            "phonetic",
            "dice_0.50",
            "transposed"
        ]
    );
    // Without day of birth or Bloom filters on one side, the rule and the
    // Dice levels that need them go.
    let fewer: Vec<&str> = full
        .iter()
        .copied()
        .filter(|c| *c != "date_of_birth_day" && !c.ends_with("_bloom"))
        .collect();
    let spec = model::default_model(&m, &manifest_with(&fewer));
    assert!(spec.validate().is_ok());
    assert!(spec.blocking.iter().all(|b| b.name != "names_birth_day"));
    assert!(spec.blocking.iter().any(|b| b.name == "names_birth_month"));
    assert!(spec
        .comparisons
        .iter()
        .flat_map(|c| &c.levels)
        .all(|l| l.dice.is_none()));
}

/// A saved model reads back as it was; one whose parameters do not fit its
/// comparisons, or are not probabilities and finite weights, is refused
/// with a sentence instead of panicking or scoring NaN later.
#[test]
fn trained_model_files_are_checked() {
    let (model, _, _) = train_and_link(500, 7);
    let path = std::path::Path::new("trained.json");
    let json = serde_json::to_string(&model).unwrap();
    assert_eq!(TrainedModel::from_json(path, &json).unwrap(), model);
    let refused = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = serde_json::to_value(&model).unwrap();
        edit(&mut v);
        TrainedModel::from_json(path, &v.to_string())
            .unwrap_err()
            .to_string()
    };
    let e = refused(&|v| {
        v["comparisons"][0]["levels"].as_array_mut().unwrap().pop();
    });
    assert!(e.contains("do not fit"), "{e}");
    let e = refused(&|v| {
        v["comparisons"][1]["name"] = "other".into();
    });
    assert!(e.contains("do not fit"), "{e}");
    let e = refused(&|v| {
        v["comparisons"].as_array_mut().unwrap().pop();
    });
    assert!(e.contains("do not fit"), "{e}");
    // A model from another version of the format is refused; one written
    // before the version was recorded reads as version 1.
    let e = refused(&|v| {
        v["format_version"] = 2.into();
    });
    assert!(e.contains("format version 2"), "{e}");
    let mut v = serde_json::to_value(&model).unwrap();
    assert_eq!(v["format_version"], 1);
    v.as_object_mut().unwrap().remove("format_version");
    assert_eq!(
        TrainedModel::from_json(path, &v.to_string()).unwrap(),
        model
    );
    let e = refused(&|v| {
        v["comparisons"][0]["m"][0] = 1.5.into();
    });
    assert!(e.contains("probabilities"), "{e}");
    // JSON has no NaN: a weight too large for f64 is as bad.
    let e = TrainedModel::from_json(
        path,
        &json.replacen("\"weights\":[", "\"weights\":[1e999,", 1),
    )
    .unwrap_err()
    .to_string();
    assert!(!e.is_empty());
    let e = refused(&|v| {
        v["prior"] = 0.0.into();
    });
    assert!(e.contains("prior"), "{e}");
    let e = refused(&|v| {
        v["format"] = "something-else".into();
    });
    assert!(e.contains("format"), "{e}");
}
