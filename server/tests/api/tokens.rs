use reqwest::StatusCode;
use wire::ErrorCode;

use crate::helpers::*;

#[tokio::test]
async fn jwks_publishes_the_signing_key_by_kid() {
    let app = spawn_app().await;
    let jwks = app.jwks().await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert_eq!(keys[0]["kid"], app.state.keys.signing_kid(app.clock_now()));
    assert!(
        keys[0].get("d").is_none(),
        "the private part must never be published"
    );
}

#[tokio::test]
async fn after_key_rotation_old_tokens_stay_valid_and_new_ones_use_the_new_key() {
    let app = spawn_app().await;
    let before = app.login(ALICE).await;
    let (new_kid, _) = app
        .state
        .rotate_keys(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    // Published at once, signing only once every instance has it.
    assert_eq!(app.jwks().await["keys"].as_array().unwrap().len(), 2);
    let staged = app.login(ALICE).await;
    app.advance(60);
    let after = app.login(ALICE).await;
    let kid_of = |token: &str| {
        use base64::Engine;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&header).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_ne!(kid_of(&before.tokens.access_token), new_kid);
    assert_ne!(kid_of(&staged.tokens.access_token), new_kid);
    assert_eq!(kid_of(&after.tokens.access_token), new_kid);
    for token in [&staged.tokens.access_token, &after.tokens.access_token] {
        assert_eq!(app.get("/api/me", token).await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_token_from_another_server_is_rejected() {
    let ours = spawn_app().await;
    let theirs = spawn_app().await;
    let foreign = theirs.login(ALICE).await;
    let (status, body) = error_of(ours.get("/api/me", &foreign.tokens.access_token).await).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenInvalid)
    );
}

#[tokio::test]
async fn signing_keys_survive_a_restart() {
    let file = std::env::temp_dir().join(format!(
        "jwt-refresh-restart-{}.db",
        server::refresh_token::generate()
    ));
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let kid = |url: String| async move {
        let store = server::store::Store::connect(&url).await.unwrap();
        let kek = server::secrets::Kek::from_material(&[9u8; 32]).unwrap();
        server::keys::Keys::load(&store, &kek, 0)
            .await
            .unwrap()
            .signing_kid(0)
    };
    assert_eq!(kid(url.clone()).await, kid(url).await);
}

#[tokio::test]
async fn backend_managed_mode_rotates_an_expired_token_in_the_middleware() {
    let app = spawn_app_with(|c| {
        c.backend_refresh = true;
        c.access_ttl = std::time::Duration::from_secs(3);
    })
    .await;
    let login = app.login(BOB).await;
    assert!(
        login.set_cookie.split(';').any(|a| a.trim() == "Path=/api"),
        "{}",
        login.set_cookie
    );
    app.advance(5);
    let me = |token: String, cookie: String| {
        app.http
            .get(format!("{}/api/me", app.url))
            .bearer_auth(token)
            .header(reqwest::header::COOKIE, format!("refresh_token={cookie}"))
            .send()
    };
    let response = me(login.tokens.access_token.clone(), login.cookie.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let renewed = response.headers()["x-access-token"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.headers()["x-access-token-expires-in"], "2");
    let rotated = cookie_value(&set_cookie(&response).expect("a rotated cookie"));
    assert_ne!(rotated, login.cookie);
    // The new token works on its own; the old cookie is now a used one.
    assert_eq!(app.get("/api/me", &renewed).await.status(), StatusCode::OK);

    // Without the cookie an expired token is just expired.
    app.advance(5);
    let (status, body) = error_of(app.get("/api/me", &renewed).await).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenExpired)
    );

    // A cookie of another session does not renew someone else's token.
    let other = app.login(BOB).await;
    let (status, body) = error_of(me(renewed, other.cookie).await.unwrap()).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenInvalid)
    );
}

#[tokio::test]
async fn client_managed_mode_never_refreshes_on_a_bearer_route() {
    let app = spawn_app_with(|c| c.access_ttl = std::time::Duration::from_secs(3)).await;
    let login = app.login(BOB).await;
    app.advance(5);
    let response = app
        .http
        .get(format!("{}/api/me", app.url))
        .bearer_auth(&login.tokens.access_token)
        .header(
            reqwest::header::COOKIE,
            format!("refresh_token={}", login.cookie),
        )
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("x-access-token").is_none());
    assert_eq!(error_of(response).await.1.error, ErrorCode::TokenExpired);
}

#[tokio::test]
async fn old_keys_leave_the_jwks_only_once_their_tokens_have_expired() {
    let app = spawn_app().await;
    let jwks_len = || async { app.jwks().await["keys"].as_array().unwrap().len() };
    let old = app.login(ALICE).await;
    app.advance(1);
    app.state
        .rotate_keys(std::time::Duration::ZERO)
        .await
        .unwrap();
    app.state.prune().await.unwrap();
    assert_eq!(jwks_len().await, 2);
    // 15 minutes of token life plus the reload margin later, only the new key is left.
    app.advance(14 * 60);
    app.state.prune().await.unwrap();
    assert_eq!(jwks_len().await, 2);
    assert_eq!(
        app.get("/api/me", &old.tokens.access_token).await.status(),
        StatusCode::OK
    );
    app.advance(4 * 60);
    app.state.prune().await.unwrap();
    assert_eq!(jwks_len().await, 1);
}

#[tokio::test]
async fn pruning_removes_expired_sessions_but_not_live_ones() {
    let app = spawn_app().await;
    let stale = app.login(BOB).await;
    // Idle for 30 minutes ends it; a day later it is deleted.
    app.advance(30 * 60 + 24 * 3600 + 1);
    let live = app.login(BOB).await;
    assert!(app.state.prune().await.unwrap() > 0);
    app.refresh_fails(&stale.cookie, ErrorCode::RefreshInvalid)
        .await;
    app.refresh(&live.cookie).await;
}
