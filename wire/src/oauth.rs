//! OAuth 2.0 for third-party and native apps: the authorization code flow with PKCE
//! (RFC 6749, RFC 7636, RFC 8252), under the OAuth 2.1 / RFC 9700 rules: code flow
//! only, `S256` challenges only, exact redirect URIs (any port on loopback).
//!
//! Two kinds of types live here. The SPA's consent page talks to our own API
//! (`/api/oauth/authorize`, bearer, our `{"error","message"}` errors); OAuth clients talk
//! to the token and revocation endpoints, which answer exactly as RFC 6749 §5.1/§5.2.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The SPA page where a user signs in and answers a client (the authorization endpoint).
pub const AUTHORIZE_PAGE: &str = "/oauth/authorize";
/// Called by that page: `GET` checks a request, `POST` answers it.
pub const AUTHORIZE_API: &str = "/api/oauth/authorize";
/// RFC 6749 §3.2, form-encoded.
pub const TOKEN_PATH: &str = "/api/oauth/token";
/// RFC 7009, form-encoded.
pub const REVOKE_PATH: &str = "/api/oauth/revoke";
/// RFC 8414.
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// Read the signed-in user (`GET /api/me`).
pub const SCOPE_PROFILE_READ: &str = "profile:read";
/// List and end the user's sessions (`/api/auth/sessions`).
pub const SCOPE_SESSIONS_MANAGE: &str = "sessions:manage";
/// Every scope a client may ask for. Each is also a permission of every user, so a
/// client's token carries exactly the permissions its scope names.
pub const SCOPES: [&str; 2] = [SCOPE_PROFILE_READ, SCOPE_SESSIONS_MANAGE];
/// Granted when a request names no scope (RFC 6749 §3.3).
pub const DEFAULT_SCOPE: &str = SCOPE_PROFILE_READ;

/// What the consent page says a scope lets the client do.
pub fn describe_scope(scope: &str) -> &'static str {
    match scope {
        SCOPE_PROFILE_READ => "See your username, roles and permissions",
        SCOPE_SESSIONS_MANAGE => "See your signed-in devices and sign them out",
        _ => "Something this server does not offer",
    }
}

/// The parameters of an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3), as the
/// client put them in the URL of the authorization page. All optional here: the server
/// says which are missing.
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema, utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Only `code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    /// Opaque to us; returned unchanged with the code or the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    /// Only `S256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    /// Space-separated; [`DEFAULT_SCOPE`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// `POST /api/oauth/authorize` (bearer): the request's parameters and the user's answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    #[serde(flatten)]
    pub params: AuthorizationParams,
    /// Allow (`true`) or Deny (`false`).
    pub approve: bool,
}

/// `GET /api/oauth/authorize?<the request's parameters>` (bearer): what the page shows.
/// A request without a known client and one of its redirect URIs is an error (400
/// `bad_request`) shown on the page: it is never redirected (RFC 6749 §4.1.2.1).
///
/// Externally tagged (`{"consent": {…}}`), not by an `"action"` field: only the SPA reads
/// it, and serde decodes a field tag by buffering the whole object first, which took
/// 3.5 KB (brotli) off the first visit when it went (docs/BENCHMARKS.md, section 9).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizePrompt {
    /// Ask the user: "`client_name` wants to access your account".
    Consent {
        client_name: String,
        /// The scopes that Allow grants.
        scopes: Vec<String>,
    },
    /// The request is wrong in a way its client must hear about: send the browser to
    /// `redirect_to`, which carries the error (and the `state`).
    Redirect { redirect_to: String },
}

/// Answer of `POST /api/oauth/authorize`: where to send the browser, the client's
/// redirect URI with `code` and `state` (or `error` and `state`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeResponse {
    pub redirect_to: String,
}

/// Success at the token endpoint (RFC 6749 §5.1).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthTokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    pub expires_in: u64,
    /// Rotates on every use; a rotated one presented after the grace period ends the grant.
    pub refresh_token: String,
    /// The scope granted, always stated.
    pub scope: String,
}

impl fmt::Debug for OAuthTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthTokenResponse")
            .field("access_token", &"***")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &"***")
            .field("scope", &self.scope)
            .finish()
    }
}

/// An error at the token or revocation endpoint (RFC 6749 §5.2, RFC 7009 §2.2.1), or in
/// an authorization response redirect (RFC 6749 §4.1.2.1).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthErrorBody {
    pub error: OAuthErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// RFC 6749's error codes (§4.1.2.1 and §5.2) that this server sends.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: String,
    pub jwks_uri: String,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub response_modes_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 9207: authorization responses carry `iss`, against mix-up attacks.
    pub authorization_response_iss_parameter_supported: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consent_api_answers_in_the_documented_shape() {
        let consent = AuthorizePrompt::Consent {
            client_name: "Notes".into(),
            scopes: vec!["profile".into()],
        };
        let redirect = AuthorizePrompt::Redirect {
            redirect_to: "app:/cb?error=invalid_scope".into(),
        };
        let shapes = [
            (
                consent,
                r#"{"consent":{"client_name":"Notes","scopes":["profile"]}}"#,
            ),
            (
                redirect,
                r#"{"redirect":{"redirect_to":"app:/cb?error=invalid_scope"}}"#,
            ),
        ];
        for (prompt, json) in shapes {
            assert_eq!(serde_json::to_string(&prompt).unwrap(), json);
            assert_eq!(
                serde_json::from_str::<AuthorizePrompt>(json).unwrap(),
                prompt
            );
        }
    }

    #[test]
    fn error_codes_serialize_as_rfc_6749_names() {
        for code in [
            OAuthErrorCode::InvalidGrant,
            OAuthErrorCode::UnsupportedGrantType,
            OAuthErrorCode::AccessDenied,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        let body = OAuthErrorBody {
            error: OAuthErrorCode::InvalidGrant,
            error_description: None,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":"invalid_grant"}"#
        );
    }

    #[test]
    fn an_authorize_request_is_flat_json() {
        let request = AuthorizeRequest {
            params: AuthorizationParams {
                client_id: Some("c".into()),
                state: Some("s".into()),
                ..Default::default()
            },
            approve: true,
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"client_id":"c","state":"s","approve":true}"#
        );
    }

    #[test]
    fn token_debug_hides_the_tokens() {
        let tokens = OAuthTokenResponse {
            access_token: "secret-access".into(),
            token_type: "Bearer".into(),
            expires_in: 1,
            refresh_token: "secret-refresh".into(),
            scope: DEFAULT_SCOPE.into(),
        };
        assert!(!format!("{tokens:?}").contains("secret"));
    }

    #[test]
    fn every_scope_is_described() {
        for scope in SCOPES {
            assert!(!describe_scope(scope).starts_with("Something"));
        }
    }
}
