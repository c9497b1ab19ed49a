//! The encoding schema: which columns are identifiers, of which kind, and
//! how each is encoded.
//!
//! ```toml
//! id_column = "patient_id"
//! keep = ["icb", "referral"]
//!
//! [[field]]
//! column = "nhs_number"
//! kind = "nhs_number"
//!
//! [[field]]
//! column = "given_name"
//! kind = "name"
//! encodings = ["token", "canonical", "phonetic", "initial", "bloom"]
//! bloom = { bits = 1024, hashes = 20, q = 2 }
//!
//! [[field]]
//! column = "date_of_birth"
//! kind = "date"
//! formats = ["%Y-%m-%d", "%d/%m/%Y"]
//! ```
//!
//! A schema may also ask for one record-level Bloom filter, a *CLK*
//! ([`Clk`]), of several fields' q-grams, written as the column `clk`:
//!
//! ```toml
//! [clk]
//! bits = 1024
//! [[clk.field]]
//! column = "given_name"
//! [[clk.field]]
//! column = "date_of_birth"
//! hashes = 10
//! ```
//!
//! Output columns are `{column}_{encoding}` for each encoding, then
//! `{column}_status`. Each encoding has a comparison *domain* whose subkey
//! makes its tokens: the field's domain (by default shared by kind: `name`
//! for every name column, so given and family names can be compared when
//! swapped) for `token`, `day_month_swapped`, `parts` and `bloom`, and
//! `{domain}/{encoding}` for the other components (`date/year`). Domains
//! in a schema cannot contain `/`, so a user's domain never collides with
//! a component domain.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::bloom::BloomParams;
use crate::normalise::date::{DateFormat, DEFAULT_FORMATS};
use crate::token::check_name;

/// The kind of an identifier column: which normaliser it goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// NHS number: ten digits, Modulus 11.
    NhsNumber,
    /// A personal or family name.
    Name,
    /// A date (of birth).
    Date,
    /// Sex or gender code.
    Sex,
    /// A UK postcode.
    Postcode,
    /// Free text (an address line, a town, a foreign postcode).
    Text,
    /// An identifier of another scheme (letters and digits).
    Identifier,
}

/// One encoding of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Keyed token of the whole normalised value.
    Token,
    /// Date: the year (`1980`).
    Year,
    /// Date: the month (`03`).
    Month,
    /// Date: the day (`05`).
    Day,
    /// Date: the token of the date with day and month exchanged (in the
    /// date's own domain, so it equals the other record's `token` when one
    /// of them was swapped); empty when the day is over 12.
    DayMonthSwapped,
    /// Postcode sector (`SW1A 1`).
    Sector,
    /// Postcode district, the outward code (`SW1A`).
    District,
    /// Postcode area (`SW`).
    Area,
    /// Name: Double Metaphone primary code.
    Phonetic,
    /// Name: nickname-canonicalised form (`BILL` → `WILLIAM`).
    Canonical,
    /// Name: first letter.
    Initial,
    /// Name: tokens of each part of a multi-part name, `;`-separated, in the
    /// field's own domain (empty for a one-part name).
    Parts,
    /// Keyed Bloom filter of q-grams, base64.
    Bloom,
    /// Date: the age band at the reference date (`16-24`, `25-34`, ...,
    /// `65+`), **in clear**: a coarse attribute for reporting linkage
    /// rates by subgroup. Never a default; name it deliberately.
    AgeBand,
    /// Sex: the normalised code (`1`, `2`) **in clear**, for subgroup
    /// reporting. Never a default.
    Code,
}

