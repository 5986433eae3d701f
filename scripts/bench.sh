#!/usr/bin/env bash
# Load benchmark, ours against the usual Node.js implementation, on this machine:
#
#   1. our release server on SQLite: `GET /api/me` with wrk, refresh (rotation) with the
#      project's load generator (server/examples/load.rs: every virtual client rotates
#      its own chain), refresh paced at 1,000/s beside 20 sign-ins/s;
#   2. the same server on PostgreSQL (TEST_POSTGRES_URL, default the local `test`
#      database's server): refresh;
#   3. the Node.js peer (bench/peer: Express + jsonwebtoken + cookie-parser, rotation in
#      SQLite with better-sqlite3, one worker per core with `cluster`), installed from npm
#      on first use: `/api/me` and refresh driven the same way;
#   4. the reload of a signed-in page to the dashboard showing the user, in Debian's
#      Chromium (end2end/tests/delivery.spec.ts, 10 reloads, median) against the release
#      server and the release SPA (built if dist/ is missing);
#
# then prints ours/peer. Rate limits are raised out of the way for both.
#
#   scripts/bench.sh                     # DURATION=10 CONCURRENCY=32 REQUESTS=20000
#   SCENARIOS=me scripts/bench.sh        # me, refresh, paced, postgres, peer, reload (comma-separated)
#   SERVER=../old/target/release/server SCENARIOS=me,refresh,postgres scripts/bench.sh
#                                        # another build of ours, for a before/after
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

DURATION="${DURATION:-10}"
CONCURRENCY="${CONCURRENCY:-32}"
REQUESTS="${REQUESTS:-20000}"
SCENARIOS="${SCENARIOS:-me,refresh,paced,postgres,peer,reload}"
PG_ADMIN="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
ours_port=3200
peer_port=3300
want() { [[ ",$SCENARIOS," == *",$1,"* ]]; }
step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

command -v wrk >/dev/null || {
  step "installing wrk (Debian)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
}
step "building the release server and the load generator"
cargo build --release --quiet -p server --bin server --example load
bin="${CARGO_TARGET_DIR:-$root/target}/release"
server="${SERVER:-$bin/server}"

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

head -c 32 /dev/urandom >"$tmp/secret.key"
LOAD_PASSWORD="bench-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
export LOAD_PASSWORD

wait_port() { # wait_port PORT PID LOG
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; exit 1; }
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  exit 1
}

# Starts our server on DATABASE_URL; prints its pid.
start_ours() {
  local url="$1"
  printf '%s' "$LOAD_PASSWORD" | DATABASE_URL="$url" SECRET_KEY_FILE="$tmp/secret.key" \
    "$server" user add alice --role admin --password-stdin >/dev/null
  DATABASE_URL="$url" SECRET_KEY_FILE="$tmp/secret.key" ADDR="127.0.0.1:$ours_port" \
    STATIC_DIR="$tmp/no-spa" RUST_LOG=server=warn \
    LOGIN_PER_IP=100000000 LOGIN_PER_USER_IP=100000000 LOGIN_PER_USER=100000000 \
    REFRESH_PER_IP=100000000 REFRESH_PER_SESSION=100000000 MAX_CONNECTIONS_PER_IP=0 \
    "$server" serve >"$tmp/ours.log" 2>&1 &
  pids+=($!)
  wait_port "$ours_port" "$!" "$tmp/ours.log"
}

stop_last() {
  local pid="${pids[-1]}"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset 'pids[-1]'
}

token_of() { # token_of PORT: an access token for alice
  curl -fsS "http://127.0.0.1:$1/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"alice\",\"password\":\"$LOAD_PASSWORD\"}" |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/'
}

wrk_me() { # wrk_me PORT: requests/s of GET /api/me
  local token
  token="$(token_of "$1")"
  wrk -t2 -c"$CONCURRENCY" -d"${DURATION}s" --latency -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$1/api/me" | tee "$tmp/wrk.txt" >&2
  grep -q 'Non-2xx' "$tmp/wrk.txt" && { echo "wrk saw errors" >&2; exit 1; }
  awk '/Requests\/sec/ { print $2 }' "$tmp/wrk.txt"
}

