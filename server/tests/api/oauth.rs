//! The OAuth authorization server: the code flow with PKCE from consent to refresh,
//! every way an authorization or token request can be wrong (with RFC 6749 error
//! codes), revocation (RFC 7009) and scopes.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{Response, StatusCode, Url, header};
use sha2::{Digest, Sha256};
use wire::{
    EndReason, ErrorCode,
    oauth::{
        AuthorizationServerMetadata, AuthorizePrompt, AuthorizeResponse, OAuthErrorBody,
        OAuthErrorCode, OAuthTokenResponse,
    },
};

use crate::helpers::*;

/// Registered without a port: the app listens wherever it can (RFC 8252 §7.3).
const LOOPBACK: &str = "http://127.0.0.1/callback";
/// What the app actually asks for.
const REDIRECT: &str = "http://127.0.0.1:54321/callback";

/// One authorization request, as an app would make it.
#[derive(Clone, Debug)]
struct Flow {
    client_id: String,
    redirect_uri: String,
    verifier: String,
    state: Option<String>,
    scope: Option<String>,
    method: Option<String>,
}

impl Flow {
    fn new(client_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            redirect_uri: REDIRECT.to_owned(),
            verifier: server::refresh_token::generate() + "-verifier",
            state: Some("xyz-state".to_owned()),
            scope: None,
            method: Some("S256".to_owned()),
        }
    }

    fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }

    /// The authorization request's parameters, as JSON (the consent page's POST body).
    fn params(&self) -> serde_json::Value {
        let mut params = serde_json::json!({
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "code_challenge": self.challenge(),
        });
        for (name, value) in [
            ("state", &self.state),
            ("scope", &self.scope),
            ("code_challenge_method", &self.method),
        ] {
            if let Some(value) = value {
                params[name] = value.clone().into();
            }
        }
        params
    }

    fn query(&self) -> Vec<(String, String)> {
        let params = self.params();
        params
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect()
    }
}

/// The query of a URL, decoded, in order.
fn query_of(url: &str) -> Vec<(String, String)> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    query_of(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

async fn oauth_error(response: Response) -> (StatusCode, OAuthErrorBody) {
    let status = response.status();
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    (
        status,
        response.json().await.expect("an RFC 6749 error body"),
    )
}

fn claims_of(token: &str) -> serde_json::Value {
    let payload = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

impl TestApp {
    async fn register(&self, name: &str, uris: &[&str]) -> String {
        let uris: Vec<String> = uris.iter().map(|u| (*u).to_owned()).collect();
        self.state.register_client(name, &uris).await.unwrap().id
    }

    /// `GET /api/oauth/authorize?...` as the signed-in user.
    async fn get_prompt(&self, bearer: &str, query: &[(String, String)]) -> Response {
        self.http
            .get(format!("{}/api/oauth/authorize", self.url))
            .query(query)
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap()
    }

    async fn post_authorize(&self, bearer: &str, flow: &Flow, approve: bool) -> Response {
        let mut body = flow.params();
        body["approve"] = approve.into();
        self.http
            .post(format!("{}/api/oauth/authorize", self.url))
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Where the browser goes after the user answered.
    async fn redirect_after(&self, bearer: &str, flow: &Flow, approve: bool) -> String {
        let response = self.post_authorize(bearer, flow, approve).await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer: AuthorizeResponse = response.json().await.unwrap();
        answer.redirect_to
    }

    /// Signs `user` in, approves `flow`, returns the code.
    async fn code_for(&self, user: (&str, &str), flow: &Flow) -> String {
        let login = self.login(user).await;
        let redirect = self
            .redirect_after(&login.tokens.access_token, flow, true)
            .await;
        param(&redirect, "code").expect("a code")
    }

    async fn post_token(&self, form: &[(&str, &str)]) -> Response {
        self.http
            .post(format!("{}/api/oauth/token", self.url))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn exchange(&self, flow: &Flow, code: &str) -> Response {
        self.post_token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &flow.redirect_uri),
            ("client_id", &flow.client_id),
            ("code_verifier", &flow.verifier),
        ])
        .await
    }

    async fn tokens_for(&self, user: (&str, &str), flow: &Flow) -> OAuthTokenResponse {
        let code = self.code_for(user, flow).await;
        let response = self.exchange(flow, &code).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn post_refresh_grant(&self, client_id: &str, token: &str) -> Response {
        self.post_token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client_id),
        ])
        .await
    }

    async fn refresh_grant(&self, client_id: &str, token: &str) -> OAuthTokenResponse {
        let response = self.post_refresh_grant(client_id, token).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn token_fails(&self, response: Response, code: OAuthErrorCode) -> OAuthErrorBody {
        let (status, body) = oauth_error(response).await;
        assert_eq!(
            (status, body.error),
            (StatusCode::BAD_REQUEST, code),
            "{body:?}"
        );
        body
    }

    async fn post_revoke(&self, client_id: &str, token: &str) -> Response {
        self.http
            .post(format!("{}/api/oauth/revoke", self.url))
            .form(&[("token", token), ("client_id", client_id)])
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn the_metadata_names_every_endpoint_and_only_the_safe_choices() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let meta: AuthorizationServerMetadata = response.json().await.unwrap();
    assert_eq!(meta.issuer, app.url);
    assert_eq!(
        meta.authorization_endpoint,
        format!("{}/oauth/authorize", app.url)
    );
    assert_eq!(meta.token_endpoint, format!("{}/api/oauth/token", app.url));
    assert_eq!(
        meta.revocation_endpoint,
        format!("{}/api/oauth/revoke", app.url)
    );
    assert_eq!(meta.jwks_uri, format!("{}/.well-known/jwks.json", app.url));
    assert_eq!(meta.response_types_supported, ["code"]);
    assert_eq!(
        meta.grant_types_supported,
        ["authorization_code", "refresh_token"]
    );
    assert_eq!(meta.code_challenge_methods_supported, ["S256"]);
    assert_eq!(meta.token_endpoint_auth_methods_supported, ["none"]);
    assert!(meta.authorization_response_iss_parameter_supported);

    let configured = spawn_app_with(|c| c.public_url = Some("https://app.example/".into())).await;
    let meta: AuthorizationServerMetadata = configured
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            configured.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta.issuer, "https://app.example");
    assert_eq!(meta.token_endpoint, "https://app.example/api/oauth/token");
}

