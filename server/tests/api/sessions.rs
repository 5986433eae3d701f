use reqwest::{StatusCode, header};
use wire::{AuditEvent, EndReason, ErrorCode, SessionStatus, SessionSummary};

use crate::helpers::*;

#[tokio::test]
async fn session_status_reports_the_ends_without_rotating() {
    let app = spawn_app().await;
    let login = app.login(ALICE).await;
    let status: SessionStatus = app
        .http
        .get(format!("{}/api/auth/session", app.url))
        .header(header::COOKIE, format!("refresh_token={}", login.cookie))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status.session, login.tokens.session);
    assert_eq!(status.server_time, app.clock_now());
    // Still the current token: a status check is not a rotation.
    app.advance(11);
    app.refresh(&login.cookie).await;
}

#[tokio::test]
async fn users_list_and_revoke_their_own_sessions_only() {
    let app = spawn_app().await;
    let laptop = app.login(ALICE).await;
    let phone = app.login(ALICE).await;
    let bob = app.login(BOB).await;
    let list: Vec<SessionSummary> = app
        .get("/api/auth/sessions", &laptop.tokens.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|s| s.device == UA && s.ip == "127.0.0.1"));
    // The short name every client shows (here the agent's first token: no browser).
    assert!(list.iter().all(|s| s.device_name == "integration-test/1.0"));
    assert_eq!(list.iter().filter(|s| s.current).count(), 1);
    assert!(list.iter().find(|s| s.current).unwrap().id == laptop.tokens.session.id);

    let delete = |token: &str, id: &str| {
        app.http
            .delete(format!("{}/api/auth/sessions/{id}", app.url))
            .bearer_auth(token)
            .send()
    };
    // Bob cannot touch Alice's session, and cannot even tell it exists.
    let response = delete(&bob.tokens.access_token, &phone.tokens.session.id)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = delete(&laptop.tokens.access_token, &phone.tokens.session.id)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let body = app
        .refresh_fails(&phone.cookie, ErrorCode::SessionRevoked)
        .await;
    assert_eq!(body.reason, Some(EndReason::RevokedByUser));
    app.refresh(&laptop.cookie).await;
    let events = app.audit_events().await;
    assert!(events.contains(&"session_revoked".to_owned()), "{events:?}");
}

#[tokio::test]
async fn the_list_shows_this_device_first_then_the_most_recently_used() {
    let app = spawn_app().await;
    let laptop = app.login(ALICE).await;
    app.advance(1);
    let phone = app.login(ALICE).await;
    app.advance(1);
    let tablet = app.login(ALICE).await;
    app.advance(1);
    // Signed in first, used last.
    app.refresh(&laptop.cookie).await;
    let list: Vec<SessionSummary> = app
        .get("/api/auth/sessions", &phone.tokens.access_token)
        .await
        .json()
        .await
        .unwrap();
    let order: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    let expected = [&phone, &laptop, &tablet].map(|l| l.tokens.session.id.as_str());
    assert_eq!(order, expected);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user() {
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
    app.refresh_fails(&one.cookie, ErrorCode::SessionRevoked)
        .await;
    app.refresh_fails(&two.cookie, ErrorCode::SessionRevoked)
        .await;
    assert_eq!(
        error_of(app.get("/api/me", &one.tokens.access_token).await)
            .await
            .1
            .error,
        ErrorCode::TokenRevoked
    );
    app.refresh(&bob.cookie).await;
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    let app = spawn_app().await;
    let here = app.login(BOB).await;
    let elsewhere = app.login(BOB).await;
    let change = |current: &str, new: &str| {
        app.http
            .post(format!("{}/api/auth/password", app.url))
            .bearer_auth(&here.tokens.access_token)
            .json(&serde_json::json!({"current_password": current, "new_password": new}))
            .send()
    };
    let (status, body) = error_of(change("wrong-password", "a-new-password").await.unwrap()).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials)
    );
    let (status, body) = error_of(change(BOB.1, "short").await.unwrap()).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::BAD_REQUEST, ErrorCode::BadRequest)
    );

    assert_eq!(
        change(BOB.1, "a-new-password").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let body = app
        .refresh_fails(&elsewhere.cookie, ErrorCode::SessionRevoked)
        .await;
    assert_eq!(body.reason, Some(EndReason::PasswordChanged));
    app.refresh(&here.cookie).await;
    assert_eq!(
        app.post_login(BOB, false).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.login(("bob", "a-new-password")).await;
    assert!(
        app.audit_events()
            .await
            .contains(&"password_changed".to_owned())
    );
}

#[tokio::test]
async fn the_audit_log_is_for_admins_and_holds_no_secrets() {
    let app = spawn_app().await;
    let bob = app.login(BOB).await;
    let (status, body) =
        error_of(app.get("/api/admin/audit", &bob.tokens.access_token).await).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::FORBIDDEN, ErrorCode::Forbidden)
    );

    let alice = app.login(ALICE).await;
    let bob = app.refresh(&bob.cookie).await;
    app.logout(&bob).await;
    let response = app
        .get("/api/admin/audit", &alice.tokens.access_token)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    for secret in [
        ALICE.1,
        BOB.1,
        &alice.cookie,
        &bob.cookie,
        &alice.tokens.access_token,
    ] {
        assert!(!text.contains(secret));
    }
    let events: Vec<AuditEvent> = serde_json::from_str(&text).unwrap();
    // A session's end is written with the user id alone; the reader still gets the name.
    let logout = events.iter().find(|e| e.event == "logout").unwrap();
    assert_eq!(logout.username.as_deref(), Some("bob"));
    // Routine rotations are counted (metrics), not audited: an active user would
    // otherwise add a row every few minutes for as long as the log is kept.
    assert!(!events.iter().any(|e| e.event == "refresh"));
    let logins: Vec<_> = events
        .iter()
        .filter(|e| e.event == "login_succeeded")
        .collect();
    assert_eq!(logins.len(), 2);
    assert!(
        logins
            .iter()
            .all(|e| e.ip.as_deref() == Some("127.0.0.1") && e.user_agent.as_deref() == Some(UA))
    );
    assert!(
        logins
            .iter()
            .all(|e| e.device_name.as_deref() == Some("integration-test/1.0"))
    );
}

#[tokio::test]
async fn forwarded_for_is_read_from_the_right_and_only_behind_a_trusted_proxy() {
    // The client claims 6.6.6.6; our proxy (the peer, 127.0.0.1) appended what it saw.
    let cases: [(usize, Vec<ipnet::IpNet>, &str); 3] = [
        (0, vec![], "127.0.0.1"),
        (1, vec![], "203.0.113.7"),
        (0, vec!["127.0.0.0/8".parse().unwrap()], "203.0.113.7"),
    ];
    for (hops, trusted, expected) in cases {
        let app = spawn_app_with(|c| {
            c.proxy_hops = hops;
            c.trusted_proxies = trusted;
        })
        .await;
        let response = app
            .http
            .post(format!("{}/api/auth/login", app.url))
            .header("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
            .json(&serde_json::json!({"username": BOB.0, "password": BOB.1}))
            .send()
            .await
            .unwrap();
        let token = response
            .json::<wire::TokenResponse>()
            .await
            .unwrap()
            .access_token;
        let list: Vec<SessionSummary> = app
            .get("/api/auth/sessions", &token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list[0].ip, expected);
    }
}
