//! A user's sessions: status for the countdown, the device list, revocation, log out
//! everywhere, and password change (which ends every other session).

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use tower_cookies::Cookies;
use utoipa_axum::{router::OpenApiRouter, routes};
use wire::{ChangePasswordRequest, ErrorBody, SessionStatus, SessionSummary};

use crate::{
    AppState,
    auth::{clear_cookie, cookie_value},
    engine::{AuthUser, Client},
    error::{AppJson, Result},
    openapi::{Busy, RateLimited, ScopeRefused, Unauthenticated},
    scope::{RequireScope, SessionsManage},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(list))
        .routes(routes!(revoke))
        .routes(routes!(logout_all))
        .routes(routes!(change_password))
}

/// The cookie's session: its idle and absolute ends, and the server's time.
///
/// Rotates nothing, so every tab may poll it (for the countdown, and to confirm an end
/// computed locally before acting on it).
#[utoipa::path(get, path = "/api/auth/session", tag = "sessions", operation_id = "session_status",
    security(("refresh_cookie" = [])),
    responses(
        (status = 200, description = "The session, live", body = SessionStatus),
        (status = 401, description = "`refresh_missing`, `refresh_invalid`, `refresh_expired` or `session_revoked` (with the `reason`)", body = ErrorBody),
    ))]
async fn status(
    State(state): State<AppState>,
    client: Client,
    cookies: Cookies,
) -> Result<Json<SessionStatus>> {
    Ok(Json(
        state
            .session_status(cookie_value(&cookies).as_deref(), &client)
            .await?,
    ))
}

/// The user's live sessions, the current one marked and first, then the most recently
/// used.
///
/// Listing and ending sessions is open to third-party clients granted `sessions:manage`;
/// logging out everywhere and changing the password are not.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "sessions", operation_id = "list_sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The sessions", body = Vec<SessionSummary>),
        (status = 401, response = Unauthenticated),
        (status = 403, response = ScopeRefused),
    ))]
async fn list(
    State(state): State<AppState>,
    RequireScope(user, _): RequireScope<SessionsManage>,
) -> Result<Json<Vec<SessionSummary>>> {
    Ok(Json(state.sessions(&user).await?))
}

/// End one of the user's sessions (`revoked_by_user`); its tokens stop working at once.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "sessions", operation_id = "revoke_session",
    params(("id" = String, Path, description = "A session id from the list")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 401, response = Unauthenticated),
        (status = 403, response = ScopeRefused),
        (status = 404, description = "`not_found`: no live session of this user has that id", body = ErrorBody),
    ))]
async fn revoke(
    State(state): State<AppState>,
    RequireScope(user, _): RequireScope<SessionsManage>,
    client: Client,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state.revoke_session(&user, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign out everywhere: every session of the user ends, this one included.
#[utoipa::path(post, path = "/api/auth/logout-all", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session has ended; the refresh cookie is cleared"),
        (status = 401, response = Unauthenticated),
        (status = 403, response = ScopeRefused),
    ))]
async fn logout_all(
    State(state): State<AppState>,
    user: AuthUser,
    client: Client,
    cookies: Cookies,
) -> Result<StatusCode> {
    state.logout_all(&user, &client).await?;
    clear_cookie(&state, &cookies);
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password; every other session of the user ends (`password_changed`).
#[utoipa::path(post, path = "/api/auth/password", tag = "sessions", request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed; this session goes on"),
        (status = 400, description = "`bad_request`: the new password is too weak (the message says why) or the body is malformed", body = ErrorBody),
        (status = 401, description = "`invalid_credentials` (the current password is wrong), or a bearer refusal as `Unauthenticated` says", body = ErrorBody),
        (status = 403, response = ScopeRefused),
        (status = 429, response = RateLimited),
        (status = 503, response = Busy),
    ))]
async fn change_password(
    State(state): State<AppState>,
    user: AuthUser,
    client: Client,
    AppJson(req): AppJson<ChangePasswordRequest>,
) -> Result<StatusCode> {
    state
        .change_password(&user, req.current_password, req.new_password, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
