//! The revocations every bearer request is checked against, held in memory.
//!
//! An access token is self-contained, so ending a session would not stop its tokens
//! until they expire. Every instance therefore mirrors the `revocations` table here:
//! ended sessions, logged-out tokens, removed users. The instance that revokes inserts
//! at once; the others learn of it through cluster events (see [`crate::cluster`]) and a
//! periodic full reload. The check is three hash lookups under a read lock: no database
//! round trip on the hot path.

use std::{collections::HashMap, sync::RwLock};

use wire::EndReason;

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

/// One revocation: `kind` + `id`, for `reason`, relevant until `expires_at` (Unix
/// seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub kind: Kind,
    pub id: String,
    pub reason: EndReason,
    pub expires_at: i64,
}

/// id -> (until, why)
type Set = HashMap<String, (i64, EndReason)>;

#[derive(Debug, Default)]
struct Sets {
    sessions: Set,
    tokens: Set,
    users: Set,
}

impl Sets {
    fn of(&mut self, kind: Kind) -> &mut Set {
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
    /// Why a token of user `sub`, session `sid`, id `jti` was revoked, if it was.
    pub fn covers(&self, sub: &str, sid: &str, jti: &str) -> Option<EndReason> {
        let sets = self.sets.read().expect("revocation lock");
        [
            sets.sessions.get(sid),
            sets.tokens.get(jti),
            sets.users.get(sub),
        ]
        .into_iter()
        .flatten()
        .map(|(_, reason)| *reason)
        .next()
    }

    pub fn insert(&self, r: Revocation) {
        let mut sets = self.sets.write().expect("revocation lock");
        let entry = sets
            .of(r.kind)
            .entry(r.id)
            .or_insert((r.expires_at, r.reason));
        entry.0 = entry.0.max(r.expires_at);
    }

    /// Replaces everything with `all` (a full reload from the store).
    pub fn replace(&self, all: Vec<Revocation>) {
        let mut fresh = Sets::default();
        for r in all {
            fresh.of(r.kind).insert(r.id, (r.expires_at, r.reason));
        }
        *self.sets.write().expect("revocation lock") = fresh;
    }

    /// Forgets revocations no live token can need any more.
    pub fn purge(&self, now: i64) {
        let mut sets = self.sets.write().expect("revocation lock");
        for kind in [Kind::Session, Kind::Token, Kind::User] {
            sets.of(kind).retain(|_, (until, _)| *until >= now);
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
            reason: EndReason::RevokedByUser,
            expires_at,
        }
    }

    #[test]
    fn each_kind_covers_its_own_claim_and_says_why() {
        let revoked = Revoked::default();
        assert_eq!(revoked.covers("u", "s", "j"), None);
        revoked.insert(r(Kind::Session, "s", 10));
        assert_eq!(
            revoked.covers("u", "s", "j"),
            Some(EndReason::RevokedByUser)
        );
        assert_eq!(revoked.covers("u", "other", "j"), None);
        revoked.insert(Revocation {
            reason: EndReason::LoggedOut,
            ..r(Kind::Token, "j2", 10)
        });
        assert_eq!(
            revoked.covers("u", "other", "j2"),
            Some(EndReason::LoggedOut)
        );
        revoked.insert(r(Kind::User, "u3", 10));
        assert!(revoked.covers("u3", "other", "other").is_some());
    }

    #[test]
    fn purge_keeps_what_may_still_matter_and_replace_starts_over() {
        let revoked = Revoked::default();
        revoked.insert(r(Kind::Session, "old", 5));
        revoked.insert(r(Kind::Session, "new", 50));
        // A second insert never shortens a revocation.
        revoked.insert(r(Kind::Session, "new", 20));
        revoked.purge(30);
        assert!(revoked.covers("u", "old", "j").is_none());
        assert!(revoked.covers("u", "new", "j").is_some());
        revoked.replace(vec![r(Kind::Token, "j", 99)]);
        assert!(revoked.covers("u", "new", "x").is_none());
        assert!(revoked.covers("u", "x", "j").is_some());
        assert_eq!(revoked.len(), 1);
        assert_eq!(Kind::parse("user"), Some(Kind::User));
        assert_eq!(Kind::parse("nope"), None);
    }
}
