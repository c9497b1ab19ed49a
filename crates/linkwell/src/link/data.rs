//! Loading encoded files in the TRE: manifest checks, SHA-256 verification,
//! and tokens interned into dense ids.
//!
//! Every token column is interned per comparison domain into `u32` ids, in
//! one dictionary shared by both files, so equal tokens get equal ids and a
//! match key is a tuple of small integers. A token's first eight bytes are
//! already a uniformly random hash (tokens are HMAC outputs), so the
//! dictionary hashes nothing unless a file's tokens turn out not to be
//! random ([`keyed_hash`]); the full 32 bytes are compared on a hit. Bloom
//! filters are interned too (equal values give equal filters), so each
//! distinct filter is stored once.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::io::IoError;
use crate::manifest::{Manifest, ManifestError};

use super::LinkError;

/// The id of an absent value.
pub const NONE: u32 = u32::MAX;

/// Shards of a token dictionary: tokens are spread over them by their last
/// byte (slots are chosen by the first eight), and a batch is interned with
/// one thread per shard.
const SHARDS: usize = 64;

/// Tokens interned together: their table slots are read first, all at
/// once, so that the cache misses of a group overlap instead of coming one
/// after another (a dictionary of ten million tokens is far larger than
/// the caches, so nearly every lookup misses).
const GROUP: usize = 16;

/// One shard: an open-addressing table (linear probing) of local ids, and
/// the tokens by local id. A slot holds `tag << 32 | (local + 1)`, 0 when
/// empty, where the tag is a token's bytes 8..12: a slot whose tag differs
/// is passed over without reading the token, so a lookup usually reads one
/// slot, and a token only on a hit, to compare all 32 bytes.
#[derive(Default)]
struct Shard {
    slots: Vec<u64>,
    tokens: Vec<[u8; 32]>,
    /// Set when a lookup ran past [`LONGEST_PROBE`] slots: slots are then
    /// chosen by [`keyed_hash`] under this key.
    key: Option<[u64; 2]>,
}

/// A probe this long (at most half full, honest tokens make runs of a few
/// dozen at the very most) means tokens that share their first eight bytes:
/// the shard switches to a keyed hash.
const LONGEST_PROBE: usize = 256;

/// A token's first eight bytes: tokens are HMAC outputs, uniformly random,
/// so these already make a good hash.
#[inline]
fn prefix(t: &[u8; 32]) -> u64 {
    u64::from_le_bytes(t[..8].try_into().expect("eight bytes"))
}

/// Words folded under a random key, each by a 64×64→128-bit multiply whose
/// halves are XORed (the mixing step of wyhash). The token dictionary uses
/// it only once a shard has seen tokens that share their first eight bytes
/// — crafted or broken files from outside the TRE, which would otherwise
/// pile into one run of slots and make interning quadratic — and the Bloom
/// dictionary for every filter. Under a key they do not know, inputs cannot
/// be made to collide. Ids never depend on it: they follow the order values
/// are first seen.
#[inline]
fn keyed_hash(words: impl IntoIterator<Item = u64>, key: &[u64; 2]) -> u64 {
    let mum = |a: u64, b: u64| {
        let p = u128::from(a) * u128::from(b);
        (p as u64) ^ ((p >> 64) as u64)
    };
    let h = words
        .into_iter()
        .fold(key[0], |h, w| mum(h ^ w, key[1] | 1));
    // A last multiply spreads every input bit over the low bits that pick
    // a slot (without it, tokens differing only in their last bytes took
    // 2,700 of 8,192 slots where random ones take 3,200).
    mum(h, 0x9E37_79B9_7F4A_7C15)
}

/// A token as four words, for [`keyed_hash`].
#[inline]
fn words(t: &[u8; 32]) -> [u64; 4] {
    std::array::from_fn(|i| u64::from_le_bytes(t[8 * i..8 * i + 8].try_into().expect("eight")))
}

#[inline]
fn tag(t: &[u8; 32]) -> u64 {
    u64::from(u32::from_le_bytes(t[8..12].try_into().expect("four bytes")))
}

impl Shard {
    /// The first slot to probe for `t`.
    #[inline]
    fn home(&self, t: &[u8; 32]) -> usize {
        let h = match &self.key {
            None => prefix(t),
            Some(k) => keyed_hash(words(t), k),
        };
        h as usize & (self.slots.len() - 1)
    }

    /// Makes room for `n` more tokens.
    fn reserve(&mut self, n: usize) {
        self.tokens.reserve(n);
        self.fit(self.tokens.len() + n);
    }

    /// Sizes the table for `total` tokens at most half full: the smallest
    /// power of two that does, so that growing one token past it doubles.
    fn fit(&mut self, total: usize) {
        let want = (total * 2).next_power_of_two().max(16);
        if want > self.slots.len() {
            self.rehash(want);
        }
    }

    /// Rebuilds the table with `size` slots (a power of two).
    fn rehash(&mut self, size: usize) {
        // Zeroed by writing, not by `vec!` (calloc): lookups read slots
        // before anything is written there, and a read maps a fresh page to
        // the shared zero page, so its first write would then fault again
        // and flush the other cores' TLBs.
        self.slots = Vec::with_capacity(size);
        self.slots.resize(size, 0);
        let mask = size - 1;
        for local in 0..self.tokens.len() {
            let t = &self.tokens[local];
            let mut i = self.home(t);
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = tag(t) << 32 | (local as u64 + 1);
        }
    }

    /// The local id of `t`, assigned on first sight.
    #[inline]
    fn intern(&mut self, t: &[u8; 32]) -> u32 {
        self.fit(self.tokens.len() + 1);
        self.intern_from(t, self.home(t))
    }

    /// [`Shard::intern`] given `t`'s home slot, with room for it.
    #[inline]
    fn intern_from(&mut self, t: &[u8; 32], home: usize) -> u32 {
        if let Some(local) = self.probe(t, home, LONGEST_PROBE) {
            return local;
        }
        if self.key.is_none() {
            self.switch_to_keyed();
        }
        let home = self.home(t);
        self.probe(t, home, usize::MAX)
            .expect("a table at most half full has an empty slot")
    }

