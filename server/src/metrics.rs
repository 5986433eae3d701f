//! Prometheus metrics, served on a listener of their own (`--metrics-addr` /
//! `METRICS_ADDR`, off by default) so they are never public by accident.
//!
//! The `metrics` facade records and the Prometheus exporter renders. What is counted
//! comes from the places every event already passes through: the audit log
//! ([`record_audit`], called by `Engine::audit`), refusals ([`record_refusal`], called by
//! `Engine::limit`), error responses ([`record_error`],
//! called by `Error::into_response`), and a latency histogram per matched route
//! ([`track`], a route layer). Without an installed recorder every call is a no-op.
//! Names and sample alerts: docs/OPERATIONS.md.

use std::time::{Duration, Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use wire::{EndReason, ErrorCode};

use crate::{AppState, audit};

pub const LOGINS: &str = "jwt_refresh_logins_total";
pub const REFRESHES: &str = "jwt_refresh_refreshes_total";
pub const GRACE_REPLAYS: &str = "jwt_refresh_grace_replays_total";
pub const REUSE_DETECTIONS: &str = "jwt_refresh_reuse_detections_total";
pub const SESSIONS_ENDED: &str = "jwt_refresh_sessions_ended_total";
pub const UNAUTHORIZED: &str = "jwt_refresh_unauthorized_total";
pub const RATE_LIMITED: &str = "jwt_refresh_rate_limited_total";
pub const REQUEST_DURATION: &str = "jwt_refresh_http_request_duration_seconds";
pub const LIVE_SESSIONS: &str = "jwt_refresh_live_sessions";

/// From a fast JWKS read to a slow password hash (Argon2id takes tenths of a second).
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Installs the process-wide Prometheus recorder. Once per process: a second call (or an
/// embedding application's own recorder) is an error.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), &LATENCY_BUCKETS)?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    describe_counter!(
        LOGINS,
        "Password sign-ins, by outcome (success, failure, rate_limited)."
    );
    describe_counter!(REFRESHES, "Refresh tokens rotated.");
    describe_counter!(
        GRACE_REPLAYS,
        "Rotated refresh tokens presented again within the grace period (same successor returned)."
    );
    describe_counter!(
        REUSE_DETECTIONS,
        "Rotated refresh tokens presented after the grace period: the session was revoked."
    );
    describe_counter!(SESSIONS_ENDED, "Sessions ended, by reason.");
    describe_counter!(UNAUTHORIZED, "401 responses, by error code.");
    describe_counter!(RATE_LIMITED, "429 responses, by the limit that refused.");
    describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "API request latency, by method, matched route and status class."
    );
    describe_gauge!(
        LIVE_SESSIONS,
        "Sessions neither ended nor expired, read from the database at scrape time (the same on every instance: aggregate with max, not sum)."
    );
    Ok(handle)
}

/// The metrics listener's router: `GET /metrics` only.
pub fn router(state: AppState, handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state((state, handle))
}

/// Serves [`router`] on `listener`, and keeps the exporter's histograms drained.
pub async fn serve(
    state: AppState,
    handle: PrometheusHandle,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<()> {
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    axum::serve(listener, router(state, handle)).await?;
    Ok(())
}

async fn scrape(State((state, handle)): State<(AppState, PrometheusHandle)>) -> Response {
    match state.store.count_live_sessions(state.now()).await {
        Ok(n) => gauge!(LIVE_SESSIONS).set(n as f64),
        // The rest of the scrape is still worth having; the gauge keeps its last value.
        Err(e) => tracing::warn!(error = ?e, "live sessions not counted"),
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// Counts what an audit event says happened.
pub fn record_audit(event: &str) {
    match event {
        audit::LOGIN_SUCCEEDED => counter!(LOGINS, "outcome" => "success").increment(1),
        audit::LOGIN_FAILED => counter!(LOGINS, "outcome" => "failure").increment(1),
        _ => {
            let ended = EndReason::ALL
                .into_iter()
                .find(|r| audit::event_for(*r) == event);
            if let Some(reason) = ended {
                counter!(SESSIONS_ENDED, "reason" => reason.as_str()).increment(1);
                if reason == EndReason::ReuseDetected {
                    counter!(REUSE_DETECTIONS).increment(1);
                }
            }
        }
    }
}

/// A refresh token was rotated (routine: counted here, not audited).
pub fn record_refresh() {
    counter!(REFRESHES).increment(1);
}

/// Counts a refusal by the limit that refused (every one: the audit log keeps only
/// the first of each minute per client).
pub fn record_refusal(limit: &'static str) {
    if limit.starts_with("login") {
        counter!(LOGINS, "outcome" => "rate_limited").increment(1);
    }
    counter!(RATE_LIMITED, "limit" => limit).increment(1);
}

/// A rotated token came back within the grace period (no audit event: it is no incident).
pub fn record_grace_replay() {
    counter!(GRACE_REPLAYS).increment(1);
}

/// Counts a 401 by its code (429s are counted by limit in [`record_refusal`]).
pub fn record_error(status: StatusCode, code: ErrorCode) {
    if status == StatusCode::UNAUTHORIZED {
        counter!(UNAUTHORIZED, "code" => code.as_str()).increment(1);
    }
}

/// Route layer: the latency of every API request, by method, matched route (the
/// pattern, so ids do not explode the label set) and status class.
pub async fn track(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let status = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    histogram!(REQUEST_DURATION, "method" => method, "route" => route, "status" => status)
        .record(start.elapsed().as_secs_f64());
    response
}
