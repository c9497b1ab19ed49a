//! Generation speed: people per second, in memory and streamed to files.
//!
//! `cargo bench -p linkwell-synth --bench generate`. For the national-scale
//! figure in the README use the CLI on 10 million people instead (see
//! README, "Performance").

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use linkwell_synth::{generate, write_dir, Config, WriteOptions};

fn bench(c: &mut Criterion) {
    let config = Config::default();
    let people = 100_000u64;
    let mut g = c.benchmark_group("synth");
    g.sample_size(10);
    g.throughput(Throughput::Elements(people));
    g.bench_function("generate_100k_people", |b| {
        b.iter(|| generate(&config, people, 1).unwrap())
    });
    let dir = tempfile::tempdir().unwrap();
    g.bench_function("write_dir_100k_people", |b| {
        b.iter(|| {
            write_dir(
                &config,
                people,
                1,
                dir.path(),
                &WriteOptions {
                    overwrite: true,
                    progress: None,
                    threads: None,
                },
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
