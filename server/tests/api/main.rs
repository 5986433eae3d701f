//! HTTP integration tests: one binary, a real server per test on a random port, a
//! fresh database per test. `cargo test -p server --test api`.

mod csrf;
mod helpers;
mod limits;
mod login;
mod native;
mod oauth;
mod openapi;
mod ops;
mod refresh;
mod revocation;
mod serverless;
mod sessions;
mod tokens;
mod transport;
