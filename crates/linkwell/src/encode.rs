//! Encoding records: a schema compiled against a secret and a header.
//!
//! ```
//! use linkwell::{encode::Encoder, schema::SchemaSpec, secret::Secret};
//! let secret = Secret::from_hex(b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").unwrap();
//! let header = ["id", "nhs_number", "given_name", "date_of_birth"];
//! let schema = SchemaSpec::default_for(&header).resolve(&header).unwrap();
//! let enc = Encoder::new(&secret, schema).unwrap();
//! let row = enc.encode_record(&["r1", "943 476 5919", "Zoë", "05/03/1980"]);
//! assert_eq!(row[0], "r1");
//! assert_eq!(row[1], "ee300ebd22e30c26fe84c28c76f903bfefc2422db9fc144b9d5470e19c2d7671");
//! assert_eq!(row[2], "valid");
//! ```

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::bloom::BloomKey;
use crate::nhs::NhsNumber;
use crate::normalise::date::{self, Date, DateFault, DateFormat};
use crate::normalise::{name, postcode, sex, text};
use crate::schema::{resolve_salt, Encoding, Field, Kind, Schema, SchemaError};
use crate::secret::{Fingerprint, Secret};
use crate::token::TokenKey;

/// Earliest plausible date of birth.
pub const EARLIEST_PLAUSIBLE_YEAR: u16 = 1880;

/// A field's value after normalisation.
#[derive(Clone)]
pub enum Normalised {
    /// NHS number.
    Nhs(NhsNumber),
    /// Name, text or identifier, normalised.
    Text(String),
    /// Date.
    Date(Date),
    /// Sex code (`1` or `2`).
    Sex(&'static str),
    /// Postcode.
    Postcode(postcode::Postcode),
}

impl Normalised {
    /// The normalised value that `token` encodes.
    pub fn as_value(&self) -> Cow<'_, str> {
        match self {
            Normalised::Nhs(n) => Cow::Borrowed(n.as_str()),
            Normalised::Text(s) => Cow::Borrowed(s),
            Normalised::Date(d) => Cow::Owned(d.to_string()),
            Normalised::Sex(s) => Cow::Borrowed(s),
            Normalised::Postcode(p) => Cow::Borrowed(p.as_str()),
        }
    }

    /// Calls `f` with [`Normalised::as_value`], a date's written on the
    /// stack instead of allocated (the Bloom and CLK paths, once a record).
    pub fn with_value<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        if let Normalised::Date(d) = self {
            if let Some(iso) = d.iso() {
                if let Ok(v) = std::str::from_utf8(&iso) {
                    return f(v);
                }
            }
        }
        f(&self.as_value())
    }

    /// The value a component encoding tokenises, when there is one.
    pub fn component(&self, e: Encoding) -> Option<Cow<'_, str>> {
        match (self, e) {
            (_, Encoding::Token) => Some(self.as_value()),
            (Normalised::Date(d), Encoding::Year) => Some(Cow::Owned(format!("{:04}", d.year))),
            (Normalised::Date(d), Encoding::Month) => Some(Cow::Owned(format!("{:02}", d.month))),
            (Normalised::Date(d), Encoding::Day) => Some(Cow::Owned(format!("{:02}", d.day))),
            (Normalised::Date(d), Encoding::DayMonthSwapped) => {
                d.day_month_swapped().map(|s| Cow::Owned(s.to_string()))
            }
            (Normalised::Postcode(p), Encoding::Sector) => Some(Cow::Borrowed(p.sector())),
            (Normalised::Postcode(p), Encoding::District) => Some(Cow::Borrowed(p.district())),
            (Normalised::Postcode(p), Encoding::Area) => Some(Cow::Borrowed(p.area())),
            (Normalised::Text(s), Encoding::Phonetic) => name::phonetic(s).map(Cow::Owned),
            (Normalised::Text(s), Encoding::Canonical) => Some(name::canonical(s)),
            (Normalised::Text(s), Encoding::Initial) => name::initial(s).map(Cow::Borrowed),
            (Normalised::Sex(s), Encoding::Code) => Some(Cow::Borrowed(s)),
            _ => None,
        }
    }
}

/// What [`Normalised::component`] gives for a date's `e`, written into
/// `buf` without allocating: `Some(Some(len))` for the value's length,
/// `Some(None)` when there is no value (a day-month swap that is not a
/// date), `None` when this path does not apply (another encoding, or a
/// date [`Date::iso`] cannot write).
fn date_component(d: Date, e: Encoding, buf: &mut [u8; 10]) -> Option<Option<usize>> {
    let part = |buf: &mut [u8; 10], from: usize, len: usize| {
        let iso = d.iso()?;
        buf[..len].copy_from_slice(&iso[from..from + len]);
        Some(Some(len))
    };
    match e {
        Encoding::Token => part(buf, 0, 10),
        Encoding::Year => part(buf, 0, 4),
        Encoding::Month => part(buf, 5, 2),
        Encoding::Day => part(buf, 8, 2),
        Encoding::DayMonthSwapped => match d.day_month_swapped() {
            None => Some(None),
            Some(s) => {
                *buf = s.iso()?;
                Some(Some(10))
            }
        },
        _ => None,
    }
}

/// The status of one field of one record: an index into
/// [`Kind::statuses`]. 0 is `valid`, 1 is `missing`.
pub type Status = u8;

