//! Metrics, readiness and logs, seen from outside: a real server, a real scrape of the
//! metrics listener, a captured JSON log. A test binary of its own because the metrics
//! recorder and the log subscriber are process-wide: here only these tests feed them.
//! `cargo test -p server --test observability`

#[path = "api/helpers.rs"]
mod helpers;

use std::{
    collections::BTreeMap,
    io::Write,
    sync::{Arc, Mutex, OnceLock},
};

use helpers::{ALICE, BOB, spawn_app_with};
use metrics_exporter_prometheus::PrometheusHandle;
use reqwest::StatusCode;
use server::logging::LogFormat;
use wire::ErrorCode;

fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| server::metrics::install().unwrap())
        .clone()
}

/// Every sample of a scrape: name, labels, value.
fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            (name.to_owned(), labels, value.parse().unwrap())
        })
        .collect()
}

/// The value of `name` with (at least) `labels`; 0 when the series does not exist.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = samples(text)
        .into_iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
    found.first().copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_logins_refreshes_grace_replays_reuse_401s_and_429s() {
    let handle = recorder();
    let app = spawn_app_with(|c| c.login_per_user_ip = 2).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(server::metrics::serve(app.state.clone(), handle, listener));

    let alice = app.login(ALICE).await;
    let wrong = app.post_login((ALICE.0, "not-the-password"), false).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let rotated = app.refresh(&alice.cookie).await;
    // The same old cookie again, within the grace period: the same successor.
    let replayed = app.refresh(&alice.cookie).await;
    assert_eq!(replayed.cookie, rotated.cookie);
    // And after it: reuse, the session ends.
    app.advance(app.state.config.refresh_grace.as_secs() + 1);
    app.refresh_fails(&alice.cookie, ErrorCode::RefreshReused)
        .await;
    // Bob's third sign-in within the minute from one address is over the limit.
    app.login(BOB).await;
    app.login(BOB).await;
    assert_eq!(
        app.post_login(BOB, false).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    let response = reqwest::get(&metrics_url).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let v = |name: &str, labels: &[(&str, &str)]| value(&text, name, labels);
    use server::metrics::*;
    assert_eq!(v(LOGINS, &[("outcome", "success")]), 3.0, "{text}");
    assert_eq!(v(LOGINS, &[("outcome", "failure")]), 1.0);
    assert_eq!(v(LOGINS, &[("outcome", "rate_limited")]), 1.0);
    assert_eq!(v(REFRESHES, &[]), 1.0);
    assert_eq!(v(GRACE_REPLAYS, &[]), 1.0);
    assert_eq!(v(REUSE_DETECTIONS, &[]), 1.0);
    assert_eq!(v(SESSIONS_ENDED, &[("reason", "reuse_detected")]), 1.0);
    assert_eq!(v(UNAUTHORIZED, &[("code", "invalid_credentials")]), 1.0);
    assert_eq!(v(UNAUTHORIZED, &[("code", "refresh_reused")]), 1.0);
    assert_eq!(v(RATE_LIMITED, &[("limit", "login_per_user_ip")]), 1.0);
    // Alice's session was ended by the reuse; Bob has two.
    assert_eq!(v(LIVE_SESSIONS, &[]), 2.0);
    // Latency by matched route: the refresh route saw two successes and one 401.
    let count = format!("{REQUEST_DURATION}_count");
    let refresh = [("route", "/api/auth/refresh"), ("method", "POST")];
    assert_eq!(v(&count, &[refresh[0], refresh[1], ("status", "2xx")]), 2.0);
    assert_eq!(v(&count, &[refresh[0], refresh[1], ("status", "4xx")]), 1.0);
    assert!(text.contains(&format!("{REQUEST_DURATION}_bucket")));

    // The public listener has no /metrics.
    let public = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_ne!(public.status(), StatusCode::OK);
}

/// What the server logs, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn json_logs() -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        server::logging::init_with(LogFormat::Json, logs.clone());
        logs
    })
    .clone()
}

#[tokio::test]
async fn readyz_fails_while_the_database_is_unreachable_and_its_log_line_names_the_request() {
    let logs = json_logs();
    let app = spawn_app_with(|_| {}).await;
    let get = |path: &str, id: Option<&str>| {
        let mut request = app.http.get(format!("{}{path}", app.url));
        if let Some(id) = id {
            request = request.header("X-Request-Id", id);
        }
        request.send()
    };

    let ready = get("/readyz", None).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    // A request id is made up when none came, and sent back.
    assert_eq!(ready.headers()["x-request-id"].len(), 36);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"ready": true, "checks": {"database": "ok", "keys": "ok"}})
    );

    app.state.store.close().await;
    let not_ready = get("/readyz", Some("ready-check-42")).await.unwrap();
    assert_eq!(not_ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    // One a proxy in front sent is kept.
    assert_eq!(not_ready.headers()["x-request-id"], "ready-check-42");
    let body: serde_json::Value = not_ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "failing");
    assert_eq!(body["ready"], false);
    // Alive all the same: a database outage must not restart the instance.
    assert_eq!(
        get("/healthz", None).await.unwrap().status(),
        StatusCode::OK
    );

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON object a line"))
        .find(|l| l["span"]["request_id"] == "ready-check-42")
        .unwrap_or_else(|| panic!("no log line of the request in:\n{text}"));
    assert_eq!(line["level"], "WARN");
    assert!(
        line["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("database")
    );
}
