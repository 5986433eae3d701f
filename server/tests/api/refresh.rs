use reqwest::{StatusCode, header};
use wire::{EndReason, ErrorCode};

use crate::helpers::*;

#[tokio::test]
async fn refresh_rotates_the_cookie_and_issues_a_new_access_token() {
    let app = spawn_app().await;
    let login = app.login(ALICE).await;
    app.advance(5);
    let next = app.refresh(&login.cookie).await;
    assert_ne!(next.cookie, login.cookie);
    assert_ne!(next.tokens.access_token, login.tokens.access_token);
    assert_eq!(next.tokens.session.id, login.tokens.session.id);
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/auth"] {
        assert!(next.set_cookie.contains(attr), "{}", next.set_cookie);
    }
    // The idle end slides with each refresh.
    assert_eq!(
        next.tokens.session.idle_expires_at,
        login.tokens.session.idle_expires_at + 5
    );
    assert_eq!(
        app.get("/api/me", &next.tokens.access_token).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn refresh_needs_the_cookie_and_the_csrf_header() {
    let app = spawn_app().await;
    let login = app.login(ALICE).await;
    let no_header = app
        .http
        .post(format!("{}/api/auth/refresh", app.url))
        .header(header::COOKIE, format!("refresh_token={}", login.cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(no_header).await.1.error, ErrorCode::BadRequest);
    let no_cookie = app
        .http
        .post(format!("{}/api/auth/refresh", app.url))
        .header("X-Requested-With", "fetch")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(no_cookie).await.1.error, ErrorCode::RefreshMissing);
    app.refresh_fails("garbage", ErrorCode::RefreshInvalid)
        .await;
    app.refresh_fails(
        &server::refresh_token::generate(),
        ErrorCode::RefreshInvalid,
    )
    .await;
    // The real cookie still works: failed attempts with other values change nothing.
    app.refresh(&login.cookie).await;
}

#[tokio::test]
async fn within_grace_the_old_token_returns_the_same_successor() {
    let app = spawn_app().await;
    let login = app.login(ALICE).await;
    let first = app.refresh(&login.cookie).await;
    app.advance(9);
    let again = app.refresh(&login.cookie).await;
    assert_eq!(again.cookie, first.cookie);
    assert_eq!(again.tokens.expires_at, first.tokens.expires_at);
    assert_eq!(again.tokens.session, first.tokens.session);
    // The successor goes on working: nothing was revoked.
    app.refresh(&first.cookie).await;
}

#[tokio::test]
async fn reuse_after_grace_ends_the_session_and_its_successor_dies_with_it() {
    let app = spawn_app().await;
    let login = app.login(ALICE).await;
    let next = app.refresh(&login.cookie).await;
    app.advance(11);
    let body = app
        .refresh_fails(&login.cookie, ErrorCode::RefreshReused)
        .await;
    assert_eq!(body.reason, Some(EndReason::ReuseDetected));
    let body = app
        .refresh_fails(&next.cookie, ErrorCode::SessionRevoked)
        .await;
    assert_eq!(body.reason, Some(EndReason::ReuseDetected));
    assert!(
        app.audit_events()
            .await
            .contains(&"refresh_reuse_detected".to_owned())
    );
}

#[tokio::test]
async fn fifty_concurrent_refreshes_of_one_token_yield_exactly_one_successor() {
    let app = spawn_app().await;
    let login = app.login(ALICE).await;
    let attempts = (0..50).map(|_| app.post_refresh(&login.cookie));
    let responses = futures::future::join_all(attempts).await;
    let mut cookies = std::collections::HashSet::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        cookies.insert(set_cookie(&response).map(|c| cookie_value(&c)).unwrap());
    }
    assert_eq!(cookies.len(), 1, "several successors: {cookies:?}");
    let successor = cookies.into_iter().next().unwrap();
    app.refresh(&successor).await;
}

#[tokio::test]
async fn an_idle_session_expires_and_says_why() {
    let app = spawn_app().await;
    let login = app.login(BOB).await;
    app.advance(29 * 60);
    let next = app.refresh(&login.cookie).await;
    app.advance(29 * 60);
    let next = app.refresh(&next.cookie).await;
    app.advance(30 * 60 + 1);
    let body = app
        .refresh_fails(&next.cookie, ErrorCode::RefreshExpired)
        .await;
    assert_eq!(body.reason, Some(EndReason::IdleTimeout));
    // Once ended, it stays ended.
    let body = app
        .refresh_fails(&next.cookie, ErrorCode::SessionRevoked)
        .await;
    assert_eq!(body.reason, Some(EndReason::IdleTimeout));
}

