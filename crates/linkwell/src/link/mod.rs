//! Linking encoded files in the TRE: no secret, no identifiers.
//!
//! - [`data`] loads encoded files, checks manifests and hashes, and interns
//!   tokens;
//! - [`deterministic`] runs cascades of match keys;
//! - [`output`] writes link tables, manifests and research extracts;
//! - [`pipeline`] runs a whole linkage job.

pub mod data;
pub mod deterministic;
pub mod keys;
pub mod output;
pub mod pipeline;
pub mod probabilistic;
#[cfg(test)]
pub(crate) mod test_util;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::io::IoError;
use crate::manifest::{Manifest, ManifestError};

/// Why a linkage could not run. Each message names the file or rule and
/// says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A manifest is missing or unreadable.
    #[error(transparent)]
    Manifest(ManifestError),
    /// The two files were encoded under different secrets.
    #[error("{} and {} were encoded under different secrets (key fingerprints {left} and {right}): tokens can never match; ask the data owners to re-tokenise with the same linkage secret", .left_path.display(), .right_path.display())]
    DifferentSecrets {
        /// Left file.
        left_path: PathBuf,
        /// Right file.
        right_path: PathBuf,
        /// Left fingerprint.
        left: String,
        /// Right fingerprint.
        right: String,
    },
    /// The files were normalised under different rules.
    #[error("{} and {} were normalised by different linkwell versions (normaliser {left} and {right}): equal identifiers might not give equal tokens; re-tokenise both with the same version", .left_path.display(), .right_path.display())]
    DifferentNormalisers {
        /// Left file.
        left_path: PathBuf,
        /// Right file.
        right_path: PathBuf,
        /// Left version.
        left: u32,
        /// Right version.
        right: u32,
    },
    /// The data file does not match its manifest.
    #[error("{} does not match the SHA-256 in its manifest: it was truncated or altered after tokenising; obtain the file again from its data owner", .path.display())]
    Altered {
        /// The data file.
        path: PathBuf,
    },
    /// Malformed encoded data.
    #[error("{}, line {line}: {message}", .path.display())]
    BadData {
        /// The data file.
        path: PathBuf,
        /// Line.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A rule or model names a column the file does not have.
    #[error("{} has no encoded column {column:?}; its encoded columns are: {available}", .path.display())]
    MissingColumn {
        /// The data file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Encoded columns present.
        available: String,
    },
    /// Two columns compared by a rule cannot be compared.
    #[error("{context}: {left:?} (left) and {right:?} (right) cannot be compared: {reason}")]
    Incomparable {
        /// The rule, comparison or blocking rule.
        context: String,
        /// Left column.
        left: String,
        /// Right column.
        right: String,
        /// Why.
        reason: String,
    },
    /// A rules or model file is not valid.
    #[error("{}: {message}", .path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Anything else about the request that cannot work.
    #[error("{0}")]
    Invalid(String),
}

/// How many records on each side one record may link to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Cardinality {
    /// Each record links to at most one on the other side (NHS patient ↔
    /// ONS person).
    #[default]
    OneToOne,
    /// A left record may link to many right records, a right record to one
    /// left record (NHS patient ↔ DWP claims).
    OneToMany,
    /// Any number on either side.
    ManyToMany,
}

impl Cardinality {
    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Cardinality::OneToOne => "one-to-one",
            Cardinality::OneToMany => "one-to-many",
            Cardinality::ManyToMany => "many-to-many",
        }
    }
    /// Whether a left record can have only one link.
    pub fn left_unique(self) -> bool {
        self == Cardinality::OneToOne
    }
    /// Whether a right record can have only one link.
    pub fn right_unique(self) -> bool {
        self != Cardinality::ManyToMany
    }
}

impl std::str::FromStr for Cardinality {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "one-to-one" => Ok(Cardinality::OneToOne),
            "one-to-many" => Ok(Cardinality::OneToMany),
            "many-to-many" => Ok(Cardinality::ManyToMany),
            _ => Err(format!(
                "cardinality {s:?} is not one of one-to-one, one-to-many, many-to-many"
            )),
        }
    }
}

/// One element of a match key or blocking rule: a column on each side
/// (usually the same name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyPart {
    /// The same column on both sides.
    Same(String),
    /// Different columns (same domain), e.g. the left date's
    /// `day_month_swapped` against the right date's `token`.
    Pair {
        /// Left column.
        left: String,
        /// Right column.
        right: String,
    },
}

