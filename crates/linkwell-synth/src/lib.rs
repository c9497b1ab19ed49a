//! # linkwell-synth
//!
//! A synthetic population and three views of it — NHS patient
//! registrations, ONS pay and employment records, DWP benefit claims —
//! with realistic error and the ground truth, for testing, benchmarking
//! and demonstrating linkwell without holding anyone's data.
//!
//! ```
//! use linkwell_synth::{generate, write_dir, Config, WriteOptions};
//!
//! let config = Config::default();
//! // In memory:
//! let pop = generate(&config, 1_000, 42).unwrap();
//! assert_eq!(pop.people.len(), 1_000);
//! assert!(pop.nhs.len() > 950);
//! // Or streamed to a directory (nhs_patients.csv, ons_employment.csv,
//! // dwp_claims.csv, truth.csv, README.md):
//! let dir = tempfile::tempdir().unwrap();
//! let summary = write_dir(&config, 1_000, 42, dir.path(), &WriteOptions::default()).unwrap();
//! assert_eq!(summary.counts.nhs, pop.nhs.len() as u64);
//! ```
//!
//! Output is deterministic: the same configuration, number of people and
//! seed give byte-identical files on any machine and with any number of
//! threads. People are generated in blocks of [`CHUNK_PEOPLE`], each from
//! its own random stream derived from the seed and the block number.
//!
//! See the crate README for the population model, the error model and how
//! each default rate was chosen.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod config;
mod dates;
pub mod errors;
pub mod population;
mod rng;
mod tables;
pub mod views;
pub mod write;

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rayon::prelude::*;

pub use config::{Config, ConfigError, DateFormat, NameCase, View, ViewConfig};
pub use dates::DateStyle;
pub use errors::{ErrorKind, ErrorSet};
pub use population::{is_valid_nino, Person, Sex};
pub use tables::Origin;
pub use views::{DwpRecord, Identity, NhsRecord, OnsRecord, SexField};

use crate::population::{Builder, Context, NHS_SLOTS};
use crate::rng::{derive, Permutation, Rng};
use crate::views::{records, ChunkRecords, MAX_RECORDS_PER_CHUNK};
use crate::write::{output_files, serialise, temp_path, ChunkBytes};

/// People per block. Each block is generated from its own random stream
/// and its records are shuffled within it.
pub const CHUNK_PEOPLE: u64 = 8192;

/// The most people one population can have (the size of the NHS number
/// test range that is used, about 90 million).
pub const MAX_PEOPLE: u64 = NHS_SLOTS;

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// The configuration is not valid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Too many people asked for.
    #[error("cannot generate {people} people: at most {max} (the NHS number test range)")]
    TooManyPeople {
        /// Asked for.
        people: u64,
        /// The limit.
        max: u64,
    },
    /// An output file is already there.
    #[error("{} already exists; remove it or ask to overwrite", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("cannot write {}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why (shown in the message, so not a `source`).
        error: std::io::Error,
    },
}

/// Record counts of a population.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// People.
    pub people: u64,
    /// NHS records.
    pub nhs: u64,
    /// ONS records.
    pub ons: u64,
    /// DWP records.
    pub dwp: u64,
}

impl Counts {
    /// Rows of `truth.csv`: one per record.
    pub fn truth(&self) -> u64 {
        self.nhs + self.ons + self.dwp
    }
}

/// A generated population with its three views, in memory. Records are in
/// the order of the files [`write_dir`] writes.
#[derive(Debug)]
pub struct Population {
    /// Everyone, by id.
    pub people: Vec<Person>,
    /// NHS records.
    pub nhs: Vec<NhsRecord>,
    /// ONS records.
    pub ons: Vec<OnsRecord>,
    /// DWP records.
    pub dwp: Vec<DwpRecord>,
}

impl Population {
    /// Record counts.
    pub fn counts(&self) -> Counts {
        Counts {
            people: self.people.len() as u64,
            nhs: self.nhs.len() as u64,
            ons: self.ons.len() as u64,
            dwp: self.dwp.len() as u64,
        }
    }

