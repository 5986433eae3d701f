//! Argon2id password hashing (the crate's defaults are OWASP's: m=19 MiB, t=2, p=1),
//! on the blocking pool so a hash never stalls the async workers.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};

use crate::error::{Error, Result};

/// Shortest password accepted for a new user or a change.
pub const MIN_LEN: usize = 8;
/// Longest: bounds the work one request can ask of the hasher.
pub const MAX_LEN: usize = 1024;

pub fn check_strength(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(Error::BadRequest(format!(
            "The password must have at least {MIN_LEN} characters."
        )));
    }
    if password.len() > MAX_LEN {
        return Err(Error::BadRequest(format!(
            "The password must have at most {MAX_LEN} bytes."
        )));
    }
    Ok(())
}

pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(anyhow::anyhow!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
}

/// `true` when `password` matches `hash`. A malformed stored hash is an error, not a
/// mismatch, so it shows up in the logs.
pub async fn verify(password: String, hash: String) -> Result<bool> {
    if password.len() > MAX_LEN {
        return Ok(false);
    }
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored hash is malformed: {e}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), h.clone()).await.unwrap());
        assert!(!verify("wrong horse".into(), h).await.unwrap());
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check_strength("short").is_err());
        assert!(check_strength(&"x".repeat(MAX_LEN + 1)).is_err());
        assert!(check_strength("long enough").is_ok());
    }
}
