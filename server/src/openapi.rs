//! The OpenAPI 3.1 document of the HTTP API: served at `GET /api/openapi.json`, kept in
//! `docs/openapi.json` for readers.
//!
//! Generated from the code, never written by hand: each handler carries its
//! `#[utoipa::path]` beside it, the bodies are the `wire` types themselves (its `openapi`
//! feature), and every route is registered with `utoipa_axum::routes!`, which routes
//! and documents in the same call ([`crate::api_routes`]). What many routes share lives
//! here: the document's header, the security schemes, and the error answers.
//!
//! `tests/api/openapi.rs` checks the document against the router actually served, both
//! ways; the test below keeps `docs/openapi.json` current.

use axum::{
    Extension,
    body::Bytes,
    http::{HeaderName, header},
};
use utoipa::{
    Modify, OpenApi, ToResponse,
    openapi::{
        Content, Header, OpenApi as Document, RefOr, Response, ResponseBuilder, Type,
        schema::{AnyOfBuilder, Object, Ref},
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use wire::{
    AccessClaims, ErrorBody, LogoutRequest, NativeTokenResponse, RefreshRequest, TokenResponse,
    oauth::OAuthErrorBody,
};

/// Where the document is served.
pub const PATH: &str = "/api/openapi.json";

/// Security scheme names. `#[utoipa::path(security(...))]` takes literals only: the
/// handlers spell them out, and a test checks each exists.
const BEARER: &str = "bearer";
const REFRESH_COOKIE: &str = "refresh_cookie";
const REQUESTED_WITH: &str = "requested_with";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "JWT refresh on expiry, done right",
        description = "Short-lived EdDSA access tokens, rotating HttpOnly refresh cookies with \
            reuse detection, native body mode and an OAuth 2.0 authorization server.\n\n\
            Errors are `{\"error\": \"<code>\", \"message\": \"…\", \"reason\"?: \"…\"}` (`ErrorBody`), \
            except at the OAuth token and revocation endpoints, which answer as RFC 6749 §5.2. \
            Every API answer carries `Cache-Control: no-store`. Besides the statuses listed per \
            route, any route may answer 413 (a body over `--body-limit`), 408 (over \
            `--request-timeout`) and 500 `internal` (details are logged, never sent).\n\n\
            Overview and examples: `docs/API.md`.",
    ),
    tags(
        (name = "auth", description = "Sign in, refresh, sign out: the browser's cookie or a native app's body mode"),
        (name = "sessions", description = "The signed-in user's sessions and password"),
        (name = "users", description = "The signed-in user"),
        (name = "admin", description = "Role `admin` only"),
        (name = "oauth", description = "OAuth 2.0 authorization server for third-party and native apps (RFC 6749, 7636, 7009, 8414, 8252)"),
        (name = "operations", description = "Public keys, probes and this document"),
    ),
    components(
        // Cited by name (by the shared responses below, and by the optional bodies of
        // refresh and logout), which `routes!` does not follow; and the claims.
        schemas(
            ErrorBody,
            OAuthErrorBody,
            TokenResponse,
            NativeTokenResponse,
            RefreshRequest,
            LogoutRequest,
            AccessClaims,
        ),
        responses(
            Tokens,
            BadRequest,
            Unauthenticated,
            ScopeRefused,
            CrossOrigin,
            RateLimited,
            Busy,
            OAuthRefused,
            OAuthRateLimited,
            OAuthServerError,
        ),
    ),
    modifiers(&SecuritySchemes),
)]
struct Base;

/// The document's header, components and security schemes, without paths: what
/// [`crate::api_routes`] starts from.
pub fn base() -> Document {
    Base::openapi()
}

/// The whole document, as [`crate::app`] serves it.
pub fn document() -> Document {
    crate::api_routes().into_openapi()
}

/// The document as served: rendered once, when the router is built.
#[derive(Clone, Debug)]
pub struct Rendered(pub Bytes);

