// @latchkey/server beyond the shared cases: the real server's connections lifecycle and webhook
// deliveries, secrets kept out of output, transport failures, input checks.
import { test } from "node:test";
import * as sdk from "@latchkey/server";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { execFileSync } from "node:child_process";
import { inspect } from "node:util";
import {
  Latchkey, LatchkeyError, LatchkeyConnectionError, ConnectionNotFoundError, UnauthenticatedError, InvalidJsonError,
  InvalidCursorError, ConnectorNotProxyableError, ProxyPathInvalidError, ERROR_CODES, ERROR_CLASSES, errorFromResponse, parseRetryAfter, reuseMillis, verifyWebhook, signWebhook, WebhookVerificationError, user, app,
} from "@latchkey/server";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} must be set (sdks/test.sh sets it)`);
  return value;
};

function cli(...args) {
  return JSON.parse(execFileSync(env("LATCHKEY_BIN"), ["--json", ...args], { env: { ...process.env, LATCHKEY_DATA_DIR: env("LATCHKEY_DATA_DIR") }, encoding: "utf8" }));
}

test("connections: import, get, list, delete, then get is connection_not_found (real server)", async () => {
  const latchkey = new Latchkey({ baseUrl: env("LATCHKEY_URL"), credential: env("LATCHKEY_SECRET_KEY") });
  const consumer = `ts-lifecycle-${Date.now()}`;
  const imported = await latchkey.connections.import({ consumerId: consumer, connector: "demo/api-key", credentials: { apiKey: "ts-key" }, metadata: { team: "ts" } });
  assert.match(imported.id, /^conn_/);
  assert.equal(imported.state, "callable");
  assert.equal(imported.authType, "api_key");
  assert.equal(imported.consumerId, consumer);
  const got = await latchkey.connections.get(imported.id);
  assert.equal(got.id, imported.id);
  assert.equal(got.connector, "demo/api-key");
  const page = await latchkey.connections.list({ consumerId: consumer, limit: 100 });
  assert.equal(page.nextCursor, null, "everything on one page: no next_cursor");
  assert.ok(page.data.some((c) => c.id === imported.id));
  const deleted = await latchkey.connections.delete(imported.id);
  assert.deepEqual({ ...deleted }, { id: imported.id, deleted: true, revoked: false });
  await assert.rejects(latchkey.connections.get(imported.id), ConnectionNotFoundError);
});

test("connections: list and iterate really page, and a cursor continues only its own listing (real server)", async () => {
  // Three more connectors for the demo project's environment, so a page of one is not the last.
  for (const name of ["a", "b", "c"]) {
    cli("connectors", "create", "--uid", `tspage/${name}`, "--auth-mode", "api-key");
    cli("connectors", "link", "--uid", `tspage/${name}`, "--project", env("LATCHKEY_PROJECT"), "--environment", "development");
  }
  const requests = [];
  const counting = (url, init) => {
    requests.push(String(url));
    return fetch(url, init);
  };
  const latchkey = new Latchkey({ baseUrl: env("LATCHKEY_URL"), credential: env("LATCHKEY_SECRET_KEY"), fetch: counting });
  const consumer = `ts-pages-${Date.now()}`;
  const first = await latchkey.connections.list({ consumerId: consumer, limit: 1 });
  assert.equal(first.data.length, 1);
  assert.equal(typeof first.nextCursor, "string", "a page of one is not the last");
  requests.length = 0;
  const all = [];
  for await (const c of latchkey.connections.iterate({ consumerId: consumer, limit: 1 })) all.push(c.connector);
  assert.ok(requests.length >= 4, `one request per page: ${requests.length}`);
  assert.ok(requests.slice(1).every((url) => new URL(url).searchParams.has("cursor")), "every page after the first asks from the previous one's cursor");
  for (const uid of ["tspage/a", "tspage/b", "tspage/c", "demo/api-key"]) assert.equal(all.filter((c) => c === uid).length, 1, uid);
  assert.deepEqual(all, [...all].sort(), "in connector order");
  await assert.rejects(latchkey.connections.list({ consumerId: `${consumer}-other`, cursor: first.nextCursor }), InvalidCursorError);
});

test("a link token and a session come back typed, and print without their secrets (real server)", async () => {
  const latchkey = new Latchkey({ baseUrl: env("LATCHKEY_URL"), credential: env("LATCHKEY_SECRET_KEY") });
  const link = await latchkey.createLinkToken({ endUser: { id: "ts-user", displayName: "Ada" }, connectors: ["demo/api-key"] });
  assert.match(link.linkToken, /^lk_link_/);
  assert.equal(link.connectUrl, null, "without a redirect URL the link opens only in the modal");
  const page = await latchkey.createLinkToken({ endUser: { id: "ts-user" }, connectors: ["demo/api-key"], redirectUrl: `${env("LATCHKEY_URL")}/done` });
  assert.ok(page.connectUrl.startsWith(`${env("LATCHKEY_URL")}/connect?link_token=`));
  assert.ok(!inspect(link).includes(link.linkToken), inspect(link));
  assert.ok(!String(link).includes(link.linkToken));
  assert.ok(Date.parse(link.expiresAt) > Date.now());
  const session = await latchkey.createSession({ consumerId: "ts-user", redirectUri: `${env("LATCHKEY_URL")}/`, settings: { isolationMode: true, allowActions: ["reauthorize"] }, theme: { primaryColor: "#2c5bd6" } });
  assert.equal(session.sessionToken.split(".").length, 3);
  assert.ok(!inspect(session).includes(session.sessionToken));
});

test("a token prints without its access token; the client without its credential", async () => {
  const secret = env("LATCHKEY_ALICE_KEY");
  const latchkey = new Latchkey({ baseUrl: env("LATCHKEY_URL"), credential: secret });
  const token = await latchkey.getToken("demo/api-key", { subject: user("alice") });
  assert.equal(token.tokenType, "api_key");
  assert.equal(token.expiresAt, null);
  assert.ok(inspect(token).includes("[redacted]"));
  assert.ok(!inspect(token).includes(token.accessToken));
  assert.ok(!inspect(latchkey, { showHidden: true, depth: 5 }).includes(secret));
  assert.ok(!JSON.stringify(latchkey).includes(secret));
  assert.throws(() => (token.accessToken = "changed"), TypeError, "tokens are frozen");
});

test("the app subject with a key bound to alice reaches the broker (no app connection: an error with a stable code)", async () => {
  const latchkey = new Latchkey({ baseUrl: env("LATCHKEY_URL"), credential: env("LATCHKEY_ALICE_KEY") });
  const error = await latchkey.getToken("demo/api-key", { subject: app() }).catch((e) => e);
  assert.ok(error instanceof LatchkeyError, inspect(error));
  assert.ok(ERROR_CODES.includes(error.code), error.code);
});

test("a real webhook delivery verifies with the signing secret, and fails with another (real server)", async () => {
  const received = [];
  let resolveArrived;
  const arrived = new Promise((r) => (resolveArrived = r));
  const receiver = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    received.push({ headers: req.headers, body: Buffer.concat(chunks) });
    res.writeHead(200).end();
    resolveArrived();
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  const hook = cli("webhooks", "add", "--project", env("LATCHKEY_PROJECT"), "--url", `http://127.0.0.1:${receiver.address().port}/hook`);
  try {
    const latchkey = new Latchkey({ baseUrl: env("LATCHKEY_URL"), credential: env("LATCHKEY_SECRET_KEY") });
    const consumer = `ts-webhook-${Date.now()}`;
    await latchkey.connections.import({ consumerId: consumer, connector: "demo/api-key", credentials: { apiKey: "k" } });
    let timer;
    await Promise.race([arrived, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no webhook within 10 s")), 10_000)))]);
    clearTimeout(timer);
    const { headers, body } = received[0];
    const event = await verifyWebhook(hook.signing_secret, headers, body);
    assert.match(event.id, /^evt_/);
    assert.ok(event.type.startsWith("connection."));
    assert.equal(event.payload.data.subject.id, consumer);
    await assert.rejects(verifyWebhook("whsec_another", headers, body), (e) => e instanceof WebhookVerificationError && e.reason === "signature_mismatch");
    await assert.rejects(verifyWebhook(hook.signing_secret, headers, body, { now: event.timestamp + 301 }), (e) => e.reason === "timestamp_out_of_tolerance");
  } finally {
    cli("webhooks", "remove", "--project", env("LATCHKEY_PROJECT"), "--id", hook.id);
    receiver.closeAllConnections();
    receiver.close();
  }
});

