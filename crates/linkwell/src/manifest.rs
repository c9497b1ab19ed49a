//! The manifest beside every encoded file: what was encoded, how, under
//! which key, how many rows, and the SHA-256 of the data.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::io::{manifest_path, IoError};
use crate::schema::Schema;

/// The `format` of an encoded-file manifest.
pub const ENCODED_FORMAT: &str = "linkwell-encoded";
/// The newest manifest format version, which this linkwell reads and
/// writes. Version 2 added the record-level filter (`clk`); a file written
/// without one says version 1, the lowest that can read it, so that
/// earlier builds still read it ([`format_version_for`]).
pub const FORMAT_VERSION: u32 = CLK_FORMAT_VERSION;

/// The first format version with the record-level filter.
const CLK_FORMAT_VERSION: u32 = 2;

/// The format version a file of this schema is written with: the lowest
/// that can read it.
pub fn format_version_for(schema: &Schema) -> u32 {
    if schema.clk.is_some() {
        CLK_FORMAT_VERSION
    } else {
        1
    }
}

/// Row counts. `read = written + rejected` always holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Records read (the header is not a record).
    pub read: u64,
    /// Records written to the output.
    pub written: u64,
    /// Records sent to the rejects file.
    pub rejected: u64,
    /// For each identifier field, how many records had each status.
    pub fields: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Counts {
    /// Whether the counts reconcile.
    pub fn reconciles(&self) -> bool {
        self.read == self.written + self.rejected
            && self
                .fields
                .values()
                .all(|s| s.values().sum::<u64>() == self.written)
    }
}

/// One output column and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// `id`, `encoding`, `status` or `payload`.
    pub role: String,
    /// The identifier field it encodes (encodings and statuses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The encoding (encodings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The comparison domain (encodings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// The manifest of an encoded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`ENCODED_FORMAT`].
    pub format: String,
    /// The lowest format version that can read the file
    /// ([`format_version_for`]; at most [`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The linkwell version that wrote it.
    pub tool_version: String,
    /// [`crate::normalise::NORMALISER_VERSION`].
    pub normaliser_version: u32,
    /// Fingerprint of the secret the tokens were made with.
    pub key_fingerprint: String,
    /// The data file's name (in the same directory as the manifest).
    pub data_file: String,
    /// SHA-256 of the data file, lowercase hex.
    pub data_sha256: String,
    /// Size of the data file in bytes.
    pub data_bytes: u64,
    /// The rejects file's name.
    pub rejects_file: String,
    /// Dates after this were implausible.
    pub reference_date: String,
    /// The resolved schema.
    pub schema: Schema,
    /// Every output column, in order.
    pub columns: Vec<ColumnInfo>,
    /// Row counts.
    pub counts: Counts,
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// No manifest beside the data file.
    #[error("{} has no manifest ({} is missing): encoded files must travel with the manifest `linkwell tokenise` writes beside them", .data.display(), .manifest.display())]
    Missing {
        /// The data file.
        data: std::path::PathBuf,
        /// The manifest path looked for.
        manifest: std::path::PathBuf,
    },
    /// I/O.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Not a linkwell manifest, or a newer format.
    #[error("{} is not a linkwell manifest this version can read: {message}", .path.display())]
    Invalid {
        /// The manifest.
        path: std::path::PathBuf,
        /// Why.
        message: String,
    },
}

impl Manifest {
    /// Reads the manifest beside `data`.
    ///
    /// # Errors
    /// [`ManifestError`].
    pub fn read_for(data: &Path) -> Result<Manifest, ManifestError> {
        let path = manifest_path(data);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ManifestError::Missing {
                    data: data.to_path_buf(),
                    manifest: path,
                })
            }
            Err(e) => return Err(IoError::new("cannot read", &path, e).into()),
        };
        let m: Manifest = serde_json::from_str(&text).map_err(|e| ManifestError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if m.format != ENCODED_FORMAT {
            return Err(ManifestError::Invalid {
                path,
                message: format!("format is {:?}, not {ENCODED_FORMAT:?}", m.format),
            });
        }
        if m.schema.clk.is_some() && m.format_version < CLK_FORMAT_VERSION {
            return Err(ManifestError::Invalid {
                path,
                message: format!(
                    "format version {} has no record-level filter, but this manifest's schema has one: the manifest was altered",
                    m.format_version
                ),
            });
        }
        if m.format_version > FORMAT_VERSION {
            return Err(ManifestError::Invalid {
                path,
                message: format!(
                    "format version {} is newer than this linkwell's {FORMAT_VERSION}: upgrade linkwell",
                    m.format_version
                ),
            });
        }
        Ok(m)
    }

    /// The column layout of a schema.
    pub fn columns_of(schema: &Schema) -> Vec<ColumnInfo> {
        let mut v = vec![ColumnInfo {
            name: schema.id_column.clone(),
            role: "id".into(),
            field: None,
            encoding: None,
            domain: None,
        }];
        for f in &schema.fields {
            for &e in &f.encodings {
                // Clear derived attributes are payload: the TRE may report
                // on them, never compare them as tokens.
                let clear = e.is_clear();
                v.push(ColumnInfo {
                    name: f.column_of(e),
                    role: if clear { "payload" } else { "encoding" }.into(),
                    field: Some(f.column.clone()),
                    encoding: Some(e.name().into()),
                    domain: (!clear).then(|| f.domain_of(e)),
                });
            }
            v.push(ColumnInfo {
                name: f.status_column(),
                role: "status".into(),
                field: Some(f.column.clone()),
                encoding: None,
                domain: None,
            });
        }
        if schema.clk.is_some() {
            v.push(ColumnInfo {
                name: crate::schema::CLK_COLUMN.into(),
                role: "encoding".into(),
                field: None,
                encoding: Some("bloom".into()),
                domain: Some(crate::schema::CLK_DOMAIN.into()),
            });
        }
        for k in &schema.keep {
            v.push(ColumnInfo {
                name: k.clone(),
                role: "payload".into(),
                field: None,
                encoding: None,
                domain: None,
            });
        }
        v
    }
}

