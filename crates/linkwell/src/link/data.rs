//! Loading encoded files in the TRE: manifest checks, SHA-256 verification,
//! and tokens interned into dense ids.
//!
//! Every token column is interned per comparison domain into `u32` ids, in
//! one dictionary shared by both files, so equal tokens get equal ids and a
//! match key is a tuple of small integers. A token's first eight bytes are
//! already a uniformly random hash (tokens are HMAC outputs), so the
//! dictionary hashes nothing; the full 32 bytes are compared on a hit.
//! Bloom filters are interned the same way (equal values give equal
//! filters), so each distinct filter is stored once.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use csv::ByteRecord;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::io::IoError;
use crate::manifest::{Manifest, ManifestError};

use super::LinkError;

/// The id of an absent value.
pub const NONE: u32 = u32::MAX;

/// A hasher for keys that are already uniformly random: it takes the first
/// eight bytes written and does nothing else.
#[derive(Default, Clone, Copy)]
pub struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        if self.0 == 0 {
            let mut b = [0u8; 8];
            let n = bytes.len().min(8);
            b[..n].copy_from_slice(&bytes[..n]);
            self.0 = u64::from_le_bytes(b) | 1;
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        if self.0 == 0 {
            self.0 = v | 1;
        }
    }
    #[inline]
    fn write_usize(&mut self, _: usize) {
        // Length prefixes of slices: ignored.
    }
}

type PrefixMap<K> = HashMap<K, u32, BuildHasherDefault<PrefixHasher>>;

/// Shards of a token dictionary: tokens are spread over them by their last
/// byte (the hash uses the first eight), and a batch is interned with one
/// thread per shard.
const SHARDS: usize = 64;

/// One domain's token dictionary. A token's id is `local * 64 + shard`:
/// ids are small and stable (they depend only on the order tokens are first
/// seen, never on threads), though not dense.
pub struct TokenDict {
    shards: Vec<PrefixMap<[u8; 32]>>,
}

impl Default for TokenDict {
    fn default() -> Self {
        TokenDict {
            shards: (0..SHARDS).map(|_| PrefixMap::default()).collect(),
        }
    }
}

#[inline]
fn shard_of(t: &[u8; 32]) -> usize {
    usize::from(t[31]) % SHARDS
}

impl TokenDict {
    /// The id of `token`, assigned on first sight.
    #[inline]
    pub fn intern(&mut self, token: &[u8; 32]) -> u32 {
        let s = shard_of(token);
        let map = &mut self.shards[s];
        let next = map.len() as u32;
        let local = *map.entry(*token).or_insert(next);
        local * SHARDS as u32 + s as u32
    }

    /// Interns a batch in parallel, in order: `None` becomes [`NONE`].
    pub fn intern_batch(&mut self, tokens: &[Option<[u8; 32]>]) -> Vec<u32> {
        let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); SHARDS];
        for (i, t) in tokens.iter().enumerate() {
            if let Some(t) = t {
                buckets[shard_of(t)].push(i as u32);
            }
        }
        let locals: Vec<Vec<u32>> = self
            .shards
            .par_iter_mut()
            .zip(buckets.par_iter())
            .map(|(map, idx)| {
                idx.iter()
                    .map(|&i| {
                        let t = tokens[i as usize].as_ref().expect("bucketed");
                        let next = map.len() as u32;
                        *map.entry(*t).or_insert(next)
                    })
                    .collect()
            })
            .collect();
        let mut out = vec![NONE; tokens.len()];
        for (s, (idx, loc)) in buckets.iter().zip(&locals).enumerate() {
            for (&i, &l) in idx.iter().zip(loc) {
                out[i as usize] = l * SHARDS as u32 + s as u32;
            }
        }
        out
    }

    /// Makes room for `n` more distinct tokens.
    pub fn reserve(&mut self, n: usize) {
        for m in &mut self.shards {
            m.reserve(n / SHARDS + 1);
        }
    }

    /// Number of distinct tokens.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|m| m.len()).sum()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One domain's Bloom-filter dictionary: each distinct filter stored once.
