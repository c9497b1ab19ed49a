//! Per-project pseudonyms for linked research extracts.
//!
//! The TRE holds a project key (made with `linkwell keygen`, never shared
//! with the data owners). For project `P`:
//!
//! ```text
//! K_P       = HMAC-SHA256(project key, "linkwell/v1/pseudonym/" || P)
//! pseudonym = HMAC-SHA256(K_P, dataset || 0x00 || record id), 64 hex chars
//! ```
//!
//! Two projects' extracts cannot be joined on pseudonyms (different `P`);
//! the data owners cannot map pseudonyms back to their records (they do not
//! hold the project key); the dataset label keeps equal id strings in
//! different datasets apart.

use crate::mac::HmacSha256;
use crate::secret::Secret;
use crate::token::{check_name, DomainError};

/// Prefix of the pseudonym key label.
pub const PSEUDONYM_LABEL_PREFIX: &str = "linkwell/v1/pseudonym/";

/// The keyed state for one project's pseudonyms.
pub struct PseudonymKey {
    mac: HmacSha256,
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(<keyed state>)")
    }
}

impl PseudonymKey {
    /// Derives the key for `project` (1–64 of `a-z 0-9 _`).
    ///
    /// # Errors
    /// [`DomainError`] for a bad project name.
    pub fn new(project_key: &Secret, project: &str) -> Result<PseudonymKey, DomainError> {
        check_name(project)?;
        Ok(PseudonymKey {
            mac: project_key.derive(format!("{PSEUDONYM_LABEL_PREFIX}{project}").as_bytes()),
        })
    }

    /// The pseudonym of record `id` of `dataset`, as 64 hex characters.
    pub fn pseudonym(&self, dataset: &str, id: &str) -> String {
        crate::hex::encode(
            &self
                .mac
                .mac_parts(&[dataset.as_bytes(), &[0], id.as_bytes()]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_and_separation() {
        let key = Secret::from_bytes(zeroize::Zeroizing::new((0u8..32).collect())).unwrap();
        let a = PseudonymKey::new(&key, "work_and_health").unwrap();
        let b = PseudonymKey::new(&key, "another_project").unwrap();
        // python3: K=hmac(bytes(range(32)), b"linkwell/v1/pseudonym/work_and_health")
        //          hmac(K, b"nhs\x00P0001").hexdigest()
        assert_eq!(a.pseudonym("nhs", "P0001"), KAT);
        assert_ne!(a.pseudonym("nhs", "P0001"), b.pseudonym("nhs", "P0001"));
        assert_ne!(a.pseudonym("nhs", "P0001"), a.pseudonym("dwp", "P0001"));
        assert!(PseudonymKey::new(&key, "Bad Name").is_err());
    }
    const KAT: &str = "ec8f9658fb36d375249b40c2b65e00d01765ec75be7a5d453d7649d0d666765d";
}
