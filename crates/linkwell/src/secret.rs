//! The linkage secret: generation, loading, fingerprint and subkeys.
//!
//! A secret is at least 32 random bytes, stored as lowercase hex in a file
//! that only its owner can read. It never appears on a command line, in an
//! environment variable (only the *path* to the file may be there), in a log,
//! an error or `Debug` output; its bytes are zeroized when it is dropped.
//!
//! ```
//! use linkwell::secret::Secret;
//! let s = Secret::from_hex(b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n").unwrap();
//! assert_eq!(s.fingerprint().to_string().len(), 16);
//! assert_eq!(format!("{s:?}"), format!("Secret {{ fingerprint: {} }}", s.fingerprint()));
//! ```

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::mac::HmacSha256;

/// Minimum secret length in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// Length of a secret made by [`Secret::generate`].
pub const GENERATED_SECRET_BYTES: usize = 32;
/// Largest key file read (a key file is a line of hex; anything bigger is
/// the wrong file).
const MAX_KEY_FILE_BYTES: u64 = 4096;
/// The environment variable that may name the key file.
pub const KEY_FILE_ENV: &str = "LINKWELL_KEY_FILE";
/// The label whose HMAC under the secret gives the fingerprint.
pub const FINGERPRINT_LABEL: &[u8] = b"linkwell/v1/fingerprint";

/// Why a secret could not be made, loaded or saved. Messages name the
/// file and say how to fix the problem; they never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// No key file was named and the environment variable is unset.
    #[error("no key file given: pass --key-file FILE or set {KEY_FILE_ENV} to the file's path (make one with `linkwell keygen --out FILE`)")]
    NoKeyFile,
    /// The key file does not exist.
    #[error("key file {} does not exist: check the path, or make a key with `linkwell keygen --out {}`", .0.display(), .0.display())]
    NotFound(PathBuf),
    /// The key file could not be read.
    #[error("key file {} could not be read ({error}): check that it is a file you own", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The key file's permissions let group or others read or write it.
    #[error("key file {} is accessible by group or others (mode {mode:04o}): run `chmod 600 {}` so that only you can read it", .path.display(), .path.display())]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file belongs to another user.
    #[error("key file {} belongs to another user: a key must be owned by the account that uses it; copy it and `chmod 600` the copy", .path.display())]
    Owner {
        /// The file.
        path: PathBuf,
    },
    /// The key file is larger than any key file could be.
    #[error("key file {} is larger than {MAX_KEY_FILE_BYTES} bytes, so it is not a linkwell key: check the path", .0.display())]
    TooLarge(PathBuf),
    /// The key text is not hex.
    #[error("key {where_} is not hexadecimal (a non-hex character at byte {position}): a key file holds one line of hex digits, as written by `linkwell keygen`")]
    NotHex {
        /// Which key (a file path or "text").
        where_: String,
        /// 0-based byte offset of the first bad character.
        position: usize,
    },
    /// An odd number of hex digits.
    #[error("key {where_} has an odd number of hex digits: it is truncated or corrupted; restore it from the key holder's copy")]
    OddLength {
        /// Which key.
        where_: String,
    },
    /// Fewer than 32 bytes.
    #[error("key {where_} is {bytes} bytes long but at least {MIN_SECRET_BYTES} are required: make a new one with `linkwell keygen`")]
    TooShort {
        /// Which key.
        where_: String,
        /// Its length in bytes.
        bytes: usize,
    },
    /// `keygen` would overwrite a file.
    #[error("{} already exists: linkwell never overwrites a key; choose another path or remove the old key deliberately", .0.display())]
    AlreadyExists(PathBuf),
    /// Writing a new key failed.
    #[error("could not write key file {} ({error})", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The OS random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// The short public fingerprint of a secret: the first 8 bytes of
/// `HMAC-SHA256(secret, "linkwell/v1/fingerprint")`, shown as 16 lowercase
/// hex characters. Files encoded under different secrets have different
/// fingerprints, so they can be refused before linking.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 8]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::hex::encode(&self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = crate::hex::HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut b = [0u8; 8];
        crate::hex::decode_into(s.as_bytes(), &mut b)?;
        Ok(Fingerprint(b))
    }
}

/// A linkage secret (or a TRE's project key: the same kind of object).
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
    fingerprint: Fingerprint,
}

/// Only the fingerprint: a later `#[derive(Debug)]` must not leak the key
/// (a test pins this).
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret {{ fingerprint: {} }}", self.fingerprint)
    }
}

