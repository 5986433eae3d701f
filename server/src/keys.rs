//! Signing keys and access tokens: EdDSA (Ed25519) JWTs via `jwt-compact`.
//!
//! Keys live in the database, encrypted under the key-encryption key
//! ([`crate::secrets`]), so they survive restarts and are shared by every instance.
//! Rotation is staged: a new key is published at once (JWKS and verification) but signs
//! only from its `activates_at`, by which time every instance has loaded it (cluster
//! events reload the ring within a second; the periodic resync is the safety net).
//! Every key whose tokens may still be alive verifies and is published in
//! `/.well-known/jwks.json`. The `kid` is the key's RFC 7638 thumbprint.

use std::{collections::HashMap, sync::RwLock};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jwt_compact::{
    AlgorithmExt, Claims, Header, TimeOptions, Token, UntrustedToken, ValidationError,
    alg::{Ed25519, SigningKey as _},
    jwk::JsonWebKey,
};
use sha2::Sha256;
use wire::{ACCESS_TOKEN_TYPE, AccessClaims};

use crate::{
    clock::Clock,
    error::{Error, Result},
    secrets::Kek,
    store::{KeyRow, Store},
};

type Secret = <Ed25519 as jwt_compact::Algorithm>::SigningKey;
type Public = <Ed25519 as jwt_compact::Algorithm>::VerifyingKey;

/// An access token's claims after verification.
#[derive(Clone, Debug)]
pub struct Verified {
    pub claims: AccessClaims,
    pub expires_at: i64,
}

struct Key {
    kid: String,
    secret: Secret,
    created_at: i64,
    activates_at: i64,
}

struct Ring {
    /// In signing order: by activation, then creation.
    keys: Vec<Key>,
    /// kid -> public key
    verifying: HashMap<String, Public>,
}

impl Ring {
    /// The key that signs at `at`: the last one activated by then.
    fn signing_at(&self, at: i64) -> &Key {
        self.keys
            .iter()
            .rev()
            .find(|k| k.activates_at <= at)
            .unwrap_or(&self.keys[0])
    }
}

/// The key ring; reloaded from the store after a rotation.
pub struct Keys {
    ring: RwLock<Ring>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { *** }")
    }
}

/// Identifier of a public key: its RFC 7638 thumbprint.
fn kid_of(public: &Public) -> String {
    URL_SAFE_NO_PAD.encode(JsonWebKey::from(public).thumbprint::<Sha256>())
}

/// A new key pair from 32 random bytes (the Ed25519 seed).
fn generate() -> (Secret, Public) {
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    let secret = Secret::from_slice(&seed).expect("32 bytes are an Ed25519 seed");
    let public = secret.to_verifying_key();
    (secret, public)
}

/// What a signing key's secret is sealed under: its row, by `kid`.
fn sealed_name(kid: &str) -> String {
    format!("signing_key:{kid}")
}

/// Creates and stores a new signing key that signs from `activates_at`; returns its `kid`.
pub async fn add_key(store: &Store, kek: &Kek, now: i64, activates_at: i64) -> Result<String> {
    let (secret, public) = generate();
    let kid = kid_of(&public);
    store
        .insert_signing_key(&KeyRow {
            secret: kek.seal(&sealed_name(&kid), secret.as_bytes().as_ref()),
            kid: kid.clone(),
            created_at: now,
            activates_at,
        })
        .await?;
    Ok(kid)
}

impl Keys {
    /// Loads the keys, creating the first one on a new database and encrypting any
    /// stored before encryption existed.
    pub async fn load(store: &Store, kek: &Kek, now: i64) -> Result<Self> {
        if store.signing_keys().await?.is_empty() {
            add_key(store, kek, now, now).await?;
        }
        for row in store.signing_keys().await? {
            if !Kek::is_sealed(&row.secret) {
                let bytes = URL_SAFE_NO_PAD
                    .decode(&row.secret)
                    .map_err(|e| anyhow::anyhow!("stored key {} is not base64url: {e}", row.kid))?;
                let sealed = kek.seal(&sealed_name(&row.kid), &bytes);
                store.set_signing_key_secret(&row.kid, &sealed).await?;
                tracing::info!(
                    kid = row.kid,
                    "encrypted a signing key stored in plain text"
                );
            }
        }
        Ok(Self {
            ring: RwLock::new(Self::read_ring(store, kek).await?),
        })
    }

