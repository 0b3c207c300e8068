#!/usr/bin/env bash
# Runs every test of Latchkey on a fresh machine with the Rust toolchain:
#   1. installs moto_server, cfn-lint and cargo-lambda into .tools/ (git-ignored);
#   2. installs oidc-provider and playwright-core (npm) and Debian's chromium for the browser tests;
#   3. lints template.yaml with cfn-lint and builds every Lambda with `cargo lambda build --release`
#      (the Lambda tests run those bootstraps);
#   4. starts moto_server (DynamoDB and KMS APIs) on 127.0.0.1 and stops it on exit;
#   5. runs the workspace's tests with cargo nextest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap stop_servers EXIT

ensure_python_tools
ensure_node_packages
ensure_chromium
ensure_nextest

log "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml

log "cargo lambda build --release (every function)"
# The Lambda tests run these bootstraps under `cargo lambda watch`'s runtime API emulation.
# shellcheck disable=SC2046
PATH="$VENV/bin:$PATH" cargo lambda build --release --x86-64 $(function_packages)
for dir in functions/*/; do
  bootstrap=target/lambda/latchkey-$(basename "$dir")/bootstrap
  [ -x "$bootstrap" ] || { echo "missing $bootstrap" >&2; exit 1; }
  printf '  %-40s %s bytes\n' "$bootstrap" "$(stat -c %s "$bootstrap")"
done

start_moto

log "cargo nextest run --workspace"
# The CLI and server tests run the `latchkey` binary itself; `cargo test` alone would not rebuild it.
cargo build --workspace --bins
PATH="$VENV/bin:$PATH" cargo nextest run --workspace --no-fail-fast
log "all tests passed"
