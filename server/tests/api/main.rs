//! HTTP integration tests: one binary, a real server per test on a random port, a
//! fresh database per test. `cargo test -p server --test api`.

mod helpers;
mod login;
mod native;
mod oauth;
mod refresh;
mod sessions;
mod tokens;
