//! The linkage hot paths: the match-key join, interning tokens, the
//! comparison loop, Dice on Bloom filters, and EM.
//!
//! `cargo bench --bench link`. The comparison and cascade benches run on a
//! synthetic population made with `linkwell-synth` and encoded with the
//! library (setup is not timed).

use std::path::Path;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use linkwell::bloom::{dice, BloomKey, BloomParams};
use linkwell::link::data::{self, Dictionaries, TokenDict};
use linkwell::link::deterministic;
use linkwell::link::keys::{self, KeyColumns};
use linkwell::link::probabilistic::{self, model, Prepared};
use linkwell::link::Cardinality;
use linkwell::secret::Secret;
use linkwell::tokenise::{tokenise_file, TokeniseOptions};

fn secret() -> Secret {
    Secret::from_hex(b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").unwrap()
}

/// Synthesises `people`, encodes the NHS and DWP files, returns the paths.
fn encoded(dir: &Path, people: u64) -> (std::path::PathBuf, std::path::PathBuf) {
    let raw = dir.join("raw");
    linkwell_synth::write_dir(
        &linkwell_synth::Config::default(),
        people,
        1,
        &raw,
        &linkwell_synth::WriteOptions::default(),
    )
    .unwrap();
    let out = |name: &str| {
        let o = dir.join(format!("{name}.enc.csv"));
        tokenise_file(
            &secret(),
            None,
            &raw.join(format!("{name}.csv")),
            &o,
            &TokeniseOptions::default(),
        )
        .unwrap();
        o
    };
    (out("nhs_patients"), out("dwp_claims"))
}

fn join(c: &mut Criterion) {
    // The matching loop alone: 1M × 1M one-column keys, 90% shared.
    let n = 1_000_000u32;
    let left: Vec<u32> = (0..n).map(|i| i.wrapping_mul(2_654_435_761) >> 4).collect();
    let right: Vec<u32> = (0..n)
        .map(|i| {
            if i % 10 == 0 {
                u32::MAX - 1 - i
            } else {
                i.wrapping_mul(2_654_435_761) >> 4
            }
        })
        .collect();
    let mut g = c.benchmark_group("join");
    g.sample_size(10);
    g.throughput(Throughput::Elements(2 * u64::from(n)));
    g.bench_function("one_column_1m_x_1m", |b| {
        b.iter(|| {
            let k = KeyColumns {
                left: vec![&left],
                right: vec![&right],
            };
            keys::groups(&k, left.len(), right.len(), &|_| true, &|_| true)
                .0
                .len()
        })
    });
    let l2: Vec<u32> = (0..n).map(|i| i % 5000).collect();
    let r2: Vec<u32> = (0..n).map(|i| (i / 3) % 5000).collect();
    g.bench_function("three_columns_1m_x_1m", |b| {
        b.iter(|| {
            let k = KeyColumns {
                left: vec![&left, &l2, &left],
                right: vec![&right, &r2, &right],
            };
            keys::groups(&k, left.len(), right.len(), &|_| true, &|_| true)
                .0
                .len()
        })
    });
    g.finish();
}

/// SplitMix64: reproducible stand-ins for tokens (HMAC outputs are
/// uniformly random too).
fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn intern(c: &mut Criterion) {
    // The loader's token dictionary: 1M distinct tokens, then 1M of which
    // 90% were seen, in batches of 100k (about what one 8 MB block of an
    // NHS-number file holds).
    let n = 1_000_000usize;
    let mut x = 1u64;
    let mut token = || {
        let mut t = [0u8; 32];
        for w in t.chunks_exact_mut(8) {
            w.copy_from_slice(&splitmix(&mut x).to_le_bytes());
        }
        t
    };
    let left: Vec<[u8; 32]> = (0..n).map(|_| token()).collect();
    let right: Vec<[u8; 32]> = (0..n)
        .map(|i| {
            if i % 10 == 0 {
                token()
            } else {
                left[i * 7919 % n]
            }
        })
        .collect();
    let mut g = c.benchmark_group("intern");
    g.sample_size(10);
    g.throughput(Throughput::Elements(2 * n as u64));
    g.bench_function("tokens_1m_then_1m_90pct_seen", |b| {
        b.iter(|| {
            let mut d = TokenDict::default();
            d.reserve(n);
            for side in [&left, &right] {
                for chunk in side.chunks(100_000) {
                    let refs: Vec<Option<&[u8; 32]>> = chunk.iter().map(Some).collect();
                    black_box(d.intern_batch(&refs));
                }
            }
            d.len()
        })
    });
    g.finish();
}

fn dice_bench(c: &mut Criterion) {
    let key = BloomKey::new(&secret(), "name", BloomParams::default()).unwrap();
    let a = key.encode("CATHERINE", None);
    let b = key.encode("KATHERINE", None);
    let mut g = c.benchmark_group("bloom");
    g.throughput(Throughput::Elements(1));
    g.bench_function("dice_1024_bits", |bch| {
        bch.iter(|| dice(black_box(&a), black_box(&b)))
    });
    g.finish();
}

fn linkage(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (nhs, dwp) = encoded(dir.path(), 100_000);
    let lm = data::read_manifest(&nhs).unwrap();
    let rm = data::read_manifest(&dwp).unwrap();
    let spec = model::default_model(&lm, &rm);
    let rules = deterministic::default_rules(&lm, &rm);
    let (mut lc, mut rc) = probabilistic::needed_columns(&spec);
    let (dl, dr) = deterministic::needed_columns(&rules);
    lc.extend(dl);
    rc.extend(dr);
    lc.sort();
    lc.dedup();
    rc.sort();
    rc.dedup();
    let mut dicts = Dictionaries::default();
    let left = data::load(&nhs, lm, &lc, false, &mut dicts, &|_| {}).unwrap();
    let right = data::load(&dwp, rm, &rc, false, &mut dicts, &|_| {}).unwrap();

    let mut g = c.benchmark_group("linkage_100k_people");
    g.sample_size(10);
    g.throughput(Throughput::Elements((left.len() + right.len()) as u64));
    g.bench_function("deterministic_cascade_nhs_dwp", |b| {
        b.iter(|| {
            deterministic::run(&left, &right, &rules, Cardinality::OneToMany, 100)
                .links
                .len()
        })
    });
    let prepared = Prepared::everyone(&spec, &left, &right, &dicts).unwrap();
    let trained = prepared.train(&|_| {}).unwrap();
    let pairs: u64 = trained.blocking_pairs.iter().map(|b| b.new_pairs).sum();
    g.throughput(Throughput::Elements(pairs));
    g.bench_with_input(
        BenchmarkId::new("score_candidate_pairs", pairs),
        &pairs,
        |b, _| b.iter(|| prepared.score(&trained, 0.0).pairs.len()),
    );
    g.throughput(Throughput::Elements(1));
    g.bench_function("train_u_em_prior", |b| {
        b.iter(|| prepared.train(&|_| {}).unwrap().prior)
    });
    g.finish();

    // EM alone over aggregated patterns (what each iteration costs).
    let u: Vec<Vec<f64>> = trained.comparisons.iter().map(|c| c.u.clone()).collect();
    let fixed = vec![false; u.len()];
    let patterns: Vec<(u128, u64)> = (0..5000u128)
        .map(|i| {
            let mut p = 0u128;
            for (c, uc) in u.iter().enumerate() {
                p |= ((i.wrapping_mul(2_654_435_761) >> (3 * c)) % uc.len() as u128) << (4 * c);
            }
            (p, 1 + (i as u64 % 97))
        })
        .collect();
    let mut g = c.benchmark_group("em");
    g.throughput(Throughput::Elements(patterns.len() as u64 * 10));
    g.bench_function("ten_iterations_5000_patterns", |b| {
        b.iter(|| probabilistic::em(&patterns, &u, &fixed, 10, 0.0).0.len())
    });
    g.finish();
}

criterion_group!(benches, join, intern, dice_bench, linkage);
criterion_main!(benches);
