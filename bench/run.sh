#!/usr/bin/env bash
# The benchmark harness, one command: `bash bench/run.sh` writes BENCHMARKS.md.
#   1. installs moto_server and cargo-lambda (.tools/venv) and Debian's wrk;
#   2. builds every function, the `latchkey` CLI and the baselines (hello-world lambda_runtime,
#      the same with the AWS clients and one GetItem, and hyper) with `cargo lambda build --release`, so all share one profile;
#   3. runs the criterion micro-benchmarks;
#   4. starts moto_server on loopback and runs the harness, which writes BENCHMARKS.md.
# RUNS=N sets how many times each measurement repeats (default 5).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT"
trap stop_servers EXIT

ensure_python_tools
ensure_wrk

log "cargo lambda build --release (functions, CLI, baselines, harness)"
# shellcheck disable=SC2046
PATH="$VENV/bin:$PATH" cargo lambda build --release --x86-64 $(function_packages) -p latchkey-cli -p latchkey-bench

log "criterion micro-benchmarks"
cargo bench -p latchkey-bench --bench core

start_moto
log "measuring (RUNS=${RUNS:-5})"
target/lambda/latchkey-bench/bootstrap --moto "$LATCHKEY_TEST_MOTO_ENDPOINT" --runs "${RUNS:-5}" --out BENCHMARKS.md
