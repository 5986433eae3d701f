#!/usr/bin/env bash
# Starts the server for the browser tests: a fresh SQLite database with two known
# users, access tokens that live 3 s (so refreshes happen within a test), the built SPA.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
server="${CARGO_TARGET_DIR:-$root/target}/debug/server"
[ -x "$server" ] || { echo "no $server: build it first (cargo build -p server; cargo test --workspace builds it too)" >&2; exit 1; }
# One database per port, at a path the specs can find (helpers.ts, registerClient).
db_dir="${TMPDIR:-/tmp}/jwt-refresh-e2e-${PORT:-3100}"
rm -rf "$db_dir" && mkdir -p "$db_dir"
export DATABASE_URL="sqlite://$db_dir/e2e.db?mode=rwc"
printf 'alice-password' | "$server" user add alice --role admin --password-stdin
printf 'bob-passphrase' | "$server" user add bob --role user --password-stdin
ACCESS_TTL="${ACCESS_TTL:-3s}" STATIC_DIR="$root/dist" ADDR="127.0.0.1:${PORT:-3100}" exec "$server" serve