load() { # load PORT ARGS...: the load generator's table, and req/s of its first row
  "$bin/examples/load" --url "http://127.0.0.1:$1" --username alice \
    --requests "${LOAD_REQUESTS:-$REQUESTS}" --concurrency "$CONCURRENCY" \
    --max-seconds "${LOAD_SECONDS:-$DURATION}" "${@:2}" |
    tee "$tmp/load.txt" >&2
  awk -F'|' 'NR>3 && NF>3 { gsub(/ /, "", $5); print $5; exit }' "$tmp/load.txt"
}

declare -A result
if want me || want refresh || want paced; then
  step "ours on SQLite"
  start_ours "sqlite://$tmp/ours.db?mode=rwc"
  want me && result[me_ours]="$(wrk_me "$ours_port")"
  want refresh && result[refresh_ours]="$(load "$ours_port" --scenarios refresh)"
  if want paced; then
    step "ours on SQLite: refresh paced at 1,000/s beside 20 sign-ins/s"
    LOAD_REQUESTS=$((DURATION * 1000)) LOAD_SECONDS=$((DURATION + 5)) \
      load "$ours_port" --scenarios refresh --rate 1000 --background-logins 20 >/dev/null
    result[paced]="$(awk -F'|' '$2 ~ /refresh/ { gsub(/ /, "", $8); print $8 }' "$tmp/load.txt")"
    result[paced_login]="$(awk -F'|' '$2 ~ /login/ { gsub(/ /, "", $8); print $8 }' "$tmp/load.txt")"
  fi
  stop_last
fi

if want postgres; then
  step "ours on PostgreSQL"
  db="jwt_refresh_bench_$$"
  psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null
  psql -q "$PG_ADMIN" -c "CREATE DATABASE \"$db\"" >/dev/null
  start_ours "${PG_ADMIN%/*}/$db"
  result[refresh_pg]="$(load "$ours_port" --scenarios refresh)"
  stop_last
  psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null
fi

if want peer; then
  if [ ! -d bench/peer/node_modules/express ]; then
    step "installing the Node.js peer's packages (npm)"
    (cd bench/peer && npm ci --no-audit --no-fund --silent)
  fi
  step "the Node.js peer (Express, $(nproc) workers)"
  PEER_DB="$tmp/peer.db" PORT="$peer_port" node bench/peer/server.js >"$tmp/peer.log" 2>&1 &
  pids+=($!)
  wait_port "$peer_port" "$!" "$tmp/peer.log"
  want me && result[me_peer]="$(wrk_me "$peer_port")"
  want refresh && result[refresh_peer]="$(load "$peer_port" --scenarios refresh)"
  stop_last
fi

if want reload; then
  # Chromium, the Playwright packages and the SPA's tools, where missing.
  source scripts/setup.sh --browser
  [ -f dist/index.html ] || { step "building the SPA (trunk build --release)"; trunk build --release; }
  step "reload to the dashboard in Chromium, against the release server"
  (cd end2end && SERVER_BIN="$server" E2E_PORT=3400 npx playwright test tests/delivery.spec.ts \
    -g 'reload of a signed-in page' --reporter=list) | tee "$tmp/reload.txt" >&2
  result[reload]="$(sed -nE 's/^reload to dashboard: median ([0-9]+) ms.*/\1/p' "$tmp/reload.txt")"
fi

ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo
echo "| measure | ours | peer | ours/peer |"
echo "|---|---:|---:|---:|"
echo "| GET /api/me (wrk -t2 -c$CONCURRENCY), req/s | ${result[me_ours]:--} | ${result[me_peer]:--} | $(ratio "${result[me_ours]:-}" "${result[me_peer]:-}") |"
echo "| refresh on SQLite (load, c$CONCURRENCY), req/s | ${result[refresh_ours]:--} | ${result[refresh_peer]:--} | $(ratio "${result[refresh_ours]:-}" "${result[refresh_peer]:-}") |"
echo "| refresh on PostgreSQL, req/s | ${result[refresh_pg]:--} | | |"
echo "| refresh p99 at 1,000/s beside 20 sign-ins/s, ms | ${result[paced]:--} | | |"
echo "| those sign-ins' p99, ms | ${result[paced_login]:--} | | |"
echo "| reload of a signed-in page to the dashboard (median of 10), ms | ${result[reload]:--} | | |"