#[tokio::test]
async fn the_code_flow_with_pkce_gives_a_scoped_client_token_that_refreshes() {
    let app = spawn_app().await;
    let client_id = app.register("Photo Printer", &[LOOPBACK]).await;
    let flow = Flow::new(&client_id);
    let login = app.login(BOB).await;
    let bearer = &login.tokens.access_token;

    // The consent page learns what to ask.
    let prompt: AuthorizePrompt = app
        .get_prompt(bearer, &flow.query())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        prompt,
        AuthorizePrompt::Consent {
            client_name: "Photo Printer".into(),
            scopes: vec!["profile:read".into()],
        }
    );

    // Allow: back to the app's loopback port with code, state and issuer.
    let redirect = app.redirect_after(bearer, &flow, true).await;
    assert!(
        redirect.starts_with("http://127.0.0.1:54321/callback?code="),
        "{redirect}"
    );
    assert_eq!(param(&redirect, "state").as_deref(), Some("xyz-state"));
    assert_eq!(param(&redirect, "iss"), Some(app.url.clone()));
    let code = param(&redirect, "code").unwrap();

    // The exchange: RFC 6749 §5.1, never cached.
    let response = app.exchange(&flow, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(response.headers()[header::PRAGMA], "no-cache");
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let tokens: OAuthTokenResponse = response.json().await.unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.scope, "profile:read");
    assert_eq!(tokens.expires_in, 15 * 60 - 1);
    let claims = claims_of(&tokens.access_token);
    assert_eq!(claims["client_id"], client_id.as_str());
    assert_eq!(claims["scope"], "profile:read");
    assert_eq!(claims["perms"], serde_json::json!(["profile:read"]));
    let me = app.get("/api/me", &tokens.access_token).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<wire::User>().await.unwrap().username, "bob");

    // Refresh: rotation, the same successor within grace, reuse after it.
    let next = app.refresh_grant(&client_id, &tokens.refresh_token).await;
    assert_ne!(next.refresh_token, tokens.refresh_token);
    assert_eq!(next.scope, "profile:read");
    app.advance(9);
    let again = app.refresh_grant(&client_id, &tokens.refresh_token).await;
    assert_eq!(again.refresh_token, next.refresh_token);
    assert_eq!(
        app.get("/api/me", &next.access_token).await.status(),
        StatusCode::OK
    );
    app.advance(2);
    let reused = app
        .post_refresh_grant(&client_id, &tokens.refresh_token)
        .await;
    app.token_fails(reused, OAuthErrorCode::InvalidGrant).await;
    let dead = app
        .post_refresh_grant(&client_id, &next.refresh_token)
        .await;
    app.token_fails(dead, OAuthErrorCode::InvalidGrant).await;
    let events = app.audit_events().await;
    for event in [
        "oauth_consent_granted",
        "oauth_code_exchanged",
        "refresh_reuse_detected",
    ] {
        assert!(
            events.contains(&event.to_owned()),
            "{event} missing from {events:?}"
        );
    }
}

