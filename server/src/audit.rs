//! Audit event names, and the admin route that lists recent events.
//! Events carry user, session, IP, User-Agent and a short detail; never a password or
//! a token.

use axum::{
    Json,
    extract::{Query, State},
};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};
use wire::{AuditEvent, EndReason, ErrorBody};

use crate::{
    AppState,
    auth::{Admin, RequireRole},
    error::Result,
    openapi::Unauthenticated,
};

pub const LOGIN_SUCCEEDED: &str = "login_succeeded";
pub const LOGIN_FAILED: &str = "login_failed";
pub const PASSWORD_CHANGED: &str = "password_changed";
pub const RATE_LIMITED: &str = "rate_limited";
/// One summary a minute for a (limit, client) that kept being refused.
pub const RATE_LIMITED_REPEATEDLY: &str = "rate_limited_repeatedly";
pub const SESSION_UA_CHANGED: &str = "session_user_agent_changed";
pub const SESSION_IP_CHANGED: &str = "session_ip_changed";
pub const USER_REMOVED: &str = "user_removed";
pub const OAUTH_CLIENT_ADDED: &str = "oauth_client_added";
pub const OAUTH_CLIENT_REMOVED: &str = "oauth_client_removed";
pub const OAUTH_CONSENT_GRANTED: &str = "oauth_consent_granted";
pub const OAUTH_CONSENT_DENIED: &str = "oauth_consent_denied";
/// A code became a session (the OAuth counterpart of `login_succeeded`).
pub const OAUTH_CODE_EXCHANGED: &str = "oauth_code_exchanged";
/// Wrong client, redirect URI or verifier, or too late: the code is spent.
pub const OAUTH_CODE_REJECTED: &str = "oauth_code_rejected";
/// A spent code came back; the session it granted ends.
pub const OAUTH_CODE_REUSED: &str = "oauth_code_reused";

/// The event written when a session ends for `reason`.
pub fn event_for(reason: EndReason) -> &'static str {
    match reason {
        EndReason::LoggedOut => "logout",
        EndReason::IdleTimeout => "session_idle_timeout",
        EndReason::AbsoluteTimeout => "session_absolute_timeout",
        EndReason::ReuseDetected => "refresh_reuse_detected",
        EndReason::WrongDevice => "refresh_wrong_device",
        EndReason::RevokedByUser => "session_revoked",
        EndReason::PasswordChanged => "session_ended_password_changed",
        EndReason::AdminRevoked => "session_revoked_by_admin",
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(recent))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Page {
    /// How many events, newest first (default 100).
    limit: Option<i64>,
}

/// Recent audit events, newest first (role `admin` only).
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin", operation_id = "audit_log",
    params(Page),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The events", body = Vec<AuditEvent>),
        (status = 401, response = Unauthenticated),
        (status = 403, description = "`forbidden` without the role `admin`; `insufficient_scope` for a third-party client's token", body = ErrorBody),
    ))]
async fn recent(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<AuditEvent>>> {
    Ok(Json(state.audit_log(page.limit.unwrap_or(100)).await?))
}