    /// Picks up keys added since loading (by `server keys rotate` or another instance).
    pub async fn reload(&self, store: &Store, kek: &Kek) -> Result<()> {
        let ring = Self::read_ring(store, kek).await?;
        *self.ring.write().expect("key ring lock") = ring;
        Ok(())
    }

    async fn read_ring(store: &Store, kek: &Kek) -> Result<Ring> {
        let mut keys = Vec::new();
        let mut verifying = HashMap::new();
        for row in store.signing_keys().await? {
            let bytes = kek.open(&sealed_name(&row.kid), &row.secret)?;
            let secret = Secret::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!("stored key {} is not an Ed25519 key: {e}", row.kid)
            })?;
            verifying.insert(row.kid.clone(), secret.to_verifying_key());
            keys.push(Key {
                kid: row.kid,
                secret,
                created_at: row.created_at,
                activates_at: row.activates_at,
            });
        }
        if keys.is_empty() {
            return Err(anyhow::anyhow!("no signing key").into());
        }
        Ok(Ring { keys, verifying })
    }

    /// Whether `kid` is in the ring (a token signed by a key this instance has not
    /// loaded yet is worth a reload before it is refused).
    pub fn knows(&self, kid: &str) -> bool {
        self.ring
            .read()
            .expect("key ring lock")
            .verifying
            .contains_key(kid)
    }

    /// Signs an access token with the key active at `issued_at` (so a re-issue within
    /// the grace period signs as the first issue did).
    pub fn sign(&self, claims: &AccessClaims, issued_at: i64, expires_at: i64) -> Result<String> {
        let ring = self.ring.read().expect("key ring lock");
        let key = ring.signing_at(issued_at);
        let header = Header::empty()
            .with_key_id(key.kid.clone())
            .with_token_type(ACCESS_TOKEN_TYPE);
        let mut jwt = Claims::new(claims.clone());
        jwt.issued_at = Some(at(issued_at));
        jwt.not_before = Some(at(issued_at));
        jwt.expiration = Some(at(expires_at));
        Ed25519
            .token(&header, &jwt, &key.secret)
            .map_err(|e| Error::Internal(anyhow::anyhow!("signing failed: {e}")))
    }

    /// Checks signature (EdDSA only), `typ`, `kid`, `exp`/`nbf` with `leeway`, `iss`, `aud`.
    pub fn verify(
        &self,
        token: &str,
        clock: &dyn Clock,
        leeway: std::time::Duration,
        issuer: &str,
        audience: &str,
    ) -> Result<Verified> {
        self.check(token, Some((clock, leeway)), issuer, audience)
    }

    /// As [`Keys::verify`] but accepts an expired token: backend-managed refresh needs
    /// to know which session an expired (yet genuine) token belonged to.
    pub fn verify_ignoring_expiry(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<Verified> {
        self.check(token, None, issuer, audience)
    }

    fn check(
        &self,
        token: &str,
        time: Option<(&dyn Clock, std::time::Duration)>,
        issuer: &str,
        audience: &str,
    ) -> Result<Verified> {
        let untrusted = UntrustedToken::new(token).map_err(|_| Error::TokenInvalid)?;
        if untrusted.header().token_type.as_deref() != Some(ACCESS_TOKEN_TYPE)
            || has_critical_extensions(token)
        {
            return Err(Error::TokenInvalid);
        }
        let kid = untrusted
            .header()
            .key_id
            .as_deref()
            .ok_or(Error::TokenInvalid)?;
        let token: Token<AccessClaims> = {
            let ring = self.ring.read().expect("key ring lock");
            let public = ring.verifying.get(kid).ok_or(Error::TokenInvalid)?;
            // The validator rejects any `alg` other than EdDSA, `none` included.
            Ed25519
                .validator(public)
                .validate(&untrusted)
                .map_err(|_| Error::TokenInvalid)?
        };
        let claims = token.claims();
        if let Some((clock, leeway)) = time {
            let options = TimeOptions::new(
                chrono::Duration::from_std(leeway).unwrap_or_default(),
                || at(clock.now()),
            );
            claims
                .validate_expiration(&options)
                .and_then(|c| c.validate_maturity(&options))
                .map_err(|e| match e {
                    ValidationError::Expired => Error::TokenExpired,
                    _ => Error::TokenInvalid,
                })?;
        }
        if claims.custom.iss != issuer || claims.custom.aud != audience {
            return Err(Error::TokenInvalid);
        }
        Ok(Verified {
            expires_at: claims.expiration.map(|e| e.timestamp()).unwrap_or_default(),
            claims: claims.custom.clone(),
        })
    }

    /// The JWKS document: every public key that may still verify a live token, and
    /// keys that will sign soon (published before they sign).
    pub fn jwks(&self) -> serde_json::Value {
        let ring = self.ring.read().expect("key ring lock");
        let keys: Vec<_> = ring
            .keys
            .iter()
            .map(|key| {
                let public = &ring.verifying[&key.kid];
                let mut jwk = serde_json::to_value(JsonWebKey::from(public)).unwrap_or_default();
                jwk["kid"] = key.kid.clone().into();
                jwk["alg"] = "EdDSA".into();
                jwk["use"] = "sig".into();
                jwk
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The `kid` that signs at `at`.
    pub fn signing_kid(&self, at: i64) -> String {
        self.ring
            .read()
            .expect("key ring lock")
            .signing_at(at)
            .kid
            .clone()
    }

    /// When the newest key was created (for logs and `keys rotate`).
    pub fn newest_created_at(&self) -> i64 {
        let ring = self.ring.read().expect("key ring lock");
        ring.keys
            .iter()
            .map(|k| k.created_at)
            .max()
            .unwrap_or_default()
    }
}

/// Whether the JOSE header names `crit` extensions. We implement none, and RFC 7515
/// §4.1.11 says a token whose critical extensions are not understood must be refused;
/// the JWT library drops unknown header fields, so the raw header is read here.
fn has_critical_extensions(token: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Crit {
        crit: Option<serde::de::IgnoredAny>,
    }
    let Some(header) = token.split('.').next() else {
        return true;
    };
    let Ok(json) = URL_SAFE_NO_PAD.decode(header) else {
        return true;
    };
    serde_json::from_slice::<Crit>(&json).map_or(true, |h| h.crit.is_some())
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::time::Duration;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "iss".into(),
            aud: "aud".into(),
            sub: "user".into(),
            preferred_username: "alice".into(),
            sid: "session".into(),
            jti: "jti".into(),
            roles: vec!["user".into()],
            perms: vec![],
            client_id: None,
            scope: None,
        }
    }

    fn kek() -> Kek {
        Kek::from_material(&[1u8; 32]).unwrap()
    }

    async fn keys() -> (Keys, Store) {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        (Keys::load(&store, &kek(), 0).await.unwrap(), store)
    }

    #[tokio::test]
    async fn a_signed_token_verifies_until_it_expires() {
        let (keys, _) = keys().await;
        let clock = ManualClock::new();
        let now = clock.now();
        let token = keys.sign(&claims(), now, now + 60).unwrap();
        let ok = keys
            .verify(&token, &clock, Duration::ZERO, "iss", "aud")
            .unwrap();
        assert_eq!(ok.claims, claims());
        clock.advance(Duration::from_secs(61));
        assert!(matches!(
            keys.verify(&token, &clock, Duration::ZERO, "iss", "aud"),
            Err(Error::TokenExpired)
        ));
        assert!(
            keys.verify(&token, &clock, Duration::from_secs(5), "iss", "aud")
                .is_ok()
        );
    }

    #[tokio::test]
    async fn wrong_audience_issuer_or_tampering_is_invalid() {
        let (keys, _) = keys().await;
        let clock = ManualClock::new();
        let token = keys.sign(&claims(), clock.now(), clock.now() + 60).unwrap();
        for (iss, aud) in [("other", "aud"), ("iss", "other")] {
            assert!(matches!(
                keys.verify(&token, &clock, Duration::ZERO, iss, aud),
                Err(Error::TokenInvalid)
            ));
        }
        // Changing the first character of the payload or of the signature always changes
        // the token. Overwriting the last four with "AAAA" did not always: they hold only
        // 16 bits that can be anything (S < 2^253), so one token in 65 536 already ended
        // that way, which is how this test once failed in CI.
        let signature_at = token.rfind('.').unwrap() + 1;
        let payload_at = token.find('.').unwrap() + 1;
        for at in [signature_at, payload_at] {
            let mut tampered = token.clone();
            let was = &token[at..=at];
            tampered.replace_range(at..=at, if was == "A" { "B" } else { "A" });
            assert_ne!(tampered, token);
            assert!(matches!(
                keys.verify(&tampered, &clock, Duration::ZERO, "iss", "aud"),
                Err(Error::TokenInvalid)
            ));
        }
    }

    #[tokio::test]
    async fn alg_none_and_hmac_tokens_are_refused() {
        let (keys, _) = keys().await;
        let clock = ManualClock::new();
        let token = keys.sign(&claims(), clock.now(), clock.now() + 60).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let kid = keys.signing_kid(clock.now());
        for alg in ["none", "HS256"] {
            let header = URL_SAFE_NO_PAD
                .encode(format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"{kid}"}}"#));
            let forged = format!("{header}.{payload}.");
            assert!(matches!(
                keys.verify(&forged, &clock, Duration::ZERO, "iss", "aud"),
                Err(Error::TokenInvalid)
            ));
        }
    }

    #[tokio::test]
    async fn a_critical_header_extension_is_refused() {
        let (keys, _) = keys().await;
        let clock = ManualClock::new();
        let token = keys.sign(&claims(), clock.now(), clock.now() + 60).unwrap();
        let kid = keys.signing_kid(clock.now());
        // Same key, same claims, a header with `crit`: RFC 7515 §4.1.11 says refuse
        // what we do not understand, so the signature does not matter.
        let header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}","crit":["exp"],"exp":1}}"#
        ));
        let mut parts = token.split('.');
        let forged = format!(
            "{header}.{}.{}",
            parts.nth(1).unwrap(),
            parts.next().unwrap()
        );
        assert!(matches!(
            keys.verify(&forged, &clock, Duration::ZERO, "iss", "aud"),
            Err(Error::TokenInvalid)
        ));
    }

    #[tokio::test]
    async fn a_new_key_is_published_at_once_and_signs_only_from_its_activation() {
        let (keys, store) = keys().await;
        let clock = ManualClock::new();
        let now = clock.now();
        let old = keys.sign(&claims(), now, now + 60).unwrap();
        let old_kid = keys.signing_kid(now);
        let new_kid = add_key(&store, &kek(), now, now + 30).await.unwrap();
        keys.reload(&store, &kek()).await.unwrap();
        assert_ne!(old_kid, new_kid);
        assert!(keys.knows(&new_kid));
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 2);
        // Staged: the old key still signs until the new one activates.
        assert_eq!(keys.signing_kid(now + 29), old_kid);
        assert_eq!(keys.signing_kid(now + 30), new_kid);
        let new = keys.sign(&claims(), now + 30, now + 90).unwrap();
        clock.advance(Duration::from_secs(30));
        for token in [&old, &new] {
            assert!(
                keys.verify(token, &clock, Duration::ZERO, "iss", "aud")
                    .is_ok()
            );
        }
    }

    #[tokio::test]
    async fn stored_keys_are_encrypted_and_need_the_same_key_encryption_key() {
        let (_, store) = keys().await;
        for row in store.signing_keys().await.unwrap() {
            assert!(Kek::is_sealed(&row.secret), "{}", row.secret);
        }
        let other = Kek::from_material(&[2u8; 32]).unwrap();
        let err = Keys::load(&store, &other, 0).await.unwrap_err();
        assert!(err.to_string().contains("SECRET_KEY_FILE"), "{err}");
    }

    #[tokio::test]
    async fn keys_stored_in_plain_text_are_encrypted_in_place() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let (secret, public) = generate();
        let kid = kid_of(&public);
        store
            .insert_signing_key(&KeyRow {
                kid: kid.clone(),
                secret: URL_SAFE_NO_PAD.encode(secret.as_bytes()),
                created_at: 0,
                activates_at: 0,
            })
            .await
            .unwrap();
        let keys = Keys::load(&store, &kek(), 0).await.unwrap();
        assert_eq!(keys.signing_kid(0), kid, "the same key, still signing");
        let rows = store.signing_keys().await.unwrap();
        assert_eq!(rows.len(), 1);
        assert!(Kek::is_sealed(&rows[0].secret));
    }
}