impl KeyPart {
    /// The left column.
    pub fn left(&self) -> &str {
        match self {
            KeyPart::Same(c) => c,
            KeyPart::Pair { left, .. } => left,
        }
    }
    /// The right column.
    pub fn right(&self) -> &str {
        match self {
            KeyPart::Same(c) => c,
            KeyPart::Pair { right, .. } => right,
        }
    }
}

/// Checks that the two files can be linked at all: same secret, same
/// normaliser.
///
/// # Errors
/// [`LinkError::DifferentSecrets`] or [`LinkError::DifferentNormalisers`].
pub fn check_compatible(
    left_path: &std::path::Path,
    left: &Manifest,
    right_path: &std::path::Path,
    right: &Manifest,
) -> Result<(), LinkError> {
    if left.key_fingerprint != right.key_fingerprint {
        return Err(LinkError::DifferentSecrets {
            left_path: left_path.to_path_buf(),
            right_path: right_path.to_path_buf(),
            left: left.key_fingerprint.clone(),
            right: right.key_fingerprint.clone(),
        });
    }
    if left.normaliser_version != right.normaliser_version {
        return Err(LinkError::DifferentNormalisers {
            left_path: left_path.to_path_buf(),
            right_path: right_path.to_path_buf(),
            left: left.normaliser_version,
            right: right.normaliser_version,
        });
    }
    Ok(())
}

/// Checks that a key part can be matched exactly: a token column, not a
/// Bloom filter (which is compared by Dice, never by equality).
///
/// # Errors
/// [`LinkError::Incomparable`].
pub fn check_exact_key(
    context: &str,
    left: &Manifest,
    right: &Manifest,
    k: &KeyPart,
) -> Result<(), LinkError> {
    let is_bloom = |m: &Manifest, c: &str| {
        m.columns
            .iter()
            .any(|x| x.name == c && x.encoding.as_deref() == Some("bloom"))
    };
    if is_bloom(left, k.left()) || is_bloom(right, k.right()) {
        return Err(LinkError::Incomparable {
            context: context.to_string(),
            left: k.left().into(),
            right: k.right().into(),
            reason: "a Bloom filter is compared by its Dice coefficient, never matched exactly; use a token column here".into(),
        });
    }
    Ok(())
}

/// The manifest's entry for an encoded column.
///
/// # Errors
/// [`LinkError::MissingColumn`] listing the encoded columns present.
pub fn encoded_column<'m>(
    m: &'m Manifest,
    path: &std::path::Path,
    col: &str,
) -> Result<&'m crate::manifest::ColumnInfo, LinkError> {
    m.columns
        .iter()
        .find(|c| c.name == col && c.role == "encoding")
        .ok_or_else(|| LinkError::MissingColumn {
            path: path.to_path_buf(),
            column: col.to_string(),
            available: m
                .columns
                .iter()
                .filter(|c| c.role == "encoding")
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Checks that `left_col` of the left file and `right_col` of the right
/// file hold comparable encodings: both exist, are encodings, share a
/// domain, and (for Bloom filters) have identical parameters.
///
/// # Errors
/// [`LinkError::MissingColumn`] or [`LinkError::Incomparable`].
pub fn check_comparable(
    context: &str,
    left_path: &std::path::Path,
    left: &Manifest,
    left_col: &str,
    right_path: &std::path::Path,
    right: &Manifest,
    right_col: &str,
) -> Result<(), LinkError> {
    let l = encoded_column(left, left_path, left_col)?;
    let r = encoded_column(right, right_path, right_col)?;
    let incomparable = |reason: String| LinkError::Incomparable {
        context: context.to_string(),
        left: left_col.to_string(),
        right: right_col.to_string(),
        reason,
    };
    if l.domain != r.domain {
        return Err(incomparable(format!(
            "their domains differ ({} and {}), so equal values have unrelated tokens",
            l.domain.as_deref().unwrap_or("?"),
            r.domain.as_deref().unwrap_or("?")
        )));
    }
    let is_bloom = |c: &crate::manifest::ColumnInfo| c.encoding.as_deref() == Some("bloom");
    if is_bloom(l) != is_bloom(r) {
        return Err(incomparable(
            "one is a Bloom filter and the other a token".into(),
        ));
    }
    if is_bloom(l) {
        let (pl, pr) = (left.bloom_layout(l), right.bloom_layout(r));
        let show = |p: Option<crate::manifest::BloomLayout>| {
            p.map_or_else(|| "none".to_string(), |p| p.to_string())
        };
        if pl != pr {
            return Err(incomparable(format!(
                "their Bloom filter parameters differ ({} and {}); re-encode both with the same parameters",
                show(pl),
                show(pr)
            )));
        }
    }
    Ok(())
}
