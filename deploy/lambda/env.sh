#!/usr/bin/env bash
# Sourced by the serverless tests and scripts: installs the real `cargo lambda` (PyPI
# cargo-lambda, pinned) into .tools/ when missing and puts it on PATH.
set -euo pipefail
lambda_tools="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.tools/cargo-lambda"
if [ ! -x "$lambda_tools/bin/cargo-lambda" ]; then
  printf '\033[1m==> %s\033[0m\n' "installing cargo-lambda 1.9.2 (PyPI) into .tools/" >&2
  python3 -m venv "$lambda_tools"
  "$lambda_tools/bin/pip" install -q --disable-pip-version-check cargo-lambda==1.9.2
fi
export PATH="$lambda_tools/bin:$PATH"