#[tokio::test]
async fn only_a_refresh_that_reports_activity_slides_the_idle_end() {
    let app = spawn_app().await;
    let login = app.login(BOB).await;
    let idle_end = login.tokens.session.idle_expires_at;
    // An unattended page refreshes on schedule: fresh tokens, the same idle end.
    app.advance(14 * 60);
    let next = app.refresh_idle(&login.cookie).await;
    assert_eq!(next.tokens.session.idle_expires_at, idle_end);
    app.advance(14 * 60);
    let next = app.refresh_idle(&next.cookie).await;
    assert_eq!(next.tokens.session.idle_expires_at, idle_end);
    // The token ends with the idle session, not a token lifetime later.
    assert_eq!(next.tokens.expires_at, idle_end);
    app.advance(2 * 60);
    let body = app
        .refresh_fails(&next.cookie, ErrorCode::RefreshExpired)
        .await;
    assert_eq!(body.reason, Some(EndReason::IdleTimeout));

    // The same schedule with a user at work keeps the session.
    let login = app.login(BOB).await;
    app.advance(14 * 60);
    let next = app.refresh(&login.cookie).await;
    assert_eq!(
        next.tokens.session.idle_expires_at,
        app.clock_now() + 30 * 60
    );
    app.advance(17 * 60);
    app.refresh(&next.cookie).await;
}

#[tokio::test]
async fn a_malformed_refresh_body_is_a_clear_400() {
    let app = spawn_app().await;
    let login = app.login(BOB).await;
    let response = app
        .http
        .post(format!("{}/api/auth/refresh", app.url))
        .header(header::COOKIE, format!("refresh_token={}", login.cookie))
        .header("X-Requested-With", "fetch")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::BAD_REQUEST, ErrorCode::BadRequest)
    );
    // Nothing rotated: the cookie still works.
    app.refresh(&login.cookie).await;
}

#[tokio::test]
async fn the_session_hint_cookie_lives_and_dies_with_the_refresh_cookie() {
    let app = spawn_app().await;
    let response = app.post_login(ALICE, true).await;
    let hints: Vec<_> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.starts_with("has_session="))
        .map(str::to_owned)
        .collect();
    assert_eq!(hints.len(), 1, "{hints:?}");
    let hint = &hints[0];
    assert!(hint.starts_with("has_session=1;"), "{hint}");
    assert!(!hint.contains("HttpOnly"), "scripts read it: {hint}");
    assert!(
        hint.contains("Path=/") && !hint.contains("Path=/api"),
        "{hint}"
    );
    assert!(
        hint.contains("Max-Age="),
        "a remembered session keeps its hint: {hint}"
    );
    let login = Login {
        set_cookie: set_cookie(&response).unwrap(),
        cookie: cookie_value(&set_cookie(&response).unwrap()),
        tokens: response.json().await.unwrap(),
    };
    let response = app.logout(&login).await;
    let cleared = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with("has_session=;") && v.contains("Max-Age=0"));
    assert!(cleared, "logout clears the hint");
}

#[tokio::test]
async fn activity_does_not_stretch_a_session_past_its_absolute_end() {
    let app = spawn_app_with(|c| c.absolute_ttl_short = std::time::Duration::from_secs(3600)).await;
    let mut login = app.login(BOB).await;
    for _ in 0..3 {
        app.advance(19 * 60);
        login = app.refresh(&login.cookie).await;
        assert!(login.tokens.session.idle_expires_at <= login.tokens.session.absolute_expires_at);
        assert!(login.tokens.expires_at <= login.tokens.session.absolute_expires_at);
    }
    // At 57 minutes the idle end (30 min ahead) is capped at the absolute end.
    assert_eq!(
        login.tokens.session.idle_expires_at,
        login.tokens.session.absolute_expires_at
    );
    app.advance(3 * 60);
    let body = app
        .refresh_fails(&login.cookie, ErrorCode::RefreshExpired)
        .await;
    assert_eq!(body.reason, Some(EndReason::AbsoluteTimeout));
}

