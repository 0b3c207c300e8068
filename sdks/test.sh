#!/usr/bin/env bash
# Runs every SDK test against a real local Latchkey. CI calls it from scripts/test.sh:
#
#   LATCHKEY_BIN=target/debug/latchkey bash sdks/test.sh            # install what is missing, test
#   bash sdks/test.sh --install-only                                # only install (npm ci + build, the venv)
#
# 1. installs the npm workspaces (npm ci from sdks/package-lock.json; its prepare script builds the
#    packages) and a venv at .tools/sdk-venv (pip, sdks/python/requirements-dev.txt), each only when
#    its lock file changed; Debian's chromium must be at /usr/bin/chromium (scripts/test.sh installs it);
# 2. starts `latchkey serve` on a free loopback port with a temp data dir (stopped on exit);
# 3. runs the TypeScript suites (node --test), the Chromium suites (playwright-core), the Python
#    suite (pytest), the type checks (tsc --noEmit, mypy --strict) and the package check (npm pack,
#    a wheel, each installed into a scratch project and imported);
# 4. ends with one line `N passed, N failed` over all of them, and exits non-zero on any failure.
set -uo pipefail

SDKS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SDKS/.." && pwd)
VENV=$ROOT/.tools/sdk-venv
WORK=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-sdk-test.XXXXXX")
SERVER_PID=""

log() { printf '\n== %s\n' "$*" >&2; }

cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install_node() {
  if [ -f "$SDKS/node_modules/.package-lock.json" ] && cmp -s "$SDKS/package-lock.json" "$SDKS/node_modules/.lock-stamp" 2>/dev/null; then
    log "npm workspaces are installed; building the packages"
    (cd "$SDKS" && npm run --silent build) >&2 || return 1
  else
    log "installing the npm workspaces (npm ci; builds the packages)"
    (cd "$SDKS" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) >&2 || return 1
    cp "$SDKS/package-lock.json" "$SDKS/node_modules/.lock-stamp"
  fi
}

install_python() {
  local stamp=$VENV/.requirements
  if [ -x "$VENV/bin/python" ] && cmp -s "$stamp" "$SDKS/python/requirements-dev.txt" 2>/dev/null; then return 0; fi
  log "installing the Python SDK's test tools into .tools/sdk-venv"
  python3 -m venv "$VENV" || return 1
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$SDKS/python/requirements-dev.txt" || return 1
  cp "$SDKS/python/requirements-dev.txt" "$stamp"
}

install_node || { echo "npm install failed" >&2; exit 1; }
install_python || { echo "pip install failed" >&2; exit 1; }
if [ "${1:-}" = "--install-only" ]; then exit 0; fi

: "${LATCHKEY_BIN:?set LATCHKEY_BIN to a built latchkey binary}"
LATCHKEY_BIN=$(cd "$(dirname "$LATCHKEY_BIN")" && pwd)/$(basename "$LATCHKEY_BIN")
[ -x "$LATCHKEY_BIN" ] || { echo "LATCHKEY_BIN=$LATCHKEY_BIN is not executable" >&2; exit 1; }
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || echo "warning: no chromium at ${CHROMIUM_PATH:-/usr/bin/chromium}: the browser suites will fail" >&2

# --- the server ---------------------------------------------------------------------------------
export LATCHKEY_DATA_DIR=$WORK/data
mkdir -p "$LATCHKEY_DATA_DIR"
log "starting latchkey serve"
# The webhook tests' receivers listen on 127.0.0.1: the outbound policy reaches it only when told.
LATCHKEY_OUTBOUND_ALLOW=127.0.0.1 "$LATCHKEY_BIN" --json serve --bind 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 200); do
  [ -s "$WORK/serve.out" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.05
done
json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }
if ! LATCHKEY_URL=$(json_field listening <"$WORK/serve.out"); then
  echo "latchkey serve did not start:" >&2; cat "$WORK/serve.log" >&2; exit 1
fi
export LATCHKEY_URL LATCHKEY_BIN
export LATCHKEY_SECRET_KEY=$(json_field demo_secret_key <"$WORK/serve.out")
export LATCHKEY_PROJECT=$(json_field demo_project <"$WORK/serve.out")
export LATCHKEY_ALICE_KEY=$("$LATCHKEY_BIN" --json keys create --project "$LATCHKEY_PROJECT" --environment development --user alice | json_field secret_key)
log "latchkey on $LATCHKEY_URL"