/// Normalises a raw field value of `kind`.
///
/// # Errors
/// The status index (see [`Kind::statuses`]) when the value is missing or
/// invalid.
pub fn normalise(
    kind: Kind,
    raw: &str,
    formats: &[DateFormat],
    today: Date,
) -> Result<Normalised, Status> {
    if raw.trim().is_empty() {
        return Err(1);
    }
    match kind {
        Kind::NhsNumber => match NhsNumber::parse(raw) {
            Ok(n) => Ok(Normalised::Nhs(n)),
            Err(e) => {
                let k = e.kind();
                Err(Kind::NhsNumber
                    .statuses()
                    .iter()
                    .position(|s| *s == k)
                    .unwrap_or(1) as Status)
            }
        },
        Kind::Name => non_empty(name::normalise(raw)),
        Kind::Text => non_empty(text::normalise_text(raw)),
        Kind::Identifier => non_empty(text::normalise_identifier(raw)),
        Kind::Date => match date::parse(raw, formats) {
            Ok(d) if d.year < EARLIEST_PLAUSIBLE_YEAR || d > today => Err(4),
            Ok(d) => Ok(Normalised::Date(d)),
            Err(DateFault::Unparseable) => Err(2),
            Err(DateFault::Impossible) => Err(3),
        },
        Kind::Sex => match sex::normalise(raw) {
            sex::Sex::Unrecognised => Err(2),
            s => s.code().map(Normalised::Sex).ok_or(1),
        },
        Kind::Postcode => postcode::normalise(raw).map(Normalised::Postcode).ok_or(2),
    }
}

/// Age bands used by the `age_band` encoding.
pub const AGE_BANDS: &[(u16, &str)] = &[
    (0, "0-15"),
    (16, "16-24"),
    (25, "25-34"),
    (35, "35-44"),
    (45, "45-54"),
    (55, "55-64"),
    (65, "65+"),
];

/// The age band of someone born on `dob` at `today`.
pub fn age_band(dob: Date, today: Date) -> &'static str {
    let mut age = today.year.saturating_sub(dob.year);
    if (today.month, today.day) < (dob.month, dob.day) {
        age = age.saturating_sub(1);
    }
    AGE_BANDS
        .iter()
        .rev()
        .find(|(from, _)| age >= *from)
        .map_or("0-15", |(_, b)| b)
}

fn non_empty(s: String) -> Result<Normalised, Status> {
    if s.is_empty() {
        Err(1)
    } else {
        Ok(Normalised::Text(s))
    }
}

struct FieldEncoder {
    field: Field,
    formats: Vec<DateFormat>,
    /// One per encoding (None for bloom).
    keys: Vec<Option<TokenKey>>,
    /// One per encoding: for a date's year, month and day, the hex token
    /// of every value, computed once, so that the commonest components
    /// need no memo lookup (three a row in the default schema).
    tables: Vec<Option<Table>>,
    bloom: Option<BloomKey>,
    salt: Option<(usize, Option<Encoding>)>,
    /// The key of this field's part of the record-level filter.
    clk: Option<BloomKey>,
}

/// Per-record scratch of the record-level filter: the filter, and one
/// field's part of it.
#[derive(Default)]
struct ClkScratch {
    words: Vec<u64>,
    field: Vec<u64>,
}

/// A field's part of the record-level filter being built: the record's
/// filter, and scratch for the field's own bits.
struct ClkPart<'a> {
    words: &'a mut [u64],
    field: &'a mut Vec<u64>,
}

/// Hex tokens of the numbers `first..first + hex.len()`.
struct Table {
    first: u16,
    hex: Vec<[u8; 64]>,
}

impl Table {
    /// The table of a date component's tokens, or `None` for any other
    /// encoding. Years run from [`EARLIEST_PLAUSIBLE_YEAR`] to next year;
    /// a later one (a `today` set in the future) is tokenised as usual.
    fn for_component(e: Encoding, key: &TokenKey) -> Option<Table> {
        let (first, last, width) = match e {
            Encoding::Year => (
                EARLIEST_PLAUSIBLE_YEAR,
                Date::today().year.saturating_add(1).min(9999),
                4,
            ),
            Encoding::Month => (1, 12, 2),
            Encoding::Day => (1, 31, 2),
            _ => return None,
        };
        let hex = (first..=last)
            .map(|v| key.token(format!("{v:0width$}").as_bytes()).to_hex())
            .collect();
        Some(Table { first, hex })
    }

    fn get(&self, v: u16) -> Option<&[u8; 64]> {
        self.hex.get(usize::from(v.checked_sub(self.first)?))
    }
}

static NEXT_ENCODER_ID: AtomicU64 = AtomicU64::new(1);

/// Per-thread caches of rendered field outputs, keyed by the raw value.
/// Names, dates and postcodes repeat heavily in real files; a hit skips
/// normalisation and every HMAC for that field. Bounded: a cache whose
/// current generation reaches [`CACHE_LIMIT`] entries starts a new one,
/// and the generation before is dropped, so at most twice that many are
/// held; values still in use survive the turnover (a cache simply cleared
/// when full missed on 28% of family names in the synthetic files, this one
/// on fewer). A field whose values rarely
/// repeat (hit rate under [`MIN_HIT_RATE`] after [`PROBE_LOOKUPS`]
/// lookups) stops being cached on that thread, since the cache would only
/// cost time; NHS numbers and identifiers, unique by design, never are.
struct Caches {
    encoder: u64,
    fields: Vec<FieldCache>,
    /// The lookup key of a salted value (the value, 0xff, the salt).
    scratch: Vec<u8>,
}

/// Raw value (and salt) → rendered cells and status; hashed like the memos
/// (the data owner's own values on their own machine, not adversarial).
type Rendered = hashbrown::HashTable<Rendering>;