#[tokio::test]
async fn a_wrong_verifier_is_invalid_grant_and_spends_the_code() {
    let app = spawn_app().await;
    let client_id = app.register("App", &[LOOPBACK]).await;
    let flow = Flow::new(&client_id);
    let code = app.code_for(BOB, &flow).await;
    let mut wrong = flow.clone();
    wrong.verifier = server::refresh_token::generate();
    let body = app
        .token_fails(
            app.exchange(&wrong, &code).await,
            OAuthErrorCode::InvalidGrant,
        )
        .await;
    assert!(body.error_description.unwrap().contains("code_verifier"));
    // The right verifier comes too late: the code was spent on the failed attempt.
    app.token_fails(
        app.exchange(&flow, &code).await,
        OAuthErrorCode::InvalidGrant,
    )
    .await;
    assert!(
        app.audit_events()
            .await
            .contains(&"oauth_code_rejected".to_owned())
    );
}

#[tokio::test]
async fn a_reused_code_fails_and_revokes_what_the_first_exchange_issued() {
    let app = spawn_app().await;
    let client_id = app.register("App", &[LOOPBACK]).await;
    let flow = Flow::new(&client_id);
    let code = app.code_for(BOB, &flow).await;
    let first: OAuthTokenResponse = app.exchange(&flow, &code).await.json().await.unwrap();
    let body = app
        .token_fails(
            app.exchange(&flow, &code).await,
            OAuthErrorCode::InvalidGrant,
        )
        .await;
    assert!(body.error_description.unwrap().contains("already used"));
    let refresh = app
        .post_refresh_grant(&client_id, &first.refresh_token)
        .await;
    app.token_fails(refresh, OAuthErrorCode::InvalidGrant).await;
    let session = claims_of(&first.access_token)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let ended = app.state.store.session(&session).await.unwrap().unwrap();
    assert_eq!(
        ended.end_reason.as_deref(),
        Some(EndReason::ReuseDetected.as_str())
    );
    // What the first exchange issued stops at once, access token included.
    app.me_fails(&first.access_token, ErrorCode::TokenRevoked)
        .await;
    assert!(
        app.audit_events()
            .await
            .contains(&"oauth_code_reused".to_owned())
    );
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let app = spawn_app().await;
    let client_id = app.register("App", &[LOOPBACK]).await;
    let flow = Flow::new(&client_id);
    let code = app.code_for(BOB, &flow).await;
    app.advance(60);
    let body = app
        .token_fails(
            app.exchange(&flow, &code).await,
            OAuthErrorCode::InvalidGrant,
        )
        .await;
    assert!(body.error_description.unwrap().contains("expired"));
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_and_redirect_uri() {
    let app = spawn_app().await;
    let ours = app.register("Ours", &[LOOPBACK]).await;
    let theirs = app.register("Theirs", &[LOOPBACK]).await;
    let flow = Flow::new(&ours);

    // Presented by another registered client.
    let code = app.code_for(BOB, &flow).await;
    let mut other = flow.clone();
    other.client_id = theirs;
    app.token_fails(
        app.exchange(&other, &code).await,
        OAuthErrorCode::InvalidGrant,
    )
    .await;

    // With another redirect URI than the authorization request's (even another port).
    let code = app.code_for(BOB, &flow).await;
    let mut moved = flow.clone();
    moved.redirect_uri = "http://127.0.0.1:54322/callback".into();
    app.token_fails(
        app.exchange(&moved, &code).await,
        OAuthErrorCode::InvalidGrant,
    )
    .await;

    // By a client that does not exist, or none.
    let code = app.code_for(BOB, &flow).await;
    let mut unknown = flow.clone();
    unknown.client_id = "no-such-client".into();
    app.token_fails(
        app.exchange(&unknown, &code).await,
        OAuthErrorCode::InvalidClient,
    )
    .await;
    let anonymous = app
        .post_token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &flow.verifier),
        ])
        .await;
    app.token_fails(anonymous, OAuthErrorCode::InvalidClient)
        .await;
    // Neither spent it: the code is only looked at once the client is known.
    assert_eq!(app.exchange(&flow, &code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_client_or_redirect_uri_is_shown_on_the_page_never_redirected() {
    let app = spawn_app().await;
    let client_id = app
        .register("App", &[LOOPBACK, "https://app.example/cb"])
        .await;
    let login = app.login(BOB).await;
    let bearer = &login.tokens.access_token;
    let mut cases = Vec::new();
    let mut unknown = Flow::new("no-such-client");
    unknown.state = Some("s".into());
    cases.push(unknown);
    for uri in [
        "http://127.0.0.1:54321/elsewhere",
        "http://[::1]:54321/callback",
        "https://app.example/cb/",
        "https://app.example/cb?x=1",
        "https://evil.example/cb",
    ] {
        let mut flow = Flow::new(&client_id);
        flow.redirect_uri = uri.into();
        cases.push(flow);
    }
    for flow in cases {
        let (status, body) = error_of(app.get_prompt(bearer, &flow.query()).await).await;
        assert_eq!(
            (status, body.error),
            (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            "{flow:?}"
        );
        let (status, body) = error_of(app.post_authorize(bearer, &flow, true).await).await;
        assert_eq!(
            (status, body.error),
            (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            "{flow:?}"
        );
        assert!(!body.message.is_empty());
    }
    // The exact registered URI works.
    let mut exact = Flow::new(&client_id);
    exact.redirect_uri = "https://app.example/cb".into();
    let redirect = app.redirect_after(bearer, &exact, true).await;
    assert!(
        redirect.starts_with("https://app.example/cb?code="),
        "{redirect}"
    );
}

#[tokio::test]
async fn a_plain_or_missing_challenge_is_refused_at_the_app_s_redirect_uri() {
    let app = spawn_app().await;
    let client_id = app.register("App", &[LOOPBACK]).await;
    let login = app.login(BOB).await;
    let bearer = &login.tokens.access_token;
    let refusal = |error: &str, tweak: fn(&mut serde_json::Value)| {
        let mut params = Flow::new(&client_id).params();
        tweak(&mut params);
        (error.to_owned(), params)
    };
    let cases = [
        refusal("invalid_request", |p| {
            p["code_challenge_method"] = "plain".into()
        }),
        refusal("invalid_request", |p| {
            p.as_object_mut().unwrap().remove("code_challenge_method");
        }),
        refusal("invalid_request", |p| {
            p.as_object_mut().unwrap().remove("code_challenge");
        }),
        refusal("invalid_request", |p| {
            p["code_challenge"] = "too-short".into()
        }),
        refusal("unsupported_response_type", |p| {
            p["response_type"] = "token".into()
        }),
        refusal("invalid_request", |p| {
            p.as_object_mut().unwrap().remove("response_type");
        }),
        refusal("invalid_scope", |p| {
            p["scope"] = "profile:read audit:read".into()
        }),
    ];
    for (error, params) in cases {
        // The page's check says to redirect...
        let query: Vec<(String, String)> = params
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let prompt: AuthorizePrompt = app.get_prompt(bearer, &query).await.json().await.unwrap();
        let AuthorizePrompt::Redirect { redirect_to } = prompt else {
            panic!("{error}: no redirect for {params}");
        };
        // ...and so does an Allow that ignores it.
        let mut body = params.clone();
        body["approve"] = true.into();
        let answer: AuthorizeResponse = app
            .http
            .post(format!("{}/api/oauth/authorize", app.url))
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for url in [&redirect_to, &answer.redirect_to] {
            assert!(url.starts_with(REDIRECT), "{url}");
            assert_eq!(
                param(url, "error").as_deref(),
                Some(error.as_str()),
                "{params}"
            );
            assert_eq!(param(url, "state").as_deref(), Some("xyz-state"));
            assert!(param(url, "code").is_none());
        }
    }
}

#[tokio::test]
async fn state_comes_back_exactly_as_sent_or_not_at_all() {
    let app = spawn_app().await;
    let client_id = app.register("App", &[LOOPBACK]).await;
    let login = app.login(BOB).await;
    let bearer = &login.tokens.access_token;
    let odd = "a b&c=d/é?#+%2F";
    let mut flow = Flow::new(&client_id);
    flow.state = Some(odd.into());
    let redirect = app.redirect_after(bearer, &flow, true).await;
    assert_eq!(param(&redirect, "state").as_deref(), Some(odd));

    flow.state = None;
    let redirect = app.redirect_after(bearer, &flow, true).await;
    assert!(param(&redirect, "code").is_some());
    assert!(
        !query_of(&redirect).iter().any(|(k, _)| k == "state"),
        "{redirect}"
    );
    let denied = app.redirect_after(bearer, &flow, false).await;
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"));
    assert!(
        !query_of(&denied).iter().any(|(k, _)| k == "state"),
        "{denied}"
    );
}

#[tokio::test]
async fn deny_sends_access_denied_and_no_code() {
    let app = spawn_app().await;
    let client_id = app.register("App", &[LOOPBACK]).await;
    let login = app.login(BOB).await;
    let flow = Flow::new(&client_id);
    let redirect = app
        .redirect_after(&login.tokens.access_token, &flow, false)
        .await;
    assert_eq!(param(&redirect, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&redirect, "state").as_deref(), Some("xyz-state"));
    assert!(param(&redirect, "code").is_none());
    assert!(
        app.audit_events()
            .await
            .contains(&"oauth_consent_denied".to_owned())
    );
}

#[tokio::test]
async fn the_token_endpoint_answers_every_malformed_request_in_rfc_6749_terms() {
    let app = spawn_app().await;
    let client_id = app.register("App", &[LOOPBACK]).await;
    let cases: [(&[(&str, &str)], OAuthErrorCode); 6] = [
        (&[("client_id", &client_id)], OAuthErrorCode::InvalidRequest),
        (
            &[
                ("grant_type", "password"),
                ("client_id", &client_id),
                ("username", "bob"),
            ],
            OAuthErrorCode::UnsupportedGrantType,
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
            ],
            OAuthErrorCode::UnsupportedGrantType,
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client_id),
            ],
            OAuthErrorCode::InvalidRequest,
        ),
        (
            &[("grant_type", "refresh_token"), ("client_id", &client_id)],
            OAuthErrorCode::InvalidRequest,
        ),
        (
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
            OAuthErrorCode::InvalidClient,
        ),
    ];
    for (form, code) in cases {
        app.token_fails(app.post_token(form).await, code).await;
    }
    // JSON is not the token endpoint's language, and a parameter counts once.
    let json = app
        .http
        .post(format!("{}/api/oauth/token", app.url))
        .json(&serde_json::json!({"grant_type": "refresh_token"}))
        .send()
        .await
        .unwrap();
    app.token_fails(json, OAuthErrorCode::InvalidRequest).await;
    let twice = app
        .http
        .post(format!("{}/api/oauth/token", app.url))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=refresh_token&grant_type=refresh_token&client_id={client_id}"
        ))
        .send()
        .await
        .unwrap();
    app.token_fails(twice, OAuthErrorCode::InvalidRequest).await;
}

