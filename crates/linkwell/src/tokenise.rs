//! `tokenise`: a CSV of identifiers in, a CSV of tokens out, streaming.
//!
//! One thread reads and parses CSV records into chunks; each chunk is
//! encoded in parallel with rayon; chunks are written in input order, so the
//! output row order is the input's. At most a few chunks are in flight, so
//! memory is bounded whatever the input size.
//!
//! A malformed record (a different number of fields from the header, bytes
//! that are not UTF-8) goes to the rejects file with its line number and the
//! reason, never its content, and processing continues. `read = written +
//! rejected` always holds.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use csv::ByteRecord;
use rayon::prelude::*;

use crate::encode::{Encoder, Status};
use crate::io::{rejects_path, write_csv_field, AtomicFile, IoError};
use crate::manifest::{format_version_for, Counts, Manifest, ENCODED_FORMAT};
use crate::normalise::date::Date;
use crate::schema::{SchemaError, SchemaSpec};
use crate::secret::Secret;

/// Why tokenising failed (as opposed to a record being rejected, which is
/// not an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokeniseError {
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The CSV reader failed mid-file.
    #[error("cannot read {} at line {line}: {message}", .path.display())]
    Csv {
        /// The input.
        path: PathBuf,
        /// Line of the failure.
        line: u64,
        /// What failed.
        message: String,
    },
    /// The input has no header row.
    #[error("{} is empty: it has no header row; an extract must start with a header naming its columns", .0.display())]
    Empty(PathBuf),
    /// The header is unusable.
    #[error("{}, line 1 (the header): {message}", .path.display())]
    Header {
        /// The input.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The schema does not fit the input.
    #[error("{}: {error}", .path.display())]
    Schema {
        /// The input.
        path: PathBuf,
        /// Why.
        error: SchemaError,
    },
    /// The id column holds identifiers, which would be written in clear.
    #[error("{}: the id column {column:?} holds {what} in most of the first records, which would be written in clear: name a record-id column with --id-column (or `id_column` in the schema)", .path.display())]
    IdLooksLikeIdentifier {
        /// The input.
        path: PathBuf,
        /// The id column.
        column: String,
        /// What it seems to hold.
        what: &'static str,
    },
    /// Input and output are the same file.
    #[error("the output {} is the input: choose another output path", .0.display())]
    SameFile(PathBuf),
}

/// Progress of a long run: bytes of input consumed and records done.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Input bytes parsed so far.
    pub bytes: u64,
    /// Input size in bytes, when known.
    pub total_bytes: Option<u64>,
    /// Records processed so far.
    pub records: u64,
}

/// Options for [`tokenise_file`].
pub struct TokeniseOptions<'a> {
    /// Dates after this are implausible (default: today, UTC).
    pub today: Option<Date>,
    /// Records per parallel chunk.
    pub chunk_records: usize,
    /// Called after each chunk.
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
}

impl Default for TokeniseOptions<'_> {
    fn default() -> Self {
        TokeniseOptions {
            today: None,
            chunk_records: 16_384,
            progress: None,
        }
    }
}

/// One rejected record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Line number where the record starts (the header is line 1).
    pub line: u64,
    /// Why it was rejected (never its content).
    pub reason: String,
}

/// What [`tokenise_stream`] produced.
#[derive(Debug, Clone, Default)]
pub struct StreamSummary {
    /// Counts.
    pub counts: Counts,
    /// The first rejects (all of them are in the rejects stream).
    pub first_rejects: Vec<Reject>,
}

const KEEP_FIRST_REJECTS: usize = 20;

/// Column positions the encoder reads from each input record.
struct Layout {
    width: usize,
    id: usize,
    fields: Vec<usize>,
    keep: Vec<usize>,
    names: Vec<String>,
}

/// Why a record is rejected, or `None` with its fields as text in `text`
/// (each field is checked for UTF-8 once, here).
fn reject_reason<'r>(
    rec: &'r ByteRecord,
    layout: &Layout,
    text: &mut Vec<&'r str>,
) -> Option<String> {
    if rec.len() != layout.width {
        return Some(format!(
            "has {} fields but the header has {}: check quoting and delimiters on this line",
            rec.len(),
            layout.width
        ));
    }
    text.clear();
    // One validation of the whole record, then each field cut from it at
    // its boundaries (a field of valid UTF-8 starts and ends on character
    // boundaries); a record that fails is gone over field by field for the
    // message.
    if let Ok(all) = std::str::from_utf8(rec.as_slice()) {
        let mut from = 0;
        let mut ok = true;
        for r in rec.iter() {
            let to = from + r.len();
            match all.get(from..to) {
                Some(t) => text.push(t),
                None => {
                    ok = false;
                    break;
                }
            }
            from = to;
        }
        if ok {
            return None;
        }
        text.clear();
    }
    for (i, f) in rec.iter().enumerate() {
        match std::str::from_utf8(f) {
            Ok(t) => text.push(t),
            Err(e) => {
                return Some(format!(
                    "field {} ({}) is not valid UTF-8 (bad byte at offset {}): re-export the file as UTF-8",
                    i + 1,
                    layout.names[i],
                    e.valid_up_to()
                ))
            }
        }
    }
    None
}