impl Encoding {
    /// The encoding's name as used in column names.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Token => "token",
            Encoding::Year => "year",
            Encoding::Month => "month",
            Encoding::Day => "day",
            Encoding::DayMonthSwapped => "day_month_swapped",
            Encoding::Sector => "sector",
            Encoding::District => "district",
            Encoding::Area => "area",
            Encoding::Phonetic => "phonetic",
            Encoding::Canonical => "canonical",
            Encoding::Initial => "initial",
            Encoding::Parts => "parts",
            Encoding::Bloom => "bloom",
            Encoding::AgeBand => "age_band",
            Encoding::Code => "code",
        }
    }

    /// Whether the encoding is written in clear (a derived attribute for
    /// reporting, not a token).
    pub fn is_clear(self) -> bool {
        matches!(self, Encoding::AgeBand | Encoding::Code)
    }

    /// Whether tokens of this encoding live in the field's own domain (so
    /// they compare with its `token`s) rather than a component domain.
    pub fn uses_field_domain(self) -> bool {
        matches!(
            self,
            Encoding::Token | Encoding::DayMonthSwapped | Encoding::Parts
        )
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Kind {
    /// The encodings a kind supports.
    pub fn allowed(self) -> &'static [Encoding] {
        use Encoding::*;
        match self {
            Kind::NhsNumber => &[Token],
            Kind::Name => &[Token, Canonical, Phonetic, Initial, Parts, Bloom],
            Kind::Date => &[Token, Year, Month, Day, DayMonthSwapped, AgeBand],
            Kind::Sex => &[Token, Code],
            Kind::Postcode => &[Token, Sector, District, Area, Bloom],
            Kind::Text => &[Token, Bloom],
            Kind::Identifier => &[Token, Bloom],
        }
    }

    /// Encodings used when a field does not list its own.
    pub fn default_encodings(self) -> &'static [Encoding] {
        use Encoding::*;
        match self {
            Kind::NhsNumber | Kind::Sex | Kind::Identifier => &[Token],
            // `initial` is available but not a default: no built-in rule or
            // comparison reads it, and every column costs output bandwidth.
            Kind::Name => &[Token, Canonical, Phonetic, Bloom],
            Kind::Date => &[Token, Year, Month, Day, DayMonthSwapped],
            Kind::Postcode => &[Token, Sector, District, Area],
            Kind::Text => &[Token, Bloom],
        }
    }

    /// The default comparison domain for a column of this kind.
    pub fn default_domain(self, column: &str) -> String {
        match self {
            Kind::NhsNumber => "nhs_number".into(),
            Kind::Name => "name".into(),
            Kind::Date => "date".into(),
            Kind::Sex => "sex".into(),
            Kind::Postcode => "postcode".into(),
            // Prefixed with the kind, so that a text column called
            // `postcode` or `name` never shares a built-in kind's key.
            Kind::Text => format!("text_{}", sanitise_name(column)),
            Kind::Identifier => format!("identifier_{}", sanitise_name(column)),
        }
    }

    /// The status values a field of this kind can have, `valid` and
    /// `missing` first.
    pub fn statuses(self) -> &'static [&'static str] {
        match self {
            Kind::NhsNumber => &[
                "valid",
                "missing",
                "invalid_character",
                "wrong_length",
                "placeholder",
                "check_value_ten",
                "check_digit_mismatch",
            ],
            Kind::Date => &[
                "valid",
                "missing",
                "unparseable",
                "impossible_date",
                "implausible_date",
            ],
            Kind::Sex => &["valid", "missing", "unrecognised"],
            Kind::Postcode => &["valid", "missing", "invalid_postcode"],
            Kind::Name | Kind::Text | Kind::Identifier => &["valid", "missing"],
        }
    }

    /// Kind name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::NhsNumber => "nhs_number",
            Kind::Name => "name",
            Kind::Date => "date",
            Kind::Sex => "sex",
            Kind::Postcode => "postcode",
            Kind::Text => "text",
            Kind::Identifier => "identifier",
        }
    }
}

/// Lowercases and replaces anything outside `a-z0-9_` with `_`, to make a
/// domain name from a column name.
pub fn sanitise_name(column: &str) -> String {
    let s: String = column
        .chars()
        .take(50)
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "field".into()
    } else {
        s
    }
}

/// One identifier column as written in a schema file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// The input column.
    pub column: String,
    /// Its kind.
    pub kind: Kind,
    /// The comparison domain (default: by kind, see [`Kind::default_domain`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Encodings to write (default: [`Kind::default_encodings`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encodings: Option<Vec<Encoding>>,
    /// Date formats to accept, in order (dates only; default
    /// [`DEFAULT_FORMATS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formats: Option<Vec<String>>,
    /// Bloom-filter parameters (default [`BloomParams::default`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bloom: Option<BloomParams>,
}

/// A schema as written in a TOML file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaSpec {
    /// The record id column (default: the first column of the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_column: Option<String>,
    /// Columns copied through unchanged (payload). Never name an identifier
    /// here unless you mean to release it.
    #[serde(default)]
    pub keep: Vec<String>,
    /// Identifier columns.
    #[serde(rename = "field", default)]
    pub fields: Vec<FieldSpec>,
    /// A record-level Bloom filter of some of the fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clk: Option<Clk>,
}

/// The output column of the record-level Bloom filter.
pub const CLK_COLUMN: &str = "clk";

/// The comparison domain of the record-level Bloom filter (no field of a
/// schema with a CLK may use it).
pub const CLK_DOMAIN: &str = "clk";

/// A record-level Bloom filter: a *cryptographic long-term key* (CLK;
/// Schnell, Bachteler & Reiher 2011), one `bits`-bit filter per record into
/// which each listed field's q-grams set their bits, each field under its
/// own key. Two records are compared by the filters' Dice coefficient,
/// which weighs every field's agreement at once; the filter reveals no
/// field's value on its own (see SECURITY.md on what it does reveal). A
/// missing or invalid field contributes nothing; a record with none of its
/// fields has an empty cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clk {
    /// Filter length `l` in bits: a power of two from 64 to 65536.
    #[serde(default = "default_clk_bits")]
    pub bits: u32,
    /// The fields, each an identifier field of the schema.
    #[serde(rename = "field")]
    pub fields: Vec<ClkField>,
}