#[tokio::test]
async fn revocation_ends_the_grant_and_only_the_client_s_own() {
    let app = spawn_app().await;
    let ours = app.register("Ours", &[LOOPBACK]).await;
    let theirs = app.register("Theirs", &[LOOPBACK]).await;
    let tokens = app.tokens_for(BOB, &Flow::new(&ours)).await;

    // Another client cannot revoke our grant.
    let response = app.post_revoke(&theirs, &tokens.refresh_token).await;
    app.token_fails(response, OAuthErrorCode::InvalidGrant)
        .await;
    let tokens = app.refresh_grant(&ours, &tokens.refresh_token).await;

    // Unknown and malformed tokens are no error (RFC 7009 §2.2).
    for junk in [server::refresh_token::generate(), "junk".to_owned()] {
        assert_eq!(app.post_revoke(&ours, &junk).await.status(), StatusCode::OK);
    }

    // An access token goes on the denylist at once.
    let response = app.post_revoke(&ours, &tokens.access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let (status, body) = error_of(app.get("/api/me", &tokens.access_token).await).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenRevoked)
    );

    // A refresh token ends the whole grant.
    assert_eq!(
        app.post_revoke(&ours, &tokens.refresh_token).await.status(),
        StatusCode::OK
    );
    let refresh = app.post_refresh_grant(&ours, &tokens.refresh_token).await;
    app.token_fails(refresh, OAuthErrorCode::InvalidGrant).await;
}

