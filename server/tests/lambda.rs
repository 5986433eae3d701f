//! The `lambda` binary under the real Lambda emulator (`cargo lambda watch`), driven
//! through its local function URL, on the machine's PostgreSQL and Redis.
//!
//! They need `cargo lambda` (pip `cargo-lambda`), PostgreSQL and Redis, so they are
//! `#[ignore]`d in a plain `cargo test`; `scripts/test.sh` runs them with
//! `TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test TEST_REDIS_URL=redis://127.0.0.1:6379
//! cargo test -p server --test lambda -- --ignored`, with `.tools/cargo-lambda/bin` on
//! `PATH`. The emulator builds the function itself (dev profile, feature `lambda`).

mod machine;

use std::{
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command},
    time::{Duration, Instant},
};

use reqwest::{StatusCode, header};
use wire::{ErrorBody, ErrorCode, REFRESH_COOKIE, TokenResponse};

use machine::{env_url, fresh_postgres, random, refresh_cookie, server_cli, set_cookie};

const PASSWORD: &str = "lambda-test-passphrase";

/// `cargo lambda watch` on one port, in a process group of its own (it runs the
/// function as a grandchild), with its output in a file.
struct Emulator {
    child: Child,
    base: String,
    log: PathBuf,
    env: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

impl Emulator {
    fn start(port: u16, env: Vec<(String, String)>) -> Self {
        let log = std::env::temp_dir().join(format!("lambda-test-{port}-{}.log", random(6)));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("cargo")
            .args(["lambda", "watch", "--features", "lambda", "--bin", "lambda"])
            .args([
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
            ])
            // The emulator would answer CORS itself; a function URL does only what it
            // is configured to, and ours allows no cross-origin calls.
            .args(["--disable-cors", "--ignore-changes", "--quiet"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "server=warn")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .expect("cargo lambda (pip install cargo-lambda; see this file's header)");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}/lambda-url/lambda"),
            log,
            env,
            http: reqwest::Client::builder()
                .user_agent("lambda-test/1.0")
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the function to answer (the emulator compiles it on first start).
    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(900);
        while Instant::now() < deadline {
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("the function never answered:\n{}", self.output());
    }

    /// The `server` CLI on the function's database: another instance of the engine.
    fn server(&self, args: &[&str], stdin: &str) {
        server_cli(&self.env, args, stdin);
    }

    async fn login(&self, origin: Option<&str>) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/api/auth/login", self.base))
            // What the platform saw is the client; a header the client wrote is not.
            .header("X-Forwarded-For", "203.0.113.9")
            .json(&serde_json::json!({"username": "bob", "password": PASSWORD}));
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        request.send().await.unwrap()
    }

