//! The HTTP client, on `gloo-net`: the only module that sends requests.
//!
//! Every request is same-origin with `credentials: same-origin` (so the HttpOnly refresh
//! cookie travels to the auth routes and nowhere else) and `cache: no-store`. Every
//! non-2xx answer becomes an [`ApiError`] in one place, [`error_from`], so callers match
//! on typed codes, never on status numbers or message text. Requests to the auth routes
//! carry a timeout (an `AbortController`): a hanging refresh must not hold the tabs' lock.

use std::fmt;
use std::time::Duration;

use gloo_net::http::{Request, RequestBuilder, Response};
use gloo_timers::callback::Timeout;
use serde::de::DeserializeOwned;
use web_sys::{AbortController, RequestCache, RequestCredentials};
use wire::{
    EndReason, ErrorBody, ErrorCode, LoginRequest, REQUESTED_WITH_HEADER, RefreshRequest,
    SessionStatus, TokenResponse,
};

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
        /// Seconds from `Retry-After` (on 429 and 503).
        retry_after: Option<u64>,
    },
    /// No answer: offline, DNS, connection reset, or an unreadable body.
    Network(String),
    /// No answer in time: the request was aborted.
    Timeout,
    /// Not sent: the refresh gate is shut (backoff, `Retry-After`, breaker, or offline)
    /// until the given wall-clock time.
    Deferred { until_ms: f64 },
    /// The call needs a session and there is none (no request made).
    SignedOut,
    /// The session's own code could not be fetched (offline, or a tab older than a
    /// deploy that removed it): no request made.
    Unloaded,
}

impl ApiError {
    /// The server's error code, if the server answered.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Http { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The reason the server gave for ending the session, if it did.
    pub fn reason(&self) -> Option<EndReason> {
        match self {
            Self::Http { reason, .. } => *reason,
            _ => None,
        }
    }

    /// A 401: the session is over unless the code is `token_expired`.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Http { status: 401, .. })
    }

    /// Worth trying again later (the network, a rate limit, a server in trouble), as
    /// opposed to an answer that retrying will not change.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Network(_) | Self::Timeout | Self::Deferred { .. } => true,
            Self::Http { status, .. } => *status == 429 || *status >= 500,
            Self::SignedOut | Self::Unloaded => false,
        }
    }

    pub(crate) fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http { message, code, .. } if message.is_empty() => write!(f, "{code}"),
            Self::Http { message, .. } => f.write_str(message),
            Self::Network(_) | Self::Timeout | Self::Deferred { .. } => {
                f.write_str("Could not reach the server. Reconnecting…")
            }
            Self::SignedOut => f.write_str("You are signed out."),
            Self::Unloaded => f.write_str(
                "This page could not load what it needs. Check your connection, or reload the page.",
            ),
        }
    }
}

/// A decoded body together with when it arrived, read as soon as the headers were in.
#[derive(Clone, Debug)]
pub(crate) struct Received<T> {
    pub body: T,
    /// `performance.now()` at receipt: the monotonic anchor for `expires_in`.
    pub monotonic_ms: f64,
    /// `Date.now()` at receipt.
    pub wall_ms: f64,
    /// The response's `Date` header, in Unix milliseconds, if present and parseable.
    pub server_date_ms: Option<f64>,
}

/// The methods the bearer routes use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

/// Where the auth routes are (`""` for the same origin as the page).
#[derive(Clone, Debug)]
pub(crate) struct Routes {
    base: String,
}

