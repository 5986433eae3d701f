//! Cluster events: what one instance changes that every other must learn at once.
//!
//! Two things are cached in each instance's memory for speed: the revocations every
//! bearer request is checked against ([`crate::revoked`]) and the key ring
//! ([`crate::keys`]). The instance that changes one applies it to its own memory first,
//! writes it to the database, then announces it:
//!
//! - on PostgreSQL with `NOTIFY` on one channel, which every instance `LISTEN`s to
//!   (a reconnect loop with backoff, and a full reload after every (re)connect, since
//!   notifications sent meanwhile are lost);
//! - on SQLite (one instance) there is nobody else to tell: the same code path ends in
//!   memory.
//!
//! A periodic full reload ([`Engine::resync`], every `--resync-interval`) is the safety
//! net under both: an instance that missed an event is at most that far behind.

use std::time::Duration;

use sqlx::postgres::PgListener;
use wire::EndReason;

use crate::{
    AppState,
    engine::Engine,
    error::Result,
    revoked::{Kind, Revocation},
};

/// The PostgreSQL channel every instance listens on.
pub const CHANNEL: &str = "jwt_refresh_cluster";

/// Something every instance must learn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Revoked(Revocation),
    /// The key ring changed (a rotation): reload it.
    Keys,
}

impl Event {
    /// The `NOTIFY` payload: `revoked <kind> <reason> <expires_at> <id>` or `keys`.
    pub fn encode(&self) -> String {
        match self {
            Self::Revoked(r) => format!(
                "revoked {} {} {} {}",
                r.kind.as_str(),
                r.reason.as_str(),
                r.expires_at,
                r.id
            ),
            Self::Keys => "keys".into(),
        }
    }

    pub fn decode(payload: &str) -> Option<Self> {
        let mut parts = payload.splitn(5, ' ');
        match parts.next()? {
            "keys" => Some(Self::Keys),
            "revoked" => Some(Self::Revoked(Revocation {
                kind: Kind::parse(parts.next()?)?,
                reason: EndReason::parse(parts.next()?)?,
                expires_at: parts.next()?.parse().ok()?,
                id: parts.next()?.to_owned(),
            })),
            _ => None,
        }
    }
}

impl Engine {
    /// Applies `event` here, then tells the other instances. Callers have written the
    /// change to the database first, so the periodic reload finds it too.
    pub async fn announce(&self, event: Event) -> Result<()> {
        self.apply(&event).await?;
        self.store.notify(CHANNEL, &event.encode()).await
    }

    async fn apply(&self, event: &Event) -> Result<()> {
        match event {
            Event::Revoked(r) => self.revoked.insert(r.clone()),
            Event::Keys => self.keys.reload(&self.store, &self.secrets).await?,
        }
        Ok(())
    }

    /// Reloads everything cached from the database: the safety net under the events.
    pub async fn resync(&self) -> Result<()> {
        let now = self.now();
        self.revoked
            .replace(self.store.live_revocations(now).await?);
        self.keys.reload(&self.store, &self.secrets).await?;
        Ok(())
    }
}

/// Listens for other instances' events until the process ends (PostgreSQL only;
/// returns at once on SQLite).
pub async fn listen(state: AppState) {
    let Some(url) = state.store.postgres_url().map(str::to_owned) else {
        return;
    };
    let mut backoff = Duration::from_millis(250);
    loop {
        match session(&state, &url).await {
            Ok(()) => backoff = Duration::from_millis(250),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "cluster listener lost its connection");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// One connection's worth of listening: connect, catch up, then apply events until the
/// connection drops.
async fn session(state: &AppState, url: &str) -> anyhow::Result<()> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    // Whatever was announced while nobody listened is in the database.
    state.resync().await?;
    tracing::debug!("cluster listener connected");
    while let Some(notification) = listener.try_recv().await? {
        match Event::decode(notification.payload()) {
            Some(event) => {
                if let Err(e) = state.apply(&event).await {
                    tracing::warn!(error = ?e, "applying a cluster event failed");
                }
            }
            None => tracing::warn!(payload = notification.payload(), "unknown cluster event"),
        }
    }
    anyhow::bail!("connection closed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_their_payload() {
        let revoked = Event::Revoked(Revocation {
            kind: Kind::Session,
            reason: EndReason::PasswordChanged,
            id: "abc_-DEF".into(),
            expires_at: 1_700_000_000,
        });
        assert_eq!(Event::decode(&revoked.encode()), Some(revoked));
        assert_eq!(Event::decode("keys"), Some(Event::Keys));
        for bad in [
            "",
            "revoked",
            "revoked nope logged_out 1 x",
            "revoked user logged_out soon x",
            "revoked user bored 1 x",
            "other",
        ] {
            assert_eq!(Event::decode(bad), None, "{bad}");
        }
    }
}
