//! The wire contract between the server and the WASM client.
//!
//! Every request body, response body and error code that crosses HTTP is defined here
//! once, so the two sides cannot drift apart. No I/O: this crate compiles for native
//! and `wasm32-unknown-unknown` alike. Times are Unix seconds (UTC).
//!
//! The `openapi` feature (the server's, never the client's) derives `utoipa::ToSchema`
//! on them: the server's OpenAPI document describes these very types.
//!
//! Run its tests with `cargo test -p wire`.

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod oauth;
pub mod text;

/// Path prefix of the authentication routes; the refresh cookie is scoped to it.
pub const AUTH_PATH: &str = "/api/auth";
/// Name of the HttpOnly cookie that carries the opaque refresh token.
pub const REFRESH_COOKIE: &str = "refresh_token";
/// Header a refresh request must carry: a cross-site form cannot set it, so it is a
/// second CSRF guard next to `SameSite=Strict`.
pub const REQUESTED_WITH_HEADER: &str = "X-Requested-With";

/// `POST /api/auth/login`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Keep the session for the long absolute lifetime, with a persistent cookie.
    #[serde(default)]
    pub remember_me: bool,
    /// Who signs in: the browser SPA (the default: refresh token in a cookie) or a
    /// first-party native app (refresh token in the body, [`NativeTokenResponse`]).
    #[serde(default, skip_serializing_if = "LoginClient::is_browser")]
    pub client: LoginClient,
}

/// The `client` of a [`LoginRequest`]: where the refresh token travels. A session
/// remembers it, and its refresh token is accepted only the same way.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginClient {
    /// In an HttpOnly cookie, never in a body.
    #[default]
    Browser,
    /// In the JSON body, to keep in the platform's secure storage; never in a cookie.
    Native,
}

impl LoginClient {
    pub fn is_browser(&self) -> bool {
        *self == Self::Browser
    }
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &"***")
            .field("remember_me", &self.remember_me)
            .field("client", &self.client)
            .finish()
    }
}

/// Name of the HttpOnly cookie that marks a browser which signed in as a user before:
/// it gets its own sign-in budget, so an attack on the account cannot lock it out.
pub const DEVICE_COOKIE: &str = "device";

/// Name of a non-secret cookie (`1`, readable by scripts) that lives exactly as long as
/// the refresh cookie: a client checks it before restoring, so a signed-out first visit
/// makes no request that is bound to fail.
pub const SESSION_HINT_COOKIE: &str = "has_session";

/// Body of `POST /api/auth/refresh` (optional: an empty body means `active: true`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Serialize, Deserialize)]
pub struct RefreshRequest {
    /// Whether the user did something since the last refresh. Only then does the
    /// session's idle end slide: a scheduled refresh of an unattended page keeps the
    /// access token fresh without keeping the session alive.
    #[serde(default = "yes")]
    pub active: bool,
    /// Body mode (first-party native apps): the refresh token itself, instead of the
    /// cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for RefreshRequest {
    fn default() -> Self {
        Self {
            active: true,
            refresh_token: None,
        }
    }
}

impl fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshRequest")
            .field("active", &self.active)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// `POST /api/auth/password`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Serialize, Deserialize)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

impl fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChangePasswordRequest { *** }")
    }
}

/// Body of a successful login or refresh.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token stays valid from the moment the server answered.
    /// Clients schedule from this and the response's `Date`, not from their own clock.
    pub expires_in: u64,
    pub expires_at: i64,
    pub session: SessionInfo,
    pub user: User,
    /// Seconds a rotated refresh token still yields its successor: a client that waits
    /// for another tab's refresh must give up well inside it.
    #[serde(default)]
    pub refresh_grace: u64,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"***")
            .field("expires_in", &self.expires_in)
            .field("expires_at", &self.expires_at)
            .field("session", &self.session)
            .field("user", &self.user)
            .field("refresh_grace", &self.refresh_grace)
            .finish()
    }
}

/// Body of a login (`"client": "native"`) or body-mode refresh: the token body plus the
/// refresh token itself, since a native app has no cookie jar to keep it in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct NativeTokenResponse {
    #[serde(flatten)]
    pub tokens: TokenResponse,
    /// Opaque; send it as `{"refresh_token": ...}` to `POST /api/auth/refresh`. Rotates
    /// on every use, like the cookie.
    pub refresh_token: String,
    /// When the refresh token stops working unless used before: the session's idle end
    /// (each refresh that reports activity moves it, up to the absolute end).
    pub refresh_expires_at: i64,
}

