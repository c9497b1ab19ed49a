//! Keyed tokens: the exact, published derivation.
//!
//! For a comparison domain `D` (such as `nhs_number`, or `name`, which given
//! and family names share so that swapped names still compare):
//!
//! ```text
//! K_D   = HMAC-SHA256(secret, "linkwell/v1/token/" || D)
//! token = HMAC-SHA256(K_D, normalised value as UTF-8)
//! ```
//!
//! A token is 32 bytes, written in CSV as 64 lowercase hex characters.
//! Different domains have independent keys, so a date-of-birth token can
//! never equal a postcode token, even for the same text.
//!
//! ```
//! use linkwell::{secret::Secret, token::TokenKey};
//! let secret = Secret::from_hex(b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").unwrap();
//! let key = TokenKey::new(&secret, "nhs_number").unwrap();
//! assert_eq!(
//!     key.token(b"9434765919").to_string(),
//!     "ee300ebd22e30c26fe84c28c76f903bfefc2422db9fc144b9d5470e19c2d7671"
//! );
//! ```

use std::fmt;

use rayon::prelude::*;

use crate::mac::HmacSha256;
use crate::secret::Secret;

/// Prefix of every token subkey label.
pub const TOKEN_LABEL_PREFIX: &str = "linkwell/v1/token/";

/// A 32-byte keyed token.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub [u8; 32]);

impl Token {
    /// The 64-character lowercase hex form used in CSV files.
    pub fn to_hex(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        crate::hex::encode_into(&self.0, &mut out);
        out
    }

    /// Parses the 64-character hex form.
    ///
    /// # Errors
    /// [`crate::hex::HexError`] if `text` is not 64 hex digits.
    pub fn from_hex(text: &[u8]) -> Result<Token, crate::hex::HexError> {
        let mut t = [0u8; 32];
        if text.len() != 64 {
            return Err(crate::hex::HexError::OddLength);
        }
        crate::hex::decode_into(text, &mut t)?;
        Ok(Token(t))
    }

    /// The first 8 bytes as an integer: tokens are uniformly random, so this
    /// is already a good hash.
    pub fn prefix64(&self) -> u64 {
        u64::from_le_bytes(self.0[..8].try_into().expect("8 bytes"))
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.to_hex()).expect("hex"))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({self})")
    }
}

/// A domain name is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("domain {0:?} is not valid: use 1 to 64 characters from a-z, 0-9 and _")]
pub struct DomainError(pub String);

/// Checks a domain, encoding or project name: 1–64 characters of `a-z`,
/// `0-9`, `_`. Names are part of key labels, so they are kept to a set that
/// cannot be confused or contain separators.
///
/// # Errors
/// [`DomainError`] for anything else.
pub fn check_name(name: &str) -> Result<(), DomainError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(DomainError(name.to_string()))
    }
}

/// Checks a domain: a name (see [`check_name`]), or a name, `/` and a
/// component name for the domains of component encodings (`date/year`).
/// User-chosen domains are plain names, so they can never collide with a
/// component domain.
///
/// # Errors
/// [`DomainError`] for anything else.
pub fn check_domain(domain: &str) -> Result<(), DomainError> {
    let mut parts = domain.split('/');
    let ok = match (parts.next(), parts.next(), parts.next()) {
        (Some(a), None, None) => check_name(a).is_ok(),
        (Some(a), Some(b), None) => check_name(a).is_ok() && check_name(b).is_ok(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(DomainError(domain.to_string()))
    }
}

/// The keyed HMAC state for one domain. Tokenising a value clones the cached
/// state: no per-value re-keying.
#[derive(Clone)]
pub struct TokenKey {
    domain: String,
    mac: HmacSha256,
    id: u64,
}

thread_local! {
    static MEMO: std::cell::RefCell<crate::memo::Map<[u8; 64]>> = std::cell::RefCell::new(crate::memo::Map::default());
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenKey {{ domain: {:?} }}", self.domain)
    }
}

impl TokenKey {
    /// Derives the subkey for `domain`.
    ///
    /// # Errors
    /// [`DomainError`] if the domain name is not valid.
    pub fn new(secret: &Secret, domain: &str) -> Result<TokenKey, DomainError> {
        check_domain(domain)?;
        let label = format!("{TOKEN_LABEL_PREFIX}{domain}");
        Ok(TokenKey {
            domain: domain.to_string(),
            mac: secret.derive(label.as_bytes()),
            id: crate::memo::next_id(),
        })
    }

    /// The domain this key tokenises for.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The token of a normalised value.
    #[inline]
    pub fn token(&self, normalised: &[u8]) -> Token {
        Token(self.mac.mac(normalised))
    }