impl Rendered {
    pub fn new(document: &Document) -> Self {
        Self(Bytes::from(
            document
                .to_pretty_json()
                .expect("an OpenAPI document always serializes"),
        ))
    }
}

/// This document.
#[utoipa::path(get, path = PATH, tag = "operations", operation_id = "openapi",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json", body = Object)))]
pub async fn openapi_json(
    Extension(Rendered(json)): Extension<Rendered>,
) -> ([(HeaderName, &'static str); 1], Bytes) {
    ([(header::CONTENT_TYPE, "application/json")], json)
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        bearer.description = Some(
            "An access token: an EdDSA JWT (`typ: at+jwt`, claims `AccessClaims`) from login, \
             refresh or the OAuth token endpoint; verify it with `/.well-known/jwks.json`. A \
             third-party client's token opens only the routes its `scope` names; routes that \
             name no scope refuse it (403 `insufficient_scope`)."
                .into(),
        );
        components.add_security_scheme(BEARER, SecurityScheme::Http(bearer));
        components.add_security_scheme(
            REFRESH_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                wire::REFRESH_COOKIE,
                "The opaque refresh token of a browser session: `HttpOnly; Secure; \
                 SameSite=Strict; Path=/api/auth`, set by login and rotated by every refresh.",
            ))),
        );
        components.add_security_scheme(
            REQUESTED_WITH,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                wire::REQUESTED_WITH_HEADER,
                "Any value: required beside the refresh cookie on refresh and logout (400 \
                 `bad_request` without it), because a cross-site form cannot set it. A browser's \
                 `Origin` must also be this server's or one of `--allowed-origins` (403 `forbidden`).",
            ))),
        );
    }
}

/// A response with an [`ErrorBody`] and `headers`.
fn error(description: &str, headers: &[(&str, &str)]) -> Response {
    let body = Content::new(Some(Ref::from_schema_name("ErrorBody")));
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", body);
    for (name, description) in headers {
        response = response.header(*name, header(Type::String, description));
    }
    response.build()
}

/// A response with an RFC 6749 [`OAuthErrorBody`].
fn oauth_error(description: &str, retry_after: bool) -> Response {
    let body = Content::new(Some(Ref::from_schema_name("OAuthErrorBody")));
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", body);
    if retry_after {
        response = response.header("Retry-After", header(Type::Integer, RETRY_AFTER));
    }
    response.build()
}

const RETRY_AFTER: &str = "Seconds to wait before trying again.";

fn header(of: Type, description: &str) -> Header {
    let mut header = Header::new(Object::with_type(of));
    header.description = Some(description.to_owned());
    header
}

/// Declares reusable responses: `Name => build-expression`. Each is a unit type the
/// handlers cite as `response = Name`, registered in the [`Base`] components.
macro_rules! responses {
    ($($(#[$doc:meta])* $name:ident => $build:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl<'s> ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<Response>) {
                (stringify!($name), RefOr::T($build))
            }
        }
    )*};
}