/// One field's part of a [`Clk`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClkField {
    /// The identifier field (its input column); its normalised value is
    /// encoded.
    pub column: String,
    /// The subkey's domain: `linkwell/v1/clk/{domain}`. Default: the column
    /// name made a domain name (lowercase, `_` for anything but letters and
    /// digits), so that files whose columns are named alike are comparable;
    /// name it to compare with a file that calls the column something else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Bits set per q-gram, `k`: 1 to 64 (default 20). A field with more
    /// bits weighs more in the Dice coefficient.
    #[serde(default = "default_clk_hashes")]
    pub hashes: u32,
    /// q-gram length: 1 to 4 (default 2).
    #[serde(default = "default_clk_q")]
    pub q: u32,
    /// Pad with `q - 1` `_` characters at each end (default true).
    #[serde(default = "default_clk_padding")]
    pub padding: bool,
}

fn default_clk_bits() -> u32 {
    1024
}
fn default_clk_hashes() -> u32 {
    BloomParams::default().hashes
}
fn default_clk_q() -> u32 {
    BloomParams::default().q
}
fn default_clk_padding() -> bool {
    true
}

impl ClkField {
    /// The Bloom parameters of this field's part of a `bits`-bit CLK.
    pub fn params(&self, bits: u32) -> BloomParams {
        BloomParams {
            bits,
            hashes: self.hashes,
            q: self.q,
            padding: self.padding,
            balanced: false,
            salt: None,
        }
    }

    /// The domain, resolved.
    pub fn domain(&self) -> String {
        self.domain
            .clone()
            .unwrap_or_else(|| sanitise_name(&self.column))
    }
}

impl Clk {
    /// Checks the parameters (not the columns; [`SchemaSpec::resolve`]
    /// does that): a manifest is untrusted input too.
    ///
    /// # Errors
    /// One sentence naming the bad parameter.
    pub fn validate(&self) -> Result<(), String> {
        if self.fields.is_empty() {
            return Err("the [clk] section lists no fields: add [[clk.field]] entries naming identifier columns".into());
        }
        let mut domains = BTreeSet::new();
        for f in &self.fields {
            f.params(self.bits)
                .validate()
                .map_err(|e| format!("[clk] field {:?}: {}", f.column, e.0))?;
            let d = f.domain();
            check_name(&d).map_err(|e| format!("[clk] field {:?}: {e}", f.column))?;
            if !domains.insert(d.clone()) {
                return Err(format!(
                    "[clk] field {:?}: domain {d:?} is used twice; each field of a CLK needs its own domain",
                    f.column
                ));
            }
        }
        Ok(())
    }

    /// The filter length in 64-bit words.
    pub fn words(&self) -> usize {
        self.bits as usize / 64
    }

    /// What decides the filter's bits: its length, and each field's
    /// resolved domain, `k`, `q` and padding, sorted by domain. The
    /// column names and the order of the fields do not change a bit (each
    /// field's key comes from its domain, and the fields are OR-ed), so
    /// two CLKs with equal `bit_parameters` are comparable.
    pub fn bit_parameters(&self) -> (u32, Vec<(String, u32, u32, bool)>) {
        let mut fields: Vec<_> = self
            .fields
            .iter()
            .map(|f| (f.domain(), f.hashes, f.q, f.padding))
            .collect();
        fields.sort();
        (self.bits, fields)
    }
}

/// A field with every default filled in and checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Input column.
    pub column: String,
    /// Kind.
    pub kind: Kind,
    /// Comparison domain.
    pub domain: String,
    /// Encodings, in output order.
    pub encodings: Vec<Encoding>,
    /// Date formats (dates only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<String>,
    /// Bloom parameters (when `bloom` is among the encodings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bloom: Option<BloomParams>,
}

impl Field {
    /// The domain whose subkey makes this encoding's tokens.
    pub fn domain_of(&self, e: Encoding) -> String {
        if e.uses_field_domain() || e == Encoding::Bloom {
            self.domain.clone()
        } else {
            format!("{}/{}", self.domain, e.name())
        }
    }

    /// Output column name of an encoding.
    pub fn column_of(&self, e: Encoding) -> String {
        format!("{}_{}", self.column, e.name())
    }

    /// Output column name of the status.
    pub fn status_column(&self) -> String {
        format!("{}_status", self.column)
    }

    /// Parsed date formats.
    pub fn date_formats(&self) -> Vec<DateFormat> {
        self.formats
            .iter()
            .map(|f| DateFormat::parse(f).expect("validated"))
            .collect()
    }
}

