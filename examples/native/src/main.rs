//! `native`: a command-line app that signs in to the server the way native apps should
//! (RFC 8252): in the system browser, with the authorization code flow and PKCE
//! (RFC 7636), the code coming back to a listener on `127.0.0.1` at a port picked when
//! it is needed. The refresh token stays in a file only the user can read
//! ([`token_file`]); `whoami` refreshes when the access token has run out.
//!
//! ```sh
//! CLIENT_ID=$(target/release/server client add "Native example" --redirect-uri http://127.0.0.1/callback)
//! cargo run -p native-example -- login --client-id "$CLIENT_ID"   # opens the browser
//! cargo run -p native-example -- whoami
//! cargo run -p native-example -- logout
//! ```
//!
//! Tested end to end by `cargo test -p native-example`, against a real server.

mod token_file;

use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Command as Process, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, anyhow, bail};
use axum::{Router, extract::Query, response::Html, routing::get};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use clap::{Parser, Subcommand};
use rand::RngCore;
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use wire::{
    ErrorBody, ErrorCode, User,
    oauth::{AuthorizationServerMetadata, METADATA_PATH, OAuthErrorBody, OAuthTokenResponse},
};

use crate::token_file::Saved;

/// How long to wait for the user to answer in the browser.
const ANSWER_WAIT: Duration = Duration::from_secs(300);
/// Refresh this long before the access token runs out, not at the last second.
const MARGIN_SECS: u64 = 30;

