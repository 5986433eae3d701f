//! A real server on a random port, a fresh SQLite file per test, and a clock the test
//! moves. Set `TEST_LOG=1` to see the server's logs.

#![allow(dead_code)]

use std::{sync::Arc, time::Duration};

use reqwest::{Response, StatusCode, header};
use server::{AppState, Engine, clock::ManualClock, config::Config, secrets::Kek, store::Store};
use wire::{ErrorBody, ErrorCode, REFRESH_COOKIE, TokenResponse};

pub const ALICE: (&str, &str) = ("alice", "alice-password");
pub const BOB: (&str, &str) = ("bob", "bob-passphrase");
pub const UA: &str = "integration-test/1.0";
/// A password that passes the strength rules, for changes.
pub const NEW_PASSWORD: &str = "plum-ferry-cactus-violet";

pub struct TestApp {
    pub url: String,
    pub clock: ManualClock,
    pub state: AppState,
    pub http: reqwest::Client,
    /// The database and key, so a test can start a second engine on them.
    pub database_url: String,
    pub kek_material: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("server=debug")
            .try_init();
    }
    let database_url = fresh_database().await;
    let mut config = Config::defaults();
    config.addr = "127.0.0.1:0".parse().unwrap();
    config.static_dir = std::env::temp_dir().join("jwt-refresh-no-spa");
    adjust(&mut config);
    let clock = ManualClock::new();
    let store = Store::connect(&database_url).await.expect("database");
    let kek_material = server::refresh_token::generate();
    let kek = Kek::from_material(kek_material.as_bytes()).unwrap();
    let state: AppState = Arc::new(
        Engine::new(config, store, kek, Arc::new(clock.clone()))
            .await
            .expect("engine"),
    );
    state
        .create_user(ALICE.0, ALICE.1, &["admin".into()])
        .await
        .unwrap();
    state
        .create_user(BOB.0, BOB.1, &["user".into()])
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::serve(state.clone(), listener));
    let http = reqwest::Client::builder().user_agent(UA).build().unwrap();
    TestApp {
        url,
        clock,
        state,
        http,
        database_url,
        kek_material,
    }
}

/// A new, empty database: a SQLite file by default; with `TEST_POSTGRES_URL` set
/// (say `postgres://postgres@127.0.0.1:5432/test`), a new database on that server, so
/// the same suite checks both stores.
pub async fn fresh_database() -> String {
    let name = format!(
        "jwt_refresh_{}",
        server::refresh_token::generate()[..16]
            .to_lowercase()
            .replace('-', "_")
    );
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(admin) => {
            use sqlx::{Connection, Executor};
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("PostgreSQL");
            conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
                .await
                .unwrap();
            let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
            format!("{base}/{name}")
        }
        Err(_) => {
            let file = std::env::temp_dir().join(format!("{name}.db"));
            format!("sqlite://{}?mode=rwc", file.display())
        }
    }
}

/// A signed-in client: the access token and the refresh cookie's value.
#[derive(Clone, Debug)]
pub struct Login {
    pub tokens: TokenResponse,
    pub cookie: String,
    pub set_cookie: String,
}

/// The `refresh_token` Set-Cookie header of a response, whole.
pub fn set_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{REFRESH_COOKIE}=")))
        .map(str::to_owned)
}

pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap()
}

pub async fn error_of(response: Response) -> (StatusCode, ErrorBody) {
    let status = response.status();
    (status, response.json().await.expect("an error body"))
}

impl TestApp {
    /// A second engine on the same database and key (a restart, or another instance).
    pub async fn restart(&self) -> AppState {
        let store = Store::connect(&self.database_url).await.unwrap();
        let kek = Kek::from_material(self.kek_material.as_bytes()).unwrap();
        Arc::new(
            Engine::new(
                self.state.config.clone(),
                store,
                kek,
                Arc::new(self.clock.clone()),
            )
            .await
            .unwrap(),
        )
    }

