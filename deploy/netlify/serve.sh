#!/usr/bin/env bash
# The SPA on the real Netlify CLI (`netlify dev --offline`), proxying to a real server:
# what a Netlify deploy does, on this machine. For the Playwright smoke run
# (end2end/playwright.netlify.config.ts), or by hand to look at it.
#   NETLIFY_PORT=8881 API_PORT=3130 STATIC_PORT=3131 deploy/netlify/serve.sh
# 1. builds the SPA with API_ORIGIN=http://127.0.0.1:$API_PORT into target/netlify-dist
#    (so dist/ is left alone), which writes the _redirects that proxies /api/* and
#    /.well-known/* there;
# 2. starts the server (debug binary, fresh SQLite database, alice and bob, 3 s tokens);
# 3. runs `netlify dev --offline` with the project's netlify.toml on that folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
netlify_port="${NETLIFY_PORT:-8881}"
api_port="${API_PORT:-3130}"
static_port="${STATIC_PORT:-3131}"
target="${CARGO_TARGET_DIR:-$root/target}"
server="$target/debug/server"
[ -x "$server" ] || { echo "no $server: build it first (cargo build -p server)" >&2; exit 1; }

source scripts/setup.sh
source deploy/cli/env.sh
site="$target/netlify-dist"
API_ORIGIN="http://127.0.0.1:$api_port" trunk build --release --dist "$site" >&2
grep -q "127.0.0.1:$api_port/api/" "$site/_redirects"

db="$(mktemp -d)/netlify-e2e.db"
export DATABASE_URL="sqlite://$db?mode=rwc"
printf 'alice-password' | "$server" user add alice --role admin --password-stdin
printf 'bob-passphrase' | "$server" user add bob --role user --password-stdin
# The server serves no SPA here: Netlify does. Its own index.html would hide a
# rewrite that sends a client route to the backend.
# Netlify's proxy keeps the browser's Origin (the site's) and sets Host to the backend's
# (docs/OPERATIONS.md, "Behind a proxy"): the site's origin must be allowed. `netlify
# dev` adds no X-Forwarded-For, so the server takes the peer (the CLI) as the client.
ALLOWED_ORIGINS="http://127.0.0.1:$netlify_port,http://localhost:$netlify_port" \
  ACCESS_TTL="${ACCESS_TTL:-3s}" STATIC_DIR="$(mktemp -d)" ADDR="127.0.0.1:$api_port" \
  "$server" serve &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$api_port/healthz" >/dev/null && break
  sleep 0.2
done

# --offline: nothing leaves the machine (no login, no site lookup). Deno, which the CLI
# starts for edge functions, comes from deploy/cli too.
netlify dev --offline --no-open --skip-gitignore --dir "$site" \
  --port "$netlify_port" --staticServerPort "$static_port" &
netlify_pid=$!
trap 'kill "$netlify_pid" "$server_pid" 2>/dev/null || true' EXIT
wait "$netlify_pid"
