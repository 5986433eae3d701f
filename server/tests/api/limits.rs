//! Limits that stop guessing and bound the server's work without locking owners out,
//! and an audit log that a flood of refusals cannot fill.

use std::net::IpAddr;

use reqwest::{StatusCode, header};
use wire::ErrorCode;

use crate::helpers::*;

/// A client on its own loopback address (Linux answers on all of 127.0.0.0/8), with
/// its own cookie jar: another browser on another machine.
fn browser(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .cookie_store(true)
        .user_agent(UA)
        .build()
        .unwrap()
}

async fn sign_in(app: &TestApp, client: &reqwest::Client, user: (&str, &str)) -> StatusCode {
    client
        .post(format!("{}/api/auth/login", app.url))
        .json(&serde_json::json!({"username": user.0, "password": user.1}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn one_address_guessing_one_account_is_stopped_and_others_are_not() {
    let app = spawn_app_with(|c| c.login_per_user_ip = 3).await;
    let attacker = browser("127.0.0.3");
    for _ in 0..3 {
        assert_eq!(
            sign_in(&app, &attacker, ("bob", "guess-guess-guess")).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        sign_in(&app, &attacker, ("bob", "guess-guess-guess")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Bob from his own address is fine.
    assert_eq!(
        sign_in(&app, &browser("127.0.0.4"), BOB).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn spraying_many_usernames_from_one_address_is_stopped_per_address() {
    let app = spawn_app_with(|c| c.login_per_ip = 5).await;
    let attacker = browser("127.0.0.5");
    for i in 0..5 {
        let name = format!("user{i}");
        let status = sign_in(&app, &attacker, (&name, "guess-guess-guess")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        sign_in(&app, &attacker, ("user9", "guess-guess-guess")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_spoofed_forwarded_for_does_not_buy_a_new_per_ip_budget() {
    // Behind one proxy (the peer), the client may prepend anything it likes.
    let app = spawn_app_with(|c| {
        c.login_per_ip = 3;
        c.proxy_hops = 1;
    })
    .await;
    let mut refused = 0;
    for i in 0..10 {
        let status = app
            .http
            .post(format!("{}/api/auth/login", app.url))
            .header("X-Forwarded-For", format!("10.9.8.{i}, 198.51.100.7"))
            .json(
                &serde_json::json!({"username": format!("u{i}"), "password": "guess-guess-guess"}),
            )
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert_eq!(refused, 7);
}

#[tokio::test]
async fn an_account_under_attack_stays_open_to_its_owners_browser() {
    let app = spawn_app_with(|c| c.login_per_user = 3).await;
    // Bob signed in on his laptop before: it carries a device cookie.
    let laptop = browser("127.0.0.6");
    assert_eq!(sign_in(&app, &laptop, BOB).await, StatusCode::OK);
    // Attackers from many addresses spend bob's budget for unknown browsers.
    for i in 0..6 {
        let status = sign_in(
            &app,
            &browser(&format!("127.0.1.{i}")),
            ("bob", "guess-guess-guess"),
        )
        .await;
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].contains(&status),
            "{status}"
        );
    }
    assert_eq!(
        sign_in(&app, &browser("127.0.2.1"), BOB).await,
        StatusCode::TOO_MANY_REQUESTS,
        "a browser bob never used waits"
    );
    // His laptop still signs in: it has its own bucket.
    assert_eq!(sign_in(&app, &laptop, BOB).await, StatusCode::OK);
    // The device cookie proves nothing for another account.
    assert_eq!(
        sign_in(&app, &laptop, ("alice", "guess-guess-guess")).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_per_account_budget_counts_failures_not_successes() {
    let app = spawn_app_with(|c| c.login_per_user = 2).await;
    for i in 0..6 {
        // A new browser each time: no device cookie helps.
        let status = sign_in(&app, &browser(&format!("127.0.3.{i}")), BOB).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn password_changes_are_limited_per_user() {
    let app = spawn_app_with(|c| c.password_changes_per_user = 2).await;
    let login = app.login(BOB).await;
    let attempt = || {
        app.http
            .post(format!("{}/api/auth/password", app.url))
            .bearer_auth(&login.tokens.access_token)
            .json(&serde_json::json!({"current_password": "guess-guess-guess", "new_password": NEW_PASSWORD}))
            .send()
    };
    for _ in 0..2 {
        assert_eq!(attempt().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let response = attempt().await.unwrap();
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited)
    );
}

#[tokio::test]
async fn a_flood_of_refusals_writes_one_audit_row_and_a_summary() {
    let app = spawn_app_with(|c| c.login_per_ip = 1).await;
    app.post_login(("bob", "guess-guess-guess"), false).await;
    for _ in 0..50 {
        assert_eq!(
            app.post_login(("bob", "guess-guess-guess"), false)
                .await
                .status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    let count = |events: &[String], name: &str| events.iter().filter(|e| *e == name).count();
    let events = app.audit_events().await;
    assert_eq!(count(&events, "rate_limited"), 1, "{events:?}");
    // When the minute is over, the rest are one summary with their count.
    app.advance(61);
    app.state.prune().await.unwrap();
    let rows = app.state.audit_log(100).await.unwrap();
    let summary = rows
        .iter()
        .find(|e| e.event == "rate_limited_repeatedly")
        .expect("a summary");
    assert_eq!(
        summary.detail.as_deref(),
        Some("login_per_ip refused 49 more times")
    );
}

#[tokio::test]
async fn audit_events_are_kept_for_the_retention_period_only() {
    let app = spawn_app().await;
    app.login(BOB).await;
    assert!(!app.audit_events().await.is_empty());
    app.advance(89 * 24 * 3600);
    app.state.prune().await.unwrap();
    assert!(!app.audit_events().await.is_empty(), "kept for 90 days");
    app.advance(2 * 24 * 3600);
    app.state.prune().await.unwrap();
    assert!(app.audit_events().await.is_empty());
}