    /// The file contents [`write_dir`] would write for this population:
    /// the three views and `truth.csv`, in that order.
    pub fn to_csv(&self) -> [Vec<u8>; 4] {
        let mut files: [Vec<u8>; 4] = Default::default();
        for (f, h) in files.iter_mut().zip([
            write::header(View::Nhs),
            write::header(View::Ons),
            write::header(View::Dwp),
            write::TRUTH_HEADER,
        ]) {
            f.extend_from_slice(h.as_bytes());
            f.push(b'\n');
        }
        // Truth follows the writer: block by block, NHS then ONS then DWP.
        let [nhs, ons, dwp, truth] = &mut files;
        let (mut i, mut j, mut k) = (0, 0, 0);
        let mut start = 0u64;
        while start < self.people.len() as u64 {
            let end = start + CHUNK_PEOPLE;
            let take = |v: &mut usize, ids: &dyn Fn(usize) -> Option<u64>| {
                let s = *v;
                while ids(*v).is_some_and(|p| p < end) {
                    *v += 1;
                }
                s..*v
            };
            let r = take(&mut i, &|x| self.nhs.get(x).map(|r| r.person_id));
            write::nhs_rows(&self.nhs[r], nhs, truth);
            let r = take(&mut j, &|x| self.ons.get(x).map(|r| r.person_id));
            write::ons_rows(&self.ons[r], ons, truth);
            let r = take(&mut k, &|x| self.dwp.get(x).map(|r| r.person_id));
            write::dwp_rows(&self.dwp[r], dwp, truth);
            start = end;
        }
        files
    }
}

/// What [`write_dir`] did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Record counts.
    pub counts: Counts,
    /// The files written: three views, `truth.csv`, `README.md`.
    pub files: [PathBuf; 5],
}

/// Options of [`write_dir`].
#[derive(Default)]
pub struct WriteOptions<'a> {
    /// Replace output files that already exist (otherwise they are an error).
    pub overwrite: bool,
    /// Called now and then with the number of people done so far.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Worker threads: `None` uses the current rayon pool (all cores by
    /// default). The output does not depend on it.
    pub threads: Option<usize>,
}

struct Generator<'a> {
    ctx: Context<'a>,
    ids: [Permutation; 3],
}

/// Record ids: twelve digits, from a keyed permutation of (block, index).
const ID_DOMAIN: u64 = 1_000_000_000_000;

impl<'a> Generator<'a> {
    fn new(config: &'a Config, people: u64, seed: u64) -> Result<Generator<'a>, SynthError> {
        config.validate()?;
        if people > MAX_PEOPLE {
            return Err(SynthError::TooManyPeople {
                people,
                max: MAX_PEOPLE,
            });
        }
        Ok(Generator {
            ctx: Context::new(config, people, seed),
            ids: View::ALL
                .map(|v| Permutation::new(ID_DOMAIN, derive(seed, &format!("ids/{}", v.name())))),
        })
    }

    fn chunks(&self) -> u64 {
        self.ctx.people.div_ceil(CHUNK_PEOPLE)
    }

    fn chunk(&self, c: u64) -> (Vec<Person>, ChunkRecords) {
        let first = c * CHUNK_PEOPLE;
        let count = CHUNK_PEOPLE.min(self.ctx.people - first);
        let people = Builder::new(&self.ctx, c).people(first, count);
        let mut rng = Rng::new(self.ctx.seed, "records", c);
        let mut rec = records(&people, self.ctx.config, self.ctx.reference, &mut rng);
        let base = c * MAX_RECORDS_PER_CHUNK;
        for (i, r) in rec.nhs.iter_mut().enumerate() {
            r.patient_id = self.ids[0].apply(base + i as u64);
        }
        for (i, r) in rec.ons.iter_mut().enumerate() {
            r.ons_id = self.ids[1].apply(base + i as u64);
        }
        for (i, r) in rec.dwp.iter_mut().enumerate() {
            r.claim_id = self.ids[2].apply(base + i as u64);
        }
        (people, rec)
    }
}

/// Generates a population and its views in memory (in parallel on the
/// current rayon pool).
///
/// # Errors
/// [`SynthError::Config`] for an invalid configuration,
/// [`SynthError::TooManyPeople`] above [`MAX_PEOPLE`].
pub fn generate(config: &Config, people: u64, seed: u64) -> Result<Population, SynthError> {
    let g = Generator::new(config, people, seed)?;
    let parts: Vec<_> = (0..g.chunks())
        .into_par_iter()
        .map(|c| g.chunk(c))
        .collect();
    let mut pop = Population {
        people: Vec::with_capacity(people as usize),
        nhs: Vec::new(),
        ons: Vec::new(),
        dwp: Vec::new(),
    };
    for (p, r) in parts {
        pop.people.extend(p);
        pop.nhs.extend(r.nhs);
        pop.ons.extend(r.ons);
        pop.dwp.extend(r.dwp);
    }
    Ok(pop)
}

/// Generates a population and streams it to `dir` (created if needed):
/// `nhs_patients.csv`, `ons_employment.csv`, `dwp_claims.csv`,
/// `truth.csv` and `README.md`. Blocks of people are generated in parallel
/// on the current rayon pool while a writer thread writes the previous
/// ones; files are written under temporary names and renamed when
/// complete.
///
/// # Errors
/// [`SynthError::Exists`] when an output file is there and
/// `opts.overwrite` is false; [`SynthError::Io`] when writing fails; as
/// [`generate`] otherwise.
pub fn write_dir(
    config: &Config,
    people: u64,
    seed: u64,
    dir: &Path,
    opts: &WriteOptions<'_>,
) -> Result<Summary, SynthError> {
    match opts.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| SynthError::Io {
                path: dir.to_path_buf(),
                error: std::io::Error::other(e),
            })?
            .install(|| write_dir_here(config, people, seed, dir, opts)),
        None => write_dir_here(config, people, seed, dir, opts),
    }
}

