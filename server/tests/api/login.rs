use reqwest::{StatusCode, header};
use wire::{ErrorCode, User};

use crate::helpers::*;

#[tokio::test]
async fn login_sets_a_locked_down_refresh_cookie_and_returns_a_token_body() {
    let app = spawn_app().await;
    let login = app.login(ALICE).await;
    let attrs: Vec<&str> = login.set_cookie.split(';').map(str::trim).collect();
    for expected in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/auth"] {
        assert!(
            attrs.contains(&expected),
            "{expected} missing from {}",
            login.set_cookie
        );
    }
    assert_eq!(login.tokens.token_type, "Bearer");
    // Whole seconds the token surely has left (`exp` is rounded to seconds).
    assert_eq!(login.tokens.expires_in, 15 * 60 - 1);
    assert_eq!(login.tokens.user.username, "alice");
    assert_eq!(login.tokens.user.roles, ["admin"]);
    assert!(login.tokens.session.idle_expires_at > app.clock_now());
    // The refresh token never travels in a body.
    assert!(
        !serde_json::to_string(&login.tokens)
            .unwrap()
            .contains(&login.cookie)
    );
}

#[tokio::test]
async fn without_remember_me_the_cookie_dies_with_the_browser() {
    let app = spawn_app().await;
    let short = app.login_with(BOB, false).await;
    assert!(
        !short.set_cookie.contains("Max-Age"),
        "{}",
        short.set_cookie
    );
    let long = app.login_with(BOB, true).await;
    assert!(
        long.set_cookie
            .contains(&format!("Max-Age={}", 30 * 24 * 3600)),
        "{}",
        long.set_cookie
    );
    let now = app.clock_now();
    assert_eq!(short.tokens.session.absolute_expires_at, now + 12 * 3600);
    assert_eq!(
        long.tokens.session.absolute_expires_at,
        now + 30 * 24 * 3600
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = spawn_app().await;
    for creds in [("alice", "wrong-password"), ("nobody", "whatever-pass")] {
        let (status, body) = error_of(app.post_login(creds, false).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body.error, ErrorCode::InvalidCredentials);
        assert_eq!(body.message, "Wrong username or password.");
    }
    let events = app.audit_events().await;
    assert_eq!(events.iter().filter(|e| *e == "login_failed").count(), 2);
}

#[tokio::test]
async fn malformed_login_body_gets_a_json_error() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(format!("{}/api/auth/login", app.url))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"username\": 3")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body.error, ErrorCode::BadRequest);

    // Over the 16 KiB body limit: refused before anything is parsed or hashed.
    let huge = format!(
        r#"{{"username": "bob", "password": "{}"}}"#,
        "x".repeat(20_000)
    );
    let response = app
        .http
        .post(format!("{}/api/auth/login", app.url))
        .header(header::CONTENT_TYPE, "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body.error, ErrorCode::BadRequest);
}

#[tokio::test]
async fn me_needs_a_valid_bearer_token() {
    let app = spawn_app().await;
    let login = app.login(BOB).await;
    let me: User = app
        .get("/api/me", &login.tokens.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me.username, "bob");
    assert!(me.permissions.contains(&"profile:read".to_owned()));

    let missing = app
        .http
        .get(format!("{}/api/me", app.url))
        .send()
        .await
        .unwrap();
    // No credentials: a bare challenge, no error code in it (RFC 6750 §3.1).
    assert_eq!(missing.headers()[header::WWW_AUTHENTICATE], "Bearer");
    let (status, body) = error_of(missing).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenMissing)
    );
    let garbage = app.get("/api/me", "not.a.jwt").await;
    assert_eq!(
        garbage.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token""#
    );
    let (status, body) = error_of(garbage).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenInvalid)
    );
}

#[tokio::test]
async fn an_expired_access_token_says_so_and_a_refresh_fixes_it() {
    let app = spawn_app_with(|c| c.access_ttl = std::time::Duration::from_secs(3)).await;
    let login = app.login(BOB).await;
    assert_eq!(login.tokens.expires_in, 2);
    app.advance(4);
    let (status, body) = error_of(app.get("/api/me", &login.tokens.access_token).await).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenExpired)
    );
    let fresh = app.refresh(&login.cookie).await;
    assert_eq!(
        app.get("/api/me", &fresh.tokens.access_token)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s_and_health_answers() {
    let app = spawn_app().await;
    let (status, body) = error_of(
        app.http
            .get(format!("{}/api/nope", app.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.error),
        (StatusCode::NOT_FOUND, ErrorCode::NotFound)
    );
    let health = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        health.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}

#[tokio::test]
async fn too_many_logins_get_429_with_retry_after_and_are_audited() {
    let app = spawn_app_with(|c| c.login_per_user = 3).await;
    for _ in 0..3 {
        assert_eq!(
            app.post_login(("bob", "wrong-password"), false)
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // A browser not known to be bob's waits even with the right password: the budget
    // is spent (one attempt every 20 minutes at 3 an hour).
    let response = app.post_login(BOB, false).await;
    let retry_after: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=1200).contains(&retry_after), "{retry_after}");
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited)
    );
    // Another user is not locked out by bob's attacker.
    app.login(ALICE).await;
    assert!(
        app.audit_events()
            .await
            .contains(&"rate_limited".to_owned())
    );
}

#[tokio::test]
async fn a_refresh_storm_from_one_session_gets_429() {
    let app = spawn_app_with(|c| c.refresh_per_session = 2).await;
    let login = app.login(BOB).await;
    let next = app.refresh(&login.cookie).await;
    let next = app.refresh(&next.cookie).await;
    let (status, body) = error_of(app.post_refresh(&next.cookie).await).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited)
    );
}
