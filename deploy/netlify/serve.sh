#!/usr/bin/env bash
# The SPA on the real Netlify CLI (`netlify dev --offline`), proxying to a real backend:
# what a Netlify deploy does, on this machine. For the Playwright smoke runs
# (end2end/playwright.netlify.config.ts, playwright.serverless.config.ts), or by hand.
#   NETLIFY_PORT=8881 API_PORT=3130 STATIC_PORT=3131 deploy/netlify/serve.sh
#   BACKEND=lambda deploy/netlify/serve.sh      # (scripts/serverless.sh does this)
# 1. starts the backend with two users (alice, bob) and 3 s access tokens:
#    - BACKEND=server (default): the server's debug binary on a fresh SQLite database;
#    - BACKEND=lambda: the `lambda` function under `cargo lambda watch` (the Lambda
#      emulator, a local function URL) on a fresh PostgreSQL database and Redis;
# 2. builds the SPA with API_ORIGIN set to that backend into target/netlify-dist-*
#    (dist/ is left alone), which writes the _redirects that proxy /api/* and
#    /.well-known/* there;
# 3. runs `netlify dev --offline` with the project's netlify.toml on that folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
backend="${BACKEND:-server}"
netlify_port="${NETLIFY_PORT:-8881}"
api_port="${API_PORT:-3130}"
static_port="${STATIC_PORT:-3131}"
target="${CARGO_TARGET_DIR:-$root/target}"
server="$target/debug/server"
[ -x "$server" ] || { echo "no $server: build it first (cargo build -p server)" >&2; exit 1; }

source scripts/setup.sh
source deploy/cli/env.sh
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# Netlify's proxy keeps the browser's Origin (the site's) and sets Host to the backend's
# (docs/OPERATIONS.md, "Behind a proxy"): the site's origin must be allowed. `netlify
# dev` adds no X-Forwarded-For, so the backend takes its peer (the CLI) as the client.
export ALLOWED_ORIGINS="http://127.0.0.1:$netlify_port,http://localhost:$netlify_port"
export ACCESS_TTL="${ACCESS_TTL:-3s}"
case "$backend" in
  server)
    export DATABASE_URL="sqlite://$(mktemp -d)/netlify-e2e.db?mode=rwc"
    api="http://127.0.0.1:$api_port"
    ;;
  lambda)
    source deploy/lambda/env.sh
    pg_admin="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
    db="jwt_refresh_serverless_$(date +%s)_$$"
    psql -q "$pg_admin" -c "CREATE DATABASE \"$db\"" >/dev/null
    export DATABASE_URL="${pg_admin%/*}/$db"
    export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}" REDIS_PREFIX="serverless-$$:"
    SECRET_KEY="$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
    export SECRET_KEY
    api="http://127.0.0.1:$api_port/lambda-url/lambda"
    ;;
  *) echo "BACKEND=$backend: want server or lambda" >&2; exit 1 ;;
esac
printf 'alice-password' | "$server" user add alice --role admin --password-stdin
printf 'bob-passphrase' | "$server" user add bob --role user --password-stdin
# Every test signs in afresh, from one address: the limits are for people.
export LOGIN_PER_USER=1000 LOGIN_PER_IP=1000 LOGIN_PER_USER_IP=1000
case "$backend" in
  server)
    # It serves no SPA here: Netlify does. Its own index.html would hide a rewrite that
    # sends a client route to the backend.
    STATIC_DIR="$(mktemp -d)" ADDR="127.0.0.1:$api_port" "$server" serve &
    pids+=($!)
    ;;
  lambda)
    # --disable-cors: the emulator would otherwise answer CORS for the function.
    (cd server && exec cargo lambda watch --features lambda --bin lambda --quiet \
      --invoke-address 127.0.0.1 --invoke-port "$api_port" --disable-cors --ignore-changes) &
    pids+=($!)
    ;;
esac
# The emulator may compile the function first.
for _ in $(seq 600); do
  curl -fs "$api/healthz" >/dev/null && break
  sleep 0.5
done
curl -fs "$api/healthz" >/dev/null || { echo "the $backend backend never answered at $api" >&2; exit 1; }

site="$target/netlify-dist-$backend"
API_ORIGIN="$api" trunk build --release --dist "$site" >&2
grep -q "$api/api/" "$site/_redirects"

# --offline: nothing leaves the machine (no login, no site lookup). Deno, which the CLI
# starts for edge functions, comes from deploy/cli too.
netlify dev --offline --no-open --skip-gitignore --dir "$site" \
  --port "$netlify_port" --staticServerPort "$static_port" &
pids+=($!)
for _ in $(seq 120); do
  curl -fs "http://127.0.0.1:$netlify_port/" >/dev/null && break
  sleep 0.5
done
echo "Open http://127.0.0.1:$netlify_port  (alice / alice-password, bob / bob-passphrase; backend: $backend at $api)"
wait "${pids[-1]}"
