//! Normalisers: each identifier kind to the one form that is tokenised.
//!
//! Every normaliser is idempotent (normalising its output changes nothing)
//! and invariant to case, accents and spacing; property tests beside each
//! check this, and fuzz targets check they never panic.

pub mod date;
pub mod name;
pub mod postcode;
pub mod sex;
pub mod text;

/// Version of the normalisation rules. It is written into every manifest;
/// two files normalised under different versions are refused at link time,
/// because equal identifiers might not give equal tokens.
pub const NORMALISER_VERSION: u32 = 1;