/// A validated schema with every default resolved. This is what the
/// manifest records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// Record id column.
    pub id_column: String,
    /// Identifier fields.
    pub fields: Vec<Field>,
    /// Payload columns kept unchanged.
    pub keep: Vec<String>,
    /// The record-level Bloom filter, with every field's domain resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clk: Option<Clk>,
}

/// A schema that cannot be used. Each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The TOML does not parse or has unknown keys.
    #[error("schema is not valid TOML for linkwell: {0}")]
    Toml(String),
    /// A column named by the schema is not in the file.
    #[error("column {column:?} ({role}) is not in the input; its columns are: {available}")]
    MissingColumn {
        /// The column.
        column: String,
        /// What the schema wanted it for.
        role: String,
        /// The columns the input has, comma-separated.
        available: String,
    },
    /// An encoding a kind does not support.
    #[error("field {column:?} of kind {kind} cannot have encoding {encoding}; allowed: {allowed}")]
    EncodingNotAllowed {
        /// The column.
        column: String,
        /// Its kind.
        kind: &'static str,
        /// The encoding.
        encoding: &'static str,
        /// The allowed encodings.
        allowed: String,
    },
    /// Two fields, or a field and a kept column, share a column, or two
    /// output columns would have the same name.
    #[error("column {0:?} appears twice in the schema or its outputs: each input column may be encoded once, and kept columns must not clash with encoded ones")]
    Duplicate(String),
    /// A bad domain name.
    #[error("field {column:?}: {error}")]
    Domain {
        /// The column.
        column: String,
        /// Why.
        error: crate::token::DomainError,
    },
    /// Bad Bloom parameters or salt.
    #[error("field {column:?}: {message}")]
    Bloom {
        /// The column.
        column: String,
        /// Why.
        message: String,
    },
    /// A bad `[clk]` section.
    #[error("{0}")]
    Clk(String),
    /// A bad date format.
    #[error("field {column:?}: {error}")]
    DateFormat {
        /// The column.
        column: String,
        /// Why.
        error: crate::normalise::date::DateFormatError,
    },
    /// No identifier fields.
    #[error("no identifier columns to encode: the input's columns are {available}; name them in a schema (--schema) or use the standard names (nhs_number, given_name, family_name, date_of_birth, sex, postcode)")]
    NoFields {
        /// The input's columns.
        available: String,
    },
    /// The id column is one of the identifiers being encoded, so it would
    /// be written in clear.
    #[error("the id column {column:?} is also an identifier field (kind {kind}) and would leave in clear: name a record-id column with --id-column or `id_column` in the schema")]
    IdIsIdentifier {
        /// The column.
        column: String,
        /// Its kind.
        kind: &'static str,
    },
    /// Two fields share a domain but would encode it differently.
    #[error("fields {a:?} and {b:?} share domain {domain:?} but have different Bloom parameters: values in one domain must be encoded alike")]
    DomainConflict {
        /// One field.
        a: String,
        /// The other.
        b: String,
        /// The domain.
        domain: String,
    },
}

/// The input's column names for an error message — unless the first row
/// looks like data rather than names (a file without a header row), in
/// which case the names are withheld: they would be a record's
/// identifiers.
pub fn describe_columns(header: &[&str]) -> String {
    if header.iter().any(|c| looks_like_value(c)) {
        format!(
            "(not shown: the first row looks like data, not column names — does the file have a header row? It has {} columns)",
            header.len()
        )
    } else {
        header.join(", ")
    }
}

/// Whether a header cell looks like an identifier value rather than a
/// column name (digits, an NHS number, a postcode, an e-mail address).
pub fn looks_like_value(c: &str) -> bool {
    let digits = c.bytes().filter(u8::is_ascii_digit).count();
    digits >= 4
        || crate::nhs::NhsNumber::parse(c).is_ok()
        || crate::normalise::postcode::normalise(c).is_some()
        || c.contains('@')
}

/// One line for a TOML error: `line L, column C: message`.
pub(crate) fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

/// The standard identifier columns, and the kinds they get in the default
/// schema (the synthetic NHS, ONS and DWP files use these names).
pub const STANDARD_COLUMNS: &[(&str, Kind)] = &[
    ("nhs_number", Kind::NhsNumber),
    ("given_name", Kind::Name),
    ("family_name", Kind::Name),
    ("date_of_birth", Kind::Date),
    ("sex", Kind::Sex),
    ("postcode", Kind::Postcode),
];

impl SchemaSpec {
    /// Parses a TOML schema.
    ///
    /// # Errors
    /// [`SchemaError::Toml`] with the parser's message (line and column).
    pub fn from_toml(text: &str) -> Result<SchemaSpec, SchemaError> {
        toml::from_str(text).map_err(|e| SchemaError::Toml(toml_error(text, &e)))
    }

