//! The engine as a function (AWS Lambda and the like): what a long-lived process does in
//! the background, done on requests instead.
//!
//! A function instance is frozen between invocations, so it has no background tasks:
//! no `LISTEN` connection for cluster events, no resync timer, no pruning timer. Instead,
//! before a request is handled:
//!
//! - if the mirrored state (revocations, key ring) was loaded more than
//!   [`STALENESS_MS`] ago, it is reloaded from the database first: a session revoked
//!   anywhere is refused by every instance at most one second later. If the reload
//!   fails the request gets 503 rather than an answer from stale state;
//! - if pruning is due (every [`PRUNE_EVERY_MS`] per instance), that request prunes
//!   first: a minute's worth of expired rows under steady traffic; after a quiet spell,
//!   the backlog.
//!
//! Rate limits need no catching up: with `REDIS_URL` every instance counts in Redis.
//! The `lambda` binary (`src/bin/lambda.rs`, feature `lambda`) serves [`function_app`].

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use axum::{Router, extract::Request, middleware::Next, response::IntoResponse};

use crate::{AppState, error::Error};

/// The oldest mirrored state a request may be answered from, in milliseconds.
pub const STALENESS_MS: i64 = 1_000;
/// How often one instance prunes expired rows, in milliseconds.
pub const PRUNE_EVERY_MS: i64 = 60_000;

/// [`crate::app`], with the state caught up before every request: inside the request
/// timeout, the request id and the security headers, like every other answer.
pub fn function_app(state: AppState) -> Router {
    let catch_up = Arc::new(CatchUp::new(&state));
    let layer_state = state.clone();
    let routes = crate::routes(&state).layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let (state, catch_up) = (layer_state.clone(), catch_up.clone());
            async move {
                if let Err(e) = catch_up.run(&state).await {
                    tracing::warn!(error = ?e, "catching up with the database failed");
                    let mut refused = Error::Busy { retry_after: 1 }.into_response();
                    refused.headers_mut().insert(
                        axum::http::header::CACHE_CONTROL,
                        axum::http::HeaderValue::from_static("no-store"),
                    );
                    return refused;
                }
                next.run(request).await
            }
        },
    ));
    crate::outer_layers(&state, routes)
}

/// What a function cannot run on, refused at start with the reason: it runs as many
/// short-lived instances, each with its own temporary disk.
pub fn check_environment(database_url: &str, redis_url: Option<&str>) -> anyhow::Result<()> {
    if database_url.starts_with("sqlite:") {
        anyhow::bail!(
            "DATABASE_URL is a SQLite database, which a function cannot use: each instance \
             has its own temporary disk, so sessions would vanish and instances would \
             disagree. Set DATABASE_URL=postgres://... (through PgBouncer or RDS Proxy)."
        );
    }
    if redis_url.is_none_or(|url| url.trim().is_empty()) {
        anyhow::bail!(
            "REDIS_URL is not set: a function needs Redis for its rate limits, or every \
             instance would count on its own and an attacker would get a fresh budget \
             from each. Set REDIS_URL=redis://..."
        );
    }
    Ok(())
}

/// When this instance last loaded the shared state and last pruned.
struct CatchUp {
    synced_ms: AtomicI64,
    pruned_ms: AtomicI64,
    /// One reload at a time; whoever waited finds it done.
    reload: tokio::sync::Mutex<()>,
}

impl CatchUp {
    /// The engine loaded everything when it was built: fresh now, first prune a
    /// minute on (a cold start does not pay for it).
    fn new(state: &AppState) -> Self {
        let now = state.clock.now_ms();
        Self {
            synced_ms: AtomicI64::new(now),
            pruned_ms: AtomicI64::new(now),
            reload: tokio::sync::Mutex::new(()),
        }
    }

    async fn run(&self, state: &AppState) -> crate::error::Result<()> {
        // A wall clock stepped back makes the age negative: that counts as due too, so
        // the bound holds whatever NTP does.
        let due = |at: &AtomicI64, every| {
            let age = state.clock.now_ms() - at.load(Ordering::Acquire);
            !(0..every).contains(&age)
        };
        if !due(&self.synced_ms, STALENESS_MS) && !due(&self.pruned_ms, PRUNE_EVERY_MS) {
            return Ok(());
        }
        let _one = self.reload.lock().await;
        if due(&self.synced_ms, STALENESS_MS) {
            // Stamped with the time before the read: what changed during it is older
            // than the stamp says, never newer.
            let started = state.clock.now_ms();
            state.resync().await?;
            self.synced_ms.store(started, Ordering::Release);
        }
        if due(&self.pruned_ms, PRUNE_EVERY_MS) {
            self.pruned_ms
                .store(state.clock.now_ms(), Ordering::Release);
            match state.prune().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "pruned expired rows"),
                // Pruning can wait for the next minute; the request need not fail.
                Err(e) => tracing::warn!(error = ?e, "pruning failed"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check_environment;

    #[test]
    fn a_function_needs_postgres_and_redis_and_says_so() {
        let pg = "postgres://db.internal/app";
        let redis = Some("redis://cache.internal");
        assert!(check_environment(pg, redis).is_ok());
        let sqlite = check_environment("sqlite://data/app.db?mode=rwc", redis).unwrap_err();
        assert!(
            sqlite
                .to_string()
                .contains("SQLite database, which a function cannot use")
        );
        for missing in [None, Some(""), Some("  ")] {
            let e = check_environment(pg, missing).unwrap_err();
            assert!(e.to_string().starts_with("REDIS_URL is not set"), "{e}");
        }
    }
}
