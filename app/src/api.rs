//! The HTTP client: the only module that calls `fetch`.
//!
//! Every request is same-origin with `credentials: same-origin` (so the HttpOnly refresh
//! cookie travels to `/api/auth/*` and nowhere else) and `cache: no-store` (nothing
//! authenticated lingers in the HTTP cache). Every non-2xx answer becomes an [`ApiError`]
//! in one place, [`error_from`], so callers match on typed codes, never on status numbers
//! or message text. This module passes tokens through but keeps none: that is the token
//! manager's job.

use std::fmt;

use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestCache, RequestCredentials, RequestInit, Response};
use wire::{EndReason, ErrorBody, ErrorCode, LoginRequest, REQUESTED_WITH_HEADER, TokenResponse};

const LOGIN: &str = "/api/auth/login";
const REFRESH: &str = "/api/auth/refresh";
const LOGOUT: &str = "/api/auth/logout";
/// A bearer route: the token manager calls it, with its refresh-and-retry.
pub const LOGOUT_ALL: &str = "/api/auth/logout-all";

/// Why a call failed.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// The server answered with an error status.
    Http {
        status: u16,
        code: ErrorCode,
        message: String,
        /// Set when the error is the end of a session.
        reason: Option<EndReason>,
        /// Seconds from `Retry-After` (on 429).
        retry_after: Option<u64>,
    },
    /// No answer: offline, DNS, connection reset, or an unreadable body.
    Network(String),
    /// The call needs a session and there is none (set by the token manager, no request made).
    SignedOut,
}

impl ApiError {
    /// The server's error code, if the server answered.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Http { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// A 401 from the refresh endpoint or a bearer route: the session is over unless
    /// the code is `token_expired`, which a refresh can mend.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Http { status: 401, .. })
    }

    /// Worth trying again later (the network, a rate limit, a server in trouble), as
    /// opposed to an answer that retrying will not change.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Network(_) => true,
            Self::Http { status, .. } => *status == 429 || *status >= 500,
            Self::SignedOut => false,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http { message, code, .. } if message.is_empty() => write!(f, "{code}"),
            Self::Http { message, .. } => f.write_str(message),
            Self::Network(_) => f.write_str("Could not reach the server. Check your connection."),
            Self::SignedOut => f.write_str("You are signed out."),
        }
    }
}

/// A decoded body together with when it arrived, read as soon as the headers were in.
#[derive(Clone, Debug)]
pub struct Received<T> {
    pub body: T,
    /// `performance.now()` at receipt: the monotonic anchor for `expires_in`.
    pub monotonic_ms: f64,
    /// `Date.now()` at receipt: for sleep detection and the server clock offset.
    pub wall_ms: f64,
    /// The response's `Date` header, in Unix milliseconds, if present and parseable.
    pub server_date_ms: Option<f64>,
}

/// `POST /api/auth/login`: the first token pair; sets the refresh cookie.
pub async fn login(request: &LoginRequest) -> Result<Received<TokenResponse>, ApiError> {
    let body = serde_json::to_string(request).map_err(|e| ApiError::Network(e.to_string()))?;
    let response = send("POST", LOGIN, Some(&body), None).await?;
    received(response).await
}

/// `POST /api/auth/refresh`: a new access token for the refresh cookie, which rotates.
pub async fn refresh() -> Result<Received<TokenResponse>, ApiError> {
    let response = send("POST", REFRESH, None, None).await?;
    received(response).await
}

/// `POST /api/auth/logout`: ends the session, clears the cookie and denylists the token.
pub async fn logout(bearer: Option<&str>) -> Result<(), ApiError> {
    let response = send("POST", LOGOUT, None, bearer).await?;
    if response.ok() {
        Ok(())
    } else {
        Err(error_from(&response).await)
    }
}

/// `GET` a JSON resource with a bearer token.
pub async fn get_json<T: DeserializeOwned>(path: &str, bearer: &str) -> Result<T, ApiError> {
    bearer_json(Method::Get, path, None, bearer).await
}

/// The methods the bearer routes use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

