# Shared by scripts/*.sh: installs the project-local tools and runs loopback servers.
# Everything lands in .tools/ (git-ignored); nothing is installed system-wide except Debian packages.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=$ROOT/.tools
VENV=$TOOLS/venv

log() { printf '\n== %s\n' "$*" >&2; }

# Python tools: moto_server (DynamoDB and KMS APIs), cfn-lint, cargo-lambda, schemathesis.
ensure_python_tools() {
  local stamp=$VENV/.requirements
  if [ -f "$stamp" ] && cmp -s "$stamp" "$ROOT/scripts/requirements-tools.txt"; then return; fi
  log "installing moto_server, cfn-lint, cargo-lambda and schemathesis into .tools/venv"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements-tools.txt"
  cp "$ROOT/scripts/requirements-tools.txt" "$stamp"
}

# Debian's Chromium for the browser tests (playwright-core drives it; it downloads no browser).
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  log "installing Debian's chromium"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
}

# A font with Japanese glyphs (Debian's VL Gothic, 2 MB), so the Connect page's Japanese screenshots
# show its words rather than empty boxes.
ensure_fonts() {
  if fc-list :lang=ja 2>/dev/null | grep -q .; then return; fi
  log "installing Debian's fonts-vlgothic"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends fonts-vlgothic >/dev/null
}

# The provider (oidc-provider), the browser driver (playwright-core) and the accessibility checker
# (axe-core), from package-lock.json.
ensure_node_packages() {
  local dir=$ROOT/tests/e2e
  if [ -f "$dir/node_modules/.package-lock.json" ] && cmp -s "$dir/package-lock.json" "$dir/node_modules/.lock-stamp" 2>/dev/null; then return; fi
  log "installing oidc-provider, playwright-core and axe-core (npm ci)"
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$dir/node_modules/.lock-stamp"
}

ensure_nextest() {
  if cargo nextest --version >/dev/null 2>&1; then return; fi
  log "installing cargo-nextest"
  cargo install --locked cargo-nextest
}

# clippy and rustfmt: part of the toolchain's default profile; added if this toolchain lacks them.
ensure_rust_components() {
  if cargo clippy --version >/dev/null 2>&1 && cargo fmt --version >/dev/null 2>&1; then return; fi
  log "adding clippy and rustfmt to the toolchain"
  rustup component add clippy rustfmt
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for_http() { # url, seconds
  python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request, urllib.error
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit(f"{url} did not answer in time")
PY
}

SERVER_PIDS=()
stop_servers() {
  for pid in "${SERVER_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  return 0
}

# Starts moto_server on a free loopback port and exports what the tests and the AWS SDK need.
start_moto() {
  local port; port=$(free_port)
  mkdir -p "$TOOLS/logs"
  "$VENV/bin/python" "$ROOT/scripts/moto_server.py" "$port" >"$TOOLS/logs/moto.log" 2>&1 &
  SERVER_PIDS+=($!)
  wait_for_http "http://127.0.0.1:$port/moto-api/" 60
  export LATCHKEY_TEST_MOTO_ENDPOINT=http://127.0.0.1:$port
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  log "moto_server (DynamoDB, KMS) on $LATCHKEY_TEST_MOTO_ENDPOINT"
}

# wrk, the load generator of the benchmark harness (Debian's package).
ensure_wrk() {
  if command -v wrk >/dev/null 2>&1; then return; fi
  log "installing Debian's wrk"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
}

# The cargo-lambda packages of every function.
function_packages() {
  for dir in "$ROOT"/functions/*/; do printf -- '-p latchkey-%s ' "$(basename "$dir")"; done
}
