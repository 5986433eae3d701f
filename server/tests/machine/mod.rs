//! Shared by the process-level tests (`cluster.rs`, `lambda.rs`): the machine's
//! PostgreSQL and Redis that `scripts/test.sh` names in `TEST_POSTGRES_URL` and
//! `TEST_REDIS_URL`, and the refresh cookie of a response.

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