/// One cached field: the key's bytes and then the rendered cells in one
/// allocation, and the full hash, so that a lookup touches memory outside
/// the table only for the entry it returns (with key and cells in two
/// allocations, comparing the key was a cache miss of its own, 4% of
/// `tokenise`).
struct Rendering {
    hash: u64,
    key_len: u32,
    cells_len: u32,
    status: Status,
    /// The key, the cells, and, for a field of the record-level filter,
    /// the bits its value sets there as little-endian words (none when it
    /// sets none), so that a repeated name costs one OR of a few words
    /// rather than one lookup per q-gram.
    data: Box<[u8]>,
}

impl Rendering {
    fn key(&self) -> &[u8] {
        &self.data[..self.key_len as usize]
    }
    fn cells(&self) -> &[u8] {
        &self.data[self.key_len as usize..(self.key_len + self.cells_len) as usize]
    }
    fn clk_bytes(&self) -> &[u8] {
        &self.data[(self.key_len + self.cells_len) as usize..]
    }
}

/// Copies a cached field's cells to `out`, and ORs its bits into the
/// record-level filter.
fn cache_hit(r: &Rendering, out: &mut Vec<u8>, clk: Option<&mut ClkPart<'_>>) -> Status {
    out.extend_from_slice(r.cells());
    if let Some(c) = clk {
        for (w, b) in c.words.iter_mut().zip(r.clk_bytes().chunks_exact(8)) {
            *w |= u64::from_le_bytes(b.try_into().expect("8 bytes"));
        }
    }
    r.status
}

/// [`crate::bloom::append_base64`] through the thread's byte scratch.
fn append_base64(words: &[u64], out: &mut Vec<u8>) {
    BASE64_SCRATCH.with(|s| crate::bloom::append_base64(words, &mut s.borrow_mut(), out));
}

fn rendering_hash(key: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = crate::memo::KeyHasher::default();
    h.write(key);
    h.write_usize(key.len());
    h.finish()
}

#[derive(Default)]
struct FieldCache {
    /// The current generation.
    map: Rendered,
    /// The previous generation, consulted on a miss.
    old: Rendered,
    lookups: u64,
    hits: u64,
    off: bool,
}

const CACHE_LIMIT: usize = 1 << 14;
const PROBE_LOOKUPS: u64 = 8192;
const MIN_HIT_RATE: f64 = 0.3;

thread_local! {
    static CACHES: RefCell<Caches> = const { RefCell::new(Caches { encoder: 0, fields: Vec::new(), scratch: Vec::new() }) };
    static CLK_SCRATCH: RefCell<ClkScratch> = RefCell::new(ClkScratch::default());
    static BASE64_SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static NAME_SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A schema compiled with a secret's subkeys.
pub struct Encoder {
    schema: Schema,
    fields: Vec<FieldEncoder>,
    /// The record-level filter's length in words, when the schema has one.
    clk: Option<usize>,
    fingerprint: Fingerprint,
    today: Date,
    id: u64,
    cache: bool,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Encoder {{ fingerprint: {}, columns: {:?} }}",
            self.fingerprint,
            self.schema.output_columns()
        )
    }
}

