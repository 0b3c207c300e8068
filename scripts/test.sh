#!/usr/bin/env bash
# Runs every test of Latchkey on a fresh machine with the Rust toolchain:
#   1. installs moto_server, cfn-lint, cargo-lambda and schemathesis into .tools/ (git-ignored),
#      oidc-provider, playwright-core, axe-core and the SDKs' packages from npm, Debian's chromium and a
#      Japanese font, cargo-nextest;
#   2. checks formatting (cargo fmt), lints template.yaml (cfn-lint) and the code (clippy, warnings
#      are errors);
#   3. builds every Lambda with `cargo lambda build` in the test profile, for the host's target,
#      so the functions, the CLI and the tests compile the dependencies once;
#   4. starts moto_server (DynamoDB, KMS, SQS APIs) on 127.0.0.1 and stops it on exit;
#   5. runs the workspace's tests with cargo nextest (the Lambda tests run the bootstraps of step 3),
#      then the SDKs' own tests against a local server (sdks/test.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap stop_servers EXIT

ensure_python_tools
ensure_node_packages
ensure_chromium
ensure_fonts
ensure_nextest
ensure_rust_components
log "SDK packages (npm workspaces, Python venv)"
bash sdks/test.sh --install-only

HOST=$(rustc -vV | sed -n 's/^host: //p')

log "cargo fmt --check"
cargo fmt --all --check

log "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml

# A fresh clone builds once: incremental caches would only cost disk (1.5 GB) and link time.
export CARGO_INCREMENTAL=0

log "cargo lambda build (every binary of the workspace, test profile, $HOST)"
# Plain cargo rather than zig, and the whole workspace rather than the functions alone: the same
# compiler flags and the same feature resolution as the tests, so no dependency is built twice.
PATH="$VENV/bin:$PATH" cargo lambda build --compiler cargo --target "$HOST" --workspace --bins
for dir in functions/*/; do
  bootstrap=target/lambda/latchkey-$(basename "$dir")/bootstrap
  [ -x "$bootstrap" ] || { echo "missing $bootstrap" >&2; exit 1; }
  printf '  %-40s %s bytes\n' "$bootstrap" "$(stat -c %s "$bootstrap")"
done

log "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --target "$HOST" -- -D warnings

start_moto

log "cargo nextest run --workspace"
# The CLI and server tests run the `latchkey` binary itself; `cargo test` alone would not rebuild it.
cargo build --workspace --bins --target "$HOST"
PATH="$VENV/bin:$PATH" cargo nextest run --workspace --target "$HOST" --no-fail-fast

log "SDK tests against a local server"
LATCHKEY_BIN="target/$HOST/debug/latchkey" bash sdks/test.sh
log "all tests passed"
