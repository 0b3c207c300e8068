// Loopback stand-ins for provider APIs that cannot run here, answering in each provider's
// documented response shape and checking what a real provider checks (signatures, claims):
//
//   GitHub App installation tokens (docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app):
//     POST /app/installations/{id}/access_tokens  with  Authorization: Bearer <RS256 app JWT, iss = app id>
//     -> 201 {"token": "ghs_...", "expires_at": "...Z", "permissions": {...}, "repository_selection": "all"}
//   The JWT-bearer grant (RFC 7523):
//     POST /oauth/token  grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256 JWT>
//
//   node shapes-server.mjs --port 0 --app-id 12345 --client-id svc@example.iam
//   -> {"base":"http://127.0.0.1:<port>"}
// GET /test/keys gives the private key PEM the test configures Latchkey with; GET /test/counts.
import { createServer } from "node:http";
import { generateKeyPairSync, randomBytes, verify } from "node:crypto";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const appId = arg("app-id", "12345");
const clientId = arg("client-id", "svc@example.iam");
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const counts = { installation_tokens: 0, jwt_bearer_tokens: 0, refused: 0 };
let base = "";

function verifyJwt(jwt) {
  const [h, p, s] = (jwt || "").split(".");
  if (!s) return null;
  const header = JSON.parse(Buffer.from(h, "base64url"));
  if (header.alg !== "RS256") return null;
  const ok = verify("sha256", Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, "base64url"));
  return ok ? JSON.parse(Buffer.from(p, "base64url")) : null;
}

const now = () => Math.floor(Date.now() / 1000);

async function readBody(req) {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  return raw;
}

const server = createServer(async (req, res) => {
  const send = (status, value) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };
  const installation = req.url.match(/^\/app\/installations\/([^/]+)\/access_tokens$/);
  if (req.method === "POST" && installation) {
    const claims = verifyJwt((req.headers.authorization || "").replace(/^Bearer /, ""));
    const fresh = claims && String(claims.iss) === appId && claims.exp > now() && claims.exp - claims.iat <= 600 && claims.iat <= now() + 5;
    if (!fresh) {
      counts.refused += 1;
      return send(401, { message: "A JSON web token could not be decoded", documentation_url: "https://docs.github.com/rest" });
    }
    if (installation[1] === "404") return send(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
    counts.installation_tokens += 1;
    return send(201, {
      token: `ghs_${randomBytes(18).toString("hex")}`,
      expires_at: new Date((now() + 3600) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"),
      permissions: { contents: "read", metadata: "read" },
      repository_selection: "all",
    });
  }
  if (req.method === "POST" && req.url === "/oauth/token") {
    const form = new URLSearchParams(await readBody(req));
    const claims = form.get("grant_type") === "urn:ietf:params:oauth:grant-type:jwt-bearer" ? verifyJwt(form.get("assertion")) : null;
    const valid = claims && claims.iss === clientId && claims.aud === `${base}/oauth/token` && claims.exp > now() && claims.sub;
    if (!valid) {
      counts.refused += 1;
      return send(400, { error: "invalid_grant", error_description: "assertion rejected" });
    }
    counts.jwt_bearer_tokens += 1;
    return send(200, { access_token: `jb_${randomBytes(18).toString("hex")}`, token_type: "Bearer", expires_in: 3600, scope: form.get("scope") || "" });
  }
  if (req.method === "GET" && req.url === "/test/keys") return send(200, { private_key_pem: privateKey.export({ type: "pkcs8", format: "pem" }) });
  if (req.method === "GET" && req.url === "/test/counts") return send(200, counts);
  send(404, { message: "Not Found" });
});

server.listen(Number(arg("port", "0")), "127.0.0.1", () => {
  base = `http://127.0.0.1:${server.address().port}`;
  console.log(JSON.stringify({ base }));
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
