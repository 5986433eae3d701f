#!/usr/bin/env bash
# Size of the WASM client as shipped: raw and `gzip -9` bytes of dist/*.wasm and
# dist/*.js. Measures what is there; build it first with `trunk build --release`.
#
#   scripts/wasm-size.sh [DIST_DIR]     # default: dist
set -euo pipefail
cd "$(dirname "$0")/.."

dist="${1:-dist}"
if [[ ! -d "$dist" ]]; then
    echo "no $dist/ directory: run \`trunk build --release\` first" >&2
    exit 1
fi

shopt -s nullglob
files=("$dist"/*.wasm "$dist"/*.js)
if [[ ${#files[@]} -eq 0 ]]; then
    echo "no .wasm or .js files in $dist/: run \`trunk build --release\` first" >&2
    exit 1
fi

kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }

printf '| %-40s | %10s | %12s | %10s | %12s |\n' file "raw bytes" raw "gzip -9 B" "gzip -9"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..42})" "-----------:" "-------------:" "-----------:" "-------------:"
raw_total=0
gz_total=0
for f in "${files[@]}"; do
    raw=$(stat -c %s "$f")
    gz=$(gzip -9 -c "$f" | wc -c)
    raw_total=$((raw_total + raw))
    gz_total=$((gz_total + gz))
    printf '| %-40s | %10d | %12s | %10d | %12s |\n' "$(basename "$f")" "$raw" "$(kib "$raw")" "$gz" "$(kib "$gz")"
done
printf '| %-40s | %10d | %12s | %10d | %12s |\n' total "$raw_total" "$(kib "$raw_total")" "$gz_total" "$(kib "$gz_total")"