fn write_dir_here(
    config: &Config,
    people: u64,
    seed: u64,
    dir: &Path,
    opts: &WriteOptions<'_>,
) -> Result<Summary, SynthError> {
    let g = Generator::new(config, people, seed)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| SynthError::Io { path, error }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let files = output_files(dir);
    if !opts.overwrite {
        if let Some(p) = files.iter().find(|p| p.exists()) {
            return Err(SynthError::Exists { path: p.clone() });
        }
    }
    let temps: Vec<PathBuf> = files[..4].iter().map(|p| temp_path(p)).collect();
    let mut writers = Vec::with_capacity(4);
    for (t, h) in temps.iter().zip([
        write::header(View::Nhs),
        write::header(View::Ons),
        write::header(View::Dwp),
        write::TRUTH_HEADER,
    ]) {
        let f = std::fs::File::create(t).map_err(io(t))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        use std::io::Write as _;
        w.write_all(h.as_bytes())
            .and_then(|()| w.write_all(b"\n"))
            .map_err(io(t))?;
        writers.push(w);
    }

    let result = std::thread::scope(|s| -> Result<Counts, SynthError> {
        let (tx, rx) = mpsc::sync_channel::<Vec<ChunkBytes>>(1);
        let temps = &temps;
        let writer = s.spawn(move || -> Result<Counts, SynthError> {
            use std::io::Write as _;
            let mut counts = Counts::default();
            for batch in rx {
                for chunk in batch {
                    for (i, bytes) in chunk.files.iter().enumerate() {
                        writers[i].write_all(bytes).map_err(io(&temps[i]))?;
                    }
                    counts.people += chunk.people;
                    counts.nhs += chunk.counts[0];
                    counts.ons += chunk.counts[1];
                    counts.dwp += chunk.counts[2];
                }
            }
            for (w, t) in writers.into_iter().zip(temps) {
                let f = w.into_inner().map_err(|e| io(t)(e.into_error()))?;
                f.sync_all().map_err(io(t))?;
            }
            Ok(counts)
        });
        let per_batch = (rayon::current_num_threads() as u64 * 4).max(4);
        let n = g.chunks();
        let mut start = 0;
        while start < n {
            let end = (start + per_batch).min(n);
            let batch: Vec<ChunkBytes> = (start..end)
                .into_par_iter()
                .map(|c| {
                    let (p, r) = g.chunk(c);
                    serialise(&r, p.len() as u64)
                })
                .collect();
            if tx.send(batch).is_err() {
                // The writer stopped on an error; it reports it below.
                break;
            }
            if let Some(f) = opts.progress {
                f((end * CHUNK_PEOPLE).min(people));
            }
            start = end;
        }
        drop(tx);
        writer.join().expect("writer thread panicked")
    });
    let counts = match result {
        Ok(c) => c,
        Err(e) => {
            for t in &temps {
                let _ = std::fs::remove_file(t);
            }
            return Err(e);
        }
    };
    for (t, f) in temps.iter().zip(&files) {
        std::fs::rename(t, f).map_err(io(f))?;
    }
    let readme = write::readme(config, people, seed, &counts);
    write::write_file_atomically(&files[4], readme.as_bytes()).map_err(io(&files[4]))?;
    Ok(Summary { counts, files })
}