/// How a Bloom-filter column was encoded: a field's filter, or the
/// record-level filter. Two columns are comparable only if these are
/// equal: field filters' parameters exactly, CLKs by what sets their bits
/// ([`crate::schema::Clk::bit_parameters`]: the length, and each field's
/// domain, `k`, `q` and padding, in any order and whatever the columns are
/// called).
#[derive(Debug, Clone, Copy)]
pub enum BloomLayout<'a> {
    /// A field's own filter.
    Field(&'a crate::bloom::BloomParams),
    /// The record-level filter (CLK).
    Clk(&'a crate::schema::Clk),
}

impl std::fmt::Display for BloomLayout<'_> {
    /// The parameters as JSON, as the manifest has them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let json = match self {
            BloomLayout::Field(p) => serde_json::to_string(p),
            BloomLayout::Clk(c) => serde_json::to_string(c),
        };
        f.write_str(&json.map_err(|_| std::fmt::Error)?)
    }
}

impl PartialEq for BloomLayout<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (BloomLayout::Field(a), BloomLayout::Field(b)) => a == b,
            (BloomLayout::Clk(a), BloomLayout::Clk(b)) => a.bit_parameters() == b.bit_parameters(),
            _ => false,
        }
    }
}

impl Eq for BloomLayout<'_> {}

impl BloomLayout<'_> {
    /// Checks the parameters (a manifest is untrusted input).
    ///
    /// # Errors
    /// One sentence naming the bad parameter.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            BloomLayout::Field(p) => p.validate().map_err(|e| e.to_string()),
            BloomLayout::Clk(c) => c.validate(),
        }
    }

    /// The encoded filter's length in 64-bit words.
    pub fn words(&self) -> usize {
        match self {
            BloomLayout::Field(p) => p.words(),
            BloomLayout::Clk(c) => c.words(),
        }
    }
}

impl Manifest {
    /// The layout of a Bloom-filter column (encoding `bloom`), `None` when
    /// the manifest does not describe one.
    pub fn bloom_layout(&self, c: &ColumnInfo) -> Option<BloomLayout<'_>> {
        if c.encoding.as_deref() != Some("bloom") {
            return None;
        }
        match &c.field {
            Some(field) => self
                .schema
                .fields
                .iter()
                .find(|f| &f.column == field)
                .and_then(|f| f.bloom.as_ref())
                .map(BloomLayout::Field),
            None if c.name == crate::schema::CLK_COLUMN => {
                self.schema.clk.as_ref().map(BloomLayout::Clk)
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Clk, ClkField};

    fn clk(fields: &[(&str, Option<&str>, u32)]) -> Clk {
        Clk {
            bits: 1024,
            fields: fields
                .iter()
                .map(|&(column, domain, hashes)| ClkField {
                    column: column.into(),
                    domain: domain.map(str::to_string),
                    hashes,
                    q: 2,
                    padding: true,
                })
                .collect(),
        }
    }

    /// CLKs compare by what sets their bits: field order and column names
    /// (with the same domains) do not matter; a field's `k`, the domains
    /// and the length do; a CLK is never a field's filter.
    #[test]
    fn clks_compare_by_what_sets_their_bits() {
        let a = clk(&[("given_name", None, 20), ("family_name", None, 20)]);
        let reordered = clk(&[("family_name", None, 20), ("given_name", None, 20)]);
        let renamed = clk(&[
            ("forename", Some("given_name"), 20),
            ("surname", Some("family_name"), 20),
        ]);
        let other_k = clk(&[("given_name", None, 20), ("family_name", None, 10)]);
        let other_domain = clk(&[("forename", None, 20), ("family_name", None, 20)]);
        let mut longer = a.clone();
        longer.bits = 2048;
        let l = |c: &Clk| BloomLayout::Clk(c).to_string();
        assert_eq!(BloomLayout::Clk(&a), BloomLayout::Clk(&reordered));
        assert_eq!(
            BloomLayout::Clk(&a),
            BloomLayout::Clk(&renamed),
            "{}",
            l(&renamed)
        );
        assert_ne!(BloomLayout::Clk(&a), BloomLayout::Clk(&other_k));
        assert_ne!(BloomLayout::Clk(&a), BloomLayout::Clk(&other_domain));
        assert_ne!(BloomLayout::Clk(&a), BloomLayout::Clk(&longer));
        let p = crate::bloom::BloomParams::default();
        assert_ne!(BloomLayout::Clk(&a), BloomLayout::Field(&p));
        assert_eq!(BloomLayout::Field(&p), BloomLayout::Field(&p.clone()));
    }
}