impl fmt::Debug for NativeTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativeTokenResponse")
            .field("tokens", &self.tokens)
            .field("refresh_token", &"***")
            .field("refresh_expires_at", &self.refresh_expires_at)
            .finish()
    }
}

/// Body of `POST /api/auth/logout` (optional): a native app's refresh token, whose
/// session ends. Browsers send nothing; their cookie says it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct LogoutRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl fmt::Debug for LogoutRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogoutRequest")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The session (token family) a token belongs to, and when it ends.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    /// End unless the user is active before then; slides forward on each refresh that
    /// reports activity ([`RefreshRequest::active`]).
    pub idle_expires_at: i64,
    /// Hard end, whatever the activity.
    pub absolute_expires_at: i64,
}

/// `GET /api/auth/session`: the current session without rotating anything.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    pub session: SessionInfo,
    /// The server's clock, so a client can place the ends on its own timeline.
    pub server_time: i64,
}

/// One entry of `GET /api/auth/sessions`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub id: String,
    /// The User-Agent the session was created with.
    pub device: String,
    /// The same, short, as people read it: `Chrome 139 on Linux`.
    // Empty from a server older than the field (a rolling deploy): clients show `device`.
    #[serde(default)]
    pub device_name: String,
    pub ip: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    /// The session the request itself belongs to.
    pub current: bool,
}

/// `GET /api/me`, and the `user` of a token body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

/// The claims of an access token besides `exp`, `nbf` and `iat` (which the JWT library
/// adds). Header: `alg: EdDSA`, `typ: at+jwt`, `kid`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The username, so `GET /api/me` needs no database round trip.
    #[serde(default)]
    pub preferred_username: String,
    /// The session (token family) id.
    pub sid: String,
    /// Token id, what logout puts on the denylist.
    pub jti: String,
    pub roles: Vec<String>,
    /// For a third-party client's token, only the permissions its `scope` names.
    pub perms: Vec<String>,
    /// The OAuth client the token was issued to (RFC 9068); absent on first-party tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Space-separated scopes granted to that client (RFC 9068); absent on first-party
    /// tokens, which may do all their `perms` allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// One entry of `GET /api/admin/audit`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: i64,
    pub event: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub session_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The User-Agent, short, as people read it: `Chrome 139 on Linux`.
    pub device_name: Option<String>,
    pub detail: Option<String>,
}

/// Every error response: `{"error": "<code>", "message": "<human text>"}`, plus the
/// reason when the error is the end of a session.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<EndReason>,
}

/// Machine-readable error codes. The client decides from these alone whether a
/// refresh can help (`TokenExpired`) or the user must sign in again.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidCredentials,
    RateLimited,
    RefreshMissing,
    RefreshInvalid,
    RefreshExpired,
    RefreshReused,
    SessionRevoked,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
    /// No bearer token was sent at all.
    TokenMissing,
    /// 403: a third-party client's token lacks the scope the route needs (or the route
    /// is for first-party clients only).
    InsufficientScope,
    Forbidden,
    NotFound,
    BadRequest,
    /// 503: the server is at capacity for this kind of work; retry after `Retry-After`.
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidCredentials => "invalid_credentials",
            Self::RateLimited => "rate_limited",
            Self::RefreshMissing => "refresh_missing",
            Self::RefreshInvalid => "refresh_invalid",
            Self::RefreshExpired => "refresh_expired",
            Self::RefreshReused => "refresh_reused",
            Self::SessionRevoked => "session_revoked",
            Self::TokenExpired => "token_expired",
            Self::TokenInvalid => "token_invalid",
            Self::TokenRevoked => "token_revoked",
            Self::TokenMissing => "token_missing",
            Self::InsufficientScope => "insufficient_scope",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::BadRequest => "bad_request",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a session ended. Sent to the client and written to the audit log.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    LoggedOut,
    IdleTimeout,
    AbsoluteTimeout,
    ReuseDetected,
    WrongDevice,
    RevokedByUser,
    PasswordChanged,
    AdminRevoked,
}

