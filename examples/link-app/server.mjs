// Example app backend for Latchkey's link flow (no dependencies: Node's http module).
//
//   LATCHKEY_URL=http://127.0.0.1:8080 LATCHKEY_SECRET_KEY=lk_sk_... node examples/link-app/server.mjs
//
// Two endpoints, as in the link-flow docs: one mints a link token for the signed-in user, one
// exchanges the public token the browser got from `onSuccess` and keeps the connection's access
// token on the server. The browser never sees a secret key or an access token.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const LATCHKEY_URL = (process.env.LATCHKEY_URL || "http://127.0.0.1:8080").replace(/\/$/, "");
const SECRET_KEY = process.env.LATCHKEY_SECRET_KEY;
const PORT = Number(process.env.PORT || 3000);
if (!SECRET_KEY) {
  console.error("Set LATCHKEY_SECRET_KEY (printed by `latchkey serve` on its first start).");
  process.exit(2);
}

// What a real app keeps in its database: connection id -> access token, per user.
const connections = new Map();
const CURRENT_USER = { id: "user-123", email: "ada@example.com", display_name: "Ada" };

async function latchkey(path, body) {
  const response = await fetch(`${LATCHKEY_URL}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${SECRET_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

function send(res, status, type, body) {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

async function readJson(req) {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  return raw ? JSON.parse(raw) : {};
}

const publicDir = fileURLToPath(new URL("./public/", import.meta.url));

const server = createServer(async (req, res) => {
  try {
    if (req.method === "POST" && req.url === "/api/link-token") {
      const { status, body } = await latchkey("/v1/link/token", { end_user: CURRENT_USER });
      return send(res, status, "application/json", JSON.stringify(status === 201 ? { link_token: body.link_token } : body));
    }
    if (req.method === "POST" && req.url === "/api/exchange") {
      const { public_token } = await readJson(req);
      const { status, body } = await latchkey("/v1/link/exchange", { public_token });
      if (status !== 200) return send(res, status, "application/json", JSON.stringify(body));
      connections.set(body.connection_id, { access_token: body.access_token, connector: body.connector, end_user: body.end_user });
      return send(res, 200, "application/json", JSON.stringify({ connection_id: body.connection_id, connector: body.connector }));
    }
    if (req.method === "GET" && req.url === "/api/connections") {
      const list = [...connections].map(([id, c]) => ({ connection_id: id, connector: c.connector, end_user: c.end_user }));
      return send(res, 200, "application/json", JSON.stringify(list));
    }
    if (req.method === "GET" && (req.url === "/" || req.url === "/index.html")) {
      const html = (await readFile(publicDir + "index.html", "utf8")).replace("%LATCHKEY_URL%", LATCHKEY_URL);
      return send(res, 200, "text/html; charset=utf-8", html);
    }
    if (req.url === "/favicon.ico") return send(res, 204, "text/plain", "");
    if (req.method === "GET" && req.url === "/app.js") {
      return send(res, 200, "text/javascript; charset=utf-8", await readFile(publicDir + "app.js", "utf8"));
    }
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
