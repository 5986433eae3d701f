#!/usr/bin/env bash
# What a first visit costs before any page of ours: the brotli bytes (WASM + JS glue)
# of the smallest apps on this client's stack, built as the app is (same profile,
# component erasure, wasm-bindgen, wasm-opt -Oz, brotli 11). docs/BENCHMARKS.md, section 9.
#   bench/wasm-floor.sh     # about 5 minutes: four release builds of a small crate
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
crate=bench/wasm-floor
cp Cargo.lock "$crate/Cargo.lock" # the workspace's versions exactly
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/wasm-floor"
# The app's flags without `--emit-relocs` (.cargo/config.toml): that is for the split
# build only, and wasm-opt keeps the relocations in an unsplit module.
export RUSTFLAGS="--cfg erase_components"
out="$(mktemp -d)"
printf '| %-26s | %10s | %10s | %10s |\n' app "WASM br" "JS br" total
for variant in counter router session router,session; do
  features=$([ "$variant" = counter ] && echo "" || echo "--features $variant")
  # shellcheck disable=SC2086
  cargo build -q --manifest-path "$crate/Cargo.toml" --target wasm32-unknown-unknown \
    --profile wasm-release $features
  wasm-bindgen --target web --out-dir "$out/$variant" \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/floor.wasm"
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "$out/$variant/floor_bg.wasm" -o "$out/$variant/floor_bg.wasm"
  node -e '
    const zlib = require("zlib"), fs = require("fs");
    const br = (f) => zlib.brotliCompressSync(fs.readFileSync(f),
      { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
    const [name, dir] = process.argv.slice(1);
    const wasm = br(`${dir}/floor_bg.wasm`), js = br(`${dir}/floor.js`);
    console.log(`| ${name.padEnd(26)} | ${String(wasm).padStart(10)} | ${String(js).padStart(10)} | ${String(wasm + js).padStart(10)} |`);
  ' "$variant" "$out/$variant"
done
rm -rf "$out"
