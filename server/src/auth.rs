//! Login, refresh and logout: the routes that hand out and take back tokens, and the
//! refresh cookie (`HttpOnly; Secure; SameSite=Strict; Path=/api/auth`).
//!
//! First-party native apps use the same routes in *body mode*: they sign in with
//! `"client": "native"` and get the refresh token in the JSON body (no cookie), and
//! send it back as `{"refresh_token": ...}` to refresh or log out.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderName, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use tower_cookies::{
    Cookie, Cookies,
    cookie::{SameSite, time::Duration},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use wire::{
    DEVICE_COOKIE, ErrorBody, LoginClient, LoginRequest, LogoutRequest, REFRESH_COOKIE,
    RefreshRequest, SESSION_HINT_COOKIE, TokenResponse,
};

pub use crate::extract::{Admin, RequireRole, Role, bearer};
pub use crate::scope::{ProfileRead, RequireScope, Scope, SessionsManage};
use crate::{
    AppState,
    engine::{Client, Holder, Issued},
    error::{AppJson, Error, Result},
    openapi::{BadRequest, Busy, CrossOrigin, RateLimited, Tokens},
    origin,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

/// Headers of every response that carries a token: no cache, shared or private, keeps
/// it (RFC 6749 §5.1).
pub(crate) const NO_STORE: [(HeaderName, &str); 2] = [
    (header::CACHE_CONTROL, "no-store"),
    (header::PRAGMA, "no-cache"),
];

fn refresh_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((REFRESH_COOKIE, value))
        .http_only(true)
        .secure(state.config.cookie_secure)
        .same_site(SameSite::Strict)
        .path(state.config.cookie_path())
        .build()
}

/// Marks a browser that signed in as a user before (see [`crate::rate_limit`]): sent
/// only to the sign-in route, kept for a year, survives logout on purpose.
fn device_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((DEVICE_COOKIE, value))
        .http_only(true)
        .secure(state.config.cookie_secure)
        .same_site(SameSite::Strict)
        .path("/api/auth/login")
        .max_age(Duration::days(365))
        .build()
}

/// The script-readable twin of the refresh cookie: says only "a session may exist".
fn hint_cookie(state: &AppState, value: &'static str) -> Cookie<'static> {
    Cookie::build((SESSION_HINT_COOKIE, value))
        .secure(state.config.cookie_secure)
        .same_site(SameSite::Strict)
        .path("/")
        .build()
}

/// Puts the refresh token of `issued` in the cookie (and sets the hint cookie beside it,
/// with the same lifetime).
pub(crate) fn set_cookie(state: &AppState, cookies: &Cookies, issued: &Issued) {
    let mut cookie = refresh_cookie(state, issued.refresh_token.clone());
    let mut hint = hint_cookie(state, "1");
    if let Some(age) = issued.cookie_max_age {
        cookie.set_max_age(Duration::seconds(age));
        hint.set_max_age(Duration::seconds(age));
    }
    cookies.add(cookie);
    cookies.add(hint);
}

/// Puts the refresh token in the cookie and answers with the access token.
fn respond(state: &AppState, cookies: &Cookies, issued: Issued) -> Json<TokenResponse> {
    set_cookie(state, cookies, &issued);
    Json(issued.body)
}

/// Expires both cookies. Added as expired cookies rather than removed from the jar: a
/// removal is only sent for cookies the request carried, and a client may have sent
/// one without the other.
pub(crate) fn clear_cookie(state: &AppState, cookies: &Cookies) {
    for mut cookie in [refresh_cookie(state, String::new()), hint_cookie(state, "")] {
        cookie.make_removal();
        cookies.add(cookie);
    }
}

pub(crate) fn cookie_value(cookies: &Cookies) -> Option<String> {
    cookies.get(REFRESH_COOKIE).map(|c| c.value().to_owned())
}

/// A JSON body that may be left out (or blank): then it is `T::default()`.
fn optional_json<T: DeserializeOwned + Default>(body: &Bytes, what: &str) -> Result<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("The {what} body is not valid: {e}")))
}

/// Sign in with a username and password.
///
/// A browser gets the access token in the body and the refresh token in the
/// `refresh_token` cookie (persistent with `remember_me`); a native app
/// (`"client": "native"`) gets both in the body and no cookie. A browser's `Origin`, if
/// sent, must be ours (a forged sign-in would put the victim in an attacker's account).
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, response = Tokens),
        (status = 400, response = BadRequest),
        (status = 401, description = "`invalid_credentials` (never says which of the two is wrong)", body = ErrorBody),
        (status = 403, response = CrossOrigin),
        (status = 429, response = RateLimited),
        (status = 503, response = Busy),
    ))]