impl Encoder {
    /// Derives every subkey the schema needs. Dates after today (UTC) are
    /// implausible; see [`Encoder::with_today`].
    ///
    /// # Errors
    /// [`SchemaError`] for a domain or Bloom parameter that cannot be used.
    pub fn new(secret: &Secret, schema: Schema) -> Result<Encoder, SchemaError> {
        let mut fields = Vec::new();
        for f in &schema.fields {
            let keys = f
                .encodings
                .iter()
                .map(|&e| {
                    if e == Encoding::Bloom {
                        Ok(None)
                    } else {
                        TokenKey::new(secret, &f.domain_of(e)).map(Some)
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| SchemaError::Domain {
                    column: f.column.clone(),
                    error,
                })?;
            let bloom = match &f.bloom {
                Some(p) => Some(
                    BloomKey::new(secret, &f.domain_of(Encoding::Bloom), p.clone()).map_err(
                        |e| SchemaError::Bloom {
                            column: f.column.clone(),
                            message: e.0,
                        },
                    )?,
                ),
                None => None,
            };
            let salt =
                match f.bloom.as_ref().and_then(|b| b.salt.as_deref()) {
                    Some(s) => Some(resolve_salt(&schema.fields, s).map_err(|message| {
                        SchemaError::Bloom {
                            column: f.column.clone(),
                            message,
                        }
                    })?),
                    None => None,
                };
            let tables = f
                .encodings
                .iter()
                .zip(&keys)
                .map(|(&e, k)| match (f.kind, k) {
                    (Kind::Date, Some(k)) => Table::for_component(e, k),
                    _ => None,
                })
                .collect();
            fields.push(FieldEncoder {
                field: f.clone(),
                formats: f.date_formats(),
                keys,
                tables,
                bloom,
                salt,
                clk: None,
            });
        }
        let clk = match &schema.clk {
            None => None,
            Some(c) => {
                for cf in &c.fields {
                    let fi = fields
                        .iter()
                        .position(|f| f.field.column == cf.column)
                        .ok_or_else(|| {
                            SchemaError::Clk(format!(
                                "[clk] field {:?} is not an identifier field of the schema",
                                cf.column
                            ))
                        })?;
                    let key = BloomKey::for_clk(secret, &cf.domain(), cf.params(c.bits)).map_err(
                        |e| SchemaError::Clk(format!("[clk] field {:?}: {}", cf.column, e.0)),
                    )?;
                    fields[fi].clk = Some(key);
                }
                Some(c.words())
            }
        };
        Ok(Encoder {
            schema,
            fields,
            clk,
            fingerprint: secret.fingerprint(),
            today: Date::today(),
            id: NEXT_ENCODER_ID.fetch_add(1, Ordering::Relaxed),
            cache: true,
        })
    }

    /// Sets the date after which dates are implausible (for reproducible
    /// tests; the default is today).
    pub fn with_today(mut self, today: Date) -> Encoder {
        self.today = today;
        self.id = NEXT_ENCODER_ID.fetch_add(1, Ordering::Relaxed);
        self
    }

    /// Turns the per-thread value cache off (for benchmarks that measure
    /// the uncached cost).
    pub fn without_cache(mut self) -> Encoder {
        self.cache = false;
        self
    }

    /// The resolved schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The reference date for plausibility.
    pub fn today(&self) -> Date {
        self.today
    }

    /// The secret's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// Number of identifier fields.
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    fn salt_value(&self, fi: usize, raws: &[&str]) -> Option<String> {
        let (src, comp) = self.fields[fi].salt?;
        let sf = &self.fields[src];
        let n = normalise(sf.field.kind, raws[src], &sf.formats, self.today).ok()?;
        match comp {
            None => Some(n.as_value().into_owned()),
            Some(e) => n.component(e).map(|c| c.into_owned()),
        }
    }

    /// Renders field `fi` of a record into `out` (cells separated by commas,
    /// ending with the status), returning the status; sets the bits of a
    /// valid value's q-grams in `clk_words` when given (the field's key of
    /// the record-level filter is `fe.clk`).
    fn render_field(
        &self,
        fi: usize,
        raw: &str,
        salt: Option<&str>,
        out: &mut Vec<u8>,
        clk_words: Option<&mut [u64]>,
    ) -> Status {
        let fe = &self.fields[fi];
        let statuses = fe.field.kind.statuses();
        if fe.field.encodings.is_empty() && fe.field.kind == Kind::Name {
            // A name in a CLK only: normalised into a reused buffer rather
            // than a new string per record.
            let status = NAME_SCRATCH.with(|b| {
                let mut b = b.borrow_mut();
                name::normalise_into(raw, &mut b);
                if b.is_empty() {
                    return 1;
                }
                if let (Some(words), Some(key)) = (clk_words, &fe.clk) {
                    key.set_bits(&b, "", words);
                }
                0
            });
            out.extend_from_slice(statuses[status as usize].as_bytes());
            return status;
        }
        let n = normalise(fe.field.kind, raw, &fe.formats, self.today);
        if let (Some(words), Some(key), Ok(n)) = (clk_words, &fe.clk, &n) {
            n.with_value(|v| key.set_bits(v, "", words));
        }
        for (i, &e) in fe.field.encodings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let Ok(n) = &n else { continue };
            match e {
                Encoding::Bloom => {
                    if fe.salt.is_some() && salt.is_none() {
                        // The salt field is missing or invalid: an
                        // unsalted filter would be comparable with
                        // everything, defeating the salting.
                        continue;
                    }
                    let b = fe.bloom.as_ref().expect("bloom key");
                    let f = n.with_value(|v| b.encode(v, salt));
                    append_base64(&f, out);
                }
                Encoding::AgeBand => {
                    if let Normalised::Date(d) = n {
                        out.extend_from_slice(age_band(*d, self.today).as_bytes());
                    }
                }
                Encoding::Code => {
                    if let Normalised::Sex(s) = n {
                        out.extend_from_slice(s.as_bytes());
                    }
                }
                Encoding::Parts => {
                    if let Normalised::Text(s) = n {
                        let key = fe.keys[i].as_ref().expect("token key");
                        for (j, p) in name::parts(s).enumerate() {
                            if j > 0 {
                                out.push(b';');
                            }
                            out.extend_from_slice(&key.token_hex_memo(p.as_bytes()));
                        }
                    }
                }
                _ => {
                    if let (Normalised::Date(d), Some(t)) = (n, &fe.tables[i]) {
                        let v = match e {
                            Encoding::Year => d.year,
                            Encoding::Month => u16::from(d.month),
                            _ => u16::from(d.day),
                        };
                        if let Some(hex) = t.get(v) {
                            out.extend_from_slice(hex);
                            continue;
                        }
                    }
                    // Dates' components without allocating (five a row in
                    // the default schema); everything else via `component`.
                    let mut buf = [0u8; 10];
                    let fast = match n {
                        Normalised::Date(d) => date_component(*d, e, &mut buf),
                        _ => None,
                    };
                    let owned;
                    let v: Option<&[u8]> = match fast {
                        Some(len) => len.map(|l| &buf[..l]),
                        None => {
                            owned = n.component(e);
                            owned.as_deref().map(str::as_bytes)
                        }
                    };
                    if let Some(v) = v {
                        let key = fe.keys[i].as_ref().expect("token key");
                        // Memoise values that repeat: components with small
                        // domains, names and sexes; not unit postcodes,
                        // full dates or NHS numbers, which mostly do not,
                        // nor postcode sectors (about 11,000 in the UK: more
                        // than a memo holds, so they missed nearly always
                        // and pushed districts and areas out with them).
                        let repeats = !matches!(
                            e,
                            Encoding::Token | Encoding::DayMonthSwapped | Encoding::Sector
                        ) || matches!(fe.field.kind, Kind::Name | Kind::Sex);
                        if repeats {
                            out.extend_from_slice(&key.token_hex_memo(v));
                        } else {
                            out.extend_from_slice(&key.token(v).to_hex());
                        }
                    }
                }
            }
        }
        if !fe.field.encodings.is_empty() {
            out.push(b',');
        }
        let status = match n {
            Ok(_) => 0,
            Err(s) => s,
        };
        out.extend_from_slice(statuses[status as usize].as_bytes());
        status
    }

    /// Appends the encoded fields of one record (without the id and kept
    /// columns), and its record-level filter when the schema has one, to
    /// `out`, and the status of each field to `statuses`. `raws[i]` is the
    /// raw text of field `i`'s input column.
    pub(crate) fn encode_fields_into(
        &self,
        raws: &[&str],
        out: &mut Vec<u8>,
        statuses: &mut Vec<Status>,
    ) {
        // Taken out of the thread-local, so that nothing below borrows it.
        let mut clk = self.clk.map(|words| {
            let mut c = CLK_SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
            c.words.clear();
            c.words.resize(words, 0);
            c
        });
        for fi in 0..self.fields.len() {
            if fi > 0 {
                out.push(b',');
            }
            let part = match (&mut clk, &self.fields[fi].clk) {
                (Some(c), Some(_)) => Some(ClkPart {
                    words: &mut c.words,
                    field: &mut c.field,
                }),
                _ => None,
            };
            statuses.push(self.encode_field(fi, raws, out, part));
        }
        if let Some(c) = clk {
            out.push(b',');
            if c.words.iter().any(|&w| w != 0) {
                append_base64(&c.words, out);
            }
            CLK_SCRATCH.with(|s| *s.borrow_mut() = c);
        }
    }

    /// Appends field `fi`'s cells and status to `out`, from the per-thread
    /// cache when the raw value was seen, and returns the status; with
    /// `clk`, also sets the value's bits in the record-level filter.
    fn encode_field(
        &self,
        fi: usize,
        raws: &[&str],
        out: &mut Vec<u8>,
        mut clk: Option<ClkPart<'_>>,
    ) -> Status {
        let salt = if self.fields[fi].salt.is_some() {
            self.salt_value(fi, raws)
        } else {
            None
        };
        let value = raws[fi];
        let fe = &self.fields[fi];
        // Not cached: identifiers, unique by design; and fields with no
        // encodings of their own (in a CLK only), for which a hit would
        // save only normalising and OR-ing a few q-grams' bits, which cost
        // less than the lookup (a CLK of six such fields: 1.02-1.09 CPU s
        // uncached against 1.05-1.16 cached, five alternating runs).
        let cacheable = self.cache
            && !matches!(fe.field.kind, Kind::NhsNumber | Kind::Identifier)
            && !fe.field.encodings.is_empty();
        if !cacheable {
            let words = clk.map(|c| c.words);
            return self.render_field(fi, value, salt.as_deref(), out, words);
        }
        CACHES.with(|c| {
            let mut c = c.borrow_mut();
            if c.encoder != self.id {
                c.encoder = self.id;
                c.fields.clear();
            }
            if c.fields.len() < self.fields.len() {
                c.fields.resize_with(self.fields.len(), FieldCache::default);
            }
            let Caches {
                fields, scratch, ..
            } = &mut *c;
            let cache = &mut fields[fi];
            if cache.off {
                let words = clk.map(|c| c.words);
                return self.render_field(fi, value, salt.as_deref(), out, words);
            }
            // The key is the value itself, or with its salt after 0xff
            // (never in UTF-8, so (value, salt) is unambiguous); it is
            // copied only when inserted.
            let key: &[u8] = match &salt {
                None => value.as_bytes(),
                Some(s) => {
                    scratch.clear();
                    scratch.extend_from_slice(value.as_bytes());
                    scratch.push(0xff);
                    scratch.extend_from_slice(s.as_bytes());
                    scratch
                }
            };
            cache.lookups += 1;
            let hash = rendering_hash(key);
            let same = |r: &Rendering| r.hash == hash && r.key() == key;
            if let Some(r) = cache.map.find(hash, same) {
                cache.hits += 1;
                return cache_hit(r, out, clk.as_mut());
            }
            // A hit in the previous generation moves to the current.
            if let Ok(found) = cache.old.find_entry(hash, same) {
                let (r, _) = found.remove();
                cache.hits += 1;
                let status = cache_hit(&r, out, clk.as_mut());
                cache.map.insert_unique(hash, r, |r| r.hash);
                return status;
            }
            let start = out.len();
            // The field's own bits, kept with its cells and ORed in.
            let field_words = clk.as_mut().map(|c| {
                c.field.clear();
                c.field.resize(c.words.len(), 0);
                &mut c.field[..]
            });
            let status = self.render_field(fi, value, salt.as_deref(), out, field_words);
            let bits: &[u64] = match &mut clk {
                Some(c) => {
                    for (w, &b) in c.words.iter_mut().zip(c.field.iter()) {
                        *w |= b;
                    }
                    if c.field.iter().any(|&w| w != 0) {
                        c.field
                    } else {
                        &[]
                    }
                }
                None => &[],
            };
            if cache.lookups >= PROBE_LOOKUPS
                && (cache.hits as f64) < MIN_HIT_RATE * cache.lookups as f64
            {
                cache.off = true;
                cache.map = Rendered::new();
                cache.old = Rendered::new();
                return status;
            }
            if cache.map.len() >= CACHE_LIMIT {
                // The full generation becomes the old one; what is
                // still looked up moves back (above), the rest goes
                // when this happens again.
                cache.old = std::mem::replace(&mut cache.map, Rendered::new());
            }
            let cells = &out[start..];
            let mut data = Vec::with_capacity(key.len() + cells.len() + 8 * bits.len());
            data.extend_from_slice(key);
            data.extend_from_slice(cells);
            data.extend(bits.iter().flat_map(|w| w.to_le_bytes()));
            let r = Rendering {
                hash,
                key_len: key.len() as u32,
                cells_len: cells.len() as u32,
                status,
                data: data.into_boxed_slice(),
            };
            cache.map.insert_unique(hash, r, |r| r.hash);
            status
        })
    }

    /// Encodes one record given as the values of the input columns named by
    /// the schema: the id, then each field's column, then each kept column.
    /// Returns the output cells in [`Schema::output_columns`] order. (The
    /// file path uses a faster writer; this is for embedding and tests.)
    pub fn encode_record(&self, values: &[&str]) -> Vec<String> {
        let nf = self.fields.len();
        let mut buf = Vec::new();
        let mut st = Vec::new();
        self.encode_fields_into(&values[1..1 + nf], &mut buf, &mut st);
        let mut out = vec![values[0].to_string()];
        out.extend(
            String::from_utf8(buf)
                .expect("ASCII cells")
                .split(',')
                .map(str::to_string),
        );
        out.extend(values[1 + nf..].iter().map(|s| s.to_string()));
        out
    }

    /// The fields' input columns, in schema order.
    pub fn field_columns(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| f.field.column.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SchemaSpec;
    use proptest::prelude::*;

    proptest! {
        /// The allocation-free date components equal `component`'s, for
        /// every encoding, valid date and hand-built out-of-range one.
        #[test]
        fn date_components_without_allocating(year in 0u16..=10_050, month in 0u8..=120, day in 0u8..=120) {
            let d = Date { year, month, day };
            let n = Normalised::Date(d);
            prop_assert_eq!(n.with_value(str::to_string), n.as_value().into_owned());
            for e in [Encoding::Token, Encoding::Year, Encoding::Month, Encoding::Day,
                      Encoding::DayMonthSwapped, Encoding::Sector, Encoding::Phonetic] {
                let mut buf = [0u8; 10];
                match date_component(d, e, &mut buf) {
                    Some(len) => {
                        let want = n.component(e);
                        prop_assert_eq!(len.map(|l| &buf[..l]), want.as_deref().map(str::as_bytes));
                    }
                    None => prop_assert!(d.iso().is_none() || !matches!(e,
                        Encoding::Token | Encoding::Year | Encoding::Month | Encoding::Day | Encoding::DayMonthSwapped)),
                }
            }
        }
    }

    fn secret() -> Secret {
        Secret::from_hex(b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
            .unwrap()
    }

    const HEADER: [&str; 7] = [
        "id",
        "nhs_number",
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "postcode",
    ];

    fn encoder() -> Encoder {
        let s = SchemaSpec::default_for(&HEADER).resolve(&HEADER).unwrap();
        Encoder::new(&secret(), s)
            .unwrap()
            .with_today(Date::new(2026, 1, 1).unwrap())
    }

    fn cell<'a>(enc: &Encoder, row: &'a [String], col: &str) -> &'a str {
        let i = enc
            .schema()
            .output_columns()
            .iter()
            .position(|c| c == col)
            .unwrap();
        &row[i]
    }

    #[test]
    fn swapped_names_share_a_domain() {
        let enc = encoder();
        let a = enc.encode_record(&["1", "", "SMITH", "JOHN", "", "", ""]);
        let b = enc.encode_record(&["2", "", "john", "smith", "", "", ""]);
        assert_eq!(
            cell(&enc, &a, "given_name_token"),
            cell(&enc, &b, "family_name_token")
        );
        assert_eq!(
            cell(&enc, &a, "given_name_bloom"),
            cell(&enc, &b, "family_name_bloom")
        );
    }

    #[test]
    fn statuses_and_components() {
        let enc = encoder();
        let r = enc.encode_record(&["1", "9434765918", "Bill", "", "31/04/1980", "9", "SW1A1AA"]);
        assert_eq!(cell(&enc, &r, "nhs_number_status"), "check_digit_mismatch");
        assert_eq!(cell(&enc, &r, "nhs_number_token"), "");
        assert_eq!(cell(&enc, &r, "family_name_status"), "missing");
        assert_eq!(cell(&enc, &r, "date_of_birth_status"), "impossible_date");
        assert_eq!(cell(&enc, &r, "sex_status"), "missing");
        assert_eq!(cell(&enc, &r, "postcode_status"), "valid");
        let w = enc.encode_record(&["2", "", "William", "", "1879-12-31", "3", "nope"]);
        assert_eq!(
            cell(&enc, &r, "given_name_canonical"),
            cell(&enc, &w, "given_name_canonical")
        );
        assert_ne!(
            cell(&enc, &r, "given_name_token"),
            cell(&enc, &w, "given_name_token")
        );
        assert_eq!(cell(&enc, &w, "date_of_birth_status"), "implausible_date");
        assert_eq!(cell(&enc, &w, "sex_status"), "unrecognised");
        assert_eq!(cell(&enc, &w, "postcode_status"), "invalid_postcode");
        let f = enc.encode_record(&["3", "", "", "", "2026-01-02", "", ""]);
        assert_eq!(cell(&enc, &f, "date_of_birth_status"), "implausible_date");
    }

    #[test]
    fn day_month_swap_meets_token() {
        let enc = encoder();
        let a = enc.encode_record(&["1", "", "", "", "1980-03-05", "", ""]);
        let b = enc.encode_record(&["2", "", "", "", "1980-05-03", "", ""]);
        assert_eq!(
            cell(&enc, &a, "date_of_birth_day_month_swapped"),
            cell(&enc, &b, "date_of_birth_token")
        );
        assert_eq!(
            cell(&enc, &a, "date_of_birth_year"),
            cell(&enc, &b, "date_of_birth_year")
        );
        assert_ne!(
            cell(&enc, &a, "date_of_birth_year"),
            cell(&enc, &a, "date_of_birth_month")
        );
        let c = enc.encode_record(&["3", "", "", "", "1980-03-25", "", ""]);
        assert_eq!(cell(&enc, &c, "date_of_birth_day_month_swapped"), "");
    }

    #[test]
    fn age_bands() {
        let today = Date::new(2026, 6, 15).unwrap();
        let d = |y, m, dd| Date::new(y, m, dd).unwrap();
        assert_eq!(age_band(d(2010, 1, 1), today), "16-24");
        assert_eq!(age_band(d(2010, 6, 16), today), "0-15");
        assert_eq!(age_band(d(2001, 6, 15), today), "25-34");
        assert_eq!(age_band(d(1961, 6, 16), today), "55-64");
        assert_eq!(age_band(d(1961, 6, 15), today), "65+");
    }

    /// Two encoders of the default schema, the first with the per-thread
    /// field caches, the second without.
    fn cached_and_uncached() -> (Encoder, Encoder) {
        encoders_of(SchemaSpec::default_for(&HEADER).resolve(&HEADER).unwrap())
    }

    /// Two encoders of a schema, with and without the field caches.
    fn encoders_of(s: Schema) -> (Encoder, Encoder) {
        let today = Date::new(2026, 1, 1).unwrap();
        let cached = Encoder::new(&secret(), s.clone())
            .unwrap()
            .with_today(today);
        let uncached = Encoder::new(&secret(), s)
            .unwrap()
            .with_today(today)
            .without_cache();
        (cached, uncached)
    }

    #[test]
    fn cached_and_uncached_agree() {
        let (a, b) = cached_and_uncached();
        for _ in 0..2 {
            for rec in [
                [
                    "1",
                    "9434765919",
                    "Zoë",
                    "O'Brien",
                    "05/03/1980",
                    "F",
                    "sw1a 1aa",
                ],
                ["2", "", "JOHN", "SMITH", "", "1", "LS2 9JT"],
            ] {
                assert_eq!(a.encode_record(&rec), b.encode_record(&rec));
            }
        }
    }

    /// A schema with a record-level filter of given name, family name and
    /// date of birth (`k = 10` for the date), the given name also with its
    /// own filter, the others with no encodings of their own.
    const CLK_SCHEMA: &str = r#"
id_column = "id"
[[field]]
column = "given_name"
kind = "name"
encodings = ["bloom"]
[[field]]
column = "family_name"
kind = "name"
encodings = []
[[field]]
column = "date_of_birth"
kind = "date"
encodings = []
[clk]
[[clk.field]]
column = "given_name"
[[clk.field]]
column = "family_name"
[[clk.field]]
column = "date_of_birth"
hashes = 10
"#;

    fn clk_encoders() -> (Encoder, Encoder) {
        let header = ["id", "given_name", "family_name", "date_of_birth"];
        encoders_of(
            SchemaSpec::from_toml(CLK_SCHEMA)
                .unwrap()
                .resolve(&header)
                .unwrap(),
        )
    }

    /// Known answers reproduced independently with Python's `hmac` (the
    /// script is in SECURITY.md, section 8.2): secret 00..1f, `l = 1024`,
    /// `JOHN` / `SMITH` / 1980-03-05 under domains `given_name`,
    /// `family_name`, `date_of_birth`; and with the family name missing,
    /// which leaves only the other two fields' bits; and an empty cell when
    /// no field is valid.
    #[test]
    fn clk_known_answers() {
        let (enc, _) = clk_encoders();
        assert_eq!(
            enc.schema().output_columns(),
            [
                "id",
                "given_name_bloom",
                "given_name_status",
                "family_name_status",
                "date_of_birth_status",
                "clk"
            ]
        );
        let row = enc.encode_record(&["1", "John", "Smith", "05/03/1980"]);
        assert_eq!(
            cell(&enc, &row, "clk"),
            "DiCA5wggkABBSkAXkhwADjClwIB4EgoYAUKZFgEySAQAIZQlnEAYICxQIAjgYQ+AnEAWggSgAA4CglAEIDFABAEggwAIBAQCiQmwLBagZaAIAPEYIgqAwi3CmAOSxIQTHBjAFgxAABCCHg1ToKEQABMLIAo0JBCABYI6LXAACJQ="
        );
        let f = crate::bloom::from_base64(cell(&enc, &row, "clk").as_bytes()).unwrap();
        assert_eq!(crate::bloom::ones(&f), 270);
        let row = enc.encode_record(&["2", "JOHN", "", "1980-03-05"]);
        assert_eq!(cell(&enc, &row, "family_name_status"), "missing");
        assert_eq!(
            cell(&enc, &row, "clk"),
            "CiAAhwggkAABSEAXghgADBAlQIBYAgAIAQKQFAEySAAAIZQlHEAIAABAIAjgIAeAiEAUAgAAAA4AgkAEIDFABAEAgQAIBAACCQgQLBKAJaAIANAYIAiAAinCmAKSxIASGBBAAggAABCAEggRoAEQABELAAg0JBCAAAA4LVAACIA="
        );
        let row = enc.encode_record(&["3", "", "", "31/04/1980"]);
        assert_eq!(cell(&enc, &row, "date_of_birth_status"), "impossible_date");
        assert_eq!(cell(&enc, &row, "clk"), "");
    }

    /// The CLK's keys are not the fields' own Bloom keys: the given name's
    /// filter shares no more bits with its part of the CLK than chance.
    #[test]
    fn clk_keys_are_not_field_keys() {
        let (enc, _) = clk_encoders();
        let row = enc.encode_record(&["1", "JOHN", "", ""]);
        let own =
            crate::bloom::from_base64(cell(&enc, &row, "given_name_bloom").as_bytes()).unwrap();
        let clk = crate::bloom::from_base64(cell(&enc, &row, "clk").as_bytes()).unwrap();
        assert_eq!(own.len(), clk.len());
        assert!(
            crate::bloom::dice(&own, &clk) < 0.3,
            "{}",
            crate::bloom::dice(&own, &clk)
        );
    }

    proptest! {
        /// The record-level filter is the OR of each field's bits under its
        /// CLK key, whatever the field cache holds: with the cache and
        /// without it, each record twice (the second time from the cache).
        #[test]
        fn clk_is_the_or_of_its_fields(
            recs in prop::collection::vec(
                ("(JOHN|Zoë|O'Brien|[A-Za-z]{1,8}|)", "(SMITH|Ng|[A-Z ]{0,9})", "(1980-03-05|05/03/1980|31/04/1980|19[0-9]{2}-0[1-9]-1[0-9]|)"),
                1..12,
            )
        ) {
            let (a, b) = clk_encoders();
            let today = Date::new(2026, 1, 1).unwrap();
            let spec = SchemaSpec::from_toml(CLK_SCHEMA).unwrap();
            let keys: Vec<BloomKey> = spec.clk.as_ref().unwrap().fields.iter()
                .map(|f| BloomKey::for_clk(&secret(), &f.domain(), f.params(1024)).unwrap())
                .collect();
            let kinds = [Kind::Name, Kind::Name, Kind::Date];
            for (g, f, d) in &recs {
                let rec = ["1", g.as_str(), f.as_str(), d.as_str()];
                let mut want = vec![0u64; 16];
                for ((v, kind), key) in rec[1..].iter().zip(kinds).zip(&keys) {
                    let formats: Vec<DateFormat> = date::DEFAULT_FORMATS
                        .iter()
                        .map(|f| DateFormat::parse(f).unwrap())
                        .collect();
                    if let Ok(n) = normalise(kind, v, &formats, today) {
                        key.set_bits(&n.as_value(), "", &mut want);
                    }
                }
                let want = if want.iter().all(|&w| w == 0) { String::new() } else { crate::bloom::to_base64(&want) };
                for _ in 0..2 {
                    let ra = a.encode_record(&rec);
                    prop_assert_eq!(cell(&a, &ra, "clk"), want.as_str());
                    prop_assert_eq!(&ra, &b.encode_record(&rec));
                }
            }
        }
    }

    /// Past two generations of the field cache, with old values looked up
    /// again across each turnover, output is what no cache gives.
    #[test]
    fn cache_generations_turn_over_correctly() {
        let (a, b) = cached_and_uncached();
        // Each new family name twice (so that the hit rate keeps the cache
        // on), and every 97th record an early one again.
        for i in 0..2 * CACHE_LIMIT + 50 {
            let name = if i % 97 == 0 {
                format!("EARLY{}", i % 7)
            } else {
                format!("NAME{i}")
            };
            let rec = ["1", "", "", name.as_str(), "", "", ""];
            for _ in 0..2 {
                assert_eq!(a.encode_record(&rec), b.encode_record(&rec), "{i}");
            }
        }
        CACHES.with(|c| {
            let c = c.borrow();
            let f = &c.fields[2];
            assert!(!f.off && !f.old.is_empty(), "two generations were used");
            assert!(f.hits * 2 >= f.lookups, "{} of {}", f.hits, f.lookups);
        });
    }

    /// The precomputed year, month and day tokens are the tokens of the
    /// components' text, at both ends of the tables and past them.
    #[test]
    fn date_component_tables_are_the_tokens() {
        let s = SchemaSpec::default_for(&HEADER).resolve(&HEADER).unwrap();
        let field = s
            .fields
            .iter()
            .find(|f| f.kind == Kind::Date)
            .unwrap()
            .clone();
        let key = |e| TokenKey::new(&secret(), &field.domain_of(e)).unwrap();
        let (year, month, day) = (
            key(Encoding::Year),
            key(Encoding::Month),
            key(Encoding::Day),
        );
        let last = Date::today().year + 1;
        // A `today` past the table's end, so that its last year and the one
        // after it are plausible.
        let enc = Encoder::new(&secret(), s)
            .unwrap()
            .with_today(Date::new(last + 1, 12, 31).unwrap());
        let cols = enc.schema().output_columns();
        let col = |name: &str| cols.iter().position(|c| c == name).unwrap();
        for (y, m, dd) in [
            (EARLIEST_PLAUSIBLE_YEAR, 1, 1),
            (1980, 12, 31),
            (last, 2, 9),
            (last + 1, 7, 30),
        ] {
            let text = format!("{y:04}-{m:02}-{dd:02}");
            let out = enc.encode_record(&["1", "", "", "", &text, "", ""]);
            let want = |k: &TokenKey, v: String| {
                String::from_utf8(k.token(v.as_bytes()).to_hex().to_vec()).unwrap()
            };
            assert_eq!(
                out[col("date_of_birth_year")],
                want(&year, format!("{y:04}")),
                "{text}"
            );
            assert_eq!(
                out[col("date_of_birth_month")],
                want(&month, format!("{m:02}")),
                "{text}"
            );
            assert_eq!(
                out[col("date_of_birth_day")],
                want(&day, format!("{dd:02}")),
                "{text}"
            );
        }
    }

    #[test]
    fn different_secrets_different_encoders() {
        // The thread-local cache must never serve one encoder's output to
        // another.
        let s = SchemaSpec::default_for(&HEADER).resolve(&HEADER).unwrap();
        let a = Encoder::new(&secret(), s.clone()).unwrap();
        let other = Secret::from_bytes(zeroize::Zeroizing::new(vec![9u8; 32])).unwrap();
        let b = Encoder::new(&other, s).unwrap();
        let rec = ["1", "9434765919", "JOHN", "", "", "", ""];
        assert_ne!(a.encode_record(&rec)[1], b.encode_record(&rec)[1]);
        assert_ne!(a.encode_record(&rec)[1], b.encode_record(&rec)[1]);
    }
}