impl Secret {
    /// Wraps raw secret bytes.
    ///
    /// # Errors
    /// [`SecretError::TooShort`] when fewer than 32 bytes are given.
    pub fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Result<Secret, SecretError> {
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort {
                where_: "text".into(),
                bytes: bytes.len(),
            });
        }
        let mut fp = [0u8; 8];
        fp.copy_from_slice(&HmacSha256::new(&bytes).mac(FINGERPRINT_LABEL)[..8]);
        Ok(Secret {
            bytes,
            fingerprint: Fingerprint(fp),
        })
    }

    /// Parses the text of a key file: hex digits, optionally surrounded by
    /// whitespace (a trailing newline, CRLF).
    ///
    /// # Errors
    /// [`SecretError::NotHex`], [`SecretError::OddLength`] or
    /// [`SecretError::TooShort`].
    pub fn from_hex(text: &[u8]) -> Result<Secret, SecretError> {
        Self::from_hex_named(text, "text")
    }

    fn from_hex_named(text: &[u8], name: &str) -> Result<Secret, SecretError> {
        let start = text
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(text.len());
        let end = text
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(start, |e| e + 1);
        let hex = &text[start..end];
        if let Some(p) = hex.iter().position(|b| !b.is_ascii_hexdigit()) {
            return Err(SecretError::NotHex {
                where_: name.into(),
                position: start + p,
            });
        }
        if hex.len() % 2 != 0 {
            return Err(SecretError::OddLength {
                where_: name.into(),
            });
        }
        let mut bytes = Zeroizing::new(vec![0u8; hex.len() / 2]);
        crate::hex::decode_into(hex, &mut bytes).expect("checked hex digits");
        Self::from_bytes(bytes).map_err(|e| match e {
            SecretError::TooShort { bytes, .. } => SecretError::TooShort {
                where_: name.into(),
                bytes,
            },
            e => e,
        })
    }

    /// Loads a key file, refusing one that group or others can access.
    ///
    /// # Errors
    /// A [`SecretError`] that names the file and says how to fix it.
    pub fn load(path: &Path) -> Result<Secret, SecretError> {
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SecretError::NotFound(path.to_path_buf()))
            }
            Err(error) => {
                return Err(SecretError::Unreadable {
                    path: path.to_path_buf(),
                    error,
                })
            }
        };
        let meta = file.metadata().map_err(|error| SecretError::Unreadable {
            path: path.to_path_buf(),
            error,
        })?;
        if !meta.is_file() {
            return Err(SecretError::Unreadable {
                path: path.to_path_buf(),
                error: std::io::Error::other("not a regular file"),
            });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(SecretError::Permissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
            // Like ssh: the key must belong to whoever uses it. The
            // process's own uid is that of /proc/self (Linux); elsewhere
            // this check is skipped.
            if let Ok(me) = std::fs::metadata("/proc/self") {
                if meta.uid() != me.uid() {
                    return Err(SecretError::Owner {
                        path: path.to_path_buf(),
                    });
                }
            }
        }
        if meta.len() > MAX_KEY_FILE_BYTES {
            return Err(SecretError::TooLarge(path.to_path_buf()));
        }
        let mut text = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_BYTES as usize + 1));
        (&mut file)
            .take(MAX_KEY_FILE_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(|error| SecretError::Unreadable {
                path: path.to_path_buf(),
                error,
            })?;
        if text.len() as u64 > MAX_KEY_FILE_BYTES {
            return Err(SecretError::TooLarge(path.to_path_buf()));
        }
        Self::from_hex_named(&text, &path.display().to_string())
    }

    /// Loads the key file named by `path`, or else by the environment
    /// variable `LINKWELL_KEY_FILE`.
    ///
    /// # Errors
    /// [`SecretError::NoKeyFile`] when neither is set, else as [`Secret::load`].
    pub fn load_from(path: Option<&Path>) -> Result<Secret, SecretError> {
        match path {
            Some(p) => Self::load(p),
            None => match std::env::var_os(KEY_FILE_ENV) {
                Some(p) if !p.is_empty() => Self::load(Path::new(&p)),
                _ => Err(SecretError::NoKeyFile),
            },
        }
    }

    /// 32 fresh bytes from the operating system's random source.
    ///
    /// # Errors
    /// [`SecretError::Random`] if the OS source fails.
    pub fn generate() -> Result<Secret, SecretError> {
        use rand::TryRngCore;
        let mut bytes = Zeroizing::new(vec![0u8; GENERATED_SECRET_BYTES]);
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| SecretError::Random(e.to_string()))?;
        Self::from_bytes(bytes)
    }

    /// Generates a secret and writes it to a new file `path` (mode 0600, as
    /// lowercase hex and a newline). Never overwrites.
    ///
    /// # Errors
    /// [`SecretError::AlreadyExists`] if `path` exists; [`SecretError::Write`].
    pub fn generate_to_file(path: &Path) -> Result<Secret, SecretError> {
        let secret = Self::generate()?;
        secret.write_new(path)?;
        Ok(secret)
    }

    fn write_new(&self, path: &Path) -> Result<(), SecretError> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = match opts.open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(SecretError::AlreadyExists(path.to_path_buf()))
            }
            Err(error) => {
                return Err(SecretError::Write {
                    path: path.to_path_buf(),
                    error,
                })
            }
        };
        let mut text = Zeroizing::new(vec![0u8; self.bytes.len() * 2 + 1]);
        let n = self.bytes.len() * 2;
        crate::hex::encode_into(&self.bytes, &mut text[..n]);
        text[n] = b'\n';
        file.write_all(&text)
            .and_then(|()| file.sync_all())
            .map_err(|error| {
                // Never leave a truncated key behind.
                let _ = std::fs::remove_file(path);
                SecretError::Write {
                    path: path.to_path_buf(),
                    error,
                }
            })
    }

    /// The public fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The subkey for `label`: HMAC-SHA256 keyed with
    /// `HMAC-SHA256(secret, label)`. Every field and purpose has its own
    /// label, so keys for different purposes are independent.
    pub(crate) fn derive(&self, label: &[u8]) -> HmacSha256 {
        let mut sub = Zeroizing::new(HmacSha256::new(&self.bytes).mac(label));
        let k = HmacSha256::new(&sub[..]);
        zeroize::Zeroize::zeroize(&mut *sub);
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn debug_shows_only_the_fingerprint() {
        let s = Secret::from_hex(KEY).unwrap();
        let d = format!("{s:?}");
        assert_eq!(d, format!("Secret {{ fingerprint: {} }}", s.fingerprint()));
        assert!(!d.contains("0001020304"));
        assert!(!format!("{s:#?}").contains("0001020304"));
    }

    #[test]
    fn fingerprint_known_answer() {
        // python3 -c "import hmac,hashlib; print(hmac.new(bytes(range(32)),
        //   b'linkwell/v1/fingerprint', hashlib.sha256).hexdigest()[:16])"
        let s = Secret::from_hex(KEY).unwrap();
        assert_eq!(s.fingerprint().to_string(), FINGERPRINT_OF_TEST_KEY);
        assert_eq!(
            FINGERPRINT_OF_TEST_KEY.parse::<Fingerprint>().unwrap(),
            s.fingerprint()
        );
    }
    pub(crate) const FINGERPRINT_OF_TEST_KEY: &str = "6d1cc2b0ca43e3cb";

    #[test]
    fn hex_parsing() {
        assert!(Secret::from_hex(
            b"  \r\n0001020304050607080910111213141516171819202122232425262728293031\r\n"
        )
        .is_ok());
        assert!(Secret::from_hex(&[KEY, b"\n"].concat()).is_ok());
        assert!(matches!(
            Secret::from_hex(b"00010203"),
            Err(SecretError::TooShort { bytes: 4, .. })
        ));
        assert!(matches!(
            Secret::from_hex(b""),
            Err(SecretError::TooShort { bytes: 0, .. })
        ));
        assert!(matches!(
            Secret::from_hex(b"zz0102"),
            Err(SecretError::NotHex { position: 0, .. })
        ));
        assert!(matches!(
            Secret::from_hex(b"000 102"),
            Err(SecretError::NotHex { position: 3, .. })
        ));
        assert!(matches!(
            Secret::from_hex(b"000"),
            Err(SecretError::OddLength { .. })
        ));
    }

    #[test]
    fn errors_never_contain_key_material() {
        let mut bad = KEY.to_vec();
        bad[40] = b'x';
        let msg = Secret::from_hex(&bad).unwrap_err().to_string();
        assert!(!msg.contains("0001020304"), "{msg}");
    }

    #[cfg(unix)]
    #[test]
    fn keygen_file_is_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.key");
        let s = Secret::generate_to_file(&p).unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.len(), 65);
        assert!(text.ends_with('\n'));
        assert!(text[..64]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(Secret::load(&p).unwrap().fingerprint(), s.fingerprint());
        assert!(matches!(
            Secret::generate_to_file(&p),
            Err(SecretError::AlreadyExists(_))
        ));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = Secret::load(&p).unwrap_err();
        assert!(matches!(e, SecretError::Permissions { mode: 0o640, .. }));
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_key_owned_by_another_user_is_refused() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.key");
        Secret::generate_to_file(&p).unwrap();
        // Only root can give a file away; elsewhere there is nothing to test.
        let me = std::fs::metadata("/proc/self").unwrap().uid();
        if me != 0 {
            return;
        }
        let status = std::process::Command::new("chown")
            .arg("65534")
            .arg(&p)
            .status();
        if !status.is_ok_and(|s| s.success()) {
            return;
        }
        let e = Secret::load(&p).unwrap_err();
        assert!(matches!(e, SecretError::Owner { .. }), "{e}");
        assert!(e.to_string().contains("another user"));
    }

    #[test]
    fn two_generated_secrets_differ() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn missing_file() {
        let e = Secret::load(Path::new("/nonexistent/linkwell.key")).unwrap_err();
        assert!(matches!(e, SecretError::NotFound(_)));
        assert!(e.to_string().contains("linkwell keygen"));
    }
}
