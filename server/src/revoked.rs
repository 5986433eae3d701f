//! The revocations every bearer request is checked against, held in memory.
//!
//! An access token is self-contained, so ending a session would not stop its tokens
//! until they expire. Every instance therefore mirrors the `revocations` table here:
//! ended sessions, logged-out tokens, removed users. The instance that revokes inserts
//! at once; the others learn of it through cluster events (see [`crate::cluster`]) and a
//! periodic full reload. The check is three hash lookups under a read lock: no database
//! round trip on the hot path.

use std::{collections::HashMap, sync::RwLock};

/// What a revocation covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Every token of a session (`sid`).
    Session,
    /// One token (`jti`).
    Token,
    /// Every token of a user (`sub`).
    User,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Token => "token",
            Self::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Session, Self::Token, Self::User]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One revocation: `kind` + `id`, relevant until `expires_at` (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub kind: Kind,
    pub id: String,
    pub expires_at: i64,
}

#[derive(Debug, Default)]
struct Sets {
    sessions: HashMap<String, i64>,
    tokens: HashMap<String, i64>,
    users: HashMap<String, i64>,
}

impl Sets {
    fn of(&mut self, kind: Kind) -> &mut HashMap<String, i64> {
        match kind {
            Kind::Session => &mut self.sessions,
            Kind::Token => &mut self.tokens,
            Kind::User => &mut self.users,
        }
    }
}

/// The in-memory mirror of the `revocations` table.
#[derive(Debug, Default)]
pub struct Revoked {
    sets: RwLock<Sets>,
}

impl Revoked {
    /// Whether a token of user `sub`, session `sid`, id `jti` has been revoked.
    pub fn covers(&self, sub: &str, sid: &str, jti: &str) -> bool {
        let sets = self.sets.read().expect("revocation lock");
        sets.sessions.contains_key(sid)
            || sets.tokens.contains_key(jti)
            || sets.users.contains_key(sub)
    }

    pub fn insert(&self, r: Revocation) {
        let mut sets = self.sets.write().expect("revocation lock");
        let until = sets.of(r.kind).entry(r.id).or_insert(r.expires_at);
        *until = (*until).max(r.expires_at);
    }

    /// Replaces everything with `all` (a full reload from the store).
    pub fn replace(&self, all: Vec<Revocation>) {
        let mut fresh = Sets::default();
        for r in all {
            fresh.of(r.kind).insert(r.id, r.expires_at);
        }
        *self.sets.write().expect("revocation lock") = fresh;
    }

    /// Forgets revocations no live token can need any more.
    pub fn purge(&self, now: i64) {
        let mut sets = self.sets.write().expect("revocation lock");
        for kind in [Kind::Session, Kind::Token, Kind::User] {
            sets.of(kind).retain(|_, until| *until >= now);
        }
    }

    pub fn len(&self) -> usize {
        let sets = self.sets.read().expect("revocation lock");
        sets.sessions.len() + sets.tokens.len() + sets.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: Kind, id: &str, expires_at: i64) -> Revocation {
        Revocation {
            kind,
            id: id.into(),
            expires_at,
        }
    }

    #[test]
    fn each_kind_covers_its_own_claim() {
        let revoked = Revoked::default();
        assert!(!revoked.covers("u", "s", "j"));
        revoked.insert(r(Kind::Session, "s", 10));
        assert!(revoked.covers("u", "s", "j"));
        assert!(!revoked.covers("u", "other", "j"));
        revoked.insert(r(Kind::Token, "j2", 10));
        assert!(revoked.covers("u", "other", "j2"));
        revoked.insert(r(Kind::User, "u3", 10));
        assert!(revoked.covers("u3", "other", "other"));
    }

    #[test]
    fn purge_keeps_what_may_still_matter_and_replace_starts_over() {
        let revoked = Revoked::default();
        revoked.insert(r(Kind::Session, "old", 5));
        revoked.insert(r(Kind::Session, "new", 50));
        // A second insert never shortens a revocation.
        revoked.insert(r(Kind::Session, "new", 20));
        revoked.purge(30);
        assert!(!revoked.covers("u", "old", "j"));
        assert!(revoked.covers("u", "new", "j"));
        revoked.replace(vec![r(Kind::Token, "j", 99)]);
        assert!(!revoked.covers("u", "new", "x"));
        assert!(revoked.covers("u", "x", "j"));
        assert_eq!(revoked.len(), 1);
        assert_eq!(Kind::parse("user"), Some(Kind::User));
        assert_eq!(Kind::parse("nope"), None);
    }
}
