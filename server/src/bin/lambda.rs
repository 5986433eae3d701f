//! The engine as an AWS Lambda function (feature `lambda`): the same `app` the server
//! serves, behind a function URL or API Gateway, configured from the environment alone.
//!
//!   cd server && cargo lambda watch --features lambda --bin lambda     # local function URL
//!   cargo lambda build --release --features lambda --bin lambda        # the deployable zip
//!
//! Everything is built once per instance, before the first event (the init phase);
//! each request then catches up with the database ([`server::serverless`]).

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use axum::{
    extract::{ConnectInfo, Request},
    middleware::Next,
    response::Response,
};
use clap::Parser;
use lambda_http::{RequestExt, request::RequestContext};
use server::config::Cli;

/// Database connections per warm instance: every instance holds its own, so many
/// instances times a big pool would exhaust PostgreSQL. (The store adds one for
/// refresh-token rotations, opened at the first.)
const POOL_SIZE: u32 = 2;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Flags make no sense for a function: the environment is the configuration.
    let started = std::time::Instant::now();
    let mut cli = Cli::parse_from(["lambda"]);
    server::logging::init(cli.log_format);
    // An init error ends the instance with the message, once and plainly, in the
    // function's log; the platform reports the failed start to the caller.
    let state = match init(&mut cli).await {
        Ok(state) => state,
        Err(e) => {
            eprintln!("error: the function cannot start: {e:#}");
            std::process::exit(1);
        }
    };
    // The cold start's own share (connections, migrations check, key ring): the
    // figure docs/BENCHMARKS.md records (bench/lambda.sh).
    // Under the library's target, which the default log filter (`server=info`) shows.
    tracing::info!(
        target: "server::lambda",
        init_ms = started.elapsed().as_millis() as u64,
        "function initialised"
    );
    let app = server::serverless::function_app(state)
        .layer(axum::middleware::from_fn(peer_from_request_context));
    lambda_http::run(app).await
}

async fn init(cli: &mut Cli) -> anyhow::Result<server::AppState> {
    server::serverless::check_environment(&cli.database_url, cli.serve.redis_url.as_deref())?;
    let config = &mut cli.serve;
    config.database_pool_size.get_or_insert(POOL_SIZE);
    // A function serves no files: the SPA is on a static host in front of it.
    config.static_dir = std::env::temp_dir().join("no-spa");
    let kek = cli.kek_source().context("the key-encryption key")?;
    server::build(cli.serve.clone(), &cli.database_url, &kek).await
}

/// The client is the address the platform saw (function URL / API Gateway request
/// context), never a header the client could write. It stands where the server puts
/// a TCP peer, so `PROXY_HOPS` / `TRUSTED_PROXIES` apply as they do there.
async fn peer_from_request_context(mut request: Request, next: Next) -> Response {
    let source_ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.source_ip.clone(),
        _ => None,
    };
    match source_ip.as_deref().map(str::parse::<IpAddr>) {
        Some(Ok(ip)) => {
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(ip, 0)));
        }
        // Every such request would share one "unknown" client in the per-IP limits.
        _ => tracing::warn!(
            target: "server::lambda",
            source_ip = source_ip.as_deref(),
            "no client address in the request context"
        ),
    }
    next.run(request).await
}