    /// The default schema for a header: every standard identifier column
    /// present, with default encodings.
    pub fn default_for(header: &[&str]) -> SchemaSpec {
        SchemaSpec {
            id_column: None,
            keep: Vec::new(),
            fields: STANDARD_COLUMNS
                .iter()
                .filter(|(c, _)| header.contains(c))
                .map(|&(c, kind)| FieldSpec {
                    column: c.into(),
                    kind,
                    domain: None,
                    // The nickname table holds forenames: a surname's
                    // canonical form would only repeat its token.
                    encodings: (c == "family_name")
                        .then(|| vec![Encoding::Token, Encoding::Phonetic, Encoding::Bloom]),
                    formats: None,
                    bloom: None,
                })
                .collect(),
            clk: None,
        }
    }

    /// Resolves defaults against the input's header and checks everything
    /// that can be checked before reading data.
    ///
    /// # Errors
    /// A [`SchemaError`] that names the column and says what to change.
    pub fn resolve(&self, header: &[&str]) -> Result<Schema, SchemaError> {
        let available = || describe_columns(header);
        let need = |column: &str, role: &str| -> Result<(), SchemaError> {
            if header.contains(&column) {
                Ok(())
            } else {
                Err(SchemaError::MissingColumn {
                    column: column.into(),
                    role: role.into(),
                    available: available(),
                })
            }
        };
        let id_column = match &self.id_column {
            Some(c) => {
                need(c, "id column")?;
                c.clone()
            }
            None => header
                .first()
                .map(|s| s.to_string())
                .ok_or_else(|| SchemaError::NoFields {
                    available: String::new(),
                })?,
        };
        if self.fields.is_empty() {
            return Err(SchemaError::NoFields {
                available: available(),
            });
        }
        let mut fields = Vec::new();
        for f in &self.fields {
            need(&f.column, &format!("{} field", f.kind.name()))?;
            let domain = f
                .domain
                .clone()
                .unwrap_or_else(|| f.kind.default_domain(&f.column));
            check_name(&domain).map_err(|error| SchemaError::Domain {
                column: f.column.clone(),
                error,
            })?;
            let encodings = f
                .encodings
                .clone()
                .unwrap_or_else(|| f.kind.default_encodings().to_vec());
            let mut seen = BTreeSet::new();
            for &e in &encodings {
                if !f.kind.allowed().contains(&e) {
                    return Err(SchemaError::EncodingNotAllowed {
                        column: f.column.clone(),
                        kind: f.kind.name(),
                        encoding: e.name(),
                        allowed: f
                            .kind
                            .allowed()
                            .iter()
                            .map(|e| e.name())
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                if !seen.insert(e) {
                    return Err(SchemaError::Duplicate(format!("{}_{}", f.column, e.name())));
                }
            }
            let formats = if f.kind == Kind::Date {
                let fs: Vec<String> = f
                    .formats
                    .clone()
                    .unwrap_or_else(|| DEFAULT_FORMATS.iter().map(|s| s.to_string()).collect());
                for x in &fs {
                    DateFormat::parse(x).map_err(|error| SchemaError::DateFormat {
                        column: f.column.clone(),
                        error,
                    })?;
                }
                fs
            } else {
                Vec::new()
            };
            let bloom = if encodings.contains(&Encoding::Bloom) {
                let p = f.bloom.clone().unwrap_or_default();
                p.validate().map_err(|e| SchemaError::Bloom {
                    column: f.column.clone(),
                    message: e.0,
                })?;
                Some(p)
            } else {
                None
            };
            fields.push(Field {
                column: f.column.clone(),
                kind: f.kind,
                domain,
                encodings,
                formats,
                bloom,
            });
        }
        // Salts must name another field (and an existing component).
        for f in &fields {
            if let Some(salt) = f.bloom.as_ref().and_then(|b| b.salt.as_ref()) {
                resolve_salt(&fields, salt).map_err(|message| SchemaError::Bloom {
                    column: f.column.clone(),
                    message,
                })?;
                if salt.split('.').next() == Some(f.column.as_str()) {
                    return Err(SchemaError::Bloom {
                        column: f.column.clone(),
                        message: "a field cannot salt its own Bloom filter".into(),
                    });
                }
            }
        }
        // Fields sharing a domain must encode alike.
        for (i, a) in fields.iter().enumerate() {
            for b in &fields[i + 1..] {
                if a.domain == b.domain
                    && a.bloom.is_some()
                    && b.bloom.is_some()
                    && a.bloom != b.bloom
                {
                    return Err(SchemaError::DomainConflict {
                        a: a.column.clone(),
                        b: b.column.clone(),
                        domain: a.domain.clone(),
                    });
                }
            }
        }
        for k in &self.keep {
            need(k, "kept column")?;
        }
        if let Some(f) = fields.iter().find(|f| f.column == id_column) {
            return Err(SchemaError::IdIsIdentifier {
                column: id_column,
                kind: f.kind.name(),
            });
        }
        let clk = match &self.clk {
            None => None,
            Some(c) => {
                c.validate().map_err(SchemaError::Clk)?;
                let mut columns = BTreeSet::new();
                for cf in &c.fields {
                    if !fields.iter().any(|f| f.column == cf.column) {
                        return Err(SchemaError::Clk(format!(
                            "[clk] field {:?} is not an identifier field of the schema: add a [[field]] for it (with `encodings = []` to write only its status)",
                            cf.column
                        )));
                    }
                    if !columns.insert(cf.column.as_str()) {
                        return Err(SchemaError::Clk(format!(
                            "[clk] field {:?} is listed twice",
                            cf.column
                        )));
                    }
                }
                if let Some(f) = fields.iter().find(|f| f.domain == CLK_DOMAIN) {
                    return Err(SchemaError::Clk(format!(
                        "field {:?} uses the domain {CLK_DOMAIN:?}, which the [clk] filter's column has: give the field another domain",
                        f.column
                    )));
                }
                let mut c = c.clone();
                for cf in &mut c.fields {
                    cf.domain = Some(cf.domain());
                }
                Some(c)
            }
        };
        let schema = Schema {
            id_column,
            fields,
            keep: self.keep.clone(),
            clk,
        };
        let mut names = BTreeSet::new();
        for c in schema.output_columns() {
            if !names.insert(c.clone()) {
                return Err(SchemaError::Duplicate(c));
            }
        }
        let mut inputs = BTreeSet::new();
        for f in &schema.fields {
            if !inputs.insert(f.column.as_str()) {
                return Err(SchemaError::Duplicate(f.column.clone()));
            }
        }
        Ok(schema)
    }
}

/// Finds the field and component a salt names: `column` or
/// `column.component`.
pub(crate) fn resolve_salt(
    fields: &[Field],
    salt: &str,
) -> Result<(usize, Option<Encoding>), String> {
    let (col, comp) = match salt.split_once('.') {
        Some((c, e)) => (c, Some(e)),
        None => (salt, None),
    };
    let idx = fields.iter().position(|f| f.column == col).ok_or_else(|| {
        format!("Bloom salt {salt:?} does not name another identifier field of the schema")
    })?;
    let comp = match comp {
        None => None,
        Some(name) => {
            let e = fields[idx]
                .kind
                .allowed()
                .iter()
                .copied()
                .find(|e| {
                    e.name() == name
                        && !matches!(
                            e,
                            Encoding::Token
                                | Encoding::Bloom
                                | Encoding::Parts
                                | Encoding::DayMonthSwapped
                        )
                })
                .ok_or_else(|| {
                    format!(
                        "Bloom salt {salt:?}: {name:?} is not a component of a {} field",
                        fields[idx].kind.name()
                    )
                })?;
            Some(e)
        }
    };
    Ok((idx, comp))
}

impl Schema {
    /// Kept (payload) columns that are also identifier fields: the user
    /// asked for them in clear, and should be told.
    pub fn kept_identifiers(&self) -> Vec<&str> {
        self.keep
            .iter()
            .filter(|k| self.fields.iter().any(|f| &f.column == *k))
            .map(String::as_str)
            .collect()
    }

    /// The output columns, in order: id, each field's encodings and status,
    /// the CLK (with a `[clk]` section), kept columns.
    pub fn output_columns(&self) -> Vec<String> {
        let mut v = vec![self.id_column.clone()];
        for f in &self.fields {
            for &e in &f.encodings {
                v.push(f.column_of(e));
            }
            v.push(f.status_column());
        }
        if self.clk.is_some() {
            v.push(CLK_COLUMN.into());
        }
        v.extend(self.keep.iter().cloned());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &[&str] = &[
        "patient_id",
        "nhs_number",
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "postcode",
        "icb",
    ];

    #[test]
    fn default_schema_for_synthetic_nhs_file() {
        let s = SchemaSpec::default_for(HEADER).resolve(HEADER).unwrap();
        assert_eq!(s.id_column, "patient_id");
        assert_eq!(s.fields.len(), 6);
        let cols = s.output_columns();
        assert!(cols.contains(&"given_name_bloom".to_string()));
        assert!(cols.contains(&"date_of_birth_day_month_swapped".to_string()));
        assert!(cols.contains(&"postcode_sector".to_string()));
        assert_eq!(s.fields[1].domain_of(Encoding::Token), "name");
        assert_eq!(s.fields[2].domain_of(Encoding::Token), "name");
        assert_eq!(s.fields[1].domain_of(Encoding::Phonetic), "name/phonetic");
        assert_eq!(s.fields[3].domain_of(Encoding::DayMonthSwapped), "date");
    }

    #[test]
    fn toml_schema() {
        let spec = SchemaSpec::from_toml(
            r#"
id_column = "patient_id"
keep = ["icb"]
[[field]]
column = "given_name"
kind = "name"
encodings = ["token", "bloom"]
bloom = { bits = 512, hashes = 10, balanced = true, salt = "date_of_birth.year" }
[[field]]
column = "date_of_birth"
kind = "date"
formats = ["%d/%m/%Y"]
"#,
        )
        .unwrap();
        let s = spec.resolve(HEADER).unwrap();
        assert_eq!(s.fields[0].bloom.as_ref().unwrap().bits, 512);
        assert_eq!(s.keep, ["icb"]);
        assert_eq!(
            s.output_columns(),
            [
                "patient_id",
                "given_name_token",
                "given_name_bloom",
                "given_name_status",
                "date_of_birth_token",
                "date_of_birth_year",
                "date_of_birth_month",
                "date_of_birth_day",
                "date_of_birth_day_month_swapped",
                "date_of_birth_status",
                "icb"
            ]
        );
    }

    #[test]
    fn refusals_say_what_to_change() {
        let bad = |toml: &str| SchemaSpec::from_toml(toml).and_then(|s| s.resolve(HEADER));
        let e = bad("[[field]]\ncolumn = \"nope\"\nkind = \"name\"").unwrap_err();
        assert!(e.to_string().contains("patient_id, nhs_number"), "{e}");
        let e = bad("[[field]]\ncolumn = \"sex\"\nkind = \"sex\"\nencodings = [\"bloom\"]")
            .unwrap_err();
        assert!(matches!(e, SchemaError::EncodingNotAllowed { .. }), "{e}");
        let e = bad("[[field]]\ncolumn = \"sex\"\nkind = \"gender\"").unwrap_err();
        assert!(matches!(e, SchemaError::Toml(_)), "{e}");
        let e = bad("[[field]]\ncolumn = \"sex\"\nkind = \"sex\"\ncolour = 1").unwrap_err();
        assert!(matches!(e, SchemaError::Toml(_)), "{e}");
        let e = bad("[[field]]\ncolumn = \"date_of_birth\"\nkind = \"date\"\nformats = [\"%Y\"]")
            .unwrap_err();
        assert!(matches!(e, SchemaError::DateFormat { .. }), "{e}");
        let e = bad("[[field]]\ncolumn = \"given_name\"\nkind = \"name\"\nbloom = { bits = 1000 }")
            .unwrap_err();
        assert!(matches!(e, SchemaError::Bloom { .. }), "{e}");
        let e = bad(
            "[[field]]\ncolumn = \"given_name\"\nkind = \"name\"\nbloom = { salt = \"postcode\" }",
        )
        .unwrap_err();
        assert!(matches!(e, SchemaError::Bloom { .. }), "{e}");
        let e = bad("[[field]]\ncolumn = \"given_name\"\nkind = \"name\"\n[[field]]\ncolumn = \"given_name\"\nkind = \"name\"").unwrap_err();
        assert!(matches!(e, SchemaError::Duplicate(_)), "{e}");
        let e = bad("[[field]]\ncolumn = \"given_name\"\nkind = \"name\"\nencodings=[\"bloom\"]\n[[field]]\ncolumn = \"family_name\"\nkind = \"name\"\nencodings=[\"bloom\"]\nbloom = { bits = 512 }").unwrap_err();
        assert!(matches!(e, SchemaError::DomainConflict { .. }), "{e}");
        let e = bad("id_column = \"x\"\n[[field]]\ncolumn = \"sex\"\nkind = \"sex\"").unwrap_err();
        assert!(matches!(e, SchemaError::MissingColumn { .. }), "{e}");
        let e = SchemaSpec::default_for(&["a", "b"])
            .resolve(&["a", "b"])
            .unwrap_err();
        assert!(matches!(e, SchemaError::NoFields { .. }), "{e}");
        let hdr = ["nhs_number", "given_name"];
        let e = SchemaSpec::default_for(&hdr).resolve(&hdr).unwrap_err();
        assert!(matches!(e, SchemaError::IdIsIdentifier { .. }), "{e}");
    }

    /// A `[clk]` section resolves each field's domain, adds the `clk`
    /// column before kept columns, and is refused, in one sentence naming
    /// the problem, for every mistake a user can make in it.
    #[test]
    fn clk_sections() {
        let base = "keep = [\"icb\"]\n[[field]]\ncolumn = \"given_name\"\nkind = \"name\"\nencodings = []\n[[field]]\ncolumn = \"postcode\"\nkind = \"postcode\"\n";
        let with = |clk: &str| {
            SchemaSpec::from_toml(&format!("{base}{clk}")).and_then(|s| s.resolve(HEADER))
        };
        let s = with("[clk]\n[[clk.field]]\ncolumn = \"given_name\"\n[[clk.field]]\ncolumn = \"postcode\"\ndomain = \"pc\"\nhashes = 5\n").unwrap();
        let c = s.clk.as_ref().unwrap();
        assert_eq!(c.bits, 1024);
        assert_eq!(c.fields[0].domain.as_deref(), Some("given_name"));
        assert_eq!(
            (c.fields[0].hashes, c.fields[0].q, c.fields[0].padding),
            (20, 2, true)
        );
        assert_eq!(c.fields[1].domain.as_deref(), Some("pc"));
        assert_eq!(c.fields[1].hashes, 5);
        let cols = s.output_columns();
        assert_eq!(&cols[cols.len() - 2..], ["clk", "icb"]);
        for (clk, want) in [
            ("[clk]\nfield = []\n", "lists no fields"),
            ("[clk]\nbits = 1000\n[[clk.field]]\ncolumn = \"given_name\"\n", "power of two"),
            ("[clk]\n[[clk.field]]\ncolumn = \"given_name\"\nhashes = 0\n", "hashes = 0"),
            ("[clk]\n[[clk.field]]\ncolumn = \"given_name\"\nq = 5\n", "q = 5"),
            ("[clk]\n[[clk.field]]\ncolumn = \"sex\"\n", "not an identifier field"),
            ("[clk]\n[[clk.field]]\ncolumn = \"given_name\"\n[[clk.field]]\ncolumn = \"given_name\"\ndomain = \"x\"\n", "listed twice"),
            ("[clk]\n[[clk.field]]\ncolumn = \"given_name\"\n[[clk.field]]\ncolumn = \"postcode\"\ndomain = \"given_name\"\n", "used twice"),
            ("[clk]\n[[clk.field]]\ncolumn = \"given_name\"\ndomain = \"a/b\"\n", "given_name"),
        ] {
            let e = with(clk).unwrap_err();
            assert!(matches!(e, SchemaError::Clk(_)), "{clk}: {e}");
            assert!(e.to_string().contains(want), "{clk}: {e}");
        }
        let e = with("[clk]\n[[clk.field]]\ncolumn = \"given_name\"\ncolour = 1\n").unwrap_err();
        assert!(matches!(e, SchemaError::Toml(_)), "{e}");
        // A field may not take the CLK's domain, nor a kept column its name.
        let e = SchemaSpec::from_toml("[[field]]\ncolumn = \"given_name\"\nkind = \"name\"\ndomain = \"clk\"\n[clk]\n[[clk.field]]\ncolumn = \"given_name\"\n")
            .and_then(|s| s.resolve(HEADER))
            .unwrap_err();
        assert!(e.to_string().contains("domain \"clk\""), "{e}");
        let hdr = ["patient_id", "given_name", "clk"];
        let e = SchemaSpec::from_toml("keep = [\"clk\"]\n[[field]]\ncolumn = \"given_name\"\nkind = \"name\"\n[clk]\n[[clk.field]]\ncolumn = \"given_name\"\n")
            .and_then(|s| s.resolve(&hdr))
            .unwrap_err();
        assert!(
            matches!(e, SchemaError::Duplicate(ref c) if c == "clk"),
            "{e}"
        );
        // A schema without one serialises as before (manifests unchanged).
        let s = SchemaSpec::default_for(HEADER).resolve(HEADER).unwrap();
        assert!(!serde_json::to_string(&s).unwrap().contains("clk"));
    }

    #[test]
    fn a_headerless_file_never_has_its_first_record_printed() {
        let first_row = [
            "P0001",
            "9995260182",
            "Olivia",
            "Smith",
            "1956-06-19",
            "2",
            "SW1A 1AA",
        ];
        let e = SchemaSpec::default_for(&first_row)
            .resolve(&first_row)
            .unwrap_err();
        let msg = e.to_string();
        for v in first_row {
            assert!(!msg.contains(v), "{v} in {msg}");
        }
        assert!(msg.contains("header row"), "{msg}");
        assert_eq!(
            describe_columns(&["id", "nhs_number", "address_line_1"]),
            "id, nhs_number, address_line_1"
        );
    }

    #[test]
    fn other_kinds() {
        let header = ["rec", "ssn", "street", "suburb"];
        let s = SchemaSpec::from_toml(
            "[[field]]\ncolumn = \"ssn\"\nkind = \"identifier\"\n[[field]]\ncolumn = \"street\"\nkind = \"text\"\n",
        )
        .unwrap()
        .resolve(&header)
        .unwrap();
        assert_eq!(s.fields[0].domain, "identifier_ssn");
        assert_eq!(s.fields[1].encodings, [Encoding::Token, Encoding::Bloom]);
        assert_eq!(sanitise_name("Address Line 1"), "address_line_1");
    }
}