impl Routes {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/auth/login`: the first token pair; sets the refresh cookie.
    pub async fn login(
        &self,
        request: &LoginRequest,
        timeout: Duration,
    ) -> Result<Received<TokenResponse>, ApiError> {
        let body = serde_json::to_string(request).map_err(network)?;
        let builder = base(Request::post(&self.url("/api/auth/login")));
        received(send(builder, Some(body), Some(timeout)).await?)
            .await?
            .json()
    }

    /// `POST /api/auth/refresh`, saying whether the user was active.
    pub async fn refresh(
        &self,
        active: bool,
        timeout: Duration,
    ) -> Result<Received<TokenResponse>, ApiError> {
        let body = RefreshRequest {
            active,
            refresh_token: None,
        };
        let body = serde_json::to_string(&body).map_err(network)?;
        let builder = base(Request::post(&self.url("/api/auth/refresh")));
        received(send(builder, Some(body), Some(timeout)).await?)
            .await?
            .json()
    }

    /// `POST /api/auth/logout`: ends the session, clears the cookie, denylists the token.
    pub async fn logout(&self, bearer: Option<&str>, timeout: Duration) -> Result<(), ApiError> {
        let mut builder = base(Request::post(&self.url("/api/auth/logout")));
        if let Some(token) = bearer {
            builder = builder.header("Authorization", &format!("Bearer {token}"));
        }
        let response = send(builder, None, Some(timeout)).await?;
        if response.ok() {
            Ok(())
        } else {
            Err(error_from(&response).await)
        }
    }

    /// `GET /api/auth/session`: the cookie's session and the server time, rotating nothing.
    pub async fn session_status(
        &self,
        timeout: Duration,
    ) -> Result<Received<SessionStatus>, ApiError> {
        let builder = base(Request::get(&self.url("/api/auth/session")));
        received(send(builder, None, Some(timeout)).await?)
            .await?
            .json()
    }
}

/// Any bearer request, with an optional JSON body; the body of the answer as text
/// (`None` for `204 No Content`). Not generic: one copy of the request's state machine,
/// whatever the callers decode ([`decode`]).
pub(crate) async fn bearer_text(
    method: Method,
    url: &str,
    json_body: Option<&str>,
    bearer: &str,
) -> Result<Option<String>, ApiError> {
    let builder = match method {
        Method::Get => Request::get(url),
        Method::Post => Request::post(url),
        Method::Delete => Request::delete(url),
    };
    let builder = base(builder).header("Authorization", &format!("Bearer {bearer}"));
    let response = send(builder, json_body.map(str::to_owned), None).await?;
    if response.status() == 204 {
        return Ok(None);
    }
    received(response).await.map(|r| Some(r.body))
}

/// Decodes a JSON body; no body (`204`) decodes as `null`, so `T = ()` fits it.
pub(crate) fn decode<T: DeserializeOwned>(body: Option<&str>) -> Result<T, ApiError> {
    serde_json::from_str(body.unwrap_or("null")).map_err(network)
}

fn base(builder: RequestBuilder) -> RequestBuilder {
    builder
        .header("Accept", "application/json")
        // A cross-site form cannot send a custom header, and it forces a CORS preflight
        // for any cross-origin script: a second guard next to SameSite on the cookie.
        .header(REQUESTED_WITH_HEADER, "fetch")
        .credentials(RequestCredentials::SameOrigin)
        .cache(RequestCache::NoStore)
}

/// Finishes the request (with a JSON body, if any) and sends it, aborting after
/// `timeout` if one is given.
async fn send(
    builder: RequestBuilder,
    json_body: Option<String>,
    timeout: Option<Duration>,
) -> Result<Response, ApiError> {
    let controller = match timeout {
        Some(_) => Some(AbortController::new().map_err(|_| ApiError::Network("abort".into()))?),
        None => None,
    };
    let signal = controller.as_ref().map(AbortController::signal);
    let builder = builder.abort_signal(signal.as_ref());
    let request = match json_body {
        Some(body) => builder
            .header("Content-Type", "application/json")
            .body(body)
            .map_err(network)?,
        None => builder.build().map_err(network)?,
    };
    let timer = controller.zip(timeout).map(|(controller, timeout)| {
        Timeout::new(timeout.as_millis() as u32, move || controller.abort())
    });
    let result = request.send().await;
    drop(timer);
    match result {
        Ok(response) => Ok(response),
        Err(_) if signal.is_some_and(|s| s.aborted()) => Err(ApiError::Timeout),
        Err(err) => Err(network(err)),
    }
}

impl Received<String> {
    /// The body decoded from JSON, with the same receipt times.
    fn json<T: DeserializeOwned>(self) -> Result<Received<T>, ApiError> {
        Ok(Received {
            body: decode(Some(&self.body))?,
            monotonic_ms: self.monotonic_ms,
            wall_ms: self.wall_ms,
            server_date_ms: self.server_date_ms,
        })
    }
}

/// A 2xx body as text with its receipt times, or anything else as an error.
async fn received(response: Response) -> Result<Received<String>, ApiError> {
    // Stamp the clocks before reading the body: the server's `expires_in` started when it
    // answered, and a slow body should not make the token look younger than it is.
    let monotonic_ms = now_monotonic_ms();
    let wall_ms = js_sys::Date::now();
    let server_date_ms = response
        .headers()
        .get("Date")
        .map(|date| js_sys::Date::parse(&date))
        .filter(|ms| ms.is_finite());
    if !response.ok() {
        return Err(error_from(&response).await);
    }
    let body = response.text().await.map_err(network)?;
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
    let retry_after = response
        .headers()
        .get("Retry-After")
        .and_then(|v| v.trim().parse().ok());
    let parsed = response
        .text()
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
            message: String::new(),
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

/// `performance.now()`: milliseconds on a clock that the user cannot set.
pub(crate) fn now_monotonic_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

fn network(err: impl fmt::Display) -> ApiError {
    ApiError::Network(err.to_string())
}
