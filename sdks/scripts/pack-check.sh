#!/usr/bin/env bash
# Builds every package as it would be published (npm pack; a wheel), installs them into a scratch
# project in a temp dir, and imports them there (Node, TypeScript with NodeNext resolution, Python).
#   bash sdks/scripts/pack-check.sh [WORKDIR]
set -euo pipefail
SDKS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$SDKS/.." && pwd)
VENV=${SDK_VENV:-$ROOT/.tools/sdk-venv}
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK/tarballs" "$WORK/app"

echo "npm pack"
for pkg in server connect react; do
  (cd "$SDKS/typescript/$pkg" && npm pack --silent --pack-destination "$WORK/tarballs" >/dev/null)
done
for tgz in "$WORK"/tarballs/*.tgz; do
  listing=$(tar -tzf "$tgz")
  grep -qx 'package/package.json' <<<"$listing"
  grep -qx 'package/README.md' <<<"$listing"
  grep -qx 'package/dist/index.js' <<<"$listing"
  grep -qx 'package/dist/index.d.ts' <<<"$listing"
  if grep -vqE '^package/(package\.json|README\.md|dist/.*)$' <<<"$listing"; then
    echo "$tgz ships more than dist, README.md and package.json:"; grep -vE '^package/(package\.json|README\.md|dist/.*)$' <<<"$listing"; exit 1
  fi
  node -e '
    const p = JSON.parse(process.argv[1]);
    const bad = [["version", p.version === "0.1.0"], ["license", p.license === "Apache-2.0"], ["repository", !!p.repository], ["exports", !!p.exports?.["."]?.types]].filter(([, ok]) => !ok);
    if (bad.length) { console.error(p.name, "metadata:", bad.map(([k]) => k).join(", ")); process.exit(1); }
  ' "$(tar -xzOf "$tgz" package/package.json)"
done

echo "a scratch project installs the tarballs"
cd "$WORK/app"
cat > package.json <<'JSON'
{ "name": "scratch", "private": true, "type": "module" }
JSON
react=$(node -p 'require(process.argv[1]).devDependencies.react' "$SDKS/package.json")
types_react=$(node -p 'require(process.argv[1]).devDependencies["@types/react"]' "$SDKS/package.json")
npm install --prefer-offline --no-audit --no-fund --loglevel=error \
  "$WORK"/tarballs/latchkey-server-0.1.0.tgz "$WORK"/tarballs/latchkey-connect-0.1.0.tgz "$WORK"/tarballs/latchkey-react-0.1.0.tgz \
  "react@$react" "react-dom@$react" "@types/react@$types_react" >/dev/null
cat > check.mjs <<'JS'
import assert from "node:assert/strict";
import { Latchkey, verifyWebhook, signWebhook, UnauthenticatedError, VERSION } from "@latchkey/server";
import { open, connectUrl } from "@latchkey/connect";
import { ConnectButton, useLatchkeyConnect, sessionUrl } from "@latchkey/react";
import { fileURLToPath } from "node:url";
assert.equal(VERSION, "0.1.0");
assert.ok(fileURLToPath(import.meta.resolve("@latchkey/server")).startsWith(process.cwd()), "resolved outside the scratch project");
const latchkey = new Latchkey({ baseUrl: "http://127.0.0.1:9", credential: "lk_sk_x" });
assert.equal(typeof latchkey.getToken, "function");
const sig = await signWebhook("s", "{}", 100);
assert.equal((await verifyWebhook("s", { "latchkey-signature": sig }, "{}", { now: 100 })).timestamp, 100);
assert.ok(new UnauthenticatedError({ code: "unauthenticated", message: "m", status: 401 }) instanceof Error);
assert.equal(typeof open, "function");
assert.equal(typeof connectUrl, "function");
assert.equal(typeof ConnectButton, "function");
assert.equal(typeof useLatchkeyConnect, "function");
assert.equal(typeof sessionUrl, "function");
console.log("node: the three packages import");
JS
node check.mjs
cat > check.tsx <<'TS'
import { Latchkey, type ProviderToken } from "@latchkey/server";
import { ConnectButton } from "@latchkey/react";
import { open } from "@latchkey/connect";
const latchkey = new Latchkey({ baseUrl: "https://auth.example.com", credential: "lk_sk_x" });
export const token: Promise<ProviderToken> = latchkey.getToken("slack/acme", { subject: { type: "user", id: "u" } });
export const button = <ConnectButton latchkeyUrl="https://auth.example.com" linkToken="lk_link_x" onSuccess={(t: string) => void t} />;
export const handle = () => open({ linkToken: "lk_link_x", latchkeyUrl: "https://auth.example.com" });
TS
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "strict": true, "module": "NodeNext", "moduleResolution": "NodeNext", "target": "ES2022", "jsx": "react-jsx", "noEmit": true, "lib": ["ES2022", "DOM"], "types": [] }, "files": ["check.tsx"] }
JSON
"$SDKS/node_modules/.bin/tsc" -p tsconfig.json
echo "typescript: the published declarations type-check"

echo "python: a wheel, installed into a scratch directory"
"$VENV/bin/pip" wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation -w "$WORK/wheel" "$SDKS/python" >/dev/null
wheel=$(ls "$WORK"/wheel/latchkey-0.1.0-*.whl)
"$VENV/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
assert "latchkey/py.typed" in names, names
assert not any(n.startswith("tests/") for n in names), names
meta = zipfile.ZipFile(sys.argv[1]).read(next(n for n in names if n.endswith("METADATA"))).decode()
for line in ("Name: latchkey", "Version: 0.1.0", "Requires-Python: >=3.9", "Requires-Dist: httpx"):
    assert line in meta, line
PY
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --target "$WORK/site" "$wheel"
(cd "$WORK/app" && PYTHONPATH="$WORK/site" "$VENV/bin/python" -c '
import latchkey, sys, os
assert latchkey.__file__.startswith(sys.argv[1]), latchkey.__file__
assert latchkey.__version__ == "0.1.0"
from latchkey import Latchkey, AsyncLatchkey, verify_webhook, UnauthenticatedError
print("python: latchkey", latchkey.__version__, "imports from", os.path.dirname(latchkey.__file__))
' "$WORK/site")
echo "pack check passed"