    /// The token's hex form, memoised per thread for short values (years,
    /// districts, names): the same value under the same key is not
    /// recomputed.
    #[inline]
    pub fn token_hex_memo(&self, normalised: &[u8]) -> [u8; 64] {
        match crate::memo::key(self.id, &[normalised]) {
            Some(k) => crate::memo::get_or(&MEMO, k, || self.token(normalised).to_hex()),
            None => self.token(normalised).to_hex(),
        }
    }

    /// The token of the concatenation of `parts` (for composite values).
    pub fn token_parts(&self, parts: &[&[u8]]) -> Token {
        Token(self.mac.mac_parts(parts))
    }

    /// Tokens of many values, in parallel, in order. Within a thread,
    /// values are tokenised two at a time ([`HmacSha256::mac_pair`]).
    pub fn tokens<V: AsRef<[u8]> + Sync>(&self, values: &[V]) -> Vec<Token> {
        const CHUNK: usize = 4096;
        let mut out = vec![Token([0; 32]); values.len()];
        out.par_chunks_mut(CHUNK)
            .zip(values.par_chunks(CHUNK))
            .for_each(|(out, values)| {
                for (o, v) in out.chunks_mut(2).zip(values.chunks(2)) {
                    match (o, v) {
                        ([o0, o1], [v0, v1]) => {
                            let [t0, t1] = HmacSha256::mac_pair(
                                (&self.mac, v0.as_ref()),
                                (&self.mac, v1.as_ref()),
                            );
                            (*o0, *o1) = (Token(t0), Token(t1));
                        }
                        (o, v) => {
                            for (o, v) in o.iter_mut().zip(v) {
                                *o = self.token(v.as_ref());
                            }
                        }
                    }
                }
            });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use proptest::prelude::*;

    fn secret() -> Secret {
        Secret::from_hex(b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
            .unwrap()
    }

    /// The known answer published in README.md and SECURITY.md; checkable
    /// with Python's hmac and hashlib.
    #[test]
    fn known_answer_nhs_number() {
        let key = TokenKey::new(&secret(), "nhs_number").unwrap();
        assert_eq!(
            key.token(b"9434765919").to_string(),
            "ee300ebd22e30c26fe84c28c76f903bfefc2422db9fc144b9d5470e19c2d7671"
        );
    }

    /// The derivation, spelled out with the `hmac` crate: any change to
    /// labels or structure fails here.
    #[test]
    fn derivation_matches_reference() {
        let s: Vec<u8> = (0u8..32).collect();
        let mut k = Hmac::<sha2::Sha256>::new_from_slice(&s).unwrap();
        k.update(b"linkwell/v1/token/name");
        let kd = k.finalize().into_bytes();
        let mut t = Hmac::<sha2::Sha256>::new_from_slice(&kd).unwrap();
        t.update(b"SMITH");
        let want = t.finalize().into_bytes();
        let key = TokenKey::new(&secret(), "name").unwrap();
        assert_eq!(&key.token(b"SMITH").0[..], &want[..]);
    }

    #[test]
    fn domains_are_independent() {
        let s = secret();
        let a = TokenKey::new(&s, "date").unwrap();
        let b = TokenKey::new(&s, "postcode").unwrap();
        assert_ne!(a.token(b"1980-01-01"), b.token(b"1980-01-01"));
    }

    #[test]
    fn bad_domains_are_refused() {
        for d in [
            "",
            "Name",
            "a/b/c",
            "a/",
            "/b",
            "nhs number",
            &"x".repeat(65),
        ] {
            assert!(TokenKey::new(&secret(), d).is_err(), "{d}");
        }
        assert!(TokenKey::new(&secret(), "date/year").is_ok());
        assert!(
            check_name("date/year").is_err(),
            "user domains cannot look like components"
        );
    }

    #[test]
    fn batch_matches_single() {
        let key = TokenKey::new(&secret(), "nhs_number").unwrap();
        // An odd count (a last value without a partner) and one value too
        // long for the interleaved path, paired with a short one.
        let mut values: Vec<String> = (0..10_001).map(|i| format!("{i:010}")).collect();
        values[5] = "x".repeat(60);
        let batch = key.tokens(&values);
        assert_eq!(batch.len(), values.len());
        for (v, t) in values.iter().zip(&batch) {
            assert_eq!(key.token(v.as_bytes()), *t);
        }
    }

    proptest! {
        #[test]
        fn hex_round_trip(b in any::<[u8; 32]>()) {
            let t = Token(b);
            prop_assert_eq!(Token::from_hex(&t.to_hex()).unwrap(), t);
        }
    }
}
