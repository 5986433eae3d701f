//! Every way a session ends stops its access tokens at once, not at `exp`.

use reqwest::StatusCode;
use wire::{EndReason, ErrorCode};

use crate::helpers::*;

#[tokio::test]
async fn a_revoked_device_loses_its_access_token_at_once() {
    let app = spawn_app().await;
    let laptop = app.login(ALICE).await;
    let stolen_phone = app.login(ALICE).await;
    app.me_ok(&stolen_phone.tokens.access_token).await;
    let response = app
        .http
        .delete(format!(
            "{}/api/auth/sessions/{}",
            app.url, stolen_phone.tokens.session.id
        ))
        .bearer_auth(&laptop.tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.me_fails(&stolen_phone.tokens.access_token, ErrorCode::TokenRevoked)
        .await;
    // Every bearer route, not only /api/me.
    let (status, body) = error_of(
        app.get("/api/auth/sessions", &stolen_phone.tokens.access_token)
            .await,
    )
    .await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenRevoked)
    );
    app.me_ok(&laptop.tokens.access_token).await;
}

#[tokio::test]
async fn logout_all_stops_every_sessions_access_tokens() {
    let app = spawn_app().await;
    let one = app.login(ALICE).await;
    let two = app.login(ALICE).await;
    let bob = app.login(BOB).await;
    let response = app
        .http
        .post(format!("{}/api/auth/logout-all", app.url))
        .bearer_auth(&one.tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for token in [&one.tokens.access_token, &two.tokens.access_token] {
        app.me_fails(token, ErrorCode::TokenRevoked).await;
    }
    app.me_ok(&bob.tokens.access_token).await;
}

#[tokio::test]
async fn a_password_change_stops_the_other_sessions_tokens_and_keeps_this_one() {
    let app = spawn_app().await;
    let here = app.login(BOB).await;
    let elsewhere = app.login(BOB).await;
    let response = app
        .http
        .post(format!("{}/api/auth/password", app.url))
        .bearer_auth(&here.tokens.access_token)
        .json(&serde_json::json!({"current_password": BOB.1, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // The refusal says why, so the other device can tell its user.
    let (status, body) = error_of(app.get("/api/me", &elsewhere.tokens.access_token).await).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenRevoked)
    );
    assert_eq!(body.reason, Some(EndReason::PasswordChanged));
    app.me_ok(&here.tokens.access_token).await;
}

#[tokio::test]
async fn reuse_detection_stops_the_sessions_access_tokens_too() {
    let app = spawn_app().await;
    let login = app.login(BOB).await;
    let next = app.refresh(&login.cookie).await;
    app.advance(11);
    app.refresh_fails(&login.cookie, ErrorCode::RefreshReused)
        .await;
    // The thief's (or the victim's) fresh access token dies with the session.
    app.me_fails(&next.tokens.access_token, ErrorCode::TokenRevoked)
        .await;
}

#[tokio::test]
async fn a_removed_user_is_signed_out_everywhere_at_once() {
    let app = spawn_app().await;
    let bob = app.login(BOB).await;
    let alice = app.login(ALICE).await;
    assert!(app.state.remove_user("bob").await.unwrap());
    app.me_fails(&bob.tokens.access_token, ErrorCode::TokenRevoked)
        .await;
    app.refresh_fails(&bob.cookie, ErrorCode::RefreshInvalid)
        .await;
    app.me_ok(&alice.tokens.access_token).await;
    assert!(!app.state.remove_user("bob").await.unwrap());
    assert!(
        app.audit_events()
            .await
            .contains(&"user_removed".to_owned())
    );
}

#[tokio::test]
async fn revocations_survive_a_restart_of_the_instance() {
    let app = spawn_app().await;
    let login = app.login(BOB).await;
    app.logout(&login).await;
    // A second engine on the same database (a restart, or another instance) starts
    // with the revocation already in memory.
    let other = app.restart().await;
    assert_eq!(
        other
            .revoked
            .covers(&login.tokens.user.id, &login.tokens.session.id, "some-jti"),
        Some(EndReason::LoggedOut)
    );
}