test("signWebhook and verifyWebhook agree over bytes, strings and Headers", async () => {
  const body = JSON.stringify({ id: "evt_x", note: "ünïcode" });
  const signature = await signWebhook("s3cret", body, 1_700_000_000);
  const event = await verifyWebhook("s3cret", new Headers({ "latchkey-signature": signature, "latchkey-event": "x.y" }), new TextEncoder().encode(body), { now: 1_700_000_100 });
  assert.equal(event.type, "x.y");
  assert.equal(event.payload.note, "ünïcode");
  await assert.rejects(verifyWebhook("s3cret", { "latchkey-signature": signature }, JSON.parse(body), { now: 1_700_000_000 }), (e) => e.reason === "invalid_body");
});

test("an unreachable Latchkey is a LatchkeyConnectionError that names neither key nor token", async () => {
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const port = server.address().port;
  await new Promise((r) => server.close(r));
  const secret = "lk_sk_never_printed_0123456789";
  const latchkey = new Latchkey({ baseUrl: `http://127.0.0.1:${port}`, credential: secret });
  const error = await latchkey.getToken("a/b", { subject: user("u") }).catch((e) => e);
  assert.ok(error instanceof LatchkeyConnectionError);
  assert.equal(error.code, "connection_error");
  assert.equal(error.status, 0);
  assert.ok(error.retryable);
  assert.ok(!inspect(error).includes(secret) && !error.message.includes(secret));
});

