//! The OAuth 2.0 endpoints (rules in `engine::oauth`):
//!
//! - `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata;
//! - `GET`/`POST /api/oauth/authorize` (bearer, first-party): the API of the SPA's
//!   consent page `/oauth/authorize`, which is the authorization endpoint;
//! - `POST /api/oauth/token`: the `authorization_code` (PKCE `S256`) and
//!   `refresh_token` grants, form-encoded, answered exactly as RFC 6749 §5.1/§5.2;
//! - `POST /api/oauth/revoke`: RFC 7009.
//!
//! The token and revocation endpoints speak RFC 6749's error format, not ours: their
//! [`OAuthError`] is mapped here, once, to a status and `{"error", "error_description"}`.

use axum::{
    Json,
    extract::{
        Form, Query, State,
        rejection::{FormRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use wire::{
    ErrorBody,
    oauth::{
        AUTHORIZE_API, AUTHORIZE_PAGE, AuthorizationParams, AuthorizationServerMetadata,
        AuthorizePrompt, AuthorizeRequest, AuthorizeResponse, METADATA_PATH, OAuthErrorBody,
        OAuthTokenResponse, REVOKE_PATH, SCOPES, TOKEN_PATH,
    },
};

use crate::{
    AppState,
    auth::NO_STORE,
    engine::{AuthUser, Client, OAuthError, RevokeForm, TokenForm},
    error::{AppJson, Error, Result},
    openapi::{
        BadRequest, OAuthRateLimited, OAuthRefused, OAuthServerError, ScopeRefused, Unauthenticated,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metadata))
        .routes(routes!(prompt, authorize))
        .routes(routes!(token))
        .routes(routes!(revoke))
}

/// This server's issuer identifier (RFC 8414 §2), which its endpoints hang off:
/// `PUBLIC_URL` when set, else the request's own host (`http` on loopback).
pub fn issuer(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let loopback = ["127.", "[::1]", "localhost"]
        .iter()
        .any(|prefix| host.starts_with(prefix));
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{host}")
}

/// Authorization server metadata (RFC 8414).
///
/// `issuer` is `PUBLIC_URL` when set, else the request's own origin.
#[utoipa::path(get, path = METADATA_PATH, tag = "oauth", operation_id = "oauth_metadata",
    responses((status = 200, description = "The metadata", body = AuthorizationServerMetadata)))]
async fn metadata(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Json<AuthorizationServerMetadata> {
    let base = issuer(&state, &headers);
    let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
    Json(AuthorizationServerMetadata {
        authorization_endpoint: format!("{base}{AUTHORIZE_PAGE}"),
        token_endpoint: format!("{base}{TOKEN_PATH}"),
        revocation_endpoint: format!("{base}{REVOKE_PATH}"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        scopes_supported: list(&SCOPES),
        response_types_supported: list(&["code"]),
        response_modes_supported: list(&["query"]),
        grant_types_supported: list(&["authorization_code", "refresh_token"]),
        code_challenge_methods_supported: list(&["S256"]),
        // Public clients: they identify themselves by `client_id`, PKCE does the rest.
        token_endpoint_auth_methods_supported: list(&["none"]),
        revocation_endpoint_auth_methods_supported: list(&["none"]),
        authorization_response_iss_parameter_supported: true,
        issuer: base,
    })
}

/// Check an authorization request: what the consent page shows.
///
/// Called by the SPA's page `/oauth/authorize` (the authorization endpoint) with the
/// request's parameters. An unknown client or a redirect URI it did not register is a
/// 400 shown on the page, never redirected (RFC 6749 §4.1.2.1); every other fault is a
/// `redirect` carrying `error` and `state` back to the app.
#[utoipa::path(get, path = AUTHORIZE_API, tag = "oauth", operation_id = "oauth_prompt",
    params(AuthorizationParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`consent`: ask the user; `redirect`: send the browser back to the app", body = AuthorizePrompt),
        (status = 400, description = "`bad_request`: unknown client or unregistered redirect URI", body = ErrorBody),
        (status = 401, response = Unauthenticated),
        (status = 403, response = ScopeRefused),
    ))]
async fn prompt(
    State(state): State<AppState>,
    _user: AuthUser,
    headers: HeaderMap,
    query: Result<Query<AuthorizationParams>, QueryRejection>,
) -> Result<impl IntoResponse> {
    let Query(params) = query.map_err(|e| Error::BadRequest(e.body_text()))?;
    let prompt = state
        .authorization_prompt(&params, &issuer(&state, &headers))
        .await?;
    Ok((NO_STORE, Json(prompt)))
}

