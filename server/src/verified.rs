//! Access tokens whose signature this instance has already checked.
//!
//! A client uses one access token for every request of its lifetime (15 minutes by
//! default), and checking an Ed25519 signature is most of the cost of a bearer request
//! (~38 µs here, docs/BENCHMARKS.md). So each instance remembers the tokens it has
//! verified, keyed by the *whole* token (a hit is the very string that verified, so
//! nothing can be swapped in under a known signature), until they expire. Everything
//! else is still checked on every request: expiry, and revocation (in memory, see
//! [`crate::revoked`]). Bounded: when full it starts over, so memory stays under about
//! `capacity × 1 KiB`.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use crate::keys::Verified;

#[derive(Debug)]
pub struct VerifiedTokens {
    capacity: usize,
    tokens: RwLock<HashMap<Box<str>, Arc<Verified>>>,
}

impl VerifiedTokens {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            tokens: RwLock::default(),
        }
    }

    /// The claims of `token` if it verified here before and has not expired by `now`
    /// (with `leeway` seconds).
    pub fn get(&self, token: &str, now: i64, leeway: i64) -> Option<Arc<Verified>> {
        let tokens = self.tokens.read().expect("verified tokens lock");
        tokens
            .get(token)
            .filter(|v| now < v.expires_at + leeway)
            .cloned()
    }

    pub fn insert(&self, token: &str, verified: Arc<Verified>) {
        if self.capacity == 0 {
            return;
        }
        let mut tokens = self.tokens.write().expect("verified tokens lock");
        if tokens.len() >= self.capacity {
            tokens.clear();
        }
        tokens.insert(token.into(), verified);
    }

    /// Forgets expired tokens (housekeeping).
    pub fn purge(&self, now: i64) {
        self.tokens
            .write()
            .expect("verified tokens lock")
            .retain(|_, v| v.expires_at > now);
    }

    pub fn len(&self) -> usize {
        self.tokens.read().expect("verified tokens lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use wire::AccessClaims;

    use super::*;

    fn verified(expires_at: i64) -> Arc<Verified> {
        Arc::new(Verified {
            claims: AccessClaims {
                iss: "i".into(),
                aud: "a".into(),
                sub: "u".into(),
                preferred_username: "bob".into(),
                sid: "s".into(),
                jti: "j".into(),
                roles: vec![],
                perms: vec![],
                client_id: None,
                scope: None,
            },
            expires_at,
        })
    }

    #[test]
    fn a_hit_is_the_exact_token_and_only_until_it_expires() {
        let cache = VerifiedTokens::new(10);
        cache.insert("a.b.c", verified(100));
        assert!(cache.get("a.b.c", 99, 0).is_some());
        assert!(cache.get("a.b.c", 100, 0).is_none(), "expired");
        assert!(cache.get("a.b.c", 100, 5).is_some(), "within the leeway");
        // Same signature, another payload: not a hit.
        assert!(cache.get("a.x.c", 50, 0).is_none());
        cache.purge(100);
        assert!(cache.is_empty());
    }

    #[test]
    fn it_never_holds_more_than_its_capacity() {
        let cache = VerifiedTokens::new(3);
        for i in 0..10 {
            cache.insert(&format!("t{i}"), verified(100));
            assert!(cache.len() <= 3);
        }
        let none = VerifiedTokens::new(0);
        none.insert("t", verified(100));
        assert!(none.is_empty());
    }
}
