//! `app`: the browser client of "JWT refresh on expiry, done right" — a Leptos 0.8 CSR
//! single-page app compiled to WebAssembly by Trunk.
//!
//! It keeps the short-lived access token in memory only, restores the session on load
//! from the HttpOnly refresh cookie, refreshes proactively before expiry (single flight,
//! monotonic clock), and retries a call once after `401 token_expired`.
//!
//! Build it with `trunk build --release` at the repository root (output in `dist/`); the
//! server serves `dist/` and the API on one origin, which the README's run command does
//! for you. `trunk serve` is not used: the client needs the API on its own origin.
//! Unit tests of the pure logic: `cargo test -p app --lib`.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
