//! Body mode for first-party native apps: the refresh token in the JSON body, never a
//! cookie, with the browser's rotation, grace, reuse detection and limits; and each kind
//! of token refused on the other's path.

use reqwest::{Response, StatusCode, header};
use wire::{EndReason, ErrorCode, NativeTokenResponse, REFRESH_COOKIE};

use crate::helpers::*;

impl TestApp {
    async fn post_native_login(&self, user: (&str, &str)) -> Response {
        self.http
            .post(format!("{}/api/auth/login", self.url))
            .json(&serde_json::json!({"username": user.0, "password": user.1, "client": "native"}))
            .send()
            .await
            .unwrap()
    }

    async fn native_login(&self, user: (&str, &str)) -> NativeTokenResponse {
        let response = self.post_native_login(user).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// `POST /api/auth/refresh` with the token in the body, and no CSRF header: none is
    /// needed without a cookie.
    async fn post_body_refresh(&self, token: &str) -> Response {
        self.http
            .post(format!("{}/api/auth/refresh", self.url))
            .json(&serde_json::json!({"refresh_token": token}))
            .send()
            .await
            .unwrap()
    }

    async fn body_refresh(&self, token: &str) -> NativeTokenResponse {
        let response = self.post_body_refresh(token).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            set_cookies(&response).is_empty(),
            "body mode sets no cookie"
        );
        response.json().await.unwrap()
    }

    async fn body_refresh_fails(&self, token: &str, code: ErrorCode) -> wire::ErrorBody {
        let (status, body) = error_of(self.post_body_refresh(token).await).await;
        assert_eq!(
            (status, body.error),
            (StatusCode::UNAUTHORIZED, code),
            "{body:?}"
        );
        body
    }
}

fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_native_login_gets_the_refresh_token_in_the_body_and_no_cookie() {
    let app = spawn_app().await;
    let response = app.post_native_login(BOB).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        set_cookies(&response).is_empty(),
        "{:?}",
        set_cookies(&response)
    );
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let login: NativeTokenResponse = response.json().await.unwrap();
    assert!(server::refresh_token::looks_valid(&login.refresh_token));
    assert_eq!(
        login.refresh_expires_at,
        login.tokens.session.idle_expires_at
    );
    assert_eq!(login.tokens.user.username, "bob");
    let me = app.get("/api/me", &login.tokens.access_token).await;
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_body_refresh_rotates_and_slides_the_idle_end() {
    let app = spawn_app().await;
    let login = app.native_login(BOB).await;
    app.advance(60);
    let next = app.body_refresh(&login.refresh_token).await;
    assert_ne!(next.refresh_token, login.refresh_token);
    assert_ne!(next.tokens.access_token, login.tokens.access_token);
    assert_eq!(next.tokens.session.id, login.tokens.session.id);
    assert_eq!(next.refresh_expires_at, login.refresh_expires_at + 60);
    app.body_refresh(&next.refresh_token).await;
}

#[tokio::test]
async fn body_mode_has_the_grace_period_and_reuse_detection() {
    let app = spawn_app().await;
    let login = app.native_login(BOB).await;
    let first = app.body_refresh(&login.refresh_token).await;
    app.advance(9);
    let again = app.body_refresh(&login.refresh_token).await;
    assert_eq!(
        again.refresh_token, first.refresh_token,
        "same successor within grace"
    );
    app.advance(2);
    let body = app
        .body_refresh_fails(&login.refresh_token, ErrorCode::RefreshReused)
        .await;
    assert_eq!(body.reason, Some(EndReason::ReuseDetected));
    let body = app
        .body_refresh_fails(&first.refresh_token, ErrorCode::SessionRevoked)
        .await;
    assert_eq!(body.reason, Some(EndReason::ReuseDetected));
    assert!(
        app.audit_events()
            .await
            .contains(&"refresh_reuse_detected".to_owned())
    );
}

#[tokio::test]
async fn body_mode_refreshes_count_against_the_same_limits() {
    let app = spawn_app_with(|c| c.refresh_per_session = 2).await;
    let mut login = app.native_login(BOB).await;
    for _ in 0..2 {
        login = app.body_refresh(&login.refresh_token).await;
    }
    let response = app.post_body_refresh(&login.refresh_token).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn a_body_logout_ends_the_native_session() {
    let app = spawn_app().await;
    let login = app.native_login(BOB).await;
    let response = app
        .http
        .post(format!("{}/api/auth/logout", app.url))
        .bearer_auth(&login.tokens.access_token)
        .json(&serde_json::json!({"refresh_token": login.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(set_cookies(&response).is_empty());
    let body = app
        .body_refresh_fails(&login.refresh_token, ErrorCode::SessionRevoked)
        .await;
    assert_eq!(body.reason, Some(EndReason::LoggedOut));
    let (status, body) = error_of(app.get("/api/me", &login.tokens.access_token).await).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenRevoked)
    );
}

#[tokio::test]
async fn a_cookie_token_in_a_body_or_a_native_token_in_a_cookie_is_refresh_invalid() {
    let app = spawn_app().await;
    let browser = app.login(ALICE).await;
    let native = app.native_login(BOB).await;

    app.body_refresh_fails(&browser.cookie, ErrorCode::RefreshInvalid)
        .await;
    app.refresh_fails(&native.refresh_token, ErrorCode::RefreshInvalid)
        .await;
    let status = app
        .http
        .get(format!("{}/api/auth/session", app.url))
        .header(
            header::COOKIE,
            format!("{REFRESH_COOKIE}={}", native.refresh_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(status).await.1.error, ErrorCode::RefreshInvalid);

    // A logout with the wrong kind of token ends nothing.
    for request in [
        app.http
            .post(format!("{}/api/auth/logout", app.url))
            .json(&serde_json::json!({"refresh_token": browser.cookie})),
        app.http
            .post(format!("{}/api/auth/logout", app.url))
            .header(
                header::COOKIE,
                format!("{REFRESH_COOKIE}={}", native.refresh_token),
            )
            .header("X-Requested-With", "fetch"),
    ] {
        assert_eq!(
            request.send().await.unwrap().status(),
            StatusCode::NO_CONTENT
        );
    }

    // Refused, not revoked: each still works on its own path.
    app.refresh(&browser.cookie).await;
    app.body_refresh(&native.refresh_token).await;
}