pub struct BloomDict {
    words: usize,
    map: HashMap<Box<[u64]>, u32>,
    store: Vec<u64>,
}

impl BloomDict {
    fn new(words: usize) -> BloomDict {
        BloomDict {
            words,
            map: HashMap::new(),
            store: Vec::new(),
        }
    }

    fn intern(&mut self, filter: &[u64]) -> u32 {
        if let Some(&id) = self.map.get(filter) {
            return id;
        }
        let id = (self.store.len() / self.words) as u32;
        self.store.extend_from_slice(filter);
        self.map.insert(filter.into(), id);
        id
    }

    /// The filter with this id.
    #[inline]
    pub fn get(&self, id: u32) -> &[u64] {
        let s = id as usize * self.words;
        &self.store[s..s + self.words]
    }

    /// Filter length in 64-bit words.
    pub fn words(&self) -> usize {
        self.words
    }

    /// Number of distinct filters.
    pub fn len(&self) -> usize {
        self.store.len() / self.words.max(1)
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }
}

/// The dictionaries shared by the two files of a linkage.
#[derive(Default)]
pub struct Dictionaries {
    /// Token dictionaries by domain.
    pub tokens: BTreeMap<String, TokenDict>,
    /// Bloom dictionaries by domain.
    pub blooms: BTreeMap<String, BloomDict>,
}

/// Strings stored end to end (ids and payload values): two allocations for
/// a whole column instead of one per value.
#[derive(Default, Clone)]
pub struct StrColumn {
    data: Vec<u8>,
    ends: Vec<u64>,
}

impl StrColumn {
    /// Appends a value.
    pub fn push(&mut self, s: &[u8]) {
        self.data.extend_from_slice(s);
        self.ends.push(self.data.len() as u64);
    }

    /// The `i`th value.
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends[i] as usize;
        // Values are pushed from UTF-8-validated fields only.
        std::str::from_utf8(&self.data[start..end]).unwrap_or("")
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// A loaded column.
pub enum Column {
    /// Interned token ids, [`NONE`] when empty.
    Token {
        /// The column's domain.
        domain: String,
        /// One id per record.
        ids: Vec<u32>,
    },
    /// Several tokens per record (`parts`).
    TokenSet {
        /// The column's domain.
        domain: String,
        /// Record `i`'s ids are `ids[ends[i-1]..ends[i]]`.
        ends: Vec<u32>,
        /// Interned ids.
        ids: Vec<u32>,
    },
    /// Interned Bloom-filter ids, [`NONE`] when empty.
    Bloom {
        /// The column's domain.
        domain: String,
        /// One id per record.
        ids: Vec<u32>,
    },
    /// Text: statuses and payload.
    Text(StrColumn),
}

impl Column {
    /// Token ids, if this is a token column.
    pub fn token_ids(&self) -> Option<&[u32]> {
        match self {
            Column::Token { ids, .. } => Some(ids),
            _ => None,
        }
    }
    /// Bloom ids, if this is a Bloom column.
    pub fn bloom_ids(&self) -> Option<&[u32]> {
        match self {
            Column::Bloom { ids, .. } => Some(ids),
            _ => None,
        }
    }
    /// The domain of an encoded column.
    pub fn domain(&self) -> Option<&str> {
        match self {
            Column::Token { domain, .. }
            | Column::TokenSet { domain, .. }
            | Column::Bloom { domain, .. } => Some(domain),
            Column::Text(_) => None,
        }
    }
}

/// One encoded file, loaded.
pub struct Dataset {
    /// The data file.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Record ids, in file order.
    pub ids: StrColumn,
    /// Loaded columns by name.
    pub columns: BTreeMap<String, Column>,
}

impl Dataset {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it has no records.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// A loaded column.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.get(name)
    }

