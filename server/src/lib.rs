//! The session engine of "JWT refresh on expiry, done right", as a library.
//!
//! It issues short-lived EdDSA access tokens and rotating, HttpOnly refresh cookies,
//! detects refresh-token reuse, revokes sessions and keeps an audit log, on SQLite or
//! PostgreSQL. The binary (`main.rs`) is a thin CLI over [`serve`].
//!
//! # Embedding
//!
//! Build an [`Engine`], wrap it in an [`AppState`], mount [`app`] (or merge its
//! routers into yours) and guard your own routes with the extractors:
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use server::{AppState, Engine, auth::{Admin, RequireRole}, clock::SystemClock,
//!              config::Config, engine::AuthUser, store::Store};
//!
//! async fn hello(user: AuthUser) -> String {
//!     format!("hello, user {}", user.user_id)
//! }
//!
//! async fn admins_only(_: RequireRole<Admin>) -> &'static str {
//!     "hello, admin"
//! }
//!
//! # async fn run() -> anyhow::Result<()> {
//! let config = Config::defaults();
//! let store = Store::connect("sqlite://data/app.db?mode=rwc").await?;
//! let state: AppState = Arc::new(Engine::new(config, store, Arc::new(SystemClock)).await?);
//! let router = Router::new()
//!     .route("/api/hello", get(hello))
//!     .route("/api/admin/hello", get(admins_only))
//!     .with_state(state.clone())
//!     .merge(server::app(state));
//! # Ok(()) }
//! ```
//!
//! Run the tests with `cargo test -p server`.

pub mod audit;
pub mod auth;
pub mod backend_refresh;
pub mod clock;
pub mod config;
pub mod engine;
pub mod error;
mod extract;
pub mod keys;
pub mod oauth;
pub mod password;
pub mod rate_limit;
pub mod refresh_token;
pub mod scope;
pub mod sessions;
pub mod spa;
pub mod store;
pub mod users;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    routing::{any, get},
};
use tower_cookies::CookieManagerLayer;
use tower_http::trace::TraceLayer;

pub use crate::engine::Engine;
use crate::{config::Config, error::Error};

/// Shared state of every route.
pub type AppState = Arc<Engine>;

/// The whole HTTP surface: API, JWKS, health check, and the SPA from `static_dir`.
pub fn app(state: AppState) -> Router {
    let mut api = Router::new()
        .merge(auth::router())
        .merge(sessions::router())
        .merge(users::router())
        .merge(audit::router())
        .merge(oauth::router())
        .route("/.well-known/jwks.json", get(jwks))
        .route("/healthz", get(healthz))
        // Unknown API paths are JSON 404s, not the SPA's index.html.
        .route("/api/{*rest}", any(|| async { Error::NotFound }))
        .layer(DefaultBodyLimit::max(state.config.body_limit));
    if state.config.backend_refresh {
        api = api.layer(axum::middleware::from_fn(backend_refresh::attach));
    }
    let api = api
        .layer(CookieManagerLayer::new())
        .with_state(state.clone());
    let router = api
        .merge(spa::fallback(&state.config.static_dir))
        .layer(TraceLayer::new_for_http());
    spa::security_headers(router)
}

async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.keys.jwks())
}

async fn healthz(State(state): State<AppState>) -> Result<&'static str, Error> {
    state.store.ping().await?;
    Ok("ok")
}

/// Serves `app` on `listener` until ctrl-c / SIGTERM, pruning expired rows and
/// picking up rotated keys in the background.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    tokio::spawn(housekeeping(state.clone()));
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await?;
    Ok(())
}

/// Every minute: [`Engine::prune`].
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match state.prune().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "pruned expired rows"),
            Err(e) => tracing::warn!(error = ?e, "housekeeping failed"),
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Builds the engine for `config` on the database at `database_url`.
pub async fn build(config: Config, database_url: &str) -> anyhow::Result<AppState> {
    let store = store::Store::connect(database_url).await?;
    Ok(Arc::new(
        Engine::new(config, store, Arc::new(clock::SystemClock)).await?,
    ))
}