#[tokio::test]
async fn logout_makes_the_cookie_and_the_access_token_useless_at_once() {
    let app = spawn_app().await;
    let login = app.login(ALICE).await;
    let response = app.logout(&login).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookie(&response).expect("the cookie is cleared");
    assert!(
        cleared.contains("Max-Age=0") || cleared.contains("Expires="),
        "{cleared}"
    );
    let body = app
        .refresh_fails(&login.cookie, ErrorCode::SessionRevoked)
        .await;
    assert_eq!(body.reason, Some(EndReason::LoggedOut));
    let (status, body) = error_of(app.get("/api/me", &login.tokens.access_token).await).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenRevoked)
    );
    assert!(app.audit_events().await.contains(&"logout".to_owned()));
}

#[tokio::test]
async fn a_refresh_from_another_user_agent_is_logged_or_revoked_by_policy() {
    let app = spawn_app().await;
    let login = app.login(BOB).await;
    let other = reqwest::Client::builder()
        .user_agent("thief/0.1")
        .build()
        .unwrap();
    let refresh = |client: &reqwest::Client, cookie: &str| {
        client
            .post(format!("{}/api/auth/refresh", app.url))
            .header(header::COOKIE, format!("refresh_token={cookie}"))
            .header("X-Requested-With", "fetch")
            .send()
    };
    assert_eq!(
        refresh(&other, &login.cookie).await.unwrap().status(),
        StatusCode::OK
    );
    assert!(
        app.audit_events()
            .await
            .contains(&"session_user_agent_changed".to_owned())
    );

    let strict = spawn_app_with(|c| c.ua_policy = server::config::BindingPolicy::Revoke).await;
    let login = strict.login(BOB).await;
    let response = other
        .post(format!("{}/api/auth/refresh", strict.url))
        .header(header::COOKIE, format!("refresh_token={}", login.cookie))
        .header("X-Requested-With", "fetch")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::SessionRevoked)
    );
    assert_eq!(body.reason, Some(EndReason::WrongDevice));
    strict
        .refresh_fails(&login.cookie, ErrorCode::SessionRevoked)
        .await;
}

/// On PostgreSQL every rotation of an instance goes through one writer, a batch at a
/// time: a transaction left open on a session's token (a stuck instance, a console)
/// must fail that session's refresh after the writer's lock timeout, not stall every
/// refresh behind it, nor fail the others written in the same batch. (SQLite has one
/// writer anyway: a foreign lock stops all writes.)
#[tokio::test]
async fn a_token_locked_by_a_stuck_transaction_does_not_stall_other_refreshes() {
    use sqlx::{Connection, Executor};
    let app = spawn_app().await;
    if !app.database_url.starts_with("postgres") {
        return;
    }
    // Two of Alice's sessions will be locked; Bob's is not.
    let (first, second) = (app.login(ALICE).await, app.login(ALICE).await);
    let bob = app.login(BOB).await;
    let mut console = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    console.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT 1 FROM refresh_tokens WHERE session_id IN ($1, $2) FOR UPDATE")
        .bind(&first.tokens.session.id)
        .bind(&second.tokens.session.id)
        .execute(&mut console)
        .await
        .unwrap();

    let stuck = app.post_refresh(&first.cookie);
    let queued = async {
        // While the first waits for its lock, these two queue behind it: they are
        // written together next, and the batch meets the second lock.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        tokio::join!(
            app.post_refresh(&second.cookie),
            app.post_refresh(&bob.cookie)
        )
    };
    let all = async { tokio::join!(stuck, queued) };
    let (stuck, (also_stuck, other)) =
        tokio::time::timeout(std::time::Duration::from_secs(30), all)
            .await
            .expect("refreshes stalled behind a lock held by another transaction");
    // All three answered while the locks are still held.
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "Bob's session is not locked"
    );
    for locked in [stuck, also_stuck] {
        let (status, body) = error_of(locked).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body.error, ErrorCode::Internal);
    }

    console.execute("ROLLBACK").await.unwrap();
    // Their tokens were left unused: the clients' retries rotate them.
    app.refresh(&first.cookie).await;
    app.refresh(&second.cookie).await;
}
