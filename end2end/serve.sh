#!/usr/bin/env bash
# Starts the server for the browser tests: a fresh SQLite database with two known
# users, access tokens that live 3 s by default (so refreshes happen within a test), the
# built SPA. The Playwright config starts several, each with its own session timings:
#   PORT, ACCESS_TTL, IDLE_TTL, REFRESH_GRACE, ABSOLUTE_TTL_SHORT are passed through;
#   SERVER_BIN picks another build (scripts/bench.sh measures the reload on the release one).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
server="${SERVER_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/server}"
[ -x "$server" ] || { echo "no $server: build it first (cargo build -p server; cargo test --workspace builds it too)" >&2; exit 1; }
# One database per port, at a path the specs can find (helpers.ts, registerClient).
db_dir="${TMPDIR:-/tmp}/jwt-refresh-e2e-${PORT:-3100}"
rm -rf "$db_dir" && mkdir -p "$db_dir"
export DATABASE_URL="sqlite://$db_dir/e2e.db?mode=rwc"
printf 'alice-password' | "$server" user add alice --role admin --password-stdin
printf 'bob-passphrase' | "$server" user add bob --role user --password-stdin
export ACCESS_TTL="${ACCESS_TTL:-3s}"
export IDLE_TTL="${IDLE_TTL:-30m}"
export REFRESH_GRACE="${REFRESH_GRACE:-10s}"
export ABSOLUTE_TTL_SHORT="${ABSOLUTE_TTL_SHORT:-12h}"
# Every test signs in afresh, from one address: the limits are for people.
export LOGIN_PER_USER="${LOGIN_PER_USER:-1000}"
export LOGIN_PER_IP="${LOGIN_PER_IP:-1000}"
export LOGIN_PER_USER_IP="${LOGIN_PER_USER_IP:-1000}"
STATIC_DIR="$root/dist" ADDR="127.0.0.1:${PORT:-3100}" exec "$server" serve