struct ChunkOut {
    data: Vec<Vec<u8>>,
    rejects: Vec<Reject>,
    status_counts: Vec<Vec<u64>>,
    written: u64,
}

/// Output buffers passed back from the writer for reuse: fresh buffers of
/// this size would each be new pages for the kernel to fault in and zero.
type BufferPool = std::sync::Mutex<Vec<Vec<u8>>>;

fn encode_chunk(
    encoder: &Encoder,
    layout: &Layout,
    records: &[ByteRecord],
    pool: &BufferPool,
) -> ChunkOut {
    let status_len: Vec<usize> = encoder
        .schema()
        .fields
        .iter()
        .map(|f| f.kind.statuses().len())
        .collect();
    let parts: Vec<ChunkOut> = records
        .par_chunks(256)
        .map(|sub| {
            let mut buf = pool
                .lock()
                .map(|mut p| p.pop())
                .ok()
                .flatten()
                .unwrap_or_default();
            buf.clear();
            let mut out = ChunkOut {
                data: vec![buf],
                rejects: Vec::new(),
                status_counts: status_len.iter().map(|&n| vec![0; n]).collect(),
                written: 0,
            };
            let mut statuses: Vec<Status> = Vec::with_capacity(layout.fields.len());
            let mut raws: Vec<&str> = Vec::with_capacity(layout.fields.len());
            let mut text: Vec<&str> = Vec::with_capacity(layout.width);
            for rec in sub {
                if let Some(reason) = reject_reason(rec, layout, &mut text) {
                    out.rejects.push(Reject {
                        line: rec.position().map_or(0, |p| p.line()),
                        reason,
                    });
                    continue;
                }
                let data = &mut out.data[0];
                write_csv_field(data, &rec[layout.id]);
                data.push(b',');
                raws.clear();
                raws.extend(layout.fields.iter().map(|&i| text[i]));
                statuses.clear();
                encoder.encode_fields_into(&raws, data, &mut statuses);
                for (c, &s) in out.status_counts.iter_mut().zip(&statuses) {
                    c[s as usize] += 1;
                }
                for &k in &layout.keep {
                    data.push(b',');
                    write_csv_field(data, &rec[k]);
                }
                data.push(b'\n');
                out.written += 1;
            }
            out
        })
        .collect();
    let mut all = ChunkOut {
        data: Vec::with_capacity(parts.len()),
        rejects: Vec::new(),
        status_counts: status_len.iter().map(|&n| vec![0; n]).collect(),
        written: 0,
    };
    for p in parts {
        all.data.extend(p.data);
        all.rejects.extend(p.rejects);
        for (a, b) in all.status_counts.iter_mut().zip(&p.status_counts) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        all.written += p.written;
    }
    all
}

/// Whether most of the id column's first values are NHS numbers, dates of
/// birth or postcodes: an extract whose first column is an identifier, used
/// as the id by default, would otherwise leave in clear.
fn id_holds_identifiers(records: &[ByteRecord], id: usize) -> Option<&'static str> {
    let sample: Vec<&str> = records
        .iter()
        .take(1000)
        .filter_map(|r| r.get(id))
        .filter_map(|f| std::str::from_utf8(f).ok())
        .filter(|s| !s.trim().is_empty())
        .collect();
    if sample.len() < 5 {
        return None;
    }
    let formats: Vec<crate::normalise::date::DateFormat> = crate::normalise::date::DEFAULT_FORMATS
        .iter()
        .map(|f| crate::normalise::date::DateFormat::parse(f).expect("built-in format"))
        .collect();
    let most = |n: usize| n * 2 > sample.len();
    let nhs = sample
        .iter()
        .filter(|s| crate::nhs::NhsNumber::parse(s).is_ok())
        .count();
    if most(nhs) {
        return Some("NHS numbers");
    }
    let dates = sample
        .iter()
        .filter(|s| crate::normalise::date::parse(s, &formats).is_ok())
        .count();
    if most(dates) {
        return Some("dates");
    }
    let postcodes = sample
        .iter()
        .filter(|s| crate::normalise::postcode::normalise(s).is_some())
        .count();
    if most(postcodes) {
        return Some("postcodes");
    }
    None
}

