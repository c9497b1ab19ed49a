//! # linkwell
//!
//! Privacy-preserving record linkage for health, employment and benefit
//! records. Data owners turn identifiers into keyed tokens and keyed Bloom
//! filters on their side ([`tokenise`]); a trusted research environment
//! links the encoded files without ever seeing an identifier or the key.
//!
//! ```
//! use linkwell::{secret::Secret, token::TokenKey, nhs::NhsNumber};
//!
//! // A data owner's secret (normally `Secret::load_from(..)` on a 0600 file).
//! let secret = Secret::from_hex(b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").unwrap();
//! let key = TokenKey::new(&secret, "nhs_number").unwrap();
//! let nhs = NhsNumber::parse("943 476 5919").unwrap();
//! let token = key.token(nhs.as_str().as_bytes());
//! assert_eq!(token.to_string(), "ee300ebd22e30c26fe84c28c76f903bfefc2422db9fc144b9d5470e19c2d7671");
//! ```
//!
//! The crate never prints, never exits, and reads the environment only in
//! [`secret::Secret::load_from`].

// `unsafe` only in `mac::shani`, to call SHA-extension code after checking
// the CPU has it (benches/tokens.rs shows what it pays).
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod bloom;
pub mod encode;
pub mod eval;
pub mod hex;
pub mod io;
pub mod link;
pub mod mac;
pub mod manifest;
mod memo;
pub mod nhs;
pub mod normalise;
pub mod pseudonym;
pub mod report;
pub mod schema;
pub mod secret;
pub mod token;
pub mod tokenise;
