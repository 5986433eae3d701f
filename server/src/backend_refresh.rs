//! Backend-managed mode (`--backend-refresh`): the alternative to the client-managed
//! flow. When a bearer route sees an expired but genuine access token and a valid
//! refresh cookie of the same session, it rotates right there and carries on; the
//! new access token goes back in the `X-Access-Token` header (with
//! `X-Access-Token-Expires-In`), the rotated refresh token in the cookie.

use std::sync::{Arc, Mutex};

use axum::{
    extract::{FromRequestParts, Request},
    http::{HeaderValue, request::Parts},
    middleware::Next,
    response::Response,
};
use tower_cookies::Cookies;

use crate::{
    AppState,
    auth::{cookie_value, set_cookie},
    engine::{AuthUser, Client},
    error::{Error, Result},
};

pub const ACCESS_TOKEN_HEADER: &str = "x-access-token";
pub const EXPIRES_IN_HEADER: &str = "x-access-token-expires-in";

/// Where the extractor leaves a renewed access token for the middleware to send.
#[derive(Clone, Default)]
struct Renewed(Arc<Mutex<Option<(String, u64)>>>);

/// Middleware: gives the extractor a slot and sends what it put there.
pub async fn attach(mut request: Request, next: Next) -> Response {
    let slot = Renewed::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    let renewed = slot.0.lock().expect("renewed slot").take();
    if let Some((token, expires_in)) = renewed
        && let Ok(value) = HeaderValue::from_str(&token)
    {
        let headers = response.headers_mut();
        headers.insert(ACCESS_TOKEN_HEADER, value);
        headers.insert(EXPIRES_IN_HEADER, HeaderValue::from(expires_in));
    }
    response
}

/// Rotates for an expired `token`; the caller has already seen it expire.
pub async fn renew(parts: &mut Parts, state: &AppState, token: &str) -> Result<AuthUser> {
    let expired =
        state
            .keys
            .verify_ignoring_expiry(token, &state.config.issuer, &state.config.audience)?;
    let (Some(cookies), Some(slot)) = (
        parts.extensions.get::<Cookies>().cloned(),
        parts.extensions.get::<Renewed>().cloned(),
    ) else {
        return Err(Error::TokenExpired);
    };
    let Some(refresh) = cookie_value(&cookies) else {
        return Err(Error::TokenExpired);
    };
    let Ok(client) = Client::from_request_parts(parts, state).await;
    let issued = state
        .refresh_session(Some(&refresh), &expired.claims.sid, &client)
        .await?;
    set_cookie(state, &cookies, &issued);
    let user = state.authenticate(&issued.body.access_token).await?;
    *slot.0.lock().expect("renewed slot") =
        Some((issued.body.access_token, issued.body.expires_in));
    Ok(user)
}
