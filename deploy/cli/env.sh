#!/usr/bin/env bash
# Sourced by the deploy tests: installs the pinned platform CLIs (package-lock.json here)
# when missing and puts them on PATH: vercel, netlify, and the deno that `netlify dev` needs.
set -euo pipefail
cli="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ ! -x "$cli/node_modules/.bin/netlify" ] || [ ! -x "$cli/node_modules/.bin/vercel" ] ||
  [ ! -x "$cli/node_modules/.bin/deno" ]; then
  printf '\033[1m==> %s\033[0m\n' "installing the Vercel and Netlify CLIs and Deno (npm, pinned)" >&2
  (cd "$cli" && npm ci --no-audit --no-fund --silent)
fi
export PATH="$cli/node_modules/.bin:$PATH"
# Neither CLI may phone home or wait for an update check during a test.
export VERCEL_TELEMETRY_DISABLED=1 NETLIFY_TELEMETRY_DISABLED=1 NO_UPDATE_NOTIFIER=1
