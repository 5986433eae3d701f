//! The one error type of the server, mapped once to an HTTP status and a JSON body.

use axum::{
    Json,
    extract::rejection::JsonRejection,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use wire::{EndReason, ErrorBody, ErrorCode};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401: unknown user or wrong password (never says which).
    #[error("Wrong username or password.")]
    InvalidCredentials,
    /// 429, with `Retry-After`.
    #[error("Too many attempts. Try again in {retry_after} s.")]
    RateLimited { retry_after: u64 },
    /// 401: no refresh cookie was sent.
    #[error("No refresh token was sent.")]
    RefreshMissing,
    /// 401: the refresh cookie matches no token we issued.
    #[error("The refresh token is not valid.")]
    RefreshInvalid,
    /// 401: the session reached its idle or absolute end.
    #[error("The session has expired.")]
    RefreshExpired(EndReason),
    /// 401: a rotated refresh token came back after the grace period; the session is over.
    #[error("The refresh token was already used; the session has been ended.")]
    RefreshReused,
    /// 401: the session was ended (logout, revoke, password change, ...).
    #[error("The session has ended.")]
    SessionRevoked(EndReason),
    /// 401 on a bearer route: a refresh can help.
    #[error("The access token has expired.")]
    TokenExpired,
    /// 401 on a bearer route: missing, malformed, badly signed or for someone else.
    #[error("The access token is missing or not valid.")]
    TokenInvalid,
    /// 401 on a bearer route without credentials: a bare challenge (RFC 6750 §3.1).
    #[error("This needs an access token.")]
    TokenMissing,
    /// 401 on a bearer route: the token's session (or the token, or its user) has ended.
    #[error("The access token has been revoked.")]
    TokenRevoked(EndReason),
    /// 403: a third-party client's token without the scope a route needs (`Some`), or
    /// on a route for first-party clients only (`None`).
    #[error("This app was not granted access to this.")]
    InsufficientScope(Option<&'static str>),
    /// 403: authenticated, but without the role or permission.
    #[error("You do not have permission to do this.")]
    Forbidden,
    /// 403: a cookie-authenticated request from another origin (CSRF).
    #[error("This request came from another site and was refused.")]
    CrossOrigin,
    /// 404.
    #[error("Not found.")]
    NotFound,
    /// 503, with `Retry-After`: the password-hashing pool is full.
    #[error("The server is busy. Try again in {retry_after} s.")]
    Busy { retry_after: u64 },
    /// 400, with a message for the caller.
    #[error("{0}")]
    BadRequest(String),
    /// 413: a body over `--body-limit`.
    #[error("The request body is too large.")]
    TooLarge,
    /// 500: details are logged, never sent.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// 500: details are logged, never sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidCredentials
            | Self::RefreshMissing
            | Self::RefreshInvalid
            | Self::RefreshExpired(_)
            | Self::RefreshReused
            | Self::SessionRevoked(_)
            | Self::TokenExpired
            | Self::TokenInvalid
            | Self::TokenRevoked(_)
            | Self::TokenMissing => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Forbidden | Self::CrossOrigin | Self::InsufficientScope(_) => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::RefreshMissing => ErrorCode::RefreshMissing,
            Self::RefreshInvalid => ErrorCode::RefreshInvalid,
            Self::RefreshExpired(_) => ErrorCode::RefreshExpired,
            Self::RefreshReused => ErrorCode::RefreshReused,
            Self::SessionRevoked(_) => ErrorCode::SessionRevoked,
            Self::TokenExpired => ErrorCode::TokenExpired,
            Self::TokenInvalid => ErrorCode::TokenInvalid,
            Self::TokenRevoked(_) => ErrorCode::TokenRevoked,
            Self::TokenMissing => ErrorCode::TokenMissing,
            Self::InsufficientScope(_) => ErrorCode::InsufficientScope,
            Self::Forbidden | Self::CrossOrigin => ErrorCode::Forbidden,
            Self::NotFound => ErrorCode::NotFound,
            Self::BadRequest(_) | Self::TooLarge => ErrorCode::BadRequest,
            Self::Busy { .. } => ErrorCode::Unavailable,
            Self::Database(_) | Self::Internal(_) => ErrorCode::Internal,
        }
    }

    fn reason(&self) -> Option<EndReason> {
        match self {
            Self::RefreshExpired(r) | Self::SessionRevoked(r) | Self::TokenRevoked(r) => Some(*r),
            Self::RefreshReused => Some(EndReason::ReuseDetected),
            _ => None,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        crate::metrics::record_error(status, self.code());
        let message = if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
            "Something went wrong on our side.".to_owned()
        } else {
            self.to_string()
        };
        let body = ErrorBody {
            error: self.code(),
            message,
            reason: self.reason(),
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::TokenExpired | Self::TokenInvalid | Self::TokenRevoked(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                );
            }
            // No credentials: say how to authenticate, with no error (RFC 6750 §3.1).
            Self::TokenMissing => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::RateLimited { retry_after } | Self::Busy { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            // RFC 6750 §3.1: name the scope a new grant would need.
            Self::InsufficientScope(scope) => {
                let value = match scope {
                    Some(scope) => format!(r#"Bearer error="insufficient_scope", scope="{scope}""#),
                    None => r#"Bearer error="insufficient_scope""#.to_owned(),
                };
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
            }
            _ => {}
        }
        response
    }
}

/// Malformed JSON bodies get our error format instead of axum's plain text.
impl From<JsonRejection> for Error {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::TooLarge;
        }
        Self::BadRequest(rejection.body_text())
    }
}

/// `Json` that rejects with [`Error`].
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct AppJson<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_errors_carry_www_authenticate() {
        let response = Error::TokenExpired.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
    }

    #[tokio::test]
    async fn internal_details_are_not_sent() {
        let response =
            Error::Internal(anyhow::anyhow!("disk on fire at /var/secret")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: ErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(body.error, ErrorCode::Internal);
        assert!(!body.message.contains("secret"));
    }

    #[test]
    fn rate_limit_says_when_to_retry() {
        let response = Error::RateLimited { retry_after: 7 }.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    }
}