async fn login(
    State(state): State<AppState>,
    client: Client,
    cookies: Cookies,
    headers: HeaderMap,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<Response> {
    // Sign-in sets the cookie: a forged one would sign the victim into an attacker's
    // account (login CSRF).
    origin::check_origin(&headers, &state.config)?;
    let native = req.client == LoginClient::Native;
    let device = cookies.get(DEVICE_COOKIE).map(|c| c.value().to_owned());
    let issued = state.login(req, device.as_deref(), &client).await?;
    if native {
        return Ok((NO_STORE, Json(issued.native())).into_response());
    }
    if let Some(device) = &issued.device {
        cookies.add(device_cookie(&state, device.clone()));
    }
    Ok((NO_STORE, respond(&state, &cookies, issued)).into_response())
}

/// Rotate the refresh token and get a new access token.
///
/// A browser sends the cookie (and `X-Requested-With`), a native app its refresh token
/// in the body. The body is optional for a browser: `active` (default `true`) says
/// whether the user did something, and only then does the idle end slide. A rotated
/// token sent again within the grace period gets the same successor; after it, the
/// session ends (`refresh_reused`). A refused cookie is cleared.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth",
    // By reference: an `Option` would say `null` is a body, and it is not.
    request_body(content = ref("#/components/schemas/RefreshRequest"), description = "Optional for a browser (then `active` is `true`)"),
    security(("refresh_cookie" = [], "requested_with" = []), ()),
    responses(
        (status = 200, response = Tokens),
        (status = 400, response = BadRequest),
        (status = 401, description = "`refresh_missing`, `refresh_invalid`, `refresh_expired`, `refresh_reused` or `session_revoked` (with the `reason`): sign in again", body = ErrorBody),
        (status = 403, response = CrossOrigin),
        (status = 429, response = RateLimited),
    ))]
async fn refresh(
    State(state): State<AppState>,
    client: Client,
    cookies: Cookies,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    // The body is optional: an empty one is a refresh by an active user.
    let request: RefreshRequest = optional_json(&body, "refresh")?;
    // Body mode: the token is in the request itself and no cookie is involved, so there
    // is no forged cross-site request to guard against. Only native sessions pass.
    if let Some(token) = request.refresh_token.as_deref() {
        let issued = state
            .refresh(Some(token), Holder::Body, request.active, &client)
            .await?;
        return Ok((NO_STORE, Json(issued.native())).into_response());
    }
    origin::check(&headers, &state.config)?;
    let token = cookie_value(&cookies);
    match state
        .refresh(token.as_deref(), Holder::Cookie, request.active, &client)
        .await
    {
        Ok(issued) => Ok((NO_STORE, respond(&state, &cookies, issued)).into_response()),
        Err(e) => {
            // A cookie that can never work again is dropped, so the browser stops sending it.
            if matches!(e.status(), StatusCode::UNAUTHORIZED) && token.is_some() {
                clear_cookie(&state, &cookies);
            }
            Err(e)
        }
    }
}

/// Sign out: the session ends and the access token stops working at once.
///
/// The session is the cookie's (a browser, with `X-Requested-With`), the body's
/// `refresh_token` (a native app), or the bearer token's; an expired or revoked bearer
/// token does not stop a logout. Both cookies are cleared.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    request_body(content = ref("#/components/schemas/LogoutRequest"), description = "A native app's refresh token; nothing for a browser"),
    security(("refresh_cookie" = [], "requested_with" = []), ("bearer" = []), ()),
    responses(
        (status = 204, description = "Signed out (also when there was nothing to end)"),
        (status = 400, response = BadRequest),
        (status = 403, response = CrossOrigin),
    ))]
async fn logout(
    State(state): State<AppState>,
    client: Client,
    cookies: Cookies,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let request: LogoutRequest = optional_json(&body, "logout")?;
    // An expired or revoked bearer token does not stop a logout.
    let bearer = match bearer(&headers) {
        Some(token) => state.authenticate(token).await.ok(),
        None => None,
    };
    match request.refresh_token.as_deref() {
        Some(token) => {
            state
                .logout(Some(token), Holder::Body, bearer.as_ref(), &client)
                .await?;
        }
        None => {
            let cookie = cookie_value(&cookies);
            // The cookie makes this a state change a forged cross-site request could ask
            // for: the CSRF guards apply.
            if cookie.is_some() {
                origin::check(&headers, &state.config)?;
            }
            state
                .logout(cookie.as_deref(), Holder::Cookie, bearer.as_ref(), &client)
                .await?;
            clear_cookie(&state, &cookies);
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
