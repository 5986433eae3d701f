#!/usr/bin/env bash
# The seed's whole serverless deployment on this machine: the SPA on the Netlify CLI
# (`netlify dev --offline`), /api/* proxied to the `lambda` function under the Lambda
# emulator (`cargo lambda watch`), on PostgreSQL and Redis. Prints the URL; Ctrl-C stops.
#   scripts/serverless.sh        (TEST_POSTGRES_URL, REDIS_URL to use other servers)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
step "building the server CLI (it adds the demo users)"
cargo build -p server --bin server
BACKEND=lambda NETLIFY_PORT="${NETLIFY_PORT:-8885}" API_PORT="${API_PORT:-9050}" \
  STATIC_PORT="${STATIC_PORT:-8886}" ACCESS_TTL="${ACCESS_TTL:-15m}" exec deploy/netlify/serve.sh