/// Sign in through the browser (OAuth code flow + PKCE); keep the tokens in a 0600 file.
#[derive(Debug, Parser)]
#[command(name = "native", about)]
struct Cli {
    /// The server (or the SPA's host, which proxies `/api` and `/.well-known`).
    #[arg(
        long,
        env = "NATIVE_SERVER",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    server: String,
    /// Where the tokens are kept [default: ~/.config/jwt-refresh-native/tokens.json].
    #[arg(long, env = "NATIVE_TOKEN_FILE", global = true)]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in: opens the browser at the server's consent page.
    Login {
        /// Printed by `server client add`.
        #[arg(long, env = "NATIVE_CLIENT_ID")]
        client_id: String,
        /// Space-separated scopes to ask for.
        #[arg(long, default_value = wire::oauth::DEFAULT_SCOPE)]
        scope: String,
        /// Only print the URL to open (no browser is launched).
        #[arg(long)]
        no_browser: bool,
    },
    /// Who is signed in (`GET /api/me`), refreshing the access token when needed.
    Whoami,
    /// Revoke the grant at the server and forget the tokens.
    Logout,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let path = cli.token_file.unwrap_or_else(token_file::default_path);
    let http = reqwest::Client::builder()
        .user_agent(concat!("native-example/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(30))
        .build()?;
    match cli.command {
        Command::Login {
            client_id,
            scope,
            no_browser,
        } => {
            let saved = login(&http, &cli.server, &client_id, &scope, no_browser).await?;
            token_file::save(&path, &saved)?;
            println!("Signed in. Tokens kept in {} (mode 0600).", path.display());
        }
        Command::Whoami => {
            let mut saved = token_file::load(&path)?;
            let user = whoami(&http, &mut saved, &path).await?;
            println!(
                "Signed in as {} (roles: {}; permissions: {})",
                user.username,
                user.roles.join(", "),
                user.permissions.join(", ")
            );
        }
        Command::Logout => {
            let saved = token_file::load(&path)?;
            let response = http
                .post(&saved.revocation_endpoint)
                .form(&[
                    ("token", saved.refresh_token.as_str()),
                    ("token_type_hint", "refresh_token"),
                    ("client_id", saved.client_id.as_str()),
                ])
                .send()
                .await?;
            if !response.status().is_success() {
                bail!("revocation failed: {}", oauth_error(response).await);
            }
            token_file::forget(&path)?;
            println!("Signed out; the grant is revoked.");
        }
    }
    Ok(())
}

async fn login(
    http: &reqwest::Client,
    server: &str,
    client_id: &str,
    scope: &str,
    no_browser: bool,
) -> anyhow::Result<Saved> {
    // RFC 8414: ask the server where its endpoints are.
    let metadata: AuthorizationServerMetadata = http
        .get(format!("{}{METADATA_PATH}", server.trim_end_matches('/')))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
        .context("the server has no OAuth metadata")?;

    // RFC 8252 §7.3: a loopback listener on a port the OS picks, for this sign-in only.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let redirect_uri = format!("http://{}/callback", listener.local_addr()?);
    let verifier = random_b64(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = random_b64(16);
    let url = Url::parse_with_params(
        &metadata.authorization_endpoint,
        [
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", &redirect_uri),
            ("scope", scope),
            ("state", &state),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )?;
    println!("Sign in at this address (it opens in your browser):\n\n  {url}\n");
    if !no_browser && let Err(e) = open_browser(url.as_str()) {
        eprintln!("Could not open a browser ({e}); open the address yourself.");
    }

    let answer = receive_redirect(listener).await?;
    // The response must answer *our* request, from *our* server (RFC 9207).
    if answer.get("state") != Some(&state) {
        bail!("the answer does not carry our state: ignored");
    }
    if let Some(iss) = answer.get("iss")
        && *iss != metadata.issuer
    {
        bail!("the answer comes from {iss}, not {}", metadata.issuer);
    }
    if let Some(error) = answer.get("error") {
        let description = answer
            .get("error_description")
            .map_or(String::new(), |d| format!(": {d}"));
        bail!("sign-in refused ({error}{description})");
    }
    let code = answer.get("code").context("the answer has no code")?;

    let response = http
        .post(&metadata.token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("client_id", client_id),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("the code exchange failed: {}", oauth_error(response).await);
    }
    let tokens: OAuthTokenResponse = response.json().await?;
    Ok(Saved {
        server: server.trim_end_matches('/').to_owned(),
        client_id: client_id.to_owned(),
        token_endpoint: metadata.token_endpoint,
        revocation_endpoint: metadata.revocation_endpoint,
        access_expires_at: now() + tokens.expires_in,
        refresh_token: tokens.refresh_token,
        access_token: tokens.access_token,
    })
}

/// Serves `GET /callback` once and returns its query.
async fn receive_redirect(
    listener: tokio::net::TcpListener,
) -> anyhow::Result<HashMap<String, String>> {
    let (answer_tx, answer_rx) = oneshot::channel();
    let answer_tx = Arc::new(Mutex::new(Some(answer_tx)));
    let app = Router::new().route(
        "/callback",
        get(move |Query(query): Query<HashMap<String, String>>| async move {
            if let Some(tx) = answer_tx.lock().expect("answer slot").take() {
                let _ = tx.send(query);
            }
            Html("<!doctype html><title>Signed in</title><p>Done. You can close this tab and return to the terminal.</p>")
        }),
    );
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    let answer = tokio::time::timeout(ANSWER_WAIT, answer_rx)
        .await
        .map_err(|_| anyhow!("no answer from the browser within {ANSWER_WAIT:?}"))?
        .context("the listener stopped")?;
    // Let the browser receive its page, but do not wait on an idle keep-alive forever.
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    Ok(answer)
}

/// `GET /api/me`, refreshing first if the access token has run out, and once more if
/// the server says it has (`401 token_expired`: our clock may be behind the server's).
async fn whoami(
    http: &reqwest::Client,
    saved: &mut Saved,
    path: &std::path::Path,
) -> anyhow::Result<User> {
    if now() + MARGIN_SECS >= saved.access_expires_at {
        refresh(http, saved, path).await?;
    }
    let mut refreshed = false;
    loop {
        let response = http
            .get(format!("{}/api/me", saved.server))
            .bearer_auth(&saved.access_token)
            .send()
            .await?;
        if response.status().is_success() {
            return Ok(response.json().await?);
        }
        let status = response.status();
        let body: Option<ErrorBody> = response.json().await.ok();
        match body {
            Some(body) if body.error == ErrorCode::TokenExpired && !refreshed => {
                refresh(http, saved, path).await?;
                refreshed = true;
            }
            Some(body) => bail!("{}: {}", body.error, body.message),
            None => bail!("the server answered {status}"),
        }
    }
}

/// The `refresh_token` grant; the rotated pair is saved before it is used.
async fn refresh(
    http: &reqwest::Client,
    saved: &mut Saved,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let response = http
        .post(&saved.token_endpoint)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", saved.refresh_token.as_str()),
            ("client_id", saved.client_id.as_str()),
        ])
        .send()
        .await?;
    if response.status() == StatusCode::BAD_REQUEST {
        let error = oauth_error(response).await;
        // The grant is over (revoked, expired, reused): the file is of no further use.
        token_file::forget(path)?;
        bail!("signed out ({error}); run `native login` again");
    }
    if !response.status().is_success() {
        bail!("refresh failed: {}", oauth_error(response).await);
    }
    let tokens: OAuthTokenResponse = response.json().await?;
    saved.access_token = tokens.access_token;
    saved.refresh_token = tokens.refresh_token;
    saved.access_expires_at = now() + tokens.expires_in;
    token_file::save(path, saved)
}

/// An RFC 6749 §5.2 error as one line.
async fn oauth_error(response: reqwest::Response) -> String {
    let status = response.status();
    match response.json::<OAuthErrorBody>().await {
        Ok(body) => match body.error_description {
            Some(description) => format!("{}: {description}", body.error),
            None => body.error.to_string(),
        },
        Err(_) => format!("the server answered {status}"),
    }
}

/// `$BROWSER` if set, else the platform's opener.
fn open_browser(url: &str) -> std::io::Result<()> {
    let mut command = match std::env::var("BROWSER") {
        Ok(browser) if !browser.is_empty() => Process::new(browser),
        _ if cfg!(target_os = "macos") => Process::new("open"),
        _ if cfg!(windows) => {
            let mut command = Process::new("rundll32");
            command.arg("url.dll,FileProtocolHandler");
            command
        }
        _ => Process::new("xdg-open"),
    };
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
