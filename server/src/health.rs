//! Probes. `/healthz`: the process is alive (a container is restarted when it is not);
//! it asks nothing else, so a database outage does not restart every instance at once.
//! `/readyz`: the instance can serve (a load balancer sends it traffic only then): the
//! database answers and a signing key is loaded; Redis joins the checks when configured.

use std::collections::BTreeMap;

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;

use crate::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "`ok`", content_type = "text/plain", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// Each check by name: `"ok"` or `"failing"` (details go to the log, never out).
    pub checks: BTreeMap<&'static str, &'static str>,
}

/// Readiness: the database, the signing key, and Redis when configured.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Every check passes", body = Readiness),
        (status = 503, description = "A check fails (details go to the log)", body = Readiness),
    ))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let checks = [("database", database(&state).await), ("keys", keys(&state))]
        .into_iter()
        .chain(redis(&state).await.map(|ok| ("redis", ok)))
        .collect::<Vec<_>>();
    let ready = checks.iter().all(|(_, ok)| *ok);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let checks = checks
        .into_iter()
        .map(|(name, ok)| (name, if ok { "ok" } else { "failing" }))
        .collect();
    (status, Json(Readiness { ready, checks }))
}

async fn database(state: &AppState) -> bool {
    match state.store.ping().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = ?e, "not ready: the database does not answer");
            false
        }
    }
}

/// `None` without Redis; else whether it answers a PING in time.
async fn redis(state: &AppState) -> Option<bool> {
    let ok = state.limits.redis_ok().await?;
    if !ok {
        tracing::warn!("not ready: Redis does not answer");
    }
    Some(ok)
}

fn keys(state: &AppState) -> bool {
    let loaded = !state.keys.signing_kid(state.now()).is_empty();
    if !loaded {
        tracing::warn!("not ready: no signing key loaded");
    }
    loaded
}