/// Reads the header of a CSV stream.
fn read_header<R: Read>(rdr: &mut csv::Reader<R>) -> Result<Option<Vec<String>>, String> {
    let h = rdr.byte_headers().map_err(|e| e.to_string())?.clone();
    if h.is_empty() || (h.len() == 1 && h[0].is_empty()) {
        return Ok(None);
    }
    let mut names = Vec::with_capacity(h.len());
    for (i, f) in h.iter().enumerate() {
        let s = std::str::from_utf8(f).map_err(|_| {
            format!(
                "column {} name is not valid UTF-8: re-export the file as UTF-8",
                i + 1
            )
        })?;
        let s = s.trim().to_string();
        if s.is_empty() {
            return Err(format!(
                "column {} has an empty name: every column needs a name",
                i + 1
            ));
        }
        if names.contains(&s) {
            return Err(if crate::schema::looks_like_value(&s) {
                format!(
                    "column {} has the same name as an earlier one, and the name looks like data: does the file have a header row?",
                    i + 1
                )
            } else {
                format!("column name {s:?} appears twice: column names must be unique")
            });
        }
        names.push(s);
    }
    Ok(Some(names))
}

/// Tokenises a CSV stream into `data` (encoded CSV with header) and
/// `rejects` (`line,reason` CSV with header). The library's core loop,
/// independent of files; [`tokenise_file`] adds atomic files and the
/// manifest.
///
/// # Errors
/// [`TokeniseError`] for an unusable header or schema, or I/O failure.
pub fn tokenise_stream<R: Read + Send, W: Write + Send, X: Write + Send>(
    secret: &Secret,
    spec: Option<&SchemaSpec>,
    input: R,
    input_name: &Path,
    data: &mut W,
    rejects: &mut X,
    opts: &TokeniseOptions<'_>,
) -> Result<(Encoder, StreamSummary), TokeniseError> {
    let out_err =
        |e: std::io::Error| TokeniseError::Io(IoError::new("cannot write", Path::new("output"), e));
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let header = match read_header(&mut rdr) {
        Ok(Some(h)) => h,
        Ok(None) => return Err(TokeniseError::Empty(input_name.to_path_buf())),
        Err(message) => {
            return Err(TokeniseError::Header {
                path: input_name.to_path_buf(),
                message,
            })
        }
    };
    let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
    let default_spec;
    let spec = match spec {
        Some(s) => s,
        None => {
            default_spec = SchemaSpec::default_for(&hdr);
            &default_spec
        }
    };
    let schema_err = |error| TokeniseError::Schema {
        path: input_name.to_path_buf(),
        error,
    };
    let schema = spec.resolve(&hdr).map_err(schema_err)?;
    let mut encoder = Encoder::new(secret, schema).map_err(schema_err)?;
    if let Some(t) = opts.today {
        encoder = encoder.with_today(t);
    }
    let pos = |c: &str| hdr.iter().position(|h| *h == c).expect("resolved column");
    let schema = encoder.schema();
    let layout = Layout {
        width: hdr.len(),
        id: pos(&schema.id_column),
        fields: schema.fields.iter().map(|f| pos(&f.column)).collect(),
        keep: schema.keep.iter().map(|k| pos(k)).collect(),
        names: header.clone(),
    };

    // Headers.
    let mut line = Vec::new();
    for (i, c) in schema.output_columns().iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        write_csv_field(&mut line, c.as_bytes());
    }
    line.push(b'\n');
    data.write_all(&line).map_err(out_err)?;
    rejects.write_all(b"line,reason\n").map_err(out_err)?;

    let mut counts = Counts::default();
    let mut status_counts: Vec<Vec<u64>> = schema
        .fields
        .iter()
        .map(|f| vec![0; f.kind.statuses().len()])
        .collect();
    let mut first_rejects = Vec::new();
    let bytes_read = AtomicU64::new(0);
    let chunk_records = opts.chunk_records.max(1);

    let pool: BufferPool = std::sync::Mutex::new(Vec::new());
    let result: Result<(), TokeniseError> = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Result<(Vec<ByteRecord>, usize), (u64, String)>>(2);
        let (pool_tx, pool_rx) = mpsc::channel::<Vec<ByteRecord>>();
        let bytes_read = &bytes_read;
        scope.spawn(move || loop {
            let mut buf = pool_rx.try_recv().unwrap_or_default();
            let mut n = 0;
            while n < chunk_records {
                if buf.len() == n {
                    buf.push(ByteRecord::new());
                }
                match rdr.read_byte_record(&mut buf[n]) {
                    Ok(true) => n += 1,
                    Ok(false) => break,
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        let _ = tx.send(Err((line, e.to_string())));
                        return;
                    }
                }
            }
            bytes_read.store(rdr.position().byte(), Ordering::Relaxed);
            let done = n < chunk_records;
            if n > 0 && tx.send(Ok((buf, n))).is_err() {
                return;
            }
            if done {
                return;
            }
        });
        // Encoded chunks go to a writer thread, so that writing (a kernel
        // copy into the page cache, slow on some machines) overlaps the
        // encoding of the next chunk.
        let (wtx, wrx) = mpsc::sync_channel::<(Vec<Vec<u8>>, Vec<u8>)>(2);
        let pool = &pool;
        let writer = scope.spawn(move || -> Result<(), TokeniseError> {
            for (parts, r) in wrx {
                for d in parts {
                    data.write_all(&d).map_err(out_err)?;
                    if let Ok(mut p) = pool.lock() {
                        if p.len() < 64 {
                            p.push(d);
                        }
                    }
                }
                if !r.is_empty() {
                    rejects.write_all(&r).map_err(out_err)?;
                }
            }
            Ok(())
        });
        let mut failure = None;
        for msg in rx {
            let (buf, n) = match msg {
                Ok(x) => x,
                Err((line, message)) => {
                    failure = Some(TokeniseError::Csv {
                        path: input_name.to_path_buf(),
                        line,
                        message,
                    });
                    break;
                }
            };
            if counts.read == 0 {
                if let Some(what) = id_holds_identifiers(&buf[..n], layout.id) {
                    failure = Some(TokeniseError::IdLooksLikeIdentifier {
                        path: input_name.to_path_buf(),
                        column: layout.names[layout.id].clone(),
                        what,
                    });
                    break;
                }
            }
            let out = encode_chunk(&encoder, &layout, &buf[..n], pool);
            let mut rj = Vec::new();
            for r in &out.rejects {
                rj.extend_from_slice(r.line.to_string().as_bytes());
                rj.push(b',');
                write_csv_field(&mut rj, r.reason.as_bytes());
                rj.push(b'\n');
            }
            counts.read += n as u64;
            counts.written += out.written;
            counts.rejected += out.rejects.len() as u64;
            for (a, b) in status_counts.iter_mut().zip(&out.status_counts) {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
            }
            for r in out.rejects {
                if first_rejects.len() < KEEP_FIRST_REJECTS {
                    first_rejects.push(r);
                }
            }
            if wtx.send((out.data, rj)).is_err() {
                break; // the writer failed; its error is reported below
            }
            let _ = pool_tx.send(buf);
            if let Some(p) = opts.progress {
                p(Progress {
                    bytes: bytes_read.load(Ordering::Relaxed),
                    total_bytes: None,
                    records: counts.read,
                });
            }
        }
        drop(wtx);
        writer.join().expect("writer thread")?;
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    });
    result?;
    for (f, sc) in schema.fields.iter().zip(&status_counts) {
        let m: BTreeMap<String, u64> = f
            .kind
            .statuses()
            .iter()
            .zip(sc)
            .map(|(s, &c)| (s.to_string(), c))
            .collect();
        counts.fields.insert(f.column.clone(), m);
    }
    debug_assert!(counts.reconciles());
    Ok((
        encoder,
        StreamSummary {
            counts,
            first_rejects,
        },
    ))
}

