//! Secrets at rest: the Ed25519 signing keys and the refresh HMAC key are stored
//! encrypted (ChaCha20-Poly1305) under a key-encryption key that never enters the
//! database, so a copy of the database alone mints nothing.
//!
//! The key-encryption key is derived (HKDF-SHA-256) from at least 32 bytes of secret
//! material: the file `--secret-key-file` / `SECRET_KEY_FILE` (e.g.
//! `head -c 32 /dev/urandom > secret.key`), or `SECRET_KEY` in the environment where
//! a platform has no files (serverless). On SQLite with neither set, the server creates
//! `secret.key` beside the database on first start, owner-only. On PostgreSQL it is
//! required: several instances must share it, and a fresh key per instance would lock
//! the others out.
//!
//! Every stored secret is `enc:v1:` + base64url(nonce ‖ ciphertext), with the row's
//! name as associated data, so a ciphertext cannot be moved to another row. Plaintext
//! rows from before encryption are encrypted in place at start ([`Kek::is_sealed`]).
//! A missing or wrong key is an error at start, never a silently generated new key.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chacha20poly1305::{
    ChaCha20Poly1305, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "enc:v1:";
/// Least secret material accepted, in bytes.
pub const MIN_MATERIAL: usize = 32;

/// The key-encryption key.
pub struct Kek {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek { *** }")
    }
}

/// Where the key-encryption key comes from.
#[derive(Clone, Debug)]
pub enum KekSource {
    /// The material itself (`SECRET_KEY`).
    Value(String),
    /// A file holding the material (`SECRET_KEY_FILE`).
    File(PathBuf),
    /// The file beside a SQLite database, created on first start.
    BesideDatabase(PathBuf),
}

impl KekSource {
    /// Picks the source for a server on `database_url`: explicit settings first; on
    /// SQLite, a file beside the database; on PostgreSQL, an error.
    pub fn choose(
        value: Option<&str>,
        file: Option<&Path>,
        database_url: &str,
    ) -> anyhow::Result<Self> {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            return Ok(Self::Value(value.to_owned()));
        }
        if let Some(file) = file {
            return Ok(Self::File(file.to_owned()));
        }
        match crate::store::sqlite_path(database_url) {
            Some(db) if db != Path::new(":memory:") => {
                let dir = db.parent().filter(|d| !d.as_os_str().is_empty());
                Ok(Self::BesideDatabase(
                    dir.unwrap_or(Path::new(".")).join("secret.key"),
                ))
            }
            Some(_) => Ok(Self::Value(random_material())),
            None => bail!(
                "SECRET_KEY_FILE (or SECRET_KEY) is required with PostgreSQL: every instance \
                 needs the same key-encryption key. Create one with \
                 `head -c 32 /dev/urandom > secret.key` and give it to every instance."
            ),
        }
    }
}

/// 32 random bytes, base64url: fresh material for a throwaway in-memory database.
fn random_material() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Kek {
    /// Derives the key from `material` (at least [`MIN_MATERIAL`] bytes).
    pub fn from_material(material: &[u8]) -> anyhow::Result<Self> {
        if material.len() < MIN_MATERIAL {
            bail!(
                "the secret key has {} bytes; at least {MIN_MATERIAL} random bytes are needed \
                 (`head -c 32 /dev/urandom > secret.key`)",
                material.len()
            );
        }
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"jwt-refresh-done-right"), material)
            .expand(b"key-encryption-key v1", &mut key)
            .map_err(|_| anyhow::anyhow!("HKDF output length"))?;
        Ok(Self {
            cipher: ChaCha20Poly1305::new(&key.into()),
        })
    }

    /// Loads (or, beside a SQLite database, creates) the key from `source`.
    pub fn load(source: &KekSource) -> anyhow::Result<Self> {
        match source {
            KekSource::Value(value) => Self::from_material(value.as_bytes()),
            KekSource::File(path) => {
                let material = std::fs::read(path).with_context(|| {
                    format!("cannot read the secret key file {}", path.display())
                })?;
                Self::from_material(&material)
                    .with_context(|| format!("secret key file {}", path.display()))
            }
            KekSource::BesideDatabase(path) => {
                if !path.exists() {
                    create_key_file(path)?;
                    tracing::warn!(
                        path = %path.display(),
                        "created the key-encryption key beside the database; back it up with \
                         the database: without it the stored signing keys cannot be read"
                    );
                }
                Self::load(&KekSource::File(path.clone()))
            }
        }
    }

    /// Encrypts `plaintext`, bound to the row called `name`.
    pub fn seal(&self, name: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: name.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 encryption cannot fail for small inputs");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Decrypts what [`Kek::seal`] made for the row called `name`.
    pub fn open(&self, name: &str, stored: &str) -> anyhow::Result<Vec<u8>> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else {
            bail!("the secret {name} is not encrypted");
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .with_context(|| format!("the stored secret {name} is damaged"))?;
        if bytes.len() < 12 {
            bail!("the stored secret {name} is damaged");
        }
        let (nonce, sealed) = bytes.split_at(12);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow::anyhow!(
                    "the secret key does not open the stored secret {name}: this database was \
                     encrypted with another SECRET_KEY_FILE / SECRET_KEY"
                )
            })
    }

    /// Whether a stored value is encrypted (rows written before encryption are not).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }
}

/// Writes 32 random bytes to `path`, readable by the owner only.
fn create_key_file(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::store::create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    file.write_all(&bytes)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_name() {
        let kek = Kek::from_material(&[7u8; 32]).unwrap();
        let sealed = kek.seal("signing_key:abc", b"seed bytes");
        assert!(Kek::is_sealed(&sealed));
        assert!(!sealed.contains("seed"));
        assert_eq!(kek.open("signing_key:abc", &sealed).unwrap(), b"seed bytes");
        // Two seals of one secret differ (fresh nonce).
        assert_ne!(sealed, kek.seal("signing_key:abc", b"seed bytes"));
        // Moved to another row: refused.
        assert!(kek.open("signing_key:other", &sealed).is_err());
        // Another key: refused, with a sentence that says what to check.
        let other = Kek::from_material(&[8u8; 32]).unwrap();
        let err = other.open("signing_key:abc", &sealed).unwrap_err();
        assert!(err.to_string().contains("SECRET_KEY_FILE"), "{err}");
        assert!(kek.open("x", "plain").is_err());
    }

    #[test]
    fn short_material_is_refused() {
        let err = Kek::from_material(b"too short").unwrap_err();
        assert!(err.to_string().contains("at least 32"), "{err}");
    }

    #[test]
    fn postgres_without_a_key_is_an_error_and_sqlite_gets_a_file_beside_it() {
        let err = KekSource::choose(None, None, "postgres://localhost/db").unwrap_err();
        assert!(err.to_string().contains("SECRET_KEY_FILE"));
        match KekSource::choose(None, None, "sqlite://data/server.db?mode=rwc").unwrap() {
            KekSource::BesideDatabase(path) => assert_eq!(path, Path::new("data/secret.key")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            KekSource::choose(Some("v"), None, "postgres://x").unwrap(),
            KekSource::Value(_)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_created_key_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("kek-test-{}", random_material()));
        let path = dir.join("secret.key");
        Kek::load(&KekSource::BesideDatabase(path.clone())).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // The second start reads the same file.
        Kek::load(&KekSource::BesideDatabase(path.clone())).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
