#!/usr/bin/env bash
# Starts the browser tests' server as a cluster: three instances on a fresh
# PostgreSQL database and Redis behind nginx (scripts/cluster.sh), with the same two
# known users and 3-second access tokens as serve.sh. Playwright runs it when
# E2E_CLUSTER=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
server="${CARGO_TARGET_DIR:-$root/target}/debug/server"
[ -x "$server" ] || { echo "no $server: build it first (cargo build -p server)" >&2; exit 1; }
admin="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
db="jwt_refresh_e2e_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
psql -q "$admin" -c "CREATE DATABASE \"$db\"" >/dev/null
export DATABASE_URL="${admin%/*}/$db"
key="$(mktemp -d)/secret.key"
(umask 077 && head -c 32 /dev/urandom >"$key")
export SECRET_KEY_FILE="$key"
export REDIS_PREFIX="e2e-$db:"
printf 'alice-password' | "$server" user add alice --role admin --password-stdin
printf 'bob-passphrase' | "$server" user add bob --role user --password-stdin
ACCESS_TTL="${ACCESS_TTL:-3s}" DEMO_USERS=false SKIP_BUILD=1 SERVER_BIN="$server" \
  PORT="${PORT:-3100}" exec "$root/scripts/cluster.sh"