test("a slow Latchkey times out as a LatchkeyConnectionError", async () => {
  const server = createServer(() => {});
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const latchkey = new Latchkey({ baseUrl: `http://127.0.0.1:${server.address().port}`, credential: "lk_sk_x", timeoutMs: 200 });
    const error = await latchkey.connections.list({ consumerId: "x" }).catch((e) => e);
    assert.ok(error instanceof LatchkeyConnectionError, inspect(error));
    assert.match(error.message, /within 200 ms/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test("the low-level request maps errors too (real server)", async () => {
  const latchkey = new Latchkey({ baseUrl: env("LATCHKEY_URL"), credential: "lk_sk_wrong" });
  await assert.rejects(latchkey.request("GET", "/v1/connections", { query: { consumer_id: "x" } }), UnauthenticatedError);
  const good = new Latchkey({ baseUrl: env("LATCHKEY_URL"), credential: env("LATCHKEY_SECRET_KEY") });
  await assert.rejects(good.request("POST", "/v1/link/token", { rawBody: "[" }), InvalidJsonError);
  const providers = await good.request("GET", "/v1/providers");
  assert.ok(Array.isArray(providers.data) && providers.data.length > 10);
});

test("every error code the real server documents has its class (real server)", async () => {
  const openapi = await (await fetch(`${env("LATCHKEY_URL")}/v1/openapi.json`)).json();
  const documented = openapi.components.schemas.ErrorCode.enum;
  assert.ok(Array.isArray(documented) && documented.length > 30, "the server documents its error codes");
  assert.deepEqual(documented.filter((code) => !ERROR_CODES.includes(code)), [], "codes without a class");
  for (const code of documented) assert.ok(Object.hasOwn(ERROR_CLASSES, code), code);
});

test("a refused proxy call is in the audit trail, with its outcome, found by action and time (real server)", async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const consumer = `ts-proxy-${Date.now()}`;
  const latchkey = new Latchkey({ baseUrl: env("LATCHKEY_URL"), credential: env("LATCHKEY_SECRET_KEY") });
  const connection = await latchkey.connections.import({ consumerId: consumer, connector: "demo/api-key", credentials: { apiKey: "ts-proxy-key" } });
  const created = cli("keys", "create", "--project", env("LATCHKEY_PROJECT"), "--environment", "development", "--user", consumer);
  const userKey = created.secret_key;
  const asUser = new Latchkey({ baseUrl: env("LATCHKEY_URL"), credential: userKey });
  const refused = await asUser.proxy("demo/api-key", "/v1/things", { subject: user(consumer), method: "POST", body: { a: 1 }, retries: 3 }).catch((e) => e);
  assert.ok(refused instanceof ConnectorNotProxyableError, inspect(refused));
  assert.equal(refused.status, 409);
  assert.ok(!inspect(refused).includes(userKey) && !refused.message.includes("ts-proxy-key"));
  // The local server files events from a queue, a moment after the answer.
  let found;
  for (let attempt = 0; attempt < 50 && !found; attempt += 1) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 100));
    for await (const event of latchkey.audit.iterate({ action: "proxy_call", since, until: new Date(Date.now() + 60_000), limit: 5 })) {
      assert.equal(event.action, "proxy_call");
      assert.ok(event.atMs >= since * 1000, "since is honoured");
      if (event.actorId === created.key_id) found = event;
    }
  }
  assert.ok(found, "the refused call shows in the trail");
  assert.match(found.id, /^aud_/);
  assert.equal(found.actorKind, "secret_key");
  assert.equal(found.outcome, "connector_not_proxyable");
  assert.equal(found.connector, "demo/api-key");
  assert.equal(found.environment, "development");
  assert.equal(found.projectId, env("LATCHKEY_PROJECT"));
  assert.equal(found.sourceIp, "127.0.0.1");
  assert.equal(found.detail.method, "POST");
  assert.equal(found.detail.status, 409);
  assert.ok(!inspect(found).includes(userKey) && !inspect(found).includes("ts-proxy-key"));
  // The import that made the connection is in the trail too, found by its connection.
  const imports = await latchkey.audit.list({ connectionId: connection.id, action: "credentials_imported" });
  assert.deepEqual(imports.data.map((e) => [e.connectionId, e.connector, e.outcome]), [[connection.id, "demo/api-key", "ok"]]);
  assert.throws(() => (found.outcome = "ok"), TypeError, "events are frozen");
});