    /// Looks `t` up from slot `home`, inserting it at the first empty slot;
    /// `None` if neither comes within `limit` slots.
    #[inline(always)]
    fn probe(&mut self, t: &[u8; 32], home: usize, limit: usize) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let want = tag(t);
        let mut i = home;
        for _ in 0..limit {
            let s = self.slots[i];
            if s == 0 {
                let local = self.tokens.len();
                self.tokens.push(*t);
                self.slots[i] = want << 32 | (local as u64 + 1);
                return Some(local as u32);
            }
            if s >> 32 == want {
                let local = (s as u32 - 1) as usize;
                if self.tokens[local] == *t {
                    return Some(local as u32);
                }
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Chooses slots by [`keyed_hash`] from now on, under a new random key.
    #[cold]
    fn switch_to_keyed(&mut self) {
        self.key = Some(rand::random());
        self.rehash(self.slots.len());
    }

    /// Interns `tokens[i]` for each `i` of `idx`, in order; their local ids.
    fn intern_all(&mut self, tokens: &[Option<&[u8; 32]>], idx: &[u32]) -> Vec<u32> {
        let get = |i: u32| tokens[i as usize].expect("bucketed");
        let mut out = Vec::with_capacity(idx.len());
        for group in idx.chunks(GROUP) {
            // Room for the whole group first, so that its home slots hold
            // while it is interned.
            self.fit(self.tokens.len() + group.len());
            // Touch each token's home slot, then the token a matching tag
            // there points to; both loops' loads are independent of one
            // another, so their misses overlap. Then intern for real.
            let keyed = self.key.is_some();
            let mut homes = [0usize; GROUP];
            let mut seen = [0u64; GROUP];
            let mut touched = 0u64;
            for (k, &i) in group.iter().enumerate() {
                homes[k] = self.home(get(i));
                seen[k] = self.slots[homes[k]];
                touched ^= seen[k];
            }
            for (k, &i) in group.iter().enumerate() {
                let s = seen[k];
                if s != 0 && s >> 32 == tag(get(i)) {
                    touched ^= u64::from(self.tokens[(s as u32 - 1) as usize][0]);
                }
            }
            std::hint::black_box(touched);
            for (&i, home) in group.iter().zip(homes) {
                // Homes computed before a switch to the keyed hash are
                // stale: look those up afresh.
                let home = if keyed == self.key.is_some() {
                    home
                } else {
                    self.home(get(i))
                };
                out.push(self.intern_from(get(i), home));
            }
        }
        out
    }
}

/// One domain's token dictionary. A token's id is `local * 64 + shard`:
/// ids are small and stable (they depend only on the order tokens are first
/// seen, never on threads), though not dense.
///
/// Tokens are HMAC outputs, uniformly random, so the table hashes nothing:
/// a token's first eight bytes choose its slot, unless a shard meets tokens
/// that share them ([`keyed_hash`]).
#[derive(Default)]
pub struct TokenDict {
    shards: Vec<Shard>,
}

#[inline]
fn shard_of(t: &[u8; 32]) -> usize {
    usize::from(t[31]) % SHARDS
}

impl TokenDict {
    fn shards(&mut self) -> &mut [Shard] {
        if self.shards.is_empty() {
            self.shards = (0..SHARDS).map(|_| Shard::default()).collect();
        }
        &mut self.shards
    }

    /// The id of `token`, assigned on first sight.
    #[inline]
    pub fn intern(&mut self, token: &[u8; 32]) -> u32 {
        let s = shard_of(token);
        self.shards()[s].intern(token) * SHARDS as u32 + s as u32
    }

    /// Interns a batch in parallel, in order: `None` becomes [`NONE`].
    pub fn intern_batch(&mut self, tokens: &[Option<&[u8; 32]>]) -> Vec<u32> {
        let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); SHARDS];
        for (i, t) in tokens.iter().enumerate() {
            if let Some(t) = t {
                buckets[shard_of(t)].push(i as u32);
            }
        }
        let locals: Vec<Vec<u32>> = self
            .shards()
            .par_iter_mut()
            .zip(buckets.par_iter())
            .map(|(shard, idx)| shard.intern_all(tokens, idx))
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
        for m in self.shards() {
            m.reserve(n / SHARDS + 1);
        }
    }

    /// Number of distinct tokens.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|m| m.tokens.len()).sum()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One domain's Bloom-filter dictionary: each distinct filter stored once,
/// found by [`keyed_hash`] of its words (hashed once per filter; SipHash of
/// a 1024-bit filter, twice for a new one, had been 2% of a 1M link's CPU).
pub struct BloomDict {
    words: usize,
    table: hashbrown::HashTable<u32>,
    store: Vec<u64>,
    /// Bits set in each filter, for Dice without counting them per pair.
    ones: Vec<u32>,
    key: [u64; 2],
}

/// Filter `id` of a store of filters `words` long.
#[inline]
fn filter_at(store: &[u64], words: usize, id: u32) -> &[u64] {
    let s = id as usize * words;
    &store[s..s + words]
}

impl BloomDict {
    fn new(words: usize) -> BloomDict {
        BloomDict {
            words,
            table: hashbrown::HashTable::new(),
            store: Vec::new(),
            ones: Vec::new(),
            key: rand::random(),
        }
    }

    fn intern(&mut self, filter: &[u64]) -> u32 {
        let BloomDict {
            words,
            table,
            store,
            ones,
            key,
        } = self;
        let words = *words;
        let hash = |f: &[u64]| keyed_hash(f.iter().copied(), key);
        let h = hash(filter);
        if let Some(&id) = table.find(h, |&id| filter_at(store, words, id) == filter) {
            return id;
        }
        let id = (store.len() / words) as u32;
        table.insert_unique(h, id, |&id| hash(filter_at(store, words, id)));
        store.extend_from_slice(filter);
        ones.push(crate::bloom::ones(filter));
        id
    }

    /// The number of bits set in filter `id`.
    #[inline]
    pub fn ones(&self, id: u32) -> u32 {
        self.ones[id as usize]
    }

    /// The filter with this id.
    #[inline]
    pub fn get(&self, id: u32) -> &[u64] {
        filter_at(&self.store, self.words, id)
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

    /// Appends values stored end to end in `data`, ending at `ends`.
    fn append(&mut self, data: &[u8], ends: &[u32]) {
        let base = self.data.len() as u64;
        self.data.extend_from_slice(data);
        self.ends.extend(ends.iter().map(|&e| base + u64::from(e)));
    }

    /// The `i`th value.
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        // Values are pushed from UTF-8-validated fields only (ids and text
        // are checked on loading).
        std::str::from_utf8(self.bytes(i)).unwrap_or("")
    }

