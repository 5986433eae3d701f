#!/usr/bin/env bash
# The test command: every check and test there is. Installs what is missing first.
#   formatting and lints; Rust unit and HTTP tests on SQLite and on PostgreSQL; the
#   cluster tests (three processes on PostgreSQL and Redis); the OpenAPI document; the
#   SPA build and its first-visit budget; container, Vercel and Netlify checks with their
#   real tools; the lambda function under the real Lambda emulator; Playwright in
#   Debian's Chromium against one server, a cluster behind nginx, the Netlify CLI, and
#   the Netlify CLI in front of the function; the README screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
# CI checks out a fresh clone every time: keep its build products outside the clone,
# so a run on a machine that built before only rebuilds what changed.
if [ -n "${CI:-}" ] && [ -z "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR="$HOME/.cache/jwt-refresh-done-right/target"
fi
source scripts/setup.sh --browser

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy (server, api, tests)"
cargo clippy --all-targets -- -D warnings
step "cargo clippy (the lambda binary, feature lambda)"
cargo clippy -p server --features lambda --bin lambda -- -D warnings
step "cargo clippy (WASM client and its session crate)"
cargo clippy -p app -p leptos-token-session --target wasm32-unknown-unknown -- -D warnings
step "Rust tests (SQLite)"
cargo test --workspace
step "OpenAPI: docs/openapi.json (checked current above) is valid OpenAPI 3.1"
if [ ! -x .tools/openapi/bin/openapi-spec-validator ]; then
  python3 -m venv .tools/openapi
  .tools/openapi/bin/pip install -q --disable-pip-version-check openapi-spec-validator==0.9.0
fi
.tools/openapi/bin/openapi-spec-validator docs/openapi.json
step "HTTP tests again on PostgreSQL (the same suite: the stores must agree)"
pg_admin="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
# Each test made a database of its own; drop those of earlier runs.
psql -q "$pg_admin" -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'jwt_refresh_%'" 2>/dev/null |
  while read -r db; do psql -q "$pg_admin" -c "DROP DATABASE \"$db\"" >/dev/null 2>&1 || true; done
# The same package selection as above: another one would unify features differently
# and rebuild half the dependency tree.
TEST_POSTGRES_URL="$pg_admin" cargo test --workspace
made=$(psql -q "$pg_admin" -At -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'jwt_refresh_%'")
if [ "${made:-0}" -lt 30 ]; then
  echo "the PostgreSQL pass made ${made:-no} databases: it did not run on PostgreSQL" >&2
  exit 1
fi
step "cluster tests: three server processes on PostgreSQL and Redis"
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi
redis_url="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
TEST_POSTGRES_URL="$pg_admin" TEST_REDIS_URL="$redis_url" \
  cargo test --workspace --test cluster -- --ignored
step "serverless: the lambda function under the real emulator (cargo lambda watch) on PostgreSQL and Redis"
source deploy/lambda/env.sh
TEST_POSTGRES_URL="$pg_admin" TEST_REDIS_URL="$redis_url" \
  cargo test --workspace --test lambda -- --ignored
step "building the SPA for the browser tests (the server binary came with the tests)"
trunk build --release
step "first-visit budget (brotli bytes of WASM + JS + CSS; the delivery test checks Content-Encoding: br)"
scripts/first-visit.sh
step "Container: hadolint, docker compose config, nginx -t (no container engine here: the image is not built)"
deploy/container/check.sh
step "Deploy configs: API_ORIGIN proxy rules; the real Vercel CLI builds the repository, its routes checked"
source deploy/cli/env.sh
node --test deploy/test/*.test.mjs
step "Playwright (Chromium): three servers on SQLite with different session timings"
(cd end2end && npx playwright test)
step "Playwright again through scripts/cluster.sh: three instances behind nginx"
(cd end2end && TEST_POSTGRES_URL="$pg_admin" E2E_CLUSTER=1 npx playwright test session tabs)
step "Netlify: the real CLI (netlify dev --offline) serves the SPA, proxies /api/* to a server; Playwright through it"
(cd end2end && npx playwright test -c playwright.netlify.config.ts)
step "Serverless: Playwright through netlify dev --offline in front of the function under cargo lambda watch"
(cd end2end && TEST_POSTGRES_URL="$pg_admin" npx playwright test -c playwright.serverless.config.ts)
step "README screenshots still render (into a scratch folder, not docs/screenshots)"
(cd end2end && SCREENSHOT_DIR="$(mktemp -d)" npx playwright test -c playwright.screenshots.config.ts)
