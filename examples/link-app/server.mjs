// Example app backend for Latchkey's link flow: @latchkey/server in the backend, @latchkey/react
// in the page (bundled with esbuild when the server starts).
//
//   npm start    (here, with LATCHKEY_URL and LATCHKEY_SECRET_KEY; install first: `npm ci` in sdks/)
//   LATCHKEY_URL=http://127.0.0.1:8080 LATCHKEY_SECRET_KEY=lk_sk_... node examples/link-app/server.mjs
//
// Two endpoints, as in the link-flow docs: one mints a link token for the signed-in user, one
// exchanges the public token the browser got from `onSuccess` and keeps the connection's access
// token on the server. The browser never sees a secret key or an access token.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const LATCHKEY_URL = (process.env.LATCHKEY_URL || "http://127.0.0.1:8080").replace(/\/$/, "");
const SECRET_KEY = process.env.LATCHKEY_SECRET_KEY;
const PORT = Number(process.env.PORT || 3000);
if (!SECRET_KEY) {
  console.error("Set LATCHKEY_SECRET_KEY (printed by `latchkey serve` on its first start).");
  process.exit(2);
}

// This app is a workspace of sdks/ (one lock file): its packages live in sdks/node_modules.
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const sdksModules = here("../../sdks/node_modules");
async function load(name) {
  for (const base of [import.meta.url, new URL("../../sdks/package.json", import.meta.url)]) {
    let manifest;
    try {
      manifest = createRequire(base).resolve(`${name}/package.json`);
    } catch {
      continue;
    }
    const pkg = JSON.parse(await readFile(manifest, "utf8"));
    const entry = pkg.exports?.["."]?.import ?? pkg.module ?? pkg.main ?? "index.js";
    return import(pathToFileURL(join(dirname(manifest), entry)).href);
  }
  console.error(`${name} is not installed: run \`npm ci\` in sdks/ first.`);
  process.exit(2);
}
const [{ Latchkey, LatchkeyError }, esbuild] = await Promise.all([load("@latchkey/server"), load("esbuild")]);

const latchkey = new Latchkey({ baseUrl: LATCHKEY_URL, credential: SECRET_KEY });

// What a real app keeps in its database: connection id -> access token, per user.
const connections = new Map();
const CURRENT_USER = { id: "user-123", email: "ada@example.com", displayName: "Ada" };

const publicDir = here("./public/");
const bundle = await esbuild.build({
  entryPoints: [publicDir + "app.jsx"],
  bundle: true,
  write: false,
  format: "esm",
  jsx: "automatic",
  minify: true,
  nodePaths: [sdksModules],
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "error",
});
const appJs = bundle.outputFiles[0].text;

function send(res, status, type, body) {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

const sendJson = (res, status, body) => send(res, status, "application/json", JSON.stringify(body));

function sendError(res, error) {
  if (error instanceof LatchkeyError) {
    return sendJson(res, error.status || 502, { error: { code: error.code, message: error.message } });
  }
  throw error;
}

async function readJson(req) {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  return raw ? JSON.parse(raw) : {};
}

const server = createServer(async (req, res) => {
  try {
    if (req.method === "POST" && req.url === "/api/link-token") {
      try {
        const { linkToken } = await latchkey.createLinkToken({ endUser: CURRENT_USER });
        return sendJson(res, 201, { link_token: linkToken });
      } catch (error) {
        return sendError(res, error);
      }
    }
    if (req.method === "POST" && req.url === "/api/exchange") {
      const { public_token } = await readJson(req);
      try {
        const exchanged = await latchkey.exchangePublicToken(public_token);
        connections.set(exchanged.connectionId, { accessToken: exchanged.accessToken, connector: exchanged.connector, endUser: exchanged.endUser });
        return sendJson(res, 200, { connection_id: exchanged.connectionId, connector: exchanged.connector });
      } catch (error) {
        return sendError(res, error);
      }
    }
    if (req.method === "GET" && req.url === "/api/connections") {
      const list = [...connections].map(([id, c]) => ({ connection_id: id, connector: c.connector, end_user: c.endUser }));
      return sendJson(res, 200, list);
    }
    // A provider token through the connection's own access token (never sent to the browser).
    const tokenMatch = req.method === "GET" && /^\/api\/connections\/([^/]+)\/token$/.exec(req.url);
    if (tokenMatch && connections.has(tokenMatch[1])) {
      const c = connections.get(tokenMatch[1]);
      try {
        const token = await latchkey.getToken(c.connector, { subject: { type: "user", id: CURRENT_USER.id }, credential: c.accessToken });
        return sendJson(res, 200, { token_type: token.tokenType, expires_at: token.expiresAt, connector: token.connector });
      } catch (error) {
        return sendError(res, error);
      }
    }
    if (req.method === "GET" && (req.url === "/" || req.url === "/index.html")) {
      const html = (await readFile(publicDir + "index.html", "utf8")).replace("%LATCHKEY_URL%", LATCHKEY_URL);
      return send(res, 200, "text/html; charset=utf-8", html);
    }
    if (req.url === "/favicon.ico") return send(res, 204, "text/plain", "");
    if (req.method === "GET" && req.url === "/app.js") return send(res, 200, "text/javascript; charset=utf-8", appJs);
    send(res, 404, "text/plain", "not found");
  } catch (error) {
    console.error(error);
    send(res, 500, "text/plain", "error");
  }
});

server.listen(PORT, "127.0.0.1", () => {
  const { port } = server.address();
  console.log(JSON.stringify({ listening: `http://127.0.0.1:${port}` }));
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
