// The same checks under any runtime (Node, Deno, Bun): the built package against the real server.
// Prints one JSON line; exits non-zero on a failed check.
//   bun test/runtimes.mjs | deno run --allow-net --allow-env --allow-read test/runtimes.mjs
import { Latchkey, UnauthenticatedError, ConnectorNotProxyableError, verifyWebhook, signWebhook, WebhookVerificationError } from "../dist/index.js";

const env = (name) => (typeof Deno !== "undefined" ? Deno.env.get(name) : process.env[name]);
const checks = {};
async function check(name, fn) {
  try {
    await fn();
    checks[name] = "ok";
  } catch (error) {
    checks[name] = `FAILED: ${error?.stack ?? error}`;
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const url = env("LATCHKEY_URL");
let requests = 0;
const counting = (input, init) => {
  requests += 1;
  return fetch(input, init);
};

// Alice's demo connection, as the conformance setup makes it (importing again updates it).
await new Latchkey({ baseUrl: url, credential: env("LATCHKEY_SECRET_KEY") }).connections.import({
  consumerId: "alice", connector: "demo/api-key", credentials: { apiKey: "conformance-demo-key" },
});

await check("getToken against the real server, then from the cache", async () => {
  const latchkey = new Latchkey({ baseUrl: url, credential: env("LATCHKEY_ALICE_KEY"), fetch: counting });
  const [a, b] = await Promise.all([1, 2].map(() => latchkey.getToken("demo/api-key", { subject: { type: "user", id: "alice" } })));
  const c = await latchkey.getToken("demo/api-key", { subject: { type: "user", id: "alice" } });
  assert(a.accessToken === "conformance-demo-key" && b.accessToken === a.accessToken && c.accessToken === a.accessToken, "token");
  assert(requests === 1, `${requests} requests`);
});
await check("a bad key is an UnauthenticatedError", async () => {
  const latchkey = new Latchkey({ baseUrl: url, credential: "lk_sk_bad" });
  const error = await latchkey.getToken("demo/api-key", { subject: { type: "user", id: "alice" } }).catch((e) => e);
  assert(error instanceof UnauthenticatedError && error.status === 401, String(error));
});
await check("connections list", async () => {
  const latchkey = new Latchkey({ baseUrl: url, credential: env("LATCHKEY_SECRET_KEY") });
  const all = [];
  for await (const c of latchkey.connections.iterate({ consumerId: "alice" })) all.push(c);
  assert(all.some((c) => c.connector === "demo/api-key" && c.state === "callable"), JSON.stringify(all));
});
await check("proxy: Latchkey's refusal is typed; audit: a page of typed events", async () => {
  const asAlice = new Latchkey({ baseUrl: url, credential: env("LATCHKEY_ALICE_KEY") });
  const error = await asAlice.proxy("demo/api-key", "/v1/things", { subject: { type: "user", id: "alice" }, method: "POST", body: { a: 1 } }).catch((e) => e);
  assert(error instanceof ConnectorNotProxyableError && error.status === 409, String(error));
  const latchkey = new Latchkey({ baseUrl: url, credential: env("LATCHKEY_SECRET_KEY") });
  const page = await latchkey.audit.list({ action: "credentials_imported", limit: 100 });
  assert(page.data.length > 0 && page.data.every((e) => e.action === "credentials_imported" && typeof e.atMs === "number"), JSON.stringify(page));
  assert(page.data.some((e) => e.connector === "demo/api-key" && e.outcome === "ok"), JSON.stringify(page));
});
await check("webhooks: sign, verify, refuse", async () => {
  const body = '{"id":"evt_1"}';
  const header = await signWebhook("whsec_x", body, 1_700_000_000);
  const event = await verifyWebhook("whsec_x", { "Latchkey-Signature": header }, body, { now: 1_700_000_010 });
  assert(event.payload.id === "evt_1", "payload");
  const error = await verifyWebhook("whsec_y", { "Latchkey-Signature": header }, body, { now: 1_700_000_010 }).catch((e) => e);
  assert(error instanceof WebhookVerificationError && error.reason === "signature_mismatch", String(error));
});

const runtime = typeof Deno !== "undefined" ? `deno ${Deno.version.deno}` : typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.versions.node}`;
console.log(JSON.stringify({ runtime, checks }));
const failed = Object.values(checks).filter((v) => v !== "ok").length;
if (typeof Deno !== "undefined") Deno.exit(failed ? 1 : 0);
else process.exit(failed ? 1 : 0);