    /// `GET /api/me` with `token` answers 200.
    pub async fn me_ok(&self, token: &str) {
        assert_eq!(self.get("/api/me", token).await.status(), StatusCode::OK);
    }

    /// `GET /api/me` with `token` answers 401 `code`.
    pub async fn me_fails(&self, token: &str, code: ErrorCode) {
        let (status, body) = error_of(self.get("/api/me", token).await).await;
        assert_eq!(
            (status, body.error),
            (StatusCode::UNAUTHORIZED, code),
            "{body:?}"
        );
    }

    pub fn clock_now(&self) -> i64 {
        use server::clock::Clock;
        self.clock.now()
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    pub async fn post_login(&self, user: (&str, &str), remember_me: bool) -> Response {
        self.http
            .post(format!("{}/api/auth/login", self.url))
            .json(&serde_json::json!({"username": user.0, "password": user.1, "remember_me": remember_me}))
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, user: (&str, &str)) -> Login {
        self.login_with(user, false).await
    }

    pub async fn login_with(&self, user: (&str, &str), remember_me: bool) -> Login {
        let response = self.post_login(user, remember_me).await;
        assert_eq!(response.status(), StatusCode::OK);
        let set_cookie = set_cookie(&response).expect("a refresh cookie");
        Login {
            cookie: cookie_value(&set_cookie),
            set_cookie,
            tokens: response.json().await.unwrap(),
        }
    }

    pub async fn post_refresh(&self, cookie: &str) -> Response {
        self.http
            .post(format!("{}/api/auth/refresh", self.url))
            .header(header::COOKIE, format!("{REFRESH_COOKIE}={cookie}"))
            .header("X-Requested-With", "fetch")
            .send()
            .await
            .unwrap()
    }

    /// A scheduled refresh of an unattended page: `{"active": false}`.
    pub async fn post_refresh_idle(&self, cookie: &str) -> Response {
        self.http
            .post(format!("{}/api/auth/refresh", self.url))
            .header(header::COOKIE, format!("{REFRESH_COOKIE}={cookie}"))
            .header("X-Requested-With", "fetch")
            .json(&serde_json::json!({"active": false}))
            .send()
            .await
            .unwrap()
    }

    /// Refreshes and expects success.
    pub async fn refresh(&self, cookie: &str) -> Login {
        let response = self.post_refresh(cookie).await;
        Self::rotated(response).await
    }

    /// Refreshes as an unattended page and expects success.
    pub async fn refresh_idle(&self, cookie: &str) -> Login {
        let response = self.post_refresh_idle(cookie).await;
        Self::rotated(response).await
    }

    async fn rotated(response: Response) -> Login {
        assert_eq!(response.status(), StatusCode::OK, "refresh failed");
        let set_cookie = set_cookie(&response).expect("a rotated cookie");
        Login {
            cookie: cookie_value(&set_cookie),
            set_cookie,
            tokens: response.json().await.unwrap(),
        }
    }

    /// Refreshes and expects a 401 with `code`.
    pub async fn refresh_fails(&self, cookie: &str, code: ErrorCode) -> ErrorBody {
        let (status, body) = error_of(self.post_refresh(cookie).await).await;
        assert_eq!(
            (status, body.error),
            (StatusCode::UNAUTHORIZED, code),
            "{body:?}"
        );
        body
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn logout(&self, login: &Login) -> Response {
        self.http
            .post(format!("{}/api/auth/logout", self.url))
            .bearer_auth(&login.tokens.access_token)
            .header(header::COOKIE, format!("{REFRESH_COOKIE}={}", login.cookie))
            .header("X-Requested-With", "fetch")
            .send()
            .await
            .unwrap()
    }

    /// `GET /.well-known/jwks.json`, parsed.
    pub async fn jwks(&self) -> serde_json::Value {
        let url = format!("{}/.well-known/jwks.json", self.url);
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn audit_events(&self) -> Vec<String> {
        let rows = self.state.audit_log(1000).await.unwrap();
        rows.into_iter().map(|e| e.event).collect()
    }
}