# --- the suites ---------------------------------------------------------------------------------
PASSED=0
FAILED=0
SUMMARY=()

# record NAME PASSED FAILED EXIT: a suite that exits non-zero with no failure counted counts one.
record() {
  local name=$1 pass=${2:-0} fail=${3:-0} status=$4
  if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
  PASSED=$((PASSED + pass)); FAILED=$((FAILED + fail))
  SUMMARY+=("$(printf '%-44s %4d passed, %d failed' "$name" "$pass" "$fail")")
}

node_suite() { # name dir
  local name=$1 dir=$2 out=$WORK/$(echo "$1" | tr -c 'a-z0-9' '_').log status
  log "$name"
  (cd "$dir" && node --test --test-reporter=spec test/*.test.mjs) 2>&1 | tee "$out" >&2
  status=${PIPESTATUS[0]}
  record "$name" "$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$out" | tail -1)" "$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$out" | tail -1)" "$status"
}

runtime_suite() { # name command...: test/runtimes.mjs under another runtime; one line of JSON checks
  local name=$1 out=$WORK/runtime.json status; shift
  log "$name"
  (cd "$SDKS/typescript/server" && "$@") >"$out" 2>"$WORK/runtime.err"
  status=$?
  cat "$out" "$WORK/runtime.err" >&2
  record "$name" \
    "$(python3 -c 'import json,sys; print(sum(v == "ok" for v in json.loads(open(sys.argv[1]).read().splitlines()[-1])["checks"].values()))' "$out" 2>/dev/null || echo 0)" \
    "$(python3 -c 'import json,sys; print(sum(v != "ok" for v in json.loads(open(sys.argv[1]).read().splitlines()[-1])["checks"].values()))' "$out" 2>/dev/null || echo 0)" \
    "$status"
}

check() { # name command...
  local name=$1 status; shift
  log "$name"
  "$@" >&2
  status=$?
  if [ "$status" -eq 0 ]; then record "$name" 1 0 0; else record "$name" 0 1 "$status"; fi
}

node_suite "typescript @latchkey/server" "$SDKS/typescript/server"
runtime_suite "typescript @latchkey/server under bun" "$SDKS/node_modules/.bin/bun" test/runtimes.mjs
runtime_suite "typescript @latchkey/server under deno" env DENO_DIR="$WORK/deno" DENO_NO_PACKAGE_JSON=1 DENO_NO_UPDATE_CHECK=1 \
  "$SDKS/node_modules/.bin/deno" run --no-config --allow-net --allow-env --allow-read test/runtimes.mjs
node_suite "typescript @latchkey/connect (chromium)" "$SDKS/typescript/connect"
node_suite "typescript @latchkey/react (chromium)" "$SDKS/typescript/react"

log "python latchkey (pytest)"
out=$WORK/pytest.log
(cd "$SDKS/python" && PYTHONPATH=src PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" -m pytest -q -p no:cacheprovider) 2>&1 | tee "$out" >&2
status=${PIPESTATUS[0]}
last=$(grep -E '[0-9]+ (passed|failed|error)' "$out" | tail -1)
record "python latchkey (pytest)" \
  "$(grep -oE '[0-9]+ passed' <<<"$last" | grep -oE '[0-9]+' || echo 0)" \
  "$(( $(grep -oE '[0-9]+ failed' <<<"$last" | grep -oE '[0-9]+' || echo 0) + $(grep -oE '[0-9]+ errors?' <<<"$last" | grep -oE '[0-9]+' || echo 0) ))" \
  "$status"

check "tsc --noEmit @latchkey/server" npm --prefix "$SDKS/typescript/server" run --silent typecheck
check "tsc --noEmit @latchkey/connect" npm --prefix "$SDKS/typescript/connect" run --silent typecheck
check "tsc --noEmit @latchkey/react" npm --prefix "$SDKS/typescript/react" run --silent typecheck
check "mypy --strict latchkey" bash -c "cd '$SDKS/python' && MYPY_CACHE_DIR='$WORK/mypy' '$VENV/bin/mypy' --strict"
check "packages: pack, install in a scratch project, import" bash "$SDKS/scripts/pack-check.sh" "$WORK/pack"

printf '\n' >&2
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