    /// The `i`th value's bytes, for writing out without checking them
    /// again (8.9M rows of a link table had spent 3% of a join's CPU
    /// validating ids already validated on loading).
    #[inline]
    pub fn bytes(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
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
    /// Takes out the encoded columns (token and Bloom ids), leaving ids and
    /// text: what writing the outputs needs.
    pub fn take_encoded(&mut self) -> Vec<Column> {
        let names: Vec<String> = self
            .columns
            .iter()
            .filter(|(_, c)| c.domain().is_some())
            .map(|(n, _)| n.clone())
            .collect();
        names
            .iter()
            .filter_map(|n| self.columns.remove(n))
            .collect()
    }

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

/// A column to load: its index in the file, its name, how, and its
/// comparison domain.
type Planned = (usize, String, Load, Option<String>);

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
    let mut source = File::open(path).map_err(|e| IoError::new("cannot read", path, e))?;
    let bad = |line: u64, message: String| LinkError::BadData {
        path: path.to_path_buf(),
        line,
        message,
    };
    let read_err = |e: std::io::Error| LinkError::Io(IoError::new("cannot read", path, e));
    let block = block_size(manifest.data_bytes);
    // The header: read until the first record's end.
    let mut carry: Vec<u8> = Vec::new();
    let header_end = loop {
        if let Some(end) = first_record_end(&carry) {
            break end;
        }
        if read_block(&mut source, &mut carry, block).map_err(read_err)? == 0 {
            break carry.len();
        }
    };
    let header: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&carry[..header_end])
        .byte_records()
        .next()
        .transpose()
        .map_err(|e| bad(1, e.to_string()))?
        .map(|h| {
            h.iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let header_lines = newlines(&carry[..header_end]);
    // The file's SHA-256 is taken as it is read: the header here, each
    // block as the reader thread cuts it.
    let mut sha = Sha256::new();
    sha.update(&carry[..header_end]);
    let header_bytes = header_end as u64;
    carry.drain(..header_end);
    let expected: Vec<&str> = manifest.columns.iter().map(|c| c.name.as_str()).collect();
    if header != expected {
        return Err(bad(
            1,
            "the header does not match the manifest's columns: the file was altered or the manifest belongs to another file".into(),
        ));
    }
    let id_index = 0usize;
    // Which columns to load, and how.
    let mut plan: Vec<Planned> = Vec::new();
    for (i, c) in manifest.columns.iter().enumerate() {
        let wanted =
            columns.contains(&c.name) || (all_text && (c.role == "status" || c.role == "payload"));
        if !wanted || i == id_index {
            continue;
        }
        let how = match (c.role.as_str(), c.encoding.as_deref()) {
            ("encoding", Some("bloom")) => {
                let layout = manifest.bloom_layout(c);
                // The manifest is untrusted input too: parameters no
                // tokenise run can write are refused before they size
                // anything.
                if let Some(Err(e)) = layout.map(|b| b.validate()) {
                    return Err(bad(1, format!("column {}: {e}", c.name)));
                }
                let words = layout.map(|b| b.words()).ok_or_else(|| {
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
    // The fixed width of each column whose every value is checked
    // character by character as it is decoded (see `Flat::split`).
    let mut widths = vec![0usize; header.len()];
    for (i, _, how, _) in &plan {
        widths[*i] = match how {
            Load::Token => 64,
            Load::Bloom(words) => crate::bloom::base64_len(*words),
            Load::TokenSet | Load::Text => 0,
        };
    }
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
    for (_, name, how, domain) in &plan {
        let d = domain.clone().unwrap_or_default();
        match how {
            Load::Token | Load::TokenSet => {
                // Size for the worst case of every value distinct, so that
                // a large dictionary never rehashes (each rehash faults in
                // and zeroes a new, larger table).
                let dict = dicts.tokens.entry(d).or_default();
                if unique.contains(&d_name(domain)) {
                    // Room for as many distinct tokens as this file has
                    // rows, counting those the other file already gave (a
                    // second file of the same people adds few new ones;
                    // reserving its rows again would rehash every shard).
                    dict.reserve(expected_rows.saturating_sub(dict.len()));
                }
            }
            Load::Bloom(w) => {
                // One domain's filters are one length (the schema insists;
                // a manifest is checked here, as it is read from disk):
                // the dictionary stores and slices them by its length.
                let dict = dicts.blooms.entry(d).or_insert_with(|| BloomDict::new(*w));
                if dict.words() != *w {
                    return Err(bad(
                        1,
                        format!(
                            "column {name} has {}-bit Bloom filters, but its domain's other filters have {} bits: values in one domain must be encoded alike",
                            w * 64,
                            dict.words() * 64
                        ),
                    ));
                }
            }
            Load::Text => {}
        }
    }

    let rows = std::thread::scope(|scope| -> Result<u64, LinkError> {
        // The reader thread only reads, hashes and cuts the file into blocks
        // that end at a record boundary; parsing happens on all cores.
        // Parsed blocks come back to be read into again, so that reading
        // neither allocates nor faults in fresh pages.
        let (tx, rx) = mpsc::sync_channel::<(Vec<u8>, bool)>(2);
        let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
        let reader = scope.spawn(move || -> Result<([u8; 32], u64), std::io::Error> {
            let mut bytes = header_bytes;
            cut_blocks(
                &mut source,
                &mut carry,
                block,
                || free_rx.try_recv().ok(),
                |b, plain| {
                    sha.update(&b);
                    bytes += b.len() as u64;
                    tx.send((b, plain)).is_ok()
                },
            )?;
            drop(tx);
            Ok((sha.finalize().into(), bytes))
        });
        let mut rows = 0u64;
        // The line the next block starts on.
        let mut line = 1 + header_lines;
        let mut failure: Option<LinkError> = None;
        // Parsing block N+1 overlaps with interning block N (interning is
        // partly serial), so both cores stay busy.
        let mut pending: Option<Vec<Slice>> = None;
        let mut absorb = |parts: Vec<Slice>| {
            let mut columns: Vec<Vec<Decoded>> = plan.iter().map(|_| Vec::new()).collect();
            let mut id_parts = Vec::with_capacity(parts.len());
            for part in parts {
                rows += part.rows;
                id_parts.push((part.id_bytes, part.id_ends));
                for (c, d) in columns.iter_mut().zip(part.decoded) {
                    c.push(d);
                }
            }
            // Appending the ids is serial copying into fresh memory (0.3 s
            // of a 10M join's loading): it runs beside the interning.
            rayon::join(
                || {
                    for (bytes, ends) in &id_parts {
                        ids.append(bytes, ends);
                    }
                },
                || {
                    for ((col, parts), (_, _, _, domain)) in out.iter_mut().zip(columns).zip(&plan)
                    {
                        let d = domain.as_deref().unwrap_or("");
                        intern_into(col, parts, d, dicts);
                    }
                },
            );
            progress(rows);
        };
        for (block, plain) in rx {
            if failure.is_some() {
                continue;
            }
            // Parse and decode slices of the block in parallel, each slice's
            // records decoded while they are still in cache. Lines are
            // counted from each slice's start, and made absolute here.
            let parse = || -> Vec<Result<Slice, BadLine>> {
                split_block(&block, 1 << 20, plain)
                    .par_iter()
                    .map(|&(s, e)| parse_slice(&block[s..e], plain, &widths, id_index, &plan))
                    .collect()
            };
            let previous = pending.take();
            let (parts, ()) = rayon::join(parse, || {
                if let Some(p) = previous {
                    absorb(p);
                }
            });
            let _ = free_tx.send(block);
            let mut slices = Vec::with_capacity(parts.len());
            for part in parts {
                match part {
                    Ok(p) => {
                        line += p.lines;
                        slices.push(p);
                    }
                    Err(e) => {
                        failure = Some(bad(line + e.line, e.message));
                        break;
                    }
                }
            }
            if failure.is_none() {
                pending = Some(slices);
            }
        }
        if failure.is_none() {
            if let Some(p) = pending.take() {
                absorb(p);
            }
        }
        let (digest, bytes) = reader.join().expect("reader thread").map_err(read_err)?;
        // An altered file is reported as altered, even when the alteration
        // also broke its CSV.
        if crate::hex::encode(&digest) != manifest.data_sha256 || bytes != manifest.data_bytes {
            return Err(LinkError::Altered {
                path: path.to_path_buf(),
            });
        }
        match failure {
            Some(f) => Err(f),
            None => Ok(rows),
        }
    })?;
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

/// Bytes read from the file at a time.
const BLOCK: usize = 8 << 20;

/// The block size for a file the manifest says is `data_bytes` long:
/// [`BLOCK`], or less for a small file, so that loading a small file does
/// not zero 8 MB per block (it made the `encoded_file` fuzz target run 180
/// inputs a second). At least 64 KiB, so that a manifest understating the
/// size (refused as altered at the end anyway) cannot make the reads tiny.
fn block_size(data_bytes: u64) -> usize {
    usize::try_from(data_bytes)
        .map_or(BLOCK, |n| n.saturating_add(1))
        .clamp(64 << 10, BLOCK)
}

/// Reads up to `n` more bytes onto the end of `buf`; 0 at end of file.
fn read_block(src: &mut impl Read, buf: &mut Vec<u8>, n: usize) -> std::io::Result<usize> {
    // `read_to_end` reads into the spare capacity without zeroing it
    // first (zeroing every block cost 3% of a link's CPU).
    buf.reserve(n);
    Read::by_ref(src).take(n as u64).read_to_end(buf)
}

/// Reads `src` to its end in blocks of about `block` bytes that each end
/// at a record boundary, after whatever `carry` already holds; hands each
/// to `send`, with whether it is plain (holds no quote or carriage return,
/// as linkwell writes encoded files unless an id or payload value needs
/// quoting), until `send` says stop. Buffers from `recycle`, when it has
/// one, are read into before new ones are allocated.
fn cut_blocks(
    src: &mut impl Read,
    carry: &mut Vec<u8>,
    block: usize,
    mut recycle: impl FnMut() -> Option<Vec<u8>>,
    mut send: impl FnMut(Vec<u8>, bool) -> bool,
) -> std::io::Result<()> {
    loop {
        let n = read_block(src, carry, block)?;
        // One vectorised scan serves both the cut and the parser.
        let plain = memchr::memchr2(b'"', b'\r', carry).is_none();
        let cut = if n == 0 {
            carry.len()
        } else {
            match last_record_end(carry, plain) {
                Some(c) => c,
                None => continue, // one record longer than a block
            }
        };
        if cut > 0 {
            let mut rest = recycle().unwrap_or_default();
            rest.clear();
            rest.reserve(carry.len() - cut + block);
            rest.extend_from_slice(&carry[cut..]);
            carry.truncate(cut);
            let whole = std::mem::replace(carry, rest);
            if !send(whole, plain) {
                return Ok(());
            }
        }
        if n == 0 {
            return Ok(());
        }
    }
}

/// Number of line feeds.
fn newlines(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

/// The end (one past the line feed) of the first record, if `b` holds a
/// whole one: the first line feed outside quotes.
fn first_record_end(b: &[u8]) -> Option<usize> {
    let mut quoted = false;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The end of the last whole record in `b` (which starts at a record
/// boundary): the last line feed outside quotes. Encoded files rarely hold
/// a quote (only ids and payload can), so the common case, `plain` (known
/// to hold none), is one reverse search.
fn last_record_end(b: &[u8], plain: bool) -> Option<usize> {
    if plain || memchr::memchr(b'"', b).is_none() {
        return b.iter().rposition(|&c| c == b'\n').map(|i| i + 1);
    }
    let mut quoted = false;
    let mut last = None;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => last = Some(i + 1),
            _ => {}
        }
    }
    last
}

/// Cuts a block into slices of about `target` bytes at record boundaries.
/// A block holding quotes is one slice (a quoted field may hold a line
/// feed); a `plain` one holds none.
fn split_block(block: &[u8], target: usize, plain: bool) -> Vec<(usize, usize)> {
    if block.len() <= target || (!plain && memchr::memchr(b'"', block).is_some()) {
        return vec![(0, block.len())];
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < block.len() {
        let mut end = (start + target).min(block.len());
        if end < block.len() {
            end = match memchr::memchr(b'\n', &block[end..]) {
                Some(k) => end + k + 1,
                None => block.len(),
            };
        }
        out.push((start, end));
        start = end;
    }
    out
}

/// A malformed record: its line counted from the start of its slice (0 for
/// the slice's first line), and what is wrong.
struct BadLine {
    line: u64,
    message: String,
}

/// One parsed and decoded slice of a block.
struct Slice {
    rows: u64,
    /// Line feeds in the slice.
    lines: u64,
    id_bytes: Vec<u8>,
    /// Where each id ends in `id_bytes`.
    id_ends: Vec<u32>,
    decoded: Vec<Decoded>,
}

/// Records parsed into one flat buffer: no allocation per record.
struct Flat<'a> {
    /// The fields' bytes: the input itself when it holds no quotes, else
    /// csv-core's unquoted copy.
    data: Cow<'a, [u8]>,
    /// Bytes between one field's end and the next field's start: 1 (the
    /// comma) in the input, 0 in csv-core's copy.
    sep: usize,
    /// Absolute end offsets in `data` of every field of every record.
    ends: Vec<usize>,
    /// Per record: (start in `data`, first index in `ends`, field count,
    /// line).
    recs: Vec<(usize, usize, usize, u64)>,
}

impl<'a> Flat<'a> {
    fn len(&self) -> usize {
        self.recs.len()
    }
    fn fields(&self, r: usize) -> usize {
        self.recs[r].2
    }
    fn line(&self, r: usize) -> u64 {
        self.recs[r].3
    }
    #[inline]
    fn field(&self, r: usize, c: usize) -> &[u8] {
        let (start, ei, _, _) = self.recs[r];
        let s = if c == 0 {
            start
        } else {
            self.ends[ei + c - 1] + self.sep
        };
        &self.data[s..self.ends[ei + c]]
    }

    /// Parses `bytes` (whole records), numbering lines from 0; with the
    /// number of line feeds in `bytes`. When `plain` (no quote or carriage
    /// return: see [`split_block`]), fields are found by searching for
    /// commas and line feeds, and stay where they are; otherwise csv-core
    /// parses them. `widths` as for [`Flat::split`].
    fn parse(bytes: &'a [u8], plain: bool, widths: &[usize]) -> Result<(Flat<'a>, u64), BadLine> {
        if plain {
            Ok(Flat::split(bytes, widths))
        } else {
            Flat::parse_csv(bytes)
        }
    }

    /// Splits `bytes`, which holds no quote or carriage return, at commas
    /// and line feeds, skipping blank lines as csv-core does.
    ///
    /// `widths[c]`, when not 0, is the one length a non-empty field `c`
    /// can have (a hex token, a base64 filter) in a column whose every
    /// value is then checked character by character, commas and line feeds
    /// refused: such a field is stepped over rather than searched, when a
    /// comma or line feed sits just past it. If the field was in truth
    /// shorter, the span stepped over holds a comma or line feed, and the
    /// check of that column refuses it: a bad file is never read as a good
    /// one. (Searching every field was 9% of loading a 1M-record file.)
    fn split(bytes: &'a [u8], widths: &[usize]) -> (Flat<'a>, u64) {
        let mut ends = Vec::with_capacity(bytes.len() / 16);
        let mut recs = Vec::with_capacity(bytes.len() / 64);
        let (mut start, mut first, mut line) = (0usize, 0usize, 0u64);
        let mut at = 0usize;
        let delimiter = |b: u8| b == b',' || b == b'\n';
        while at < bytes.len() {
            let w = widths.get(ends.len() - first).copied().unwrap_or(0);
            let i = if w > 0
                && !delimiter(bytes[at])
                && bytes.get(at + w).is_some_and(|&b| delimiter(b))
            {
                at + w
            } else {
                // Most other fields (ids, statuses) are short: a plain look
                // at their first bytes beats setting up a vector search.
                let rest = &bytes[at..];
                let head = rest.len().min(16);
                match rest[..head].iter().position(|&b| delimiter(b)) {
                    Some(k) => at + k,
                    None => match memchr::memchr2(b',', b'\n', &rest[head..]) {
                        Some(k) => at + head + k,
                        None => break,
                    },
                }
            };
            at = i + 1;
            if bytes[i] == b',' {
                ends.push(i);
                continue;
            }
            if i > start || ends.len() > first {
                ends.push(i);
                recs.push((start, first, ends.len() - first, line));
                first = ends.len();
            }
            start = i + 1;
            line += 1;
        }
        if start < bytes.len() || ends.len() > first {
            ends.push(bytes.len());
            recs.push((start, first, ends.len() - first, line));
        }
        let f = Flat {
            data: Cow::Borrowed(bytes),
            sep: 1,
            ends,
            recs,
        };
        (f, line)
    }

    /// [`Flat::parse`] by csv-core, for input with quotes or carriage
    /// returns.
    fn parse_csv(bytes: &'a [u8]) -> Result<(Flat<'a>, u64), BadLine> {
        use csv_core::ReadRecordResult as R;
        let mut rdr = csv_core::ReaderBuilder::new().build();
        let mut data = vec![0; bytes.len() + 64];
        let mut f = Flat {
            data: Cow::Borrowed(&[]),
            sep: 0,
            ends: vec![0; 4096],
            recs: Vec::new(),
        };
        let (mut inp, mut out, mut nends) = (0usize, 0usize, 0usize);
        // A record's line is that of its first byte, after any blank
        // lines. csv-core's own count of line feeds is not that with quotes
        // (it skips those inside them) or carriage returns (it may stop
        // between one and its line feed), which is why this path runs, so
        // the line feeds are counted here.
        let (mut counted, mut line) = (0usize, 0u64);
        loop {
            let mut k = inp;
            while matches!(bytes.get(k), Some(b'\r' | b'\n')) {
                k += 1;
            }
            line += newlines(&bytes[counted..k]);
            counted = k;
            let (rec_start, rec_ends) = (out, nends);
            loop {
                let input = &bytes[inp..];
                let (res, nin, nout, nend) =
                    rdr.read_record(input, &mut data[out..], &mut f.ends[nends..]);
                // csv-core gives field ends relative to the record's start.
                for e in &mut f.ends[nends..nends + nend] {
                    *e += rec_start;
                }
                inp += nin;
                out += nout;
                nends += nend;
                match res {
                    R::InputEmpty => {
                        if input.is_empty() {
                            return Err(BadLine {
                                line,
                                message: "unexpected end of data".into(),
                            });
                        }
                    }
                    R::OutputFull => {
                        let n = data.len();
                        data.resize(n * 2, 0);
                    }
                    R::OutputEndsFull => {
                        let n = f.ends.len();
                        f.ends.resize(n * 2, 0);
                    }
                    R::Record => {
                        f.recs.push((rec_start, rec_ends, nends - rec_ends, line));
                        break;
                    }
                    R::End => {
                        data.truncate(out);
                        f.data = Cow::Owned(data);
                        return Ok((f, newlines(bytes)));
                    }
                }
            }
        }
    }
}

fn parse_slice(
    bytes: &[u8],
    plain: bool,
    widths: &[usize],
    id_index: usize,
    plan: &[Planned],
) -> Result<Slice, BadLine> {
    let once = |widths: &[usize]| -> Result<Slice, BadLine> {
        let width = widths.len();
        let (recs, lines) = Flat::parse(bytes, plain, widths)?;
        let mut id_bytes = Vec::with_capacity(recs.len() * 16);
        let mut id_ends = Vec::with_capacity(recs.len());
        for r in 0..recs.len() {
            if recs.fields(r) != width {
                return Err(BadLine {
                    line: recs.line(r),
                    message: format!("has {} fields but the header has {width}", recs.fields(r)),
                });
            }
            id_bytes.extend_from_slice(recs.field(r, id_index));
            id_ends.push(id_bytes.len() as u32);
        }
        // Ids are written back out as text: checked as UTF-8 once for the
        // whole slice, and record by record only to say which one is not.
        if std::str::from_utf8(&id_bytes).is_err() {
            let mut start = 0;
            for (r, &end) in id_ends.iter().enumerate() {
                if std::str::from_utf8(&id_bytes[start..end as usize]).is_err() {
                    return Err(BadLine {
                        line: recs.line(r),
                        message: "its id is not valid UTF-8: re-export the file as UTF-8".into(),
                    });
                }
                start = end as usize;
            }
        }
        let decoded = plan
            .iter()
            .map(|(ci, name, how, _)| decode_column(&recs, *ci, name, *how))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Slice {
            rows: recs.len() as u64,
            lines,
            id_bytes,
            id_ends,
            decoded,
        })
    };
    match once(widths) {
        // Stepping over a fixed-width field of a bad file can join two of
        // its lines (the file is refused either way): the slice is read
        // again field by field, so that the error names the line and the
        // fault a search finds.
        Err(e) if widths.iter().any(|&w| w > 0) => {
            Err(once(&vec![0; widths.len()]).err().unwrap_or(e))
        }
        parsed => parsed,
    }
}

enum Decoded {
    Tokens(Vec<Option<[u8; 32]>>),
    TokenSets(Vec<Vec<[u8; 32]>>),
    /// The filters records have, end to end, and which records have one:
    /// no allocation per record, and nothing stored for a record without
    /// (an empty field of a few bytes must not cost a whole filter).
    Blooms {
        flat: Vec<u64>,
        present: Vec<bool>,
    },
    Text(Vec<Vec<u8>>),
}

impl Decoded {
    /// Joins the decoded slices of one column, in order (token columns are
    /// interned from their slices instead, see [`intern_into`]).
    fn concat(parts: Vec<Decoded>) -> Decoded {
        let mut it = parts.into_iter();
        let Some(mut first) = it.next() else {
            return Decoded::Text(Vec::new());
        };
        for p in it {
            match (&mut first, p) {
                (Decoded::TokenSets(a), Decoded::TokenSets(b)) => a.extend(b),
                (
                    Decoded::Blooms { flat, present },
                    Decoded::Blooms {
                        flat: f,
                        present: p,
                    },
                ) => {
                    flat.extend(f);
                    present.extend(p);
                }
                (Decoded::Text(a), Decoded::Text(b)) => a.extend(b),
                _ => unreachable!("one column decodes to one kind"),
            }
        }
        first
    }
}

fn decode_column(recs: &Flat, ci: usize, name: &str, how: Load) -> Result<Decoded, BadLine> {
    let bad = |r: usize, message: String| BadLine {
        line: recs.line(r),
        message,
    };
    let field = |r: usize| recs.field(r, ci);
    Ok(match how {
        Load::Token => {
            let mut v = Vec::with_capacity(recs.len());
            for r in 0..recs.len() {
                let f = field(r);
                if f.is_empty() {
                    v.push(None);
                    continue;
                }
                match <&[u8; 64]>::try_from(f)
                    .ok()
                    .and_then(crate::hex::decode_token)
                {
                    Some(t) => v.push(Some(t)),
                    None => {
                        return Err(bad(
                            r,
                            format!("column {name} is not a 64-character hex token"),
                        ))
                    }
                }
            }
            Decoded::Tokens(v)
        }
        Load::TokenSet => Decoded::TokenSets(
            (0..recs.len())
                .map(|r| {
                    let f = field(r);
                    if f.is_empty() {
                        return Ok(Vec::new());
                    }
                    f.split(|&b| b == b';')
                        .map(|p| {
                            <&[u8; 64]>::try_from(p)
                                .ok()
                                .and_then(crate::hex::decode_token)
                                .ok_or_else(|| {
                                    bad(r, format!("column {name} is not a list of hex tokens"))
                                })
                        })
                        .collect()
                })
                .collect::<Result<_, _>>()?,
        ),
        Load::Bloom(words) => {
            let mut flat = Vec::new();
            let mut present = Vec::with_capacity(recs.len());
            let mut scratch = Vec::new();
            for r in 0..recs.len() {
                let f = field(r);
                let here = !f.is_empty();
                if here && !crate::bloom::append_from_base64(f, words, &mut scratch, &mut flat) {
                    return Err(bad(
                        r,
                        format!(
                            "column {name} is not a base64 Bloom filter of {} bits",
                            words * 64
                        ),
                    ));
                }
                present.push(here);
            }
            Decoded::Blooms { flat, present }
        }
        Load::Text => Decoded::Text(
            (0..recs.len())
                .map(|r| {
                    let f = field(r);
                    if std::str::from_utf8(f).is_err() {
                        return Err(bad(r, format!("column {name} is not valid UTF-8")));
                    }
                    Ok(f.to_vec())
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn intern_into(col: &mut Column, parts: Vec<Decoded>, domain: &str, dicts: &mut Dictionaries) {
    if let Column::Token { ids, .. } = col {
        // Tokens are interned from the slices where they were decoded.
        let tokens: Vec<Option<&[u8; 32]>> = parts
            .iter()
            .flat_map(|p| match p {
                Decoded::Tokens(v) => v.iter().map(Option::as_ref),
                _ => unreachable!("decoded as planned"),
            })
            .collect();
        let dict = dicts.tokens.get_mut(domain).expect("dictionary");
        ids.extend(dict.intern_batch(&tokens));
        return;
    }
    match (col, Decoded::concat(parts)) {
        (Column::TokenSet { ends, ids, .. }, Decoded::TokenSets(v)) => {
            let dict = dicts.tokens.get_mut(domain).expect("dictionary");
            for set in v {
                ids.extend(set.iter().map(|t| dict.intern(t)));
                ends.push(ids.len() as u32);
            }
        }
        (Column::Bloom { ids, .. }, Decoded::Blooms { flat, present }) => {
            let dict = dicts.blooms.get_mut(domain).expect("dictionary");
            let mut filters = flat.chunks_exact(dict.words());
            ids.extend(present.into_iter().map(|here| {
                if here {
                    dict.intern(filters.next().expect("one filter per record that has one"))
                } else {
                    NONE
                }
            }));
        }
        (Column::Text(s), Decoded::Text(v)) => {
            for x in v {
                s.push(&x);
            }
        }
        _ => unreachable!("decoded as planned"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Every record of `bytes` with its line, as the block reader sees it.
    fn via_blocks(bytes: &[u8], block: usize, target: usize) -> Vec<(Vec<Vec<u8>>, u64)> {
        let mut blocks = Vec::new();
        let mut carry = Vec::new();
        cut_blocks(
            &mut &bytes[..],
            &mut carry,
            block,
            || None,
            |b, plain| {
                assert!(!plain || memchr::memchr2(b'"', b'\r', &b).is_none());
                blocks.push((b, plain));
                true
            },
        )
        .unwrap();
        let mut out = Vec::new();
        let mut line = 1;
        for (b, plain) in blocks {
            for (s, e) in split_block(&b, target, plain) {
                let (f, lines) =
                    Flat::parse(&b[s..e], plain, &[]).unwrap_or_else(|e| panic!("{}", e.message));
                for r in 0..f.len() {
                    let fields = (0..f.fields(r)).map(|c| f.field(r, c).to_vec()).collect();
                    out.push((fields, line + f.line(r)));
                }
                line += lines;
            }
        }
        out
    }

    /// The same, as the csv crate reads it.
    fn via_csv(bytes: &[u8]) -> Vec<(Vec<Vec<u8>>, u64)> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        r.byte_records()
            .map(|rec| {
                let rec = rec.unwrap();
                // The line of the file the record starts on.
                // (csv's position may sit on the terminator before it.)
                let mut at = rec.position().unwrap().byte() as usize;
                while matches!(bytes.get(at), Some(b'\r' | b'\n')) {
                    at += 1;
                }
                let line = 1 + newlines(&bytes[..at]);
                (rec.iter().map(<[u8]>::to_vec).collect(), line)
            })
            .collect()
    }

    fn write(records: &[Vec<String>], crlf: bool) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .terminator(if crlf {
                csv::Terminator::CRLF
            } else {
                csv::Terminator::Any(b'\n')
            })
            .from_writer(Vec::new());
        for r in records {
            w.write_record(r).unwrap();
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn block_size_follows_small_files() {
        assert_eq!(block_size(0), 64 << 10);
        assert_eq!(block_size(1000), 64 << 10);
        assert_eq!(block_size(1 << 20), (1 << 20) + 1);
        assert_eq!(block_size(1 << 30), BLOCK);
        assert_eq!(block_size(u64::MAX), BLOCK);
    }

    #[test]
    fn an_id_that_is_not_utf8_is_refused_at_its_line() {
        let plan = [(1, "t".to_string(), Load::Text, None)];
        let ok = parse_slice(b"a,x\nb,y\n", true, &[0, 0], 0, &plan).map(|s| s.rows);
        assert_eq!(ok.ok(), Some(2));
        let bad = parse_slice(b"a,x\nb\xff,y\nc,z\n", true, &[0, 0], 0, &plan)
            .err()
            .expect("refused");
        assert_eq!(
            bad.line, 1,
            "the second record (lines count from 0 in a slice)"
        );
        assert!(bad.message.contains("UTF-8"), "{}", bad.message);
    }

    #[test]
    fn a_stepped_over_line_feed_does_not_move_the_error() {
        // "0123" is short: a token-wide step from it ends on the line feed
        // after "b,<57 digits>", joining lines 0 and 1. The error must be
        // the one a search finds: line 2, "c", has one field.
        let plan = [(1, "t".to_string(), Load::Token, None)];
        let mut text = b"a,0123\nb,".to_vec();
        text.extend_from_slice(&[b'f'; 57]);
        text.extend_from_slice(b"\nc\n");
        let (stepped, _) = Flat::split(&text, &[0, 64]);
        assert_eq!(
            stepped.field(0, 1).len(),
            64,
            "the step does join the lines"
        );
        let found = |widths: &[usize]| {
            let e = parse_slice(&text, true, widths, 0, &plan)
                .err()
                .expect("refused");
            (e.line, e.message)
        };
        let (line, message) = found(&[0, 64]);
        assert_eq!(line, 2);
        assert!(message.contains("has 1 fields"), "{message}");
        assert_eq!(found(&[0, 64]), found(&[0, 0]));
        // A good token there is read either way.
        let good = format!("a,{}\n", "0".repeat(64));
        let rows = parse_slice(good.as_bytes(), true, &[0, 64], 0, &plan).map(|s| s.rows);
        assert_eq!(rows.ok(), Some(1));
    }

    #[test]
    fn a_last_record_without_a_line_feed_is_read() {
        let got = via_blocks(b"a,b\nc,d", 3, 2);
        assert_eq!(got, via_csv(b"a,b\nc,d"));
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], (vec![b"c".to_vec(), b"d".to_vec()], 2));
    }

    #[test]
    fn blank_lines_are_skipped_and_counted() {
        for bytes in [
            &b"a,b\n\n\nc,d\n"[..],
            b"a,b\r\n\r\n\r\nc,d\r\n",
            b"\n\"a\",b\n\nc,d",
        ] {
            let got = via_blocks(bytes, 64, 64);
            assert_eq!(got, via_csv(bytes));
            assert_eq!(got.last().unwrap().1, 4);
        }
    }

    #[test]
    fn a_quoted_line_feed_does_not_end_a_record() {
        let bytes = b"id,x\n\"a\nb\",\"c,\"\"d\"\"\"\ne,f\n";
        let got = via_blocks(bytes, 4, 2);
        assert_eq!(got, via_csv(bytes));
        assert_eq!(got[1].0, vec![b"a\nb".to_vec(), b"c,\"d\"".to_vec()]);
        assert_eq!(got[2].1, 4);
    }

    /// Tokens that agree on all but their last bytes (as crafted ones
    /// could) spread over the slots under the keyed hash; a shard that
    /// meets them switches to it, and their ids still follow first sight.
    #[test]
    fn tokens_sharing_a_prefix_spread_over_the_slots() {
        let token = |i: u32| {
            let mut t = [7u8; 32];
            t[28..31].copy_from_slice(&i.to_le_bytes()[..3]);
            t[31] = 0; // all in shard 0
            t
        };
        let key = [0x243F_6A88_85A3_08D3, 0x1319_8A2E_0370_7344];
        let homes: std::collections::HashSet<u64> = (0..4096u32)
            .map(|i| keyed_hash(words(&token(i)), &key) & 8191)
            .collect();
        // 4096 random homes among 8192 give about 3,200 distinct ones.
        assert!(homes.len() > 3000, "{}", homes.len());
        let mut one = TokenDict::default();
        let mut many = TokenDict::default();
        let tokens: Vec<[u8; 32]> = (0..4096u32).map(token).collect();
        let refs: Vec<Option<&[u8; 32]>> = tokens.iter().map(Some).collect();
        let batched: Vec<u32> = refs
            .chunks(100)
            .flat_map(|c| many.intern_batch(c))
            .collect();
        for i in 0..4096u32 {
            assert_eq!(one.intern(&token(i)), i * 64);
            assert_eq!(batched[i as usize], i * 64);
        }
        for i in (0..4096u32).rev() {
            assert_eq!(one.intern(&token(i)), i * 64);
        }
        assert_eq!((one.len(), many.len()), (4096, 4096));
        assert!(one.shards[0].key.is_some() && many.shards[0].key.is_some());
        assert!(one.shards[1].key.is_none());
    }

    proptest! {
        /// Whatever the block and slice sizes, the block reader yields the
        /// records and line numbers the csv crate does.
        #[test]
        fn blocks_read_what_csv_reads(
            records in prop::collection::vec(
                prop::collection::vec("[ab,\"\n\r x]{0,6}", 1..4), 0..30),
            crlf in any::<bool>(),
            block in 1usize..64,
            target in 1usize..32,
        ) {
            let bytes = write(&records, crlf);
            prop_assert_eq!(via_blocks(&bytes, block, target), via_csv(&bytes));
        }

        /// Files without quotes or carriage returns, which are split
        /// without csv-core, read as the csv crate reads them too: blank
        /// lines, empty fields and a last line without a line feed.
        #[test]
        fn unquoted_blocks_read_what_csv_reads(
            bytes in prop::collection::vec(prop::sample::select(b"ab ,\n".to_vec()), 0..120),
            block in 1usize..64,
            target in 1usize..32,
        ) {
            prop_assert_eq!(via_blocks(&bytes, block, target), via_csv(&bytes));
        }

        /// The token dictionary gives each shard's tokens ids in the order
        /// first seen, whether interned one at a time or in batches, from
        /// an empty table (which grows) or a reserved one. Tokens share
        /// their slot-choosing prefix, tag and shard byte often, so that
        /// probing and the full comparison are exercised.
        #[test]
        fn token_ids_follow_first_sight(
            picks in prop::collection::vec(
                (0u8..4, 0u8..3, 0u8..2, 0u8..3, any::<bool>()), 0..400),
            reserve in 0usize..2000,
            batch in 1usize..50,
        ) {
            let token = |&(a, b, c, tail, _): &(u8, u8, u8, u8, bool)| {
                let mut t = [0u8; 32];
                t[0] = a;
                t[8] = b;
                t[31] = c;
                t[20] = tail;
                t
            };
            let tokens: Vec<Option<[u8; 32]>> =
                picks.iter().map(|p| (!p.4).then(|| token(p))).collect();
            let mut want_maps: Vec<HashMap<[u8; 32], u32>> = vec![HashMap::new(); SHARDS];
            let want: Vec<u32> = tokens
                .iter()
                .map(|t| match t {
                    None => NONE,
                    Some(t) => {
                        let s = shard_of(t);
                        let m = &mut want_maps[s];
                        let next = m.len() as u32;
                        *m.entry(*t).or_insert(next) * SHARDS as u32 + s as u32
                    }
                })
                .collect();
            let mut one = TokenDict::default();
            let singly: Vec<u32> = tokens
                .iter()
                .map(|t| t.as_ref().map_or(NONE, |t| one.intern(t)))
                .collect();
            prop_assert_eq!(&singly, &want);
            let mut many = TokenDict::default();
            many.reserve(reserve);
            let refs: Vec<Option<&[u8; 32]>> = tokens.iter().map(Option::as_ref).collect();
            let batched: Vec<u32> = refs.chunks(batch).flat_map(|c| many.intern_batch(c)).collect();
            prop_assert_eq!(&batched, &want);
            let distinct: usize = want_maps.iter().map(HashMap::len).sum();
            prop_assert_eq!(many.len(), distinct);
            prop_assert_eq!(one.len(), distinct);
        }

        /// The Bloom dictionary gives equal filters one id and distinct
        /// ones new ids in first-seen order, and gives each filter back.
        #[test]
        fn bloom_ids_follow_first_sight(
            picks in prop::collection::vec((0u64..6, 0usize..4), 0..200),
        ) {
            let v_ones = |f: &[u64]| f.iter().map(|w| w.count_ones()).sum::<u32>();
            let filter = |(v, at): (u64, usize)| {
                let mut f = vec![0u64; 4];
                f[at] = v;
                f
            };
            let mut d = BloomDict::new(4);
            let mut seen: Vec<Vec<u64>> = Vec::new();
            for &p in &picks {
                let f = filter(p);
                let want = match seen.iter().position(|g| *g == f) {
                    Some(i) => i,
                    None => {
                        seen.push(f.clone());
                        seen.len() - 1
                    }
                };
                let id = d.intern(&f);
                prop_assert_eq!(id as usize, want);
                prop_assert_eq!(d.get(id), &f[..]);
                prop_assert_eq!(d.ones(id), v_ones(&f));
            }
            prop_assert_eq!(d.len(), seen.len());
        }

        /// Stepping over fixed-width fields finds the fields searching
        /// finds, unless a field of a fixed-width column then holds a comma
        /// or line feed, which that column's check refuses.
        #[test]
        fn stepping_over_fixed_widths_reads_what_searching_reads(
            recs in prop::collection::vec(prop::collection::vec(
                prop::sample::select(vec!["", "a", "aa", "aaa", "aaaa"]), 0..5), 0..12),
            widths in prop::collection::vec(prop::sample::select(vec![0usize, 2, 3]), 0..5),
            last_feed in any::<bool>(),
        ) {
            let mut text: String = recs.iter().map(|r| r.join(",") + "\n").collect();
            if !last_feed {
                text.pop();
            }
            let fields = |(f, lines): (Flat, u64)| {
                let recs: Vec<_> = (0..f.len())
                    .map(|r| (f.line(r), (0..f.fields(r)).map(|c| f.field(r, c).to_vec()).collect::<Vec<_>>()))
                    .collect();
                (recs, lines)
            };
            let want = fields(Flat::split(text.as_bytes(), &[]));
            let got = fields(Flat::split(text.as_bytes(), &widths));
            /// Records (line, fields) and the line feeds counted.
            type Read = (Vec<(u64, Vec<Vec<u8>>)>, u64);
            let valid = |(recs, _): &Read| recs.iter().all(|(_, r)| {
                r.iter().enumerate().all(|(c, f)| match widths.get(c) {
                    Some(&w) if w > 0 => f.is_empty() || (f.len() == w && !f.contains(&b',') && !f.contains(&b'\n')),
                    _ => true,
                })
            });
            if valid(&want) {
                prop_assert_eq!(&got, &want);
            }
            if got != want {
                prop_assert!(!valid(&got), "{:?} read as {:?}", want, got);
            }
        }

        /// Arbitrary bytes never panic the block reader, and it sees as many
        /// records as the csv crate.
        #[test]
        fn arbitrary_bytes_do_not_panic(bytes in prop::collection::vec(
            prop::sample::select(b"ab,\"\n\r".to_vec()), 0..80), block in 1usize..16) {
            let mut carry = Vec::new();
            let mut n = 0;
            let spare = std::cell::RefCell::new(Vec::new());
            cut_blocks(&mut &bytes[..], &mut carry, block, || spare.borrow_mut().pop(), |b, plain| {
                for (s, e) in split_block(&b, 4, plain) {
                    if let Ok((f, _)) = Flat::parse(&b[s..e], plain, &[1, 2]) {
                        n += f.len();
                    }
                }
                spare.borrow_mut().push(b);
                true
            }).unwrap();
            prop_assert!(n <= bytes.len() + 1);
        }
    }
}