impl EndReason {
    pub const ALL: [EndReason; 8] = [
        Self::LoggedOut,
        Self::IdleTimeout,
        Self::AbsoluteTimeout,
        Self::ReuseDetected,
        Self::WrongDevice,
        Self::RevokedByUser,
        Self::PasswordChanged,
        Self::AdminRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoggedOut => "logged_out",
            Self::IdleTimeout => "idle_timeout",
            Self::AbsoluteTimeout => "absolute_timeout",
            Self::ReuseDetected => "reuse_detected",
            Self::WrongDevice => "wrong_device",
            Self::RevokedByUser => "revoked_by_user",
            Self::PasswordChanged => "password_changed",
            Self::AdminRevoked => "admin_revoked",
        }
    }

    /// Parses the stored form; `None` for anything unknown.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// A sentence for the person whose session ended.
    pub fn explain(self) -> &'static str {
        match self {
            Self::LoggedOut => "You signed out.",
            Self::IdleTimeout => "Your session ended after a period of inactivity.",
            Self::AbsoluteTimeout => "Your session reached its maximum length.",
            Self::ReuseDetected => "Your session was ended because a sign-in token was used twice.",
            Self::WrongDevice => "Your session was ended because it was used from another device.",
            Self::RevokedByUser => "This session was signed out from another device.",
            Self::PasswordChanged => "Your password was changed, so you were signed out.",
            Self::AdminRevoked => "An administrator ended your session.",
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_list_from_a_server_without_device_names_still_reads() {
        // A rolling deploy: an older instance answers; the page shows `device` then.
        let json = r#"{"id":"s","device":"curl/8.5.0","ip":"::1","created_at":1,
            "last_used_at":2,"idle_expires_at":3,"absolute_expires_at":4,"current":true}"#;
        let session: SessionSummary = serde_json::from_str(json).unwrap();
        assert_eq!(session.device_name, "");
        let audit = r#"{"id":1,"at":1,"event":"login_succeeded","user_id":null,"username":null,
            "session_id":null,"ip":null,"user_agent":"curl/8.5.0","detail":null}"#;
        let event: AuditEvent = serde_json::from_str(audit).unwrap();
        assert_eq!(event.device_name, None);
    }

    #[test]
    fn error_codes_serialize_as_their_wire_names() {
        for code in [
            ErrorCode::InvalidCredentials,
            ErrorCode::TokenExpired,
            ErrorCode::RefreshReused,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn end_reasons_round_trip_through_their_stored_form() {
        for reason in EndReason::ALL {
            assert_eq!(EndReason::parse(reason.as_str()), Some(reason));
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
        assert_eq!(EndReason::parse("nope"), None);
    }

    #[test]
    fn debug_never_prints_secrets() {
        let login = LoginRequest {
            username: "alice".into(),
            password: "hunter2".into(),
            remember_me: false,
            client: LoginClient::Native,
        };
        assert!(!format!("{login:?}").contains("hunter2"));
        let change = ChangePasswordRequest {
            current_password: "old-secret".into(),
            new_password: "new-secret".into(),
        };
        assert!(!format!("{change:?}").contains("secret"));
        let refresh = RefreshRequest {
            active: false,
            refresh_token: Some("the-token".into()),
        };
        assert!(!format!("{refresh:?}").contains("the-token"));
        let logout = LogoutRequest {
            refresh_token: Some("the-token".into()),
        };
        assert!(!format!("{logout:?}").contains("the-token"));
    }

    #[test]
    fn a_login_names_its_client_only_when_it_is_not_the_browser() {
        let browser: LoginRequest =
            serde_json::from_str(r#"{"username":"a","password":"b"}"#).unwrap();
        assert_eq!(browser.client, LoginClient::Browser);
        assert!(!serde_json::to_string(&browser).unwrap().contains("client"));
        let native: LoginRequest =
            serde_json::from_str(r#"{"username":"a","password":"b","client":"native"}"#).unwrap();
        assert_eq!(native.client, LoginClient::Native);
    }

    #[test]
    fn first_party_claims_carry_no_client_or_scope() {
        let claims = AccessClaims {
            iss: "i".into(),
            aud: "a".into(),
            sub: "s".into(),
            preferred_username: "u".into(),
            sid: "sid".into(),
            jti: "j".into(),
            roles: vec![],
            perms: vec![],
            client_id: None,
            scope: None,
        };
        let json = serde_json::to_string(&claims).unwrap();
        assert!(
            !json.contains("client_id") && !json.contains("scope"),
            "{json}"
        );
        let parsed: AccessClaims = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, claims);
    }

    #[test]
    fn a_refresh_without_a_word_on_activity_counts_as_active() {
        let empty: RefreshRequest = serde_json::from_str("{}").unwrap();
        assert!(empty.active && empty.refresh_token.is_none());
        let idle: RefreshRequest = serde_json::from_str(r#"{"active":false}"#).unwrap();
        assert!(!idle.active);
    }

    #[test]
    fn error_body_omits_absent_reason() {
        let body = ErrorBody {
            error: ErrorCode::TokenInvalid,
            message: "bad".into(),
            reason: None,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":"token_invalid","message":"bad"}"#
        );
    }
}
