#!/usr/bin/env bash
# The test command: every check and test there is. Installs what is missing first.
#   formatting and lints, Rust unit and HTTP integration tests, the SPA build,
#   and the Playwright suite in Debian's Chromium against a real server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh --browser

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy (server, api, tests)"
cargo clippy --all-targets -- -D warnings
step "cargo clippy (WASM client)"
cargo clippy -p app --target wasm32-unknown-unknown -- -D warnings
step "Rust tests"
cargo test --workspace --exclude app
step "building the SPA and the server for the browser tests"
trunk build --release
cargo build -p server
step "Playwright (Chromium)"
cd end2end && npx playwright test