    /// Token ids of a loaded token column.
    ///
    /// # Panics
    /// If the column was not loaded as a token column (a programming error:
    /// rules are validated before loading).
    pub fn tokens(&self, name: &str) -> &[u32] {
        self.columns
            .get(name)
            .and_then(Column::token_ids)
            .unwrap_or_else(|| panic!("token column {name} not loaded"))
    }

    /// Names of payload (kept) columns, in file order.
    pub fn payload_columns(&self) -> Vec<String> {
        self.manifest
            .columns
            .iter()
            .filter(|c| c.role == "payload")
            .map(|c| c.name.clone())
            .collect()
    }

    /// The manifest's description of a column.
    pub fn column_info(&self, name: &str) -> Option<&crate::manifest::ColumnInfo> {
        self.manifest.columns.iter().find(|c| c.name == name)
    }
}

/// Reads a file and hashes what is read on another thread, so that
/// SHA-256 of a large file costs no time on the parsing thread.
struct TeeReader {
    file: File,
    tx: Option<mpsc::SyncSender<Vec<u8>>>,
    hasher: Option<std::thread::JoinHandle<([u8; 32], u64)>>,
}

impl TeeReader {
    fn new(file: File) -> TeeReader {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(8);
        let hasher = std::thread::spawn(move || {
            let mut h = Sha256::new();
            let mut bytes = 0u64;
            for block in rx {
                h.update(&block);
                bytes += block.len() as u64;
            }
            (h.finalize().into(), bytes)
        });
        TeeReader {
            file,
            tx: Some(tx),
            hasher: Some(hasher),
        }
    }

    /// The SHA-256 and length of everything read.
    fn finish(mut self) -> ([u8; 32], u64) {
        drop(self.tx.take());
        self.hasher
            .take()
            .expect("not finished")
            .join()
            .expect("hasher thread")
    }
}

impl Read for TeeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        if n > 0 {
            if let Some(tx) = &self.tx {
                // The hasher only stops when we drop the sender.
                let _ = tx.send(buf[..n].to_vec());
            }
        }
        Ok(n)
    }
}

/// How to load a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    Token,
    TokenSet,
    Bloom(usize),
    Text,
}

/// Reads the manifest beside `path` (refusing a missing one).
///
/// # Errors
/// [`LinkError::Manifest`].
pub fn read_manifest(path: &Path) -> Result<Manifest, LinkError> {
    Manifest::read_for(path).map_err(|e| match e {
        ManifestError::Missing { .. } => LinkError::Manifest(e),
        other => LinkError::Manifest(other),
    })
}

