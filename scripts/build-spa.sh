#!/usr/bin/env bash
# Builds the SPA into dist/: the build command of netlify.toml and vercel.json.
#   API_ORIGIN=https://api.example.org scripts/build-spa.sh
# writes the platform proxy rules for that backend too (scripts/platform-rewrites.mjs,
# a Trunk hook); without it the SPA expects the API on its own origin.
# It needs Rust (cargo, rustup): on a builder without it, it says so and stops. The
# proven way to Vercel and Netlify builds here and uploads the result (README, Deploy).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
  echo "build-spa.sh: no Rust toolchain (cargo, rustup) on this builder. Build where it is" >&2
  echo "installed and upload the result: 'vercel build && vercel deploy --prebuilt'," >&2
  echo "or 'scripts/build-spa.sh && netlify deploy --dir dist' (README, Deploy)." >&2
  exit 1
fi
source scripts/setup.sh
step "building the SPA (trunk build --release)"
trunk build --release