test("every code has its own class, named after it; unknown codes and odd bodies never throw", () => {
  assert.equal(ERROR_CODES.length, 58);
  // The one exception to the naming: not TimeoutError, the DOMException an aborted fetch throws.
  const renamed = { timeout: "RequestTimeoutError" };
  const names = new Set();
  for (const code of ERROR_CODES) {
    const error = errorFromResponse(400, { error: { code, message: "m" } });
    assert.equal(error.code, code);
    assert.ok(error instanceof ERROR_CLASSES[code] && error instanceof LatchkeyError);
    assert.notEqual(error.constructor, LatchkeyError);
    names.add(error.constructor.name);
    const words = code.split("_").map((w) => w[0].toUpperCase() + w.slice(1)).join("");
    assert.equal(error.constructor.name, renamed[code] ?? `${words.replace(/Error$/, "")}Error`);
    assert.equal(sdk[error.constructor.name], error.constructor, `${error.constructor.name} is exported`);
  }
  assert.equal(names.size, 58);
  for (const body of [undefined, null, "text", [], { error: "x" }, { error: { code: 5 } }]) {
    const error = errorFromResponse(500, body, "3");
    assert.equal(error.constructor, LatchkeyError);
    assert.equal(error.code, "unexpected_response");
    assert.equal(error.retryAfter, 3);
  }
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT")), 10);
  assert.equal(parseRetryAfter("soon"), null);
});

test("reuse time: expiry minus the buffer, at most half the remaining lifetime, none when expired", () => {
  const now = 1_000_000;
  assert.equal(reuseMillis(new Date(now + 3_600_000), now, 60, 300), 1_800_000);
  assert.equal(reuseMillis(new Date(now + 100_000), now, 60, 300), 40_000);
  assert.equal(reuseMillis(new Date(now + 50_000), now, 60, 300), 0);
  assert.equal(reuseMillis(new Date(now - 1), now, 60, 300), 0);
  assert.equal(reuseMillis(null, now, 60, 300), 300_000);
});

test("input is checked before anything is sent", async () => {
  let calls = 0;
  const fetch = async () => {
    calls += 1;
    return new Response("{}");
  };
  const latchkey = new Latchkey({ baseUrl: "http://127.0.0.1:9", credential: "lk_sk_x", fetch });
  assert.throws(() => new Latchkey({ baseUrl: "ftp://x", credential: "k" }), TypeError);
  assert.throws(() => new Latchkey({ baseUrl: "http://x", credential: "" }), TypeError);
  await assert.rejects(latchkey.getToken("", { subject: user("u") }), TypeError);
  await assert.rejects(latchkey.getToken("a/b", { subject: { type: "user" } }), TypeError);
  await assert.rejects(latchkey.getToken("a/b", { subject: { type: "robot", id: "x" } }), TypeError);
  await assert.rejects(latchkey.proxy("a/b", "/../v1/connections", { subject: user("u") }), ProxyPathInvalidError);
  await assert.rejects(latchkey.proxy("a/b", "x/%2e%2e/y", { subject: user("u") }), ProxyPathInvalidError);
  await assert.rejects(latchkey.proxy("a/b", "x/./y", { subject: user("u") }), ProxyPathInvalidError);
  await assert.rejects(latchkey.proxy("a/b", "x", { subject: user("u"), retries: 4 }), TypeError);
  await assert.rejects(latchkey.proxy("a/b", "x", { subject: user("u"), retries: 1.5 }), TypeError);
  await assert.rejects(latchkey.proxy("a/b", "x", { subject: { type: "user" } }), TypeError);
  await assert.rejects(latchkey.audit.list({ since: -1 }), TypeError);
  await assert.rejects(latchkey.audit.list({ until: 1.5 }), TypeError);
  await assert.rejects(latchkey.connections.list({}), TypeError);
  await assert.rejects(latchkey.exchangePublicToken(""), TypeError);
  assert.equal(calls, 0);
});

test("a credential function that fails stops the request", async () => {
  let calls = 0;
  const latchkey = new Latchkey({ baseUrl: "http://127.0.0.1:9", credential: async () => "", fetch: async () => (calls++, new Response("{}")) });
  await assert.rejects(latchkey.revokeAccessToken("lk_at_x"), TypeError);
  assert.equal(calls, 0);
});
