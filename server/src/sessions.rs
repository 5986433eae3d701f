//! A user's sessions: status for the countdown, the device list, revocation, log out
//! everywhere, and password change (which ends every other session).

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, get, post},
};
use tower_cookies::Cookies;
use wire::{ChangePasswordRequest, SessionStatus, SessionSummary};

use crate::{
    AppState,
    auth::{clear_cookie, cookie_value},
    engine::{AuthUser, Client},
    error::{AppJson, Result},
    scope::{RequireScope, SessionsManage},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/session", get(status))
        .route("/api/auth/sessions", get(list))
        .route("/api/auth/sessions/{id}", delete(revoke))
        .route("/api/auth/logout-all", post(logout_all))
        .route("/api/auth/password", post(change_password))
}

/// `GET /api/auth/session`: idle and absolute ends of the cookie's session and the
/// server time; rotates nothing, so every tab may poll it.
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

/// Listing and ending sessions is open to third-party clients granted `sessions:manage`;
/// logging out everywhere and changing the password are not.
async fn list(
    State(state): State<AppState>,
    RequireScope(user, _): RequireScope<SessionsManage>,
) -> Result<Json<Vec<SessionSummary>>> {
    Ok(Json(state.sessions(&user).await?))
}

async fn revoke(
    State(state): State<AppState>,
    RequireScope(user, _): RequireScope<SessionsManage>,
    client: Client,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state.revoke_session(&user, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

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