#[tokio::test]
async fn a_client_token_may_do_only_what_its_scope_names() {
    let app = spawn_app().await;
    let client_id = app.register("App", &[LOOPBACK]).await;
    // Alice is an admin; the app gets none of that.
    let narrow = app.tokens_for(ALICE, &Flow::new(&client_id)).await;
    let token = &narrow.access_token;
    assert_eq!(app.get("/api/me", token).await.status(), StatusCode::OK);
    let response = app.get("/api/auth/sessions", token).await;
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_scope", scope="sessions:manage""#
    );
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::FORBIDDEN, ErrorCode::InsufficientScope)
    );
    // First-party routes are closed to client tokens whatever their scope.
    for path in ["/api/admin/audit", "/api/oauth/authorize?client_id=x"] {
        let (status, body) = error_of(app.get(path, token).await).await;
        assert_eq!(
            (status, body.error),
            (StatusCode::FORBIDDEN, ErrorCode::InsufficientScope),
            "{path}"
        );
    }
    let logout_all = app
        .http
        .post(format!("{}/api/auth/logout-all", app.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout_all.status(), StatusCode::FORBIDDEN);

    let mut flow = Flow::new(&client_id);
    flow.scope = Some("sessions:manage profile:read".into());
    let wide = app.tokens_for(ALICE, &flow).await;
    assert_eq!(wide.scope, "profile:read sessions:manage");
    assert_eq!(
        app.get("/api/auth/sessions", &wide.access_token)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/admin/audit", &wide.access_token)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // A refresh may not widen the grant.
    let response = app
        .post_token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &narrow.refresh_token),
            ("client_id", &client_id),
            ("scope", "profile:read sessions:manage"),
        ])
        .await;
    app.token_fails(response, OAuthErrorCode::InvalidScope)
        .await;
}

