//! Signing keys and access tokens: EdDSA (Ed25519) JWTs via `jwt-compact`.
//!
//! Keys live in the database, so they survive restarts and are shared by every
//! instance. The newest key signs; every key whose tokens may still be alive verifies
//! and is published in `/.well-known/jwks.json`. The `kid` is the key's RFC 7638
//! thumbprint.

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
    store::Store,
};

type Secret = <Ed25519 as jwt_compact::Algorithm>::SigningKey;
type Public = <Ed25519 as jwt_compact::Algorithm>::VerifyingKey;

/// An access token's claims after verification.
#[derive(Clone, Debug)]
pub struct Verified {
    pub claims: AccessClaims,
    pub expires_at: i64,
}

struct Ring {
    signing_kid: String,
    signing: Secret,
    /// kid -> (public key, created_at)
    verifying: HashMap<String, (Public, i64)>,
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

/// Creates and stores a new signing key; returns its `kid`.
pub async fn add_key(store: &Store, now: i64) -> Result<String> {
    let (secret, public) = Ed25519::generate(&mut rand::rngs::OsRng);
    let kid = kid_of(&public);
    store
        .insert_signing_key(&kid, &URL_SAFE_NO_PAD.encode(secret.as_bytes()), now)
        .await?;
    Ok(kid)
}

impl Keys {
    /// Loads the keys, creating the first one on a new database.
    pub async fn load(store: &Store, now: i64) -> Result<Self> {
        if store.signing_keys().await?.is_empty() {
            add_key(store, now).await?;
        }
        Ok(Self {
            ring: RwLock::new(Self::read_ring(store).await?),
        })
    }

    /// Picks up keys added since loading (by `server keys rotate` or another instance).
    pub async fn reload(&self, store: &Store) -> Result<()> {
        let ring = Self::read_ring(store).await?;
        *self.ring.write().expect("key ring lock") = ring;
        Ok(())
    }

    async fn read_ring(store: &Store) -> Result<Ring> {
        let rows = store.signing_keys().await?;
        let mut verifying = HashMap::new();
        let mut newest = None;
        for (kid, secret, created_at) in rows {
            let bytes = URL_SAFE_NO_PAD
                .decode(secret)
                .map_err(|e| anyhow::anyhow!("stored key {kid} is not base64url: {e}"))?;
            let secret = Secret::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("stored key {kid} is not an Ed25519 key: {e}"))?;
            verifying.insert(kid.clone(), (secret.to_verifying_key(), created_at));
            newest = Some((kid, secret));
        }
        let (signing_kid, signing) = newest.ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        Ok(Ring {
            signing_kid,
            signing,
            verifying,
        })
    }

    /// Signs an access token with the newest key.
    pub fn sign(&self, claims: &AccessClaims, issued_at: i64, expires_at: i64) -> Result<String> {
        let ring = self.ring.read().expect("key ring lock");
        let header = Header::empty()
            .with_key_id(ring.signing_kid.clone())
            .with_token_type(ACCESS_TOKEN_TYPE);
        let mut jwt = Claims::new(claims.clone());
        jwt.issued_at = Some(at(issued_at));
        jwt.not_before = Some(at(issued_at));
        jwt.expiration = Some(at(expires_at));
        Ed25519
            .token(&header, &jwt, &ring.signing)
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
        if untrusted.header().token_type.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(Error::TokenInvalid);
        }
        let kid = untrusted
            .header()
            .key_id
            .as_deref()
            .ok_or(Error::TokenInvalid)?;
        let token: Token<AccessClaims> = {
            let ring = self.ring.read().expect("key ring lock");
            let (public, _) = ring.verifying.get(kid).ok_or(Error::TokenInvalid)?;
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

    /// The JWKS document: every public key that may still verify a live token.
    pub fn jwks(&self) -> serde_json::Value {
        let ring = self.ring.read().expect("key ring lock");
        let mut keys: Vec<_> = ring.verifying.iter().collect();
        keys.sort_by_key(|(kid, (_, created))| (*created, (*kid).clone()));
        let keys: Vec<_> = keys
            .into_iter()
            .map(|(kid, (public, _))| {
                let mut jwk = serde_json::to_value(JsonWebKey::from(public)).unwrap_or_default();
                jwk["kid"] = kid.clone().into();
                jwk["alg"] = "EdDSA".into();
                jwk["use"] = "sig".into();
                jwk
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    pub fn signing_kid(&self) -> String {
        self.ring.read().expect("key ring lock").signing_kid.clone()
    }
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
            sid: "session".into(),
            jti: "jti".into(),
            roles: vec!["user".into()],
            perms: vec![],
            client_id: None,
            scope: None,
        }
    }

    async fn keys() -> (Keys, Store) {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        (Keys::load(&store, 0).await.unwrap(), store)
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
        let mut tampered = token.clone();
        tampered.replace_range(tampered.len() - 4.., "AAAA");
        assert!(matches!(
            keys.verify(&tampered, &clock, Duration::ZERO, "iss", "aud"),
            Err(Error::TokenInvalid)
        ));
    }

    #[tokio::test]
    async fn alg_none_and_hmac_tokens_are_refused() {
        let (keys, _) = keys().await;
        let clock = ManualClock::new();
        let token = keys.sign(&claims(), clock.now(), clock.now() + 60).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let kid = keys.signing_kid();
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
    async fn rotation_signs_with_the_new_key_and_still_verifies_old_tokens() {
        let (keys, store) = keys().await;
        let clock = ManualClock::new();
        let old = keys.sign(&claims(), clock.now(), clock.now() + 60).unwrap();
        let old_kid = keys.signing_kid();
        let new_kid = add_key(&store, 1).await.unwrap();
        keys.reload(&store).await.unwrap();
        assert_eq!(keys.signing_kid(), new_kid);
        assert_ne!(old_kid, new_kid);
        assert!(
            keys.verify(&old, &clock, Duration::ZERO, "iss", "aud")
                .is_ok()
        );
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 2);
    }
}