    async fn signed_in(&self) -> (TokenResponse, String) {
        let response = self.login(None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = refresh_cookie(&response).expect("a refresh cookie");
        (response.json().await.unwrap(), cookie)
    }

    async fn refresh(&self, cookie: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/api/auth/refresh", self.base))
            .header(header::COOKIE, format!("{REFRESH_COOKIE}={cookie}"))
            .header("X-Requested-With", "fetch")
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

async fn error_code(response: reqwest::Response) -> (StatusCode, ErrorCode) {
    let status = response.status();
    assert!(!status.is_success(), "expected a refusal, got {status}");
    let body: ErrorBody = response.json().await.expect("an error body");
    (status, body.error)
}

#[tokio::test]
#[ignore = "needs cargo lambda, PostgreSQL and Redis: run by scripts/test.sh"]
async fn the_function_runs_the_session_engine_through_a_function_url() {
    let env = vec![
        ("DATABASE_URL".to_owned(), fresh_postgres("lambda").await),
        ("REDIS_URL".to_owned(), env_url("TEST_REDIS_URL")),
        ("REDIS_PREFIX".to_owned(), format!("lambda-{}:", random(10))),
        ("SECRET_KEY".to_owned(), server::refresh_token::generate()),
        // Short enough to see reuse after grace without a long wait.
        ("REFRESH_GRACE".to_owned(), "1s".to_owned()),
    ];
    let f = Emulator::start(9050, env);
    f.server(&["user", "add", "bob", "--password-stdin"], PASSWORD);
    f.ready().await;
    let own = "http://127.0.0.1:9050";

    // Sign-in: the cookie is locked down; a page of another site may not sign in.
    let response = f.login(Some(own)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let attributes = set_cookie(&response).unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/auth"] {
        assert!(attributes.contains(attribute), "{attributes}");
    }
    let (status, code) = error_code(f.login(Some("https://evil.example")).await).await;
    assert_eq!(
        (status, code),
        (StatusCode::FORBIDDEN, ErrorCode::Forbidden)
    );

    // Rotation, and the grace replay that returns the same successor.
    let (tokens, first) = f.signed_in().await;
    assert_eq!(
        f.get("/api/me", &tokens.access_token).await.status(),
        StatusCode::OK
    );
    let rotated = f.refresh(&first).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let second = refresh_cookie(&rotated).unwrap();
    assert_ne!(second, first);
    let replay = f.refresh(&first).await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(refresh_cookie(&replay).unwrap(), second, "same successor");

    // The session's address is the platform's source IP, not the spoofed header.
    let sessions: Vec<wire::SessionSummary> = f
        .get("/api/auth/sessions", &tokens.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(sessions.iter().all(|s| s.ip == "127.0.0.1"), "{sessions:?}");

    // Reuse after grace ends the session: its successor and access token die with it.
    // Time counts in whole seconds: 2.5 s is past a 1 s grace whatever the rounding.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (status, code) = error_code(f.refresh(&first).await).await;
    assert_eq!(
        (status, code),
        (StatusCode::UNAUTHORIZED, ErrorCode::RefreshReused)
    );
    assert_eq!(f.refresh(&second).await.status(), StatusCode::UNAUTHORIZED);
    let (status, code) = error_code(f.get("/api/me", &tokens.access_token).await).await;
    assert_eq!(
        (status, code),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenRevoked)
    );

    // Logout: 204, the cookie cleared, the refresh token dead.
    let (tokens, cookie) = f.signed_in().await;
    let logout = f
        .http
        .post(format!("{}/api/auth/logout", f.base))
        .header(header::COOKIE, format!("{REFRESH_COOKIE}={cookie}"))
        .header("X-Requested-With", "fetch")
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(refresh_cookie(&logout), None, "cleared");
    assert_eq!(f.refresh(&cookie).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        f.get("/api/me", &tokens.access_token).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Revoked by another instance (the CLI): no LISTEN in a function, yet refused
    // within the stated bound of one second.
    let (tokens, _) = f.signed_in().await;
    assert_eq!(
        f.get("/api/me", &tokens.access_token).await.status(),
        StatusCode::OK
    );
    f.server(&["user", "remove", "bob"], "");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (status, code) = error_code(f.get("/api/me", &tokens.access_token).await).await;
    assert_eq!(
        (status, code),
        (StatusCode::UNAUTHORIZED, ErrorCode::TokenRevoked)
    );
}

#[tokio::test]
#[ignore = "needs cargo lambda and Redis: run by scripts/test.sh"]
async fn a_function_on_sqlite_refuses_to_start_and_says_why() {
    let db = std::env::temp_dir().join(format!("lambda-{}.db", random(8)));
    let env = vec![
        (
            "DATABASE_URL".to_owned(),
            format!("sqlite://{}?mode=rwc", db.display()),
        ),
        ("REDIS_URL".to_owned(), env_url("TEST_REDIS_URL")),
    ];
    let f = Emulator::start(9051, env);
    let said = "DATABASE_URL is a SQLite database, which a function cannot use";
    let deadline = Instant::now() + Duration::from_secs(900);
    while !f.output().contains(said) {
        assert!(Instant::now() < deadline, "no message:\n{}", f.output());
        // An invocation makes the emulator start the function.
        let _ = f
            .http
            .get(format!("{}/healthz", f.base))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
    }
    assert!(!db.exists(), "nothing was created on the refused database");
}