responses! {
    /// 200 of login and refresh: a browser's token body, or a native app's (which adds the
    /// refresh token). A browser also gets `Set-Cookie: refresh_token=…` (and the script-
    /// readable `has_session=1` beside it).
    Tokens => {
        // Any, not one: a native body is a browser body with two more fields.
        let either = AnyOfBuilder::new()
            .item(Ref::from_schema_name("TokenResponse"))
            .item(Ref::from_schema_name("NativeTokenResponse"));
        let cookie = header(
            Type::String,
            "Browser only: the rotated `refresh_token` cookie and its `has_session` hint.",
        );
        ResponseBuilder::new()
            .description(
                "Signed in or refreshed: `TokenResponse` for a browser (the refresh token is in \
                 the cookie), `NativeTokenResponse` in body mode (no cookie).",
            )
            .content("application/json", Content::new(Some(either)))
            .header("Set-Cookie", cookie)
            .build()
    };
    /// 400 `bad_request`.
    BadRequest => error("`bad_request`: a malformed body or parameter; the message says which.", &[]);
    /// 401 on a bearer route.
    Unauthenticated => error(
        "`token_missing` (no `Authorization: Bearer`), `token_expired` (a refresh helps), \
         `token_invalid` or `token_revoked` (with the session's end `reason`).",
        &[("WWW-Authenticate", "`Bearer`, or `Bearer error=\"invalid_token\"`")],
    );
    /// 403 on a bearer route that a third-party client's token cannot open.
    ScopeRefused => error(
        "`insufficient_scope`: a third-party client's token without the scope this route \
         needs (or on a route for first-party clients only).",
        &[("WWW-Authenticate", "`Bearer error=\"insufficient_scope\", scope=\"…\"`")],
    );
    /// 403 when a browser's `Origin` is not ours.
    CrossOrigin => error(
        "`forbidden`: the request came from another origin (`Origin` is not this server's nor \
         one of `--allowed-origins`).",
        &[],
    );
    /// 429 `rate_limited`.
    RateLimited => error(
        "`rate_limited`: too many attempts.",
        &[("Retry-After", RETRY_AFTER)],
    );
    /// 503 `unavailable`: the password-hashing pool is full.
    Busy => error(
        "`unavailable`: the server is at capacity for password checks.",
        &[("Retry-After", RETRY_AFTER)],
    );
    /// 400 at the token and revocation endpoints (RFC 6749 §5.2).
    OAuthRefused => oauth_error(
        "RFC 6749 §5.2: `invalid_request`, `invalid_client`, `invalid_grant`, \
         `unsupported_grant_type` or `invalid_scope`, with an `error_description`.",
        false,
    );
    /// 429 at the token endpoint.
    OAuthRateLimited => oauth_error("`temporarily_unavailable`: too many attempts.", true);
    /// 500 at the token and revocation endpoints.
    OAuthServerError => oauth_error("`server_error`, without details.", false);
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeSet, path::PathBuf};

    use super::*;

    fn committed() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
    }

    /// `docs/openapi.json` is what the server serves. To refresh it after changing a
    /// route: `UPDATE_OPENAPI=1 cargo test -p server --lib openapi`.
    #[test]
    fn docs_openapi_json_is_up_to_date() {
        let current = Rendered::new(&document()).0;
        let path = committed();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &current).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == current,
            "docs/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test -p server --lib openapi`"
        );
    }

    fn json() -> serde_json::Value {
        serde_json::to_value(document()).unwrap()
    }

    #[test]
    fn it_is_openapi_3_1() {
        assert_eq!(json()["openapi"], "3.1.0");
    }

    /// A `$ref` to a component nobody registered is a broken document: shared responses
    /// cite schemas by name, so nothing but this test checks they exist.
    #[test]
    fn every_reference_resolves() {
        fn refs(value: &serde_json::Value, out: &mut BTreeSet<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                        out.insert(r.clone());
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = json();
        let mut found = BTreeSet::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for reference in found {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{reference} points outside the document"));
            assert!(
                doc.pointer(pointer).is_some(),
                "{reference} does not resolve"
            );
        }
    }

    /// OpenAPI requires a description on every response; utoipa leaves it out when the
    /// annotation gives none.
    #[test]
    fn every_response_is_described() {
        let doc = json();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    assert!(
                        response.get("$ref").is_some() || response.get("description").is_some(),
                        "{method} {path} {status}: no description"
                    );
                }
            }
        }
    }

    #[test]
    fn operation_ids_are_unique_and_security_schemes_exist() {
        let doc = json();
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "{method} {path}: {id} twice");
                for requirement in operation["security"].as_array().into_iter().flatten() {
                    for name in requirement.as_object().unwrap().keys() {
                        assert!(
                            schemes.contains_key(name),
                            "{method} {path}: no scheme {name}"
                        );
                    }
                }
            }
        }
    }
}