/// Allow or Deny an authorization request: where to send the browser.
///
/// Allow: the app's redirect URI with `code`, `state` and `iss`; the code lives 60 s.
/// Deny: with `error=access_denied`.
#[utoipa::path(post, path = AUTHORIZE_API, tag = "oauth", operation_id = "oauth_authorize",
    request_body = AuthorizeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Where to send the browser", body = AuthorizeResponse),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = ScopeRefused),
    ))]
async fn authorize(
    State(state): State<AppState>,
    user: AuthUser,
    client: Client,
    headers: HeaderMap,
    AppJson(request): AppJson<AuthorizeRequest>,
) -> Result<impl IntoResponse> {
    let answer = state
        .authorize(&user, &request, &issuer(&state, &headers), &client)
        .await?;
    Ok((NO_STORE, Json(answer)))
}

/// The token endpoint (RFC 6749 §3.2), for public clients.
///
/// `grant_type=authorization_code` with `code`, `redirect_uri`, `client_id` and the
/// PKCE `code_verifier` (RFC 7636); or `grant_type=refresh_token` with `refresh_token`,
/// `client_id` and an optional narrower `scope`. Refresh tokens rotate; a spent code or
/// a rotated refresh token presented again ends the grant.
#[utoipa::path(post, path = TOKEN_PATH, tag = "oauth", operation_id = "oauth_token",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "RFC 6749 §5.1, with `Cache-Control: no-store` and `Pragma: no-cache`", body = OAuthTokenResponse),
        (status = 400, response = OAuthRefused),
        (status = 429, response = OAuthRateLimited),
        (status = 500, response = OAuthServerError),
    ))]
async fn token(
    State(state): State<AppState>,
    client: Client,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let result = match form {
        Ok(Form(form)) => state.token(&form, &client).await,
        Err(rejection) => Err(malformed(rejection)),
    };
    match result {
        Ok(tokens) => (NO_STORE, Json(tokens)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Token revocation (RFC 7009).
///
/// A refresh token ends its whole grant (the session); an access token is denylisted
/// at once. 200 also for a token that is unknown, malformed or already dead.
#[utoipa::path(post, path = REVOKE_PATH, tag = "oauth", operation_id = "oauth_revoke",
    request_body(content = RevokeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke; no body"),
        (status = 400, description = "`invalid_request`, `invalid_client`, or `invalid_grant` for another client's token", body = OAuthErrorBody),
        (status = 500, response = OAuthServerError),
    ))]
async fn revoke(
    State(state): State<AppState>,
    client: Client,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Response {
    let result = match form {
        Ok(Form(form)) => state.revoke(&form, &client).await,
        Err(rejection) => Err(malformed(rejection)),
    };
    match result {
        // RFC 7009 §2.2: 200 and no body, whether or not there was anything to revoke.
        Ok(()) => (NO_STORE, StatusCode::OK).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Not form-encoded, or a parameter given twice (RFC 6749 §3.2).
fn malformed(rejection: FormRejection) -> OAuthError {
    OAuthError::Refused {
        code: wire::oauth::OAuthErrorCode::InvalidRequest,
        description: format!(
            "The body must be application/x-www-form-urlencoded, each parameter once: {}",
            rejection.body_text()
        ),
    }
}

/// RFC 6749 §5.2: 400 with `{"error", "error_description"}` (our only 401-free choice
/// for `invalid_client`: public clients have no authentication scheme to name), 429
/// with `Retry-After` when a limit says so, 500 without details.
impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, description) = match &self {
            Self::Refused { description, .. } => {
                (StatusCode::BAD_REQUEST, Some(description.clone()))
            }
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, Some(self.to_string())),
            Self::Internal(error) => {
                tracing::error!(error = ?error, "OAuth request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, None)
            }
        };
        let body = OAuthErrorBody {
            error: self.code(),
            error_description: description,
        };
        let mut response = (status, NO_STORE, Json(body)).into_response();
        if let Self::RateLimited { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::oauth::OAuthErrorCode;

    async fn body_of(response: Response) -> OAuthErrorBody {
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn refusals_are_rfc_6749_bodies_that_are_never_cached() {
        let response = OAuthError::Refused {
            code: OAuthErrorCode::InvalidGrant,
            description: "The code has expired.".into(),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[header::PRAGMA], "no-cache");
        let body = body_of(response).await;
        assert_eq!(body.error, OAuthErrorCode::InvalidGrant);
        assert_eq!(
            body.error_description.as_deref(),
            Some("The code has expired.")
        );
    }

    #[tokio::test]
    async fn internal_errors_say_server_error_and_nothing_more() {
        let response =
            OAuthError::Internal(Error::Internal(anyhow::anyhow!("disk at /var/secret")))
                .into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_of(response).await;
        assert_eq!(body.error, OAuthErrorCode::ServerError);
        assert_eq!(body.error_description, None);
    }
}
