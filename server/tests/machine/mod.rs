//! Shared by the process-level tests (`cluster.rs`, `lambda.rs`): the machine's
//! PostgreSQL and Redis that `scripts/test.sh` names in `TEST_POSTGRES_URL` and
//! `TEST_REDIS_URL`, the `server` CLI on a test's database, and the refresh cookie of
//! a response.

/// The URL in `name`, or a panic that says where to look.
pub fn env_url(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set: see this file's header"))
}

/// `n` random characters that fit in a database name or a key prefix.
pub fn random(n: usize) -> String {
    server::refresh_token::generate()[..n]
        .to_lowercase()
        .replace(['-', '_'], "x")
}

/// A new database `jwt_refresh_<kind>_<random>` on the test PostgreSQL server (test.sh
/// drops them at its next start); its URL.
pub async fn fresh_postgres(kind: &str) -> String {
    use sqlx::{Connection, Executor};
    let admin = env_url("TEST_POSTGRES_URL");
    let name = format!("jwt_refresh_{kind}_{}", random(12));
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// The refresh cookie's `Set-Cookie` line in `response`, attributes and all.
pub fn set_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{}=", wire::REFRESH_COOKIE)))
        .map(str::to_owned)
}

/// The refresh cookie's value in `response`; `None` when absent or cleared.
pub fn refresh_cookie(response: &reqwest::Response) -> Option<String> {
    let line = set_cookie(response)?;
    let value = line.split(';').next()?.split_once('=')?.1;
    (!value.is_empty()).then(|| value.to_owned())
}

/// The `server` CLI with `env` alone (and `PATH`): runs `args` with `stdin` written to
/// it and returns its stdout; a failure panics with its stderr.
pub fn server_cli(env: &[(String, String)], args: &[&str], stdin: &str) -> String {
    use std::{
        io::Write,
        process::{Command, Stdio},
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
