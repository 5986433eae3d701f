#!/usr/bin/env bash
# Load benchmark: builds the release server and the `load` example, starts the server
# on a throwaway SQLite database at 127.0.0.1:3200 with rate limits raised out of the
# way, creates the user `alice` (admin) with a random password, runs
# `server/examples/load.rs` against it, then stops the server.
#
#   scripts/bench.sh                          # 2000 requests per scenario, concurrency 16
#   REQUESTS=5000 CONCURRENCY=32 scripts/bench.sh
#   scripts/bench.sh --scenarios me,refresh   # extra arguments go to the load generator
#
# Environment: REQUESTS, LOGIN_REQUESTS (default REQUESTS), CONCURRENCY, MAX_SECONDS
# (per scenario), BENCH_ADDR (default 127.0.0.1:3200).
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS="${REQUESTS:-2000}"
LOGIN_REQUESTS="${LOGIN_REQUESTS:-$REQUESTS}"
CONCURRENCY="${CONCURRENCY:-16}"
MAX_SECONDS="${MAX_SECONDS:-60}"
BENCH_ADDR="${BENCH_ADDR:-127.0.0.1:3200}"

echo "==> building the release server and the load example"
cargo build --release --quiet -p server --bin server --example load

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

export DATABASE_URL="sqlite://$tmp/bench.db?mode=rwc"
LOAD_PASSWORD="bench-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
export LOAD_PASSWORD

echo "==> creating user alice on $tmp/bench.db"
printf '%s' "$LOAD_PASSWORD" | target/release/server user add alice --role admin --password-stdin

echo "==> starting the server on $BENCH_ADDR (limits raised; log in $tmp/server.log)"
ADDR="$BENCH_ADDR" \
STATIC_DIR="$tmp/no-spa" \
LOGIN_PER_IP=1000000 \
LOGIN_PER_USER=1000000 \
REFRESH_PER_IP=1000000 \
REFRESH_PER_SESSION=1000000 \
RUST_LOG="${RUST_LOG:-server=warn,tower_http=warn}" \
    target/release/server >"$tmp/server.log" 2>&1 &
server_pid=$!

host="${BENCH_ADDR%:*}"
port="${BENCH_ADDR##*:}"
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the server exited:" >&2
        cat "$tmp/server.log" >&2
        exit 1
    fi
    sleep 0.1
done

echo "==> load: $REQUESTS requests per scenario (login: $LOGIN_REQUESTS), concurrency $CONCURRENCY"
target/release/examples/load \
    --url "http://$BENCH_ADDR" \
    --username alice \
    --requests "$REQUESTS" \
    --login-requests "$LOGIN_REQUESTS" \
    --concurrency "$CONCURRENCY" \
    --max-seconds "$MAX_SECONDS" \
    "$@"

echo "==> stopping the server"
kill -TERM "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