/// Any bearer request, with an optional JSON body. `204 No Content` decodes as JSON
/// `null`, so `T = ()` suits routes that answer with nothing.
pub async fn bearer_json<T: DeserializeOwned>(
    method: Method,
    path: &str,
    json_body: Option<&str>,
    bearer: &str,
) -> Result<T, ApiError> {
    let response = send(method.as_str(), path, json_body, Some(bearer)).await?;
    if response.status() == 204 {
        return serde_json::from_str("null")
            .map_err(|e| ApiError::Network(format!("expected a body, got none: {e}")));
    }
    received(response).await.map(|r| r.body)
}

async fn send(
    method: &str,
    path: &str,
    json_body: Option<&str>,
    bearer: Option<&str>,
) -> Result<Response, ApiError> {
    let headers = Headers::new().map_err(network)?;
    headers.set("Accept", "application/json").map_err(network)?;
    // Custom header: a cross-site form cannot send it, and it forces a CORS preflight
    // for any cross-origin script, so it backs up SameSite on the cookie routes.
    headers
        .set(REQUESTED_WITH_HEADER, "fetch")
        .map_err(network)?;
    if let Some(token) = bearer {
        headers
            .set("Authorization", &format!("Bearer {token}"))
            .map_err(network)?;
    }
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    init.set_cache(RequestCache::NoStore);
    if let Some(body) = json_body {
        headers
            .set("Content-Type", "application/json")
            .map_err(network)?;
        init.set_body(&JsValue::from_str(body));
    }
    init.set_headers(&headers);

    let request = Request::new_with_str_and_init(path, &init).map_err(network)?;
    let window = web_sys::window().ok_or_else(|| ApiError::Network("no window".into()))?;
    let response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(network)?;
    response.dyn_into::<Response>().map_err(network)
}

/// Decodes a 2xx body, or turns anything else into an error.
async fn received<T: DeserializeOwned>(response: Response) -> Result<Received<T>, ApiError> {
    // Stamp the clocks before reading the body: the server's `expires_in` started when it
    // answered, and a slow body should not make the token look younger than it is.
    let monotonic_ms = now_monotonic_ms();
    let wall_ms = js_sys::Date::now();
    let server_date_ms = header(&response, "Date")
        .map(|date| js_sys::Date::parse(&date))
        .filter(|ms| ms.is_finite());
    if !response.ok() {
        return Err(error_from(&response).await);
    }
    let text = text(&response).await?;
    let body = serde_json::from_str(&text)
        .map_err(|e| ApiError::Network(format!("unexpected response: {e}")))?;
    Ok(Received {
        body,
        monotonic_ms,
        wall_ms,
        server_date_ms,
    })
}

/// The one place where a non-2xx response becomes an [`ApiError`].
///
/// Our server always answers with an [`ErrorBody`]; a proxy or a crashed backend may not,
/// so a body that does not parse still yields a code derived from the status.
async fn error_from(response: &Response) -> ApiError {
    let status = response.status();
    let retry_after = header(response, "Retry-After").and_then(|v| v.trim().parse().ok());
    let parsed = text(response)
        .await
        .ok()
        .and_then(|text| serde_json::from_str::<ErrorBody>(&text).ok());
    match parsed {
        Some(body) => ApiError::Http {
            status,
            code: body.error,
            message: body.message,
            reason: body.reason,
            retry_after,
        },
        None => ApiError::Http {
            status,
            code: code_for_status(status),
            message: format!("The server answered {status} {}.", response.status_text()),
            reason: None,
            retry_after,
        },
    }
}

fn code_for_status(status: u16) -> ErrorCode {
    match status {
        401 => ErrorCode::TokenInvalid,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        429 => ErrorCode::RateLimited,
        400..=499 => ErrorCode::BadRequest,
        _ => ErrorCode::Internal,
    }
}

async fn text(response: &Response) -> Result<String, ApiError> {
    let promise = response.text().map_err(network)?;
    let value = JsFuture::from(promise).await.map_err(network)?;
    Ok(value.as_string().unwrap_or_default())
}

fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).ok().flatten()
}

/// `performance.now()`: milliseconds on a clock that the user cannot set.
pub fn now_monotonic_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

fn network(err: JsValue) -> ApiError {
    let text = err
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| err.as_string())
        .unwrap_or_else(|| "network error".into());
    ApiError::Network(text)
}
