#!/usr/bin/env bash
# Installs what building and testing need, only when missing, and puts it on PATH.
# Sourced by run.sh and test.sh: `source scripts/setup.sh [--browser]`.
#   --browser  also Debian's Chromium and the Playwright packages (for the tests)
# Nothing here downloads a toolchain or browser build of its own: the registries only.

set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools"
export PATH="$tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

lock_version() { # the version of crate $1 in Cargo.lock
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock"
}

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.'; then
  step "installing Trunk 0.21 (0.22 needs a newer rustc); a few minutes, once"
  cargo install trunk --version '~0.21' --locked
fi

wbg="$(lock_version wasm-bindgen)"
if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$wbg" ]; then
  step "installing wasm-bindgen-cli $wbg (must equal Cargo.lock); a few minutes, once"
  # Not --locked: one of its locked dependencies is gone from the registry.
  cargo install wasm-bindgen-cli --version "$wbg" --force
fi

# Splits the client into a module per page (scripts/build-wasm.mjs). Its format must match
# the wasm_split_helpers crate in Cargo.lock (through leptos): upgrade them together.
if ! cargo install --list 2>/dev/null | grep -q '^wasm_split_cli_support v0\.2\.4:'; then
  step "installing wasm-split-cli 0.2.4; a minute or two, once"
  cargo install wasm_split_cli_support --version 0.2.4 --features build-binary --locked
fi

# wasm-opt from npm's binaryen: Debian's binaryen 108 emits a WASM Chromium rejects.
if ! wasm-opt --version 2>/dev/null | grep -q 'version 132'; then
  step "installing wasm-opt (binaryen 132 from npm)"
  npm install --prefix "$tools" --no-audit --no-fund --silent binaryen@132.0.0
fi

# esbuild minifies wasm-bindgen's JS glue (Trunk 0.21's minifier cannot parse it).
# Its own path: the Netlify CLI brings another esbuild onto PATH for the deploy tests.
if [ "$("$tools/node_modules/.bin/esbuild" --version 2>/dev/null)" != "0.28.2" ]; then
  step "installing esbuild 0.28.2 (npm, into .tools/)"
  npm install --prefix "$tools" --no-audit --no-fund --silent esbuild@0.28.2
fi

if [ "${1:-}" = "--browser" ]; then
  if [ ! -x /usr/bin/chromium ]; then
    step "installing Debian's Chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  if [ ! -d "$root/end2end/node_modules/@playwright/test" ]; then
    step "installing the Playwright packages (never its browsers)"
    (cd "$root/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
  fi
fi
