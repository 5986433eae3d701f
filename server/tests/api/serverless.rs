//! The engine as a function (`server::serverless`): no cluster listener and no timers,
//! so the mirrored state is caught up on requests instead.

use std::net::SocketAddr;

use reqwest::StatusCode;
use wire::ErrorCode;

use crate::helpers::*;

/// A second instance on the app's database, served as the `lambda` binary serves it.
async fn function_instance(app: &TestApp) -> String {
    let router = server::serverless::function_app(app.restart().await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    url
}

#[tokio::test]
async fn a_function_refuses_a_session_ended_elsewhere_within_a_second() {
    let app = spawn_app().await;
    let function = function_instance(&app).await;
    let signed_in = app.login(BOB).await;
    let me = || {
        app.http
            .get(format!("{function}/api/me"))
            .bearer_auth(&signed_in.tokens.access_token)
            .send()
    };
    assert_eq!(me().await.unwrap().status(), StatusCode::OK);

    // Ended on the other instance, whose announcement reaches no function.
    let response = app
        .http
        .post(format!("{}/api/auth/logout-all", app.url))
        .bearer_auth(&signed_in.tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    app.advance(1);
    let (status, body) = error_of(me().await.unwrap()).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenRevoked)
    );
}

#[tokio::test]
async fn a_function_prunes_expired_sessions_on_a_request_a_minute_on() {
    let app = spawn_app().await;
    let function = function_instance(&app).await;
    let stale = app.login(BOB).await;
    // Idle past its end, and a day on (ended sessions are kept a day for the audit).
    app.advance(30 * 60 + 24 * 3600 + 1);
    let health = app.http.get(format!("{function}/healthz")).send().await;
    assert_eq!(health.unwrap().status(), StatusCode::OK);
    // Deleted, not merely expired: the function's request pruned it.
    app.refresh_fails(&stale.cookie, ErrorCode::RefreshInvalid)
        .await;
}

#[tokio::test]
async fn a_function_that_cannot_catch_up_answers_503_not_from_stale_state() {
    let app = spawn_app().await;
    let function = function_instance(&app).await;
    let signed_in = app.login(BOB).await;
    // The table the reload reads is gone: the database is there, the state is not.
    let db = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    sqlx::query("ALTER TABLE revocations RENAME TO revocations_elsewhere")
        .execute(&db)
        .await
        .unwrap();
    app.advance(1);
    let response = app
        .http
        .get(format!("{function}/api/me"))
        .bearer_auth(&signed_in.tokens.access_token)
        .send()
        .await
        .unwrap();
    // Like every answer: never cached, with the request id and the security headers.
    let headers = response.headers().clone();
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers.contains_key("x-request-id"), "{headers:?}");
    assert!(
        headers.contains_key("content-security-policy"),
        "{headers:?}"
    );
    let (status, body) = error_of(response).await;
    assert_eq!(
        (status, body.error),
        (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
    );
}