#[tokio::test]
async fn client_refresh_tokens_are_refused_on_every_other_path() {
    let app = spawn_app().await;
    let ours = app.register("Ours", &[LOOPBACK]).await;
    let theirs = app.register("Theirs", &[LOOPBACK]).await;
    let tokens = app.tokens_for(BOB, &Flow::new(&ours)).await;

    // Not at the token endpoint for another client.
    let response = app.post_refresh_grant(&theirs, &tokens.refresh_token).await;
    app.token_fails(response, OAuthErrorCode::InvalidGrant)
        .await;
    // Not in a body or a cookie on the first-party routes.
    let body = app
        .http
        .post(format!("{}/api/auth/refresh", app.url))
        .json(&serde_json::json!({"refresh_token": tokens.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(body).await.1.error, ErrorCode::RefreshInvalid);
    app.refresh_fails(&tokens.refresh_token, ErrorCode::RefreshInvalid)
        .await;
    // Nor is a first-party token accepted at the token endpoint.
    let browser = app.login(BOB).await;
    let response = app.post_refresh_grant(&ours, &browser.cookie).await;
    app.token_fails(response, OAuthErrorCode::InvalidGrant)
        .await;

    // Refused, not revoked.
    app.refresh_grant(&ours, &tokens.refresh_token).await;
    app.refresh(&browser.cookie).await;
}

#[tokio::test]
async fn removing_a_client_ends_its_sessions() {
    let app = spawn_app().await;
    let client_id = app.register("App", &[LOOPBACK]).await;
    let tokens = app.tokens_for(BOB, &Flow::new(&client_id)).await;
    assert_eq!(app.state.remove_client(&client_id).await.unwrap(), 1);
    let response = app
        .post_refresh_grant(&client_id, &tokens.refresh_token)
        .await;
    app.token_fails(response, OAuthErrorCode::InvalidClient)
        .await;
    let session = claims_of(&tokens.access_token)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let ended = app.state.store.session(&session).await.unwrap().unwrap();
    assert_eq!(
        ended.end_reason.as_deref(),
        Some(EndReason::AdminRevoked.as_str())
    );
    app.me_fails(&tokens.access_token, ErrorCode::TokenRevoked)
        .await;
}
