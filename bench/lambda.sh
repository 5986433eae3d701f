#!/usr/bin/env bash
# Cold start and warm latency of the `lambda` function under the Lambda emulator
# (`cargo lambda watch --release`, a local function URL) on PostgreSQL and Redis, beside
# the long-lived server on the same database, one request at a time as a function
# instance takes them. Figures: docs/BENCHMARKS.md, "Serverless".
#   bench/lambda.sh                  COLD=5 WARM=300 (environment)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source deploy/lambda/env.sh
cold="${COLD:-5}" warm="${WARM:-300}" port="${PORT:-9060}" server_port=$((port + 1))
pg_admin="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
db="jwt_refresh_lambda_bench_$$"
psql -q "$pg_admin" -c "CREATE DATABASE \"$db\"" >/dev/null
export DATABASE_URL="${pg_admin%/*}/$db" REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export REDIS_PREFIX="lambda-bench-$$:" RUST_LOG=server=info LOGIN_PER_USER=100000 LOGIN_PER_IP=100000
SECRET_KEY="$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
export SECRET_KEY
target="${CARGO_TARGET_DIR:-$PWD/target}"
step "building the release server and function"
cargo build --release -p server --features lambda --bin server --bin lambda
printf 'bench-passphrase-long' | "$target/release/server" user add bench --password-stdin >/dev/null
log="$(mktemp)"
pid=""
stop() { [ -n "$pid" ] && kill -- -"$pid" 2>/dev/null; wait 2>/dev/null; pid=""; }
trap 'stop; psql -q "$pg_admin" -c "DROP DATABASE \"$db\"" >/dev/null 2>&1 || true' EXIT

# p50 / p99 / mean in ms of the numbers (seconds) on stdin.
stats() { sort -n | awk '{ a[NR] = $1 * 1000; s += $1 * 1000 } END {
  printf "p50 %.2f ms  p99 %.2f ms  mean %.2f ms  (n=%d)\n", a[int(NR * 0.5) + 1], a[int(NR * 0.99) + 1], s / NR, NR }'; }
login() {
  curl -s -D - -o "$log.body" -H 'content-type: application/json' \
    -d '{"username":"bench","password":"bench-passphrase-long"}' "$1/api/auth/login" |
    sed -n 's/^set-cookie: refresh_token=\([^;]*\).*/\1/ip' | head -1
}
token() { sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' "$log.body"; }
# Warm: sequential /api/me, then sequential refreshes (each rotates the cookie).
warm() {
  local base=$1 cookie tok
  cookie=$(login "$base"); tok=$(token)
  echo "  GET /api/me:  $(for _ in $(seq "$warm"); do
    curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $tok" "$base/api/me"; done | stats)"
  echo "  refresh:      $(for _ in $(seq $((warm / 3))); do
    out=$(curl -s -D - -o /dev/null -w 'T %{time_total}\n' -X POST -H 'X-Requested-With: fetch' \
      -H "Cookie: refresh_token=$cookie" "$base/api/auth/refresh")
    cookie=$(sed -n 's/^set-cookie: refresh_token=\([^;]*\).*/\1/ip' <<<"$out" | head -1)
    sed -n 's/^T //p' <<<"$out"; done | stats)"
}

base="http://127.0.0.1:$port/lambda-url/lambda"
echo "cold starts ($cold each):"
# 1. The binary's own share: from main() to the end of init (connect, migrations check,
#    key ring), as it logs it; the runtime API it would then poll is absent, so it stops.
inits=() firsts=()
for _ in $(seq "$cold"); do
  line=$(AWS_LAMBDA_RUNTIME_API=127.0.0.1:1 LOG_FORMAT=json RUST_BACKTRACE=0 "$target/release/lambda" 2>/dev/null |
    grep -m1 'function initialised' || true)
  inits+=("$(sed -n 's/.*"init_ms":\([0-9]*\).*/\1/p' <<<"$line") ms")
done
echo "  init (main to ready): ${inits[*]}"
# 2. The first request to a fresh emulator: it starts the function on that request,
#    through `cargo run --release` (cargo's own freshness check included).
for _ in $(seq "$cold"); do
  setsid bash -c "cd server && exec cargo lambda watch --release --features lambda --bin lambda --quiet \
    -A 127.0.0.1 -P $port --disable-cors --ignore-changes" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  firsts+=("$(curl -s -o /dev/null -w '%{time_total}' "$base/api/auth/session")")
  stop
done
echo "  first request through the emulator: $(printf '%s\n' "${firsts[@]}" | awk '{ printf "%.0f ms ", $1 * 1000 }')"

echo "warm function (through the emulator's function URL):"
setsid bash -c "cd server && exec cargo lambda watch --release --features lambda --bin lambda --quiet \
  -A 127.0.0.1 -P $port --disable-cors --ignore-changes" >"$log" 2>&1 &
pid=$!
for _ in $(seq 600); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done
warm "$base"
stop

echo "the long-lived server on the same database (no emulator):"
setsid env ADDR="127.0.0.1:$server_port" STATIC_DIR=/nonexistent "$target/release/server" serve >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$server_port/healthz" >/dev/null && break; sleep 0.1; done
warm "http://127.0.0.1:$server_port"