/// Loads `columns` (and every status and payload column when `all_text`)
/// of the encoded file at `path`, interning tokens into `dicts`, checking
/// the data's SHA-256 against the manifest as it reads.
///
/// # Errors
/// [`LinkError`] for a missing or mismatched manifest, a column not in the
/// file, malformed encoded data, or I/O failure.
pub fn load(
    path: &Path,
    manifest: Manifest,
    columns: &[String],
    all_text: bool,
    dicts: &mut Dictionaries,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Dataset, LinkError> {
    let file = File::open(path).map_err(|e| IoError::new("cannot read", path, e))?;
    let hashing = TeeReader::new(file);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(BufReader::with_capacity(1 << 20, hashing));
    let bad = |line: u64, message: String| LinkError::BadData {
        path: path.to_path_buf(),
        line,
        message,
    };
    let header: Vec<String> = rdr
        .byte_headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let expected: Vec<&str> = manifest.columns.iter().map(|c| c.name.as_str()).collect();
    if header != expected {
        return Err(bad(
            1,
            "the header does not match the manifest's columns: the file was altered or the manifest belongs to another file".into(),
        ));
    }
    let id_index = 0usize;
    // Which columns to load, and how.
    let mut plan: Vec<(usize, String, Load, Option<String>)> = Vec::new();
    for (i, c) in manifest.columns.iter().enumerate() {
        let wanted =
            columns.contains(&c.name) || (all_text && (c.role == "status" || c.role == "payload"));
        if !wanted || i == id_index {
            continue;
        }
        let how = match (c.role.as_str(), c.encoding.as_deref()) {
            ("encoding", Some("bloom")) => {
                let field = manifest
                    .schema
                    .fields
                    .iter()
                    .find(|f| Some(&f.column) == c.field.as_ref());
                let words = field
                    .and_then(|f| f.bloom.as_ref())
                    .map(|b| b.words())
                    .ok_or_else(|| {
                        bad(
                            1,
                            format!("column {} has no Bloom parameters in the manifest", c.name),
                        )
                    })?;
                Load::Bloom(words)
            }
            ("encoding", Some("parts")) => Load::TokenSet,
            ("encoding", _) => Load::Token,
            _ => Load::Text,
        };
        plan.push((i, c.name.clone(), how, c.domain.clone()));
    }
    for c in columns {
        if !plan.iter().any(|(_, n, _, _)| n == c) {
            return Err(LinkError::MissingColumn {
                path: path.to_path_buf(),
                column: c.clone(),
                available: manifest
                    .columns
                    .iter()
                    .filter(|c| c.role == "encoding")
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let width = header.len();
    let expected_rows = manifest.counts.written as usize;

    let mut ids = StrColumn::default();
    ids.data.reserve(expected_rows * 8);
    ids.ends.reserve(expected_rows);
    let mut out: Vec<Column> = plan
        .iter()
        .map(|(_, _, how, domain)| {
            let domain = domain.clone().unwrap_or_default();
            match how {
                Load::Token => Column::Token {
                    domain,
                    ids: Vec::with_capacity(expected_rows),
                },
                Load::TokenSet => Column::TokenSet {
                    domain,
                    ends: Vec::with_capacity(expected_rows),
                    ids: Vec::new(),
                },
                Load::Bloom(_) => Column::Bloom {
                    domain,
                    ids: Vec::with_capacity(expected_rows),
                },
                Load::Text => Column::Text(StrColumn::default()),
            }
        })
        .collect();
    // Domains of identifiers, whose values are (nearly) all distinct: their
    // dictionaries are sized up front. Others (names, dates) stay small.
    let unique: Vec<String> = manifest
        .schema
        .fields
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                crate::schema::Kind::NhsNumber | crate::schema::Kind::Identifier
            )
        })
        .map(|f| f.domain.clone())
        .collect();
    let d_name = |d: &Option<String>| d.clone().unwrap_or_default();
    for (_, _, how, domain) in &plan {
        let d = domain.clone().unwrap_or_default();
        match how {
            Load::Token | Load::TokenSet => {
                // Size for the worst case of every value distinct, so that
                // a large dictionary never rehashes (each rehash faults in
                // and zeroes a new, larger table).
                let dict = dicts.tokens.entry(d).or_default();
                if unique.contains(&d_name(domain)) {
                    dict.reserve(expected_rows);
                }
            }
            Load::Bloom(w) => {
                dicts.blooms.entry(d).or_insert_with(|| BloomDict::new(*w));
            }
            Load::Text => {}
        }
    }

    const CHUNK: usize = 32_768;
    let reader_result = std::thread::scope(|scope| -> Result<(u64, [u8; 32], u64), LinkError> {
        let (tx, rx) = mpsc::sync_channel::<(Vec<ByteRecord>, usize)>(2);
        let (pool_tx, pool_rx) = mpsc::channel::<Vec<ByteRecord>>();
        let reader = scope.spawn(move || -> Result<([u8; 32], u64), (u64, String)> {
            loop {
                let mut buf = pool_rx.try_recv().unwrap_or_default();
                let mut n = 0;
                while n < CHUNK {
                    if buf.len() == n {
                        buf.push(ByteRecord::new());
                    }
                    match rdr.read_byte_record(&mut buf[n]) {
                        Ok(true) => n += 1,
                        Ok(false) => break,
                        Err(e) => {
                            let line = e.position().map_or(0, |p| p.line());
                            return Err((line, e.to_string()));
                        }
                    }
                }
                let done = n < CHUNK;
                if n > 0 && tx.send((buf, n)).is_err() {
                    return Err((0, "stopped".into()));
                }
                if done {
                    drop(tx);
                    return Ok(rdr.into_inner().into_inner().finish());
                }
            }
        });
        let mut rows = 0u64;
        let mut failure: Option<LinkError> = None;
        for (buf, n) in rx {
            if failure.is_some() {
                continue;
            }
            let recs = &buf[..n];
            // Decode in parallel: per column, per record, the token bytes or
            // filter words (or nothing).
            // Decode in parallel over columns and over slices of records.
            let decoded: Result<Vec<Decoded>, LinkError> = plan
                .iter()
                .map(|(ci, name, how, _)| {
                    let parts: Result<Vec<Decoded>, LinkError> = recs
                        .par_chunks(4096)
                        .map(|part| decode_column(part, *ci, name, *how, width, &bad))
                        .collect();
                    parts.map(Decoded::concat)
                })
                .collect();
            let decoded = match decoded {
                Ok(d) => d,
                Err(e) => {
                    failure = Some(e);
                    continue;
                }
            };
            for r in recs {
                if r.len() != width {
                    failure = Some(bad(
                        r.position().map_or(0, |p| p.line()),
                        format!("has {} fields but the header has {width}", r.len()),
                    ));
                    break;
                }
                ids.push(&r[id_index]);
            }
            if failure.is_some() {
                continue;
            }
            for ((col, dec), (_, _, _, domain)) in out.iter_mut().zip(decoded).zip(&plan) {
                let d = domain.as_deref().unwrap_or("");
                intern_into(col, dec, d, dicts);
            }
            rows += n as u64;
            progress(rows);
            let _ = pool_tx.send(buf);
        }
        let (digest, bytes) = reader
            .join()
            .expect("reader thread")
            .map_err(|(line, message)| bad(line, message))?;
        // An altered file is reported as altered, even when the alteration
        // also broke its CSV.
        if crate::hex::encode(&digest) != manifest.data_sha256 || bytes != manifest.data_bytes {
            return Err(LinkError::Altered {
                path: path.to_path_buf(),
            });
        }
        if let Some(f) = failure {
            return Err(f);
        }
        Ok((rows, digest, bytes))
    });
    let (rows, _digest, _bytes) = reader_result?;
    if rows != manifest.counts.written {
        return Err(bad(
            0,
            format!(
                "holds {rows} records but its manifest says {}",
                manifest.counts.written
            ),
        ));
    }
    let columns = plan
        .into_iter()
        .map(|(_, name, _, _)| name)
        .zip(out)
        .collect();
    Ok(Dataset {
        path: path.to_path_buf(),
        manifest,
        ids,
        columns,
    })
}

enum Decoded {
    Tokens(Vec<Option<[u8; 32]>>),
    TokenSets(Vec<Vec<[u8; 32]>>),
    Blooms(Vec<Option<Vec<u64>>>),
    Text(Vec<Vec<u8>>),
}

impl Decoded {
    /// Joins the decoded slices of one column, in order.
    fn concat(parts: Vec<Decoded>) -> Decoded {
        let mut it = parts.into_iter();
        let Some(mut first) = it.next() else {
            return Decoded::Text(Vec::new());
        };
        for p in it {
            match (&mut first, p) {
                (Decoded::Tokens(a), Decoded::Tokens(b)) => a.extend(b),
                (Decoded::TokenSets(a), Decoded::TokenSets(b)) => a.extend(b),
                (Decoded::Blooms(a), Decoded::Blooms(b)) => a.extend(b),
                (Decoded::Text(a), Decoded::Text(b)) => a.extend(b),
                _ => unreachable!("one column decodes to one kind"),
            }
        }
        first
    }
}

fn decode_column(
    recs: &[ByteRecord],
    ci: usize,
    name: &str,
    how: Load,
    width: usize,
    bad: &(dyn Fn(u64, String) -> LinkError + Sync),
) -> Result<Decoded, LinkError> {
    fn line(r: &ByteRecord) -> u64 {
        r.position().map_or(0, |p| p.line())
    }
    let field = |r: &ByteRecord| -> Result<std::ops::Range<usize>, LinkError> {
        if r.len() != width {
            return Err(bad(
                line(r),
                format!("has {} fields but the header has {width}", r.len()),
            ));
        }
        Ok(r.range(ci).expect("checked width"))
    };
    Ok(match how {
        Load::Token => Decoded::Tokens(
            recs.iter()
                .map(|r| {
                    let f = &r.as_slice()[field(r)?];
                    if f.is_empty() {
                        return Ok(None);
                    }
                    let mut t = [0u8; 32];
                    if f.len() != 64 || crate::hex::decode_into(f, &mut t).is_err() {
                        return Err(bad(
                            line(r),
                            format!("column {name} is not a 64-character hex token"),
                        ));
                    }
                    Ok(Some(t))
                })
                .collect::<Result<_, _>>()?,
        ),
        Load::TokenSet => Decoded::TokenSets(
            recs.iter()
                .map(|r| {
                    let f = &r.as_slice()[field(r)?];
                    if f.is_empty() {
                        return Ok(Vec::new());
                    }
                    f.split(|&b| b == b';')
                        .map(|p| {
                            let mut t = [0u8; 32];
                            if p.len() != 64 || crate::hex::decode_into(p, &mut t).is_err() {
                                return Err(bad(
                                    line(r),
                                    format!("column {name} is not a list of hex tokens"),
                                ));
                            }
                            Ok(t)
                        })
                        .collect()
                })
                .collect::<Result<_, _>>()?,
        ),
        Load::Bloom(words) => Decoded::Blooms(
            recs.iter()
                .map(|r| {
                    let f = &r.as_slice()[field(r)?];
                    if f.is_empty() {
                        return Ok(None);
                    }
                    match crate::bloom::from_base64(f) {
                        Some(w) if w.len() == words => Ok(Some(w)),
                        _ => Err(bad(
                            line(r),
                            format!(
                                "column {name} is not a base64 Bloom filter of {} bits",
                                words * 64
                            ),
                        )),
                    }
                })
                .collect::<Result<_, _>>()?,
        ),
        Load::Text => Decoded::Text(
            recs.iter()
                .map(|r| {
                    let f = &r.as_slice()[field(r)?];
                    if std::str::from_utf8(f).is_err() {
                        return Err(bad(line(r), format!("column {name} is not valid UTF-8")));
                    }
                    Ok(f.to_vec())
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn intern_into(col: &mut Column, dec: Decoded, domain: &str, dicts: &mut Dictionaries) {
    match (col, dec) {
        (Column::Token { ids, .. }, Decoded::Tokens(v)) => {
            let dict = dicts.tokens.get_mut(domain).expect("dictionary");
            ids.extend(dict.intern_batch(&v));
        }
        (Column::TokenSet { ends, ids, .. }, Decoded::TokenSets(v)) => {
            let dict = dicts.tokens.get_mut(domain).expect("dictionary");
            for set in v {
                ids.extend(set.iter().map(|t| dict.intern(t)));
                ends.push(ids.len() as u32);
            }
        }
        (Column::Bloom { ids, .. }, Decoded::Blooms(v)) => {
            let dict = dicts.blooms.get_mut(domain).expect("dictionary");
            ids.extend(
                v.iter()
                    .map(|f| f.as_ref().map_or(NONE, |f| dict.intern(f))),
            );
        }
        (Column::Text(s), Decoded::Text(v)) => {
            for x in v {
                s.push(&x);
            }
        }
        _ => unreachable!("decoded as planned"),
    }
}
