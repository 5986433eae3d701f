//! A page on a sibling subdomain (same site, so `SameSite=Strict` lets the cookie
//! through) cannot refresh, sign out or sign in through the user's browser.

use reqwest::{RequestBuilder, StatusCode, header};
use wire::{ErrorCode, REFRESH_COOKIE};

use crate::helpers::*;

const EVIL: &str = "https://evil.example.com";

fn from(request: RequestBuilder, origin: Option<&str>, xrw: bool) -> RequestBuilder {
    let request = match origin {
        Some(origin) => request.header(header::ORIGIN, origin),
        None => request,
    };
    if xrw {
        request.header("X-Requested-With", "fetch")
    } else {
        request
    }
}

#[tokio::test]
async fn logout_with_the_cookie_needs_our_origin_and_the_header() {
    let app = spawn_app().await;
    let login = app.login(BOB).await;
    let logout = |origin: Option<&str>, xrw: bool| {
        let request = app
            .http
            .post(format!("{}/api/auth/logout", app.url))
            .header(header::COOKIE, format!("{REFRESH_COOKIE}={}", login.cookie));
        from(request, origin, xrw).send()
    };
    // What a form on a sibling subdomain can send: no custom header.
    let (status, body) = error_of(logout(Some(EVIL), false).await.unwrap()).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::BAD_REQUEST, ErrorCode::BadRequest)
    );
    // A script there that somehow adds it is still from the wrong origin.
    let (status, body) = error_of(logout(Some(EVIL), true).await.unwrap()).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::FORBIDDEN, ErrorCode::Forbidden)
    );
    // The session survived both.
    let next = app.refresh(&login.cookie).await;
    // Our own page signs out.
    let ours = app.url.clone();
    let response = app
        .http
        .post(format!("{}/api/auth/logout", app.url))
        .header(header::COOKIE, format!("{REFRESH_COOKIE}={}", next.cookie))
        .header(header::ORIGIN, ours)
        .header("X-Requested-With", "fetch")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn refresh_from_a_foreign_origin_is_refused_and_rotates_nothing() {
    let app = spawn_app().await;
    let login = app.login(BOB).await;
    let response = app
        .http
        .post(format!("{}/api/auth/refresh", app.url))
        .header(header::COOKIE, format!("{REFRESH_COOKIE}={}", login.cookie))
        .header(header::ORIGIN, EVIL)
        .header("X-Requested-With", "fetch")
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::FORBIDDEN, ErrorCode::Forbidden)
    );
    app.refresh(&login.cookie).await;
}

#[tokio::test]
async fn sign_in_from_a_foreign_origin_is_refused_and_allowed_origins_are_honoured() {
    let app = spawn_app_with(|c| c.allowed_origins = vec!["https://site.netlify.app".into()]).await;
    let sign_in = |origin: &str| {
        app.http
            .post(format!("{}/api/auth/login", app.url))
            .header(header::ORIGIN, origin)
            .json(&serde_json::json!({"username": BOB.0, "password": BOB.1}))
            .send()
    };
    let (status, body) = error_of(sign_in(EVIL).await.unwrap()).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::FORBIDDEN, ErrorCode::Forbidden)
    );
    assert_eq!(
        sign_in("https://site.netlify.app").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(sign_in(&app.url).await.unwrap().status(), StatusCode::OK);
}
