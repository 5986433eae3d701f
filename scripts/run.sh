#!/usr/bin/env bash
# The run command: installs what is missing, builds the SPA, starts the server on
# SQLite and prints the URL (and, on a new database, the demo logins: this command opts
# in to demo users, which a production start never gets unless DEMO_USERS=true).
# Settings come from the environment or flags: `scripts/run.sh --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
step "building the SPA (trunk build --release)"
trunk build --release
step "building and starting the server"
DEMO_USERS="${DEMO_USERS:-true}" exec cargo run --release --quiet -p server -- "$@"
