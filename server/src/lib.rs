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
//!              config::Config, engine::AuthUser, secrets::{Kek, KekSource}, store::Store};
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
//! // The key that encrypts the signing keys at rest: 32+ random bytes kept out of the database.
//! let kek = Kek::load(&KekSource::File("data/secret.key".into()))?;
//! let state: AppState = Arc::new(Engine::new(config, store, kek, Arc::new(SystemClock)).await?);
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
pub mod client_ip;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod engine;
pub mod error;
mod extract;
pub mod health;
pub mod healthcheck;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod oauth;
pub mod openapi;
pub mod origin;
pub mod password;
pub mod rate_limit;
pub mod refresh_token;
pub mod revoked;
pub mod scope;
pub mod secrets;
pub mod serverless;
pub mod sessions;
pub mod spa;
pub mod store;
pub mod users;
pub mod verified;

use std::{sync::Arc, time::Duration};

use axum::{
    Extension, Json, Router,
    extract::{DefaultBodyLimit, State},
    http::{HeaderValue, StatusCode, header},
    routing::any,
};
use tower_cookies::CookieManagerLayer;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use crate::engine::Engine;
use crate::{config::Config, error::Error};

/// Shared state of every route.
pub type AppState = Arc<Engine>;

/// The whole HTTP surface: API, JWKS, probes, and the SPA from `static_dir`.
pub fn app(state: AppState) -> Router {
    outer_layers(&state, routes(&state))
}

/// The API and the SPA with their own layers, before the ones every response gets.
fn routes(state: &AppState) -> Router {
    let (api, document) = api_routes().split_for_parts();
    let mut api = api
        // Unknown API paths are JSON 404s, not the SPA's index.html. The one route
        // registered outside `api_routes`: it is no endpoint, so it is not documented.
        .route("/api/{*rest}", any(|| async { Error::NotFound }))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .layer(Extension(openapi::Rendered::new(&document)))
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        // Tokens and personal data: no cache may keep an API answer (RFC 6749 §5.1).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    if state.config.backend_refresh {
        api = api.layer(axum::middleware::from_fn(backend_refresh::attach));
    }
    api.layer(CookieManagerLayer::new())
        .with_state(state.clone())
        .merge(spa::fallback(&state.config.static_dir))
}

/// What every response gets: the request timeout, a request id (or the one a proxy in
/// front sent) in the span every log line of the request carries and in the
/// response's `X-Request-Id`, and the security headers.
fn outer_layers(state: &AppState, routes: Router) -> Router {
    let router = routes
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));
    spa::security_headers(router, state.config.hsts)
}

/// Every endpoint, each registered with `routes!`, which routes it and adds its
/// `#[utoipa::path]` to the OpenAPI document in the same call ([`openapi`]), so a route
/// and its description cannot drift apart. A route added any other way is caught by
/// `tests/api/openapi.rs`, which compares the document with the router [`app`] serves.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(auth::router())
        .merge(sessions::router())
        .merge(users::router())
        .merge(audit::router())
        .merge(oauth::router())
        .routes(routes!(jwks))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(openapi::openapi_json))
}

fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
}

/// The public keys that verify access tokens (RFC 7517 JWK Set).
///
/// Other services verify tokens with these, without calling this server. A new key is
/// published here before it signs; an old one stays until its last token has expired.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "operations",
    responses((status = 200, description = "`{\"keys\": [{\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"kid\", \"x\", …}]}`", body = Object)))]
async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.keys.jwks())
}

/// Serves `app` on `listener` until ctrl-c / SIGTERM. In the background: cluster
/// events from other instances, a periodic full resync, pruning; and the metrics on
/// `metrics_addr`, if set.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    if let Some(addr) = state.config.metrics_addr {
        let handle = metrics::install()?;
        let metrics_listener = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!(
            "metrics on http://{}/metrics",
            metrics_listener.local_addr()?
        );
        tokio::spawn(metrics::serve(state.clone(), handle, metrics_listener));
    }
    tokio::spawn(housekeeping(state.clone()));
    tokio::spawn(cluster::listen(state.clone()));
    let config = state.config.clone();
    net::serve(app(state), listener, &config, shutdown()).await?;
    Ok(())
}

/// Every `--resync-interval`: [`Engine::resync`]; every minute: [`Engine::prune`].
async fn housekeeping(state: AppState) {
    let mut resync = tokio::time::interval(state.config.resync_interval);
    let mut prune = tokio::time::interval(Duration::from_secs(60));
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = resync.tick() => {
                if let Err(e) = state.resync().await {
                    tracing::warn!(error = ?e, "resync failed");
                }
            }
            _ = prune.tick() => match state.prune().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "pruned expired rows"),
                Err(e) => tracing::warn!(error = ?e, "pruning failed"),
            },
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

/// Builds the engine for `config` on the database at `database_url`, with the stored
/// secrets sealed under the key from `kek`.
pub async fn build(
    config: Config,
    database_url: &str,
    kek: &secrets::KekSource,
) -> anyhow::Result<AppState> {
    let kek = secrets::Kek::load(kek)?;
    let store = store::Store::connect_with(database_url, config.database_pool_size).await?;
    Ok(Arc::new(
        Engine::new(config, store, kek, Arc::new(clock::SystemClock)).await?,
    ))
}
