// A minimal OIDC token issuer on 127.0.0.1 for the token broker's caller tests: it publishes a
// JWKS and signs whatever the test asks for, including the tokens an attacker would forge.
//
//   node jwt-issuer.mjs --port 0
//   -> {"issuer":"http://127.0.0.1:<port>","jwks_url":"http://127.0.0.1:<port>/jwks.json"}
//
// POST /sign {claims, kid?, alg?}: alg "RS256" (default) signs with key `kid` (k1, k2 or rogue,
// which is never published); "HS256-public" signs HMAC-SHA256 with k1's public key PEM as the
// secret (algorithm confusion); "none" leaves the signature empty.
// POST /rotate publishes k2. GET /test/fetches counts JWKS downloads.
import { createServer } from "node:http";
import { createHmac, generateKeyPairSync, sign } from "node:crypto";

const portArg = process.argv.indexOf("--port");
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;

const keys = Object.fromEntries(
  ["k1", "k2", "rogue"].map((kid) => [kid, generateKeyPairSync("rsa", { modulusLength: 2048 })]),
);
const published = new Set(["k1"]);
let fetches = 0;

const b64 = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

function token({ claims, kid = "k1", alg = "RS256" }) {
  const header = { typ: "JWT", kid, alg: alg === "HS256-public" ? "HS256" : alg };
  const input = `${b64(header)}.${b64(claims)}`;
  if (alg === "none") return `${input}.`;
  if (alg === "HS256-public") {
    const pem = keys.k1.publicKey.export({ type: "spki", format: "pem" });
    return `${input}.${createHmac("sha256", pem).update(input).digest("base64url")}`;
  }
  return `${input}.${sign("sha256", Buffer.from(input), keys[kid].privateKey).toString("base64url")}`;
}

function jwks() {
  return {
    keys: [...published].map((kid) => ({ ...keys[kid].publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" })),
  };
}

async function body(req) {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  return raw ? JSON.parse(raw) : {};
}

const server = createServer(async (req, res) => {
  const send = (status, value) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
  };
  if (req.method === "GET" && req.url === "/jwks.json") {
    fetches += 1;
    return send(200, jwks());
  }
  if (req.method === "GET" && req.url === "/test/fetches") return send(200, { count: fetches });
  if (req.method === "POST" && req.url === "/sign") return send(200, { token: token(await body(req)) });
  if (req.method === "POST" && req.url === "/rotate") {
    published.add("k2");
    return send(200, { published: [...published] });
  }
  send(404, { error: "not_found" });
});

server.listen(port, "127.0.0.1", () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  console.log(JSON.stringify({ issuer: base, jwks_url: `${base}/jwks.json` }));
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