/// The result of [`tokenise_file`].
#[derive(Debug, Clone)]
pub struct TokeniseSummary {
    /// The manifest written beside the output.
    pub manifest: Manifest,
    /// The first rejects.
    pub first_rejects: Vec<Reject>,
    /// Where the rejects went.
    pub rejects_path: PathBuf,
}

/// Tokenises `input` into `output`, writing `output.rejects.csv` and
/// `output.manifest.json` beside it. Every file is written under a
/// temporary name and renamed when complete; the manifest last.
///
/// With `spec = None`, the default schema is used: every standard
/// identifier column the header has.
///
/// # Errors
/// [`TokeniseError`].
pub fn tokenise_file(
    secret: &Secret,
    spec: Option<&SchemaSpec>,
    input: &Path,
    output: &Path,
    opts: &TokeniseOptions<'_>,
) -> Result<TokeniseSummary, TokeniseError> {
    if let (Ok(a), Ok(b)) = (std::fs::canonicalize(input), std::fs::canonicalize(output)) {
        if a == b {
            return Err(TokeniseError::SameFile(output.to_path_buf()));
        }
    }
    let file = File::open(input).map_err(|e| IoError::new("cannot read", input, e))?;
    let total = file.metadata().ok().map(|m| m.len());
    let reader = BufReader::with_capacity(1 << 20, file);
    let rej_path = rejects_path(output);
    let mut data = AtomicFile::create(output)?;
    let mut rejects = AtomicFile::create(&rej_path)?;
    let progress_with_total = |p: Progress| {
        if let Some(f) = opts.progress {
            f(Progress {
                total_bytes: total,
                ..p
            });
        }
    };
    let inner_opts = TokeniseOptions {
        today: opts.today,
        chunk_records: opts.chunk_records,
        progress: Some(&progress_with_total),
    };
    let (encoder, summary) = tokenise_stream(
        secret,
        spec,
        reader,
        input,
        &mut data,
        &mut rejects,
        &inner_opts,
    )?;
    let (digest, bytes) = data.commit()?;
    rejects.commit()?;
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let schema = encoder.schema().clone();
    let manifest = Manifest {
        format: ENCODED_FORMAT.into(),
        format_version: format_version_for(&schema),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        normaliser_version: crate::normalise::NORMALISER_VERSION,
        key_fingerprint: encoder.fingerprint().to_string(),
        data_file: name(output),
        data_sha256: crate::hex::encode(&digest),
        data_bytes: bytes,
        rejects_file: name(&rej_path),
        reference_date: encoder.today().to_string(),
        columns: Manifest::columns_of(&schema),
        schema,
        counts: summary.counts,
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    crate::io::write_atomic(&crate::io::manifest_path(output), &json)?;
    Ok(TokeniseSummary {
        manifest,
        first_rejects: summary.first_rejects,
        rejects_path: rej_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::from_hex(b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
            .unwrap()
    }

    fn run(
        input: &[u8],
        spec: Option<&SchemaSpec>,
        chunk: usize,
    ) -> Result<(String, String, StreamSummary), TokeniseError> {
        let mut data = Vec::new();
        let mut rej = Vec::new();
        let opts = TokeniseOptions {
            today: Date::new(2026, 1, 1),
            chunk_records: chunk,
            progress: None,
        };
        let (_, s) = tokenise_stream(
            &secret(),
            spec,
            input,
            Path::new("in.csv"),
            &mut data,
            &mut rej,
            &opts,
        )?;
        Ok((
            String::from_utf8(data).unwrap(),
            String::from_utf8(rej).unwrap(),
            s,
        ))
    }

    #[test]
    fn nhs_only_with_bom_crlf_and_quotes() {
        let input = b"\xef\xbb\xbfid,nhs_number,note\r\n1,943 476 5919,\"a, b\"\r\n2,,x\r\n\"3\",9434765918,y\r\n";
        let spec = SchemaSpec::from_toml("id_column = \"id\"\nkeep = [\"note\"]\n[[field]]\ncolumn = \"nhs_number\"\nkind = \"nhs_number\"\n").unwrap();
        let (data, rej, s) = run(input, Some(&spec), 2).unwrap();
        assert_eq!(
            data,
            "id,nhs_number_token,nhs_number_status,note\n\
             1,ee300ebd22e30c26fe84c28c76f903bfefc2422db9fc144b9d5470e19c2d7671,valid,\"a, b\"\n\
             2,,missing,x\n\
             3,,check_digit_mismatch,y\n"
        );
        assert_eq!(rej, "line,reason\n");
        assert_eq!(
            (s.counts.read, s.counts.written, s.counts.rejected),
            (3, 3, 0)
        );
        assert_eq!(s.counts.fields["nhs_number"]["valid"], 1);
        assert_eq!(s.counts.fields["nhs_number"]["missing"], 1);
        assert_eq!(s.counts.fields["nhs_number"]["check_digit_mismatch"], 1);
        assert!(s.counts.reconciles());
    }

    #[test]
    fn malformed_rows_are_rejected_with_line_numbers_and_order_is_kept() {
        let mut input = b"id,nhs_number\n".to_vec();
        for i in 0..1000 {
            match i % 100 {
                7 => input.extend_from_slice(format!("{i},1,extra\n").as_bytes()),
                8 => {
                    input.extend_from_slice(format!("{i},").as_bytes());
                    input.extend_from_slice(b"\xff\xfe\n");
                }
                _ => input.extend_from_slice(format!("{i},\n").as_bytes()),
            }
        }
        let (data, rej, s) = run(&input, None, 64).unwrap();
        assert_eq!(
            (s.counts.read, s.counts.written, s.counts.rejected),
            (1000, 980, 20)
        );
        let ids: Vec<u32> = data
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted, "input order");
        let lines: Vec<&str> = rej.lines().collect();
        assert_eq!(lines.len(), 21);
        assert!(lines[1].starts_with("9,"), "{}", lines[1]); // record 7 is on line 9
        assert!(lines[1].contains("has 3 fields but the header has 2"));
        assert!(lines[2].starts_with("10,"));
        assert!(lines[2].contains("not valid UTF-8"));
        assert!(!rej.contains("extra"), "reasons never carry content");
    }

    /// A character split across two fields makes a record whose bytes are
    /// valid UTF-8 as a whole but not field by field: it is rejected, with
    /// the field named; whole characters in fields are kept.
    #[test]
    fn utf8_is_checked_field_by_field() {
        let spec = SchemaSpec::from_toml("id_column = \"id\"\nkeep = [\"note\"]\n[[field]]\ncolumn = \"nhs_number\"\nkind = \"nhs_number\"\n").unwrap();
        let input = "id,nhs_number,note\n1,,caf\u{e9}\n2,,\u{e9}\u{1f600}\n"
            .as_bytes()
            .to_vec();
        let (data, rej, s) = run(&input, Some(&spec), 8).unwrap();
        assert_eq!(data, "id,nhs_number_token,nhs_number_status,note\n1,,missing,caf\u{e9}\n2,,missing,\u{e9}\u{1f600}\n");
        assert_eq!(rej, "line,reason\n");
        assert_eq!(s.counts.rejected, 0);
        // "é" is C3 A9: the id ends with C3, the next field starts with A9.
        let input = b"id,nhs_number,note\n1\xc3,\xa9,x\n3,,y\n".to_vec();
        let (data, rej, s) = run(&input, Some(&spec), 8).unwrap();
        assert_eq!(
            data,
            "id,nhs_number_token,nhs_number_status,note\n3,,missing,y\n"
        );
        assert_eq!(
            (s.counts.read, s.counts.written, s.counts.rejected),
            (2, 1, 1)
        );
        assert!(rej.contains("field 1 (id) is not valid UTF-8"), "{rej}");
    }

    #[test]
    fn empty_and_header_only() {
        assert!(matches!(run(b"", None, 10), Err(TokeniseError::Empty(_))));
        let (data, _, s) = run(b"id,nhs_number\n", None, 10).unwrap();
        assert_eq!(data, "id,nhs_number_token,nhs_number_status\n");
        assert_eq!(s.counts.read, 0);
    }

    #[test]
    fn missing_columns_are_named() {
        let spec =
            SchemaSpec::from_toml("[[field]]\ncolumn = \"nhs_number\"\nkind = \"nhs_number\"\n")
                .unwrap();
        let e = run(b"id,nhs\n1,2\n", Some(&spec), 10).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("\"nhs_number\"") && msg.contains("id, nhs"),
            "{msg}"
        );
        let e = run(b"id,id\n1,2\n", None, 10).unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
    }

    #[test]
    fn chunking_does_not_change_output() {
        let mut input =
            b"id,nhs_number,given_name,family_name,date_of_birth,sex,postcode\n".to_vec();
        for i in 0..500u32 {
            let n = crate::nhs::NhsNumber::from_first_nine(400_000_000 + i * 7919)
                .map(|n| n.to_string())
                .unwrap_or_default();
            input.extend_from_slice(
                format!(
                    "{i},{n},Name{},Fam{},19{:02}-0{}-1{},{},SW1A {}AA\n",
                    i % 7,
                    i % 13,
                    i % 90,
                    1 + i % 9,
                    i % 9,
                    1 + i % 2,
                    i % 10
                )
                .as_bytes(),
            );
        }
        let a = run(&input, None, 1).unwrap();
        let b = run(&input, None, 10_000).unwrap();
        assert_eq!(a.0, b.0);
        assert_eq!(a.2.counts, b.2.counts);
    }
}
