//! The signed-in user (`GET /api/me`) and the demo users of a new database.

use axum::{Json, extract::State};
use utoipa_axum::{router::OpenApiRouter, routes};
use wire::User;

use crate::{
    AppState,
    error::Result,
    openapi::{ScopeRefused, Unauthenticated},
    refresh_token,
    scope::{ProfileRead, RequireScope},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// The signed-in user: id, username, roles and permissions.
///
/// Open to third-party clients granted `profile:read`.
#[utoipa::path(get, path = "/api/me", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, response = Unauthenticated),
        (status = 403, response = ScopeRefused),
    ))]
async fn me(
    State(state): State<AppState>,
    RequireScope(user, _): RequireScope<ProfileRead>,
) -> Json<User> {
    Json(state.user(&user))
}

/// On a database without users, creates `alice` (admin) and `bob` (user) with random
/// passwords and returns `(username, password, role)` so `serve` can print them once.
pub async fn ensure_demo_users(state: &AppState) -> Result<Vec<(String, String, String)>> {
    if state.store.count_users().await? > 0 {
        return Ok(Vec::new());
    }
    let mut created = Vec::new();
    for (name, role) in [("alice", "admin"), ("bob", "user")] {
        let password = refresh_token::generate()[..16].to_owned();
        state
            .create_user(name, &password, &[role.to_owned()])
            .await?;
        created.push((name.to_owned(), password, role.to_owned()));
    }
    Ok(created)
}
