// Runs sdks/conformance/cases.json against @latchkey/server: the real local server (LATCHKEY_URL,
// LATCHKEY_SECRET_KEY, LATCHKEY_ALICE_KEY), a loopback stand-in, and webhook vectors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import * as sdk from "@latchkey/server";
import { startStandin } from "./standin.mjs";

const { Latchkey, verifyWebhook, WebhookVerificationError } = sdk;
const spec = JSON.parse(readFileSync(new URL("../../../conformance/cases.json", import.meta.url), "utf8"));
const LATCHKEY_URL = process.env.LATCHKEY_URL;

const camel = (s) => s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const camelize = (o) => (o && typeof o === "object" && !Array.isArray(o) ? Object.fromEntries(Object.entries(o).map(([k, v]) => [camel(k), v])) : o);
const fill = (value) => (typeof value === "string" && LATCHKEY_URL ? value.replaceAll("{latchkey_url}", LATCHKEY_URL) : value);

/** `a.b.c` in a result, trying each segment camelCased first (SDK fields), then as is (provider data). */
function lookup(value, path) {
  let current = value;
  for (const seg of path.split(".")) {
    if (current === null || current === undefined) return undefined;
    current = camel(seg) in Object(current) ? current[camel(seg)] : current[seg];
  }
  return current instanceof Date ? current.toISOString() : current;
}

function credentialValue(name, counters) {
  const def = spec.credentials[name];
  assert.ok(def, `unknown credential ${name}`);
  if (def.value) return def.value;
  if (def.env) {
    const v = process.env[def.env];
    assert.ok(v, `${def.env} must be set (sdks/test.sh sets it)`);
    return v;
  }
  if (def.function) {
    counters[name] = 0;
    return async () => `${def.function}${++counters[name]}`;
  }
  throw new Error(`credential ${name} has no value`);
}

async function call(client, name, args) {
  const a = args ?? {};
  switch (name) {
    case "get_token":
      return client.getToken(a.connector, {
        subject: a.subject, installationId: a.installation_id, scopes: a.scopes, resources: a.resources,
        authorizationDetails: a.authorization_details, allowBroader: a.allow_broader, forceRefresh: a.force_refresh,
      });
    case "create_link_token":
      return client.createLinkToken({ endUser: camelize(a.end_user), connectors: a.connectors, connectionId: a.connection_id, redirectUrl: a.redirect_url });
    case "exchange_public_token":
      return client.exchangePublicToken(a.public_token);
    case "create_session":
      return client.createSession({ consumerId: a.consumer_id, redirectUri: fill(a.redirect_uri), settings: camelize(a.settings) });
    case "connections_list":
      return client.connections.list({ consumerId: a.consumer_id, limit: a.limit, cursor: a.cursor });
    case "connections_iterate": {
      const all = [];
      for await (const c of client.connections.iterate({ consumerId: a.consumer_id, limit: a.limit })) all.push(c);
      return all;
    }
    case "connections_get":
      return client.connections.get(a.connection_id);
    case "connections_delete":
      return client.connections.delete(a.connection_id);
    case "connections_import":
      return client.connections.import({ consumerId: a.consumer_id, connector: a.connector, credentials: camelize(a.credentials), scopes: a.scopes, metadata: a.metadata });
    case "connections_configure":
      return client.connections.configure(a.connection_id, a.settings);
    case "audit_list":
      return client.audit.list({ action: a.action, connectionId: a.connection_id, since: a.since, until: a.until, limit: a.limit, cursor: a.cursor });
    case "audit_iterate": {
      const all = [];
      for await (const e of client.audit.iterate({ action: a.action, connectionId: a.connection_id, since: a.since, until: a.until, limit: a.limit })) all.push(e);
      return all;
    }
    case "proxy": {
      const response = await client.proxy(a.connector, a.path, {
        method: a.method, subject: a.subject, installationId: a.installation_id, retries: a.retries, body: a.json ?? a.text,
      });
      const text = await response.text();
      let body = text;
      try { body = JSON.parse(text); } catch {}
      return { status: response.status, body };
    }
    case "revoke_access_token":
      return client.revokeAccessToken(a.access_token);
    case "request":
      return client.request(a.method, a.path, { rawBody: a.raw_body, body: a.json });
    default:
      throw new Error(`unknown call ${name}`);
  }
}

function partial(actual, expected, where) {
  if (expected !== null && typeof expected === "object" && !Array.isArray(expected)) {
    assert.ok(actual && typeof actual === "object", `${where}: expected an object, got ${inspect(actual)}`);
    for (const [k, v] of Object.entries(expected)) partial(actual[k], v, `${where}.${k}`);
  } else {
    assert.deepEqual(actual, expected, where);
  }
}

function checkShown(things, secrets, resolveSecret) {
  for (const name of secrets ?? []) {
    const secret = resolveSecret(name);
    if (typeof secret !== "string" || secret.length === 0) continue;
    for (const thing of things) {
      if (thing === undefined) continue;
      for (const shown of [inspect(thing, { depth: 5 }), String(thing), thing instanceof Error ? thing.message : ""]) {
        assert.ok(!shown.includes(secret), `a secret (${name}) is shown in ${shown.slice(0, 80)}…`);
      }
    }
  }
}

function checkExpect(expect, outcome, ctx) {
  const { result, error } = outcome;
  if (expect.error) {
    assert.ok(error, `expected error ${expect.error.code}, got result ${inspect(result)}`);
    assert.ok(error instanceof sdk.LatchkeyError, `not a LatchkeyError: ${inspect(error)}`);
    assert.equal(error.code, expect.error.code);
    if (expect.error.status !== undefined) assert.equal(error.status, expect.error.status);
    if (expect.error.class) {
      assert.equal(error.constructor.name, expect.error.class);
      assert.ok(error instanceof sdk[expect.error.class], `${error.constructor.name} is not a ${expect.error.class}`);
    }
    if (expect.error.retry_after !== undefined) assert.equal(error.retryAfter, expect.error.retry_after);
    if (expect.error.details) partial(error.details, expect.error.details, "details");
  } else if (error) {
    throw error;
  }
  if (expect.ok) assert.ok(!error);
  if (expect.result) for (const [path, v] of Object.entries(expect.result)) assert.deepEqual(lookup(result, path), fill(v), `result.${path}`);
  if (expect.result_prefix) {
    for (const [path, v] of Object.entries(expect.result_prefix)) {
      const got = lookup(result, path);
      assert.ok(typeof got === "string" && got.startsWith(fill(v)), `result.${path} = ${got} does not start with ${fill(v)}`);
    }
  }
  if (expect.result_ids) {
    const items = Array.isArray(result) ? result : result.data;
    assert.deepEqual(items.map((i) => i.id), expect.result_ids);
  }
  if (expect.result_contains) {
    const items = Array.isArray(result) ? result : result.data;
    const found = items.some((item) => Object.entries(expect.result_contains).every(([p, v]) => lookup(item, p) === v));
    assert.ok(found, `no item has ${JSON.stringify(expect.result_contains)}: ${inspect(items)}`);
  }
  if (expect.result_every) {
    const items = Array.isArray(result) ? result : result.data;
    for (const item of items) {
      for (const [p, v] of Object.entries(expect.result_every)) assert.deepEqual(lookup(item, p), v, `every item's ${p}: ${inspect(item)}`);
    }
  }
  if (expect.requests !== undefined) assert.equal(ctx.standin.requests.length, expect.requests, "requests to the stand-in");
  if (expect.token_requests !== undefined) assert.equal(ctx.tokenRequests(), expect.token_requests, "token requests to Latchkey");
  if (expect.last_request) {
    const last = ctx.standin.requests.at(-1);
    assert.ok(last, "no request was made");
    const { headers, absent_headers: absent, json, ...rest } = expect.last_request;
    partial(last, rest, "request");
    if (headers) for (const [k, v] of Object.entries(headers)) assert.equal(last.headers[k.toLowerCase()], v, `request header ${k}`);
    for (const k of absent ?? []) assert.equal(last.headers[k.toLowerCase()], undefined, `request header ${k} is not sent`);
    if (json !== undefined) assert.deepEqual(last.json, json, "request body");
  }
  checkShown([result, error], expect.secrets_not_shown, (name) => {
    if (name.startsWith("result.")) return lookup(result, name.slice(7));
    if (spec.credentials[name]) return typeof ctx.credential(name) === "string" ? ctx.credential(name) : undefined;
    return name;
  });
}

async function runSteps(kase, baseUrl, standin) {
  const clients = new Map();
  const counters = {};
  let tokenRequests = 0;
  const countingFetch = (input, init) => {
    if (new URL(String(input)).pathname.startsWith("/v1/token/")) tokenRequests += 1;
    return fetch(input, init);
  };
  const credentials = new Map();
  const credential = (name) => {
    if (!credentials.has(name)) credentials.set(name, credentialValue(name, counters));
    return credentials.get(name);
  };
  const clientFor = (name) => {
    if (!clients.has(name)) {
      const opts = kase.client ?? {};
      clients.set(name, new Latchkey({
        baseUrl, credential: credential(name), fetch: countingFetch,
        tokenCache: opts.token_cache === false ? false : { bufferSeconds: opts.cache_buffer_seconds },
      }));
    }
    return clients.get(name);
  };
  const ctx = { standin, tokenRequests: () => tokenRequests, credential };
  for (const step of kase.steps) {
    const client = clientFor(step.credential ?? kase.client?.credential ?? "secret_key");
    const n = step.concurrent ?? 1;
    const outcomes = await Promise.all(Array.from({ length: n }, () => call(client, step.call, step.args).then((result) => ({ result }), (error) => ({ error }))));
    for (const outcome of outcomes) checkExpect(step.expect ?? {}, outcome, ctx);
  }
}

// The setup steps run once, before the first case against the real server.
let setupDone;
function setup() {
  assert.ok(LATCHKEY_URL, "LATCHKEY_URL must be set (sdks/test.sh starts the server)");
  setupDone ??= runSteps({ target: "server", steps: spec.setup }, LATCHKEY_URL, null);
  return setupDone;
}

for (const kase of spec.cases) {
  test(`conformance: ${kase.name}`, async () => {
    if (kase.target === "webhook") {
      const w = kase.webhook;
      let outcome;
      try {
        outcome = { event: await verifyWebhook(w.secret, w.headers, w.body, { now: w.now, toleranceSeconds: w.tolerance_seconds }) };
      } catch (error) {
        outcome = { error };
      }
      if (kase.expect.ok) {
        assert.ok(!outcome.error, `refused: ${outcome.error?.message}`);
        for (const [path, v] of Object.entries(kase.expect.event ?? {})) assert.deepEqual(lookup(outcome.event, path), v, `event.${path}`);
      } else {
        assert.ok(outcome.error instanceof WebhookVerificationError, `expected a refusal, got ${inspect(outcome)}`);
        assert.equal(outcome.error.reason, kase.expect.reason);
        assert.ok(!outcome.error.message.includes(w.secret));
      }
      return;
    }
    if (kase.target === "standin") {
      const start = Date.now();
      let offset = 0;
      // The stand-in dates its answers by the client's clock, so expiry is judged on one timeline.
      const standin = await startStandin(kase.standin, () => start + offset);
      try {
        await runStandin(kase, standin, () => start + offset, (ms) => (offset += ms));
      } finally {
        await standin.close();
      }
      return;
    }
    assert.equal(kase.target, "server");
    await setup();
    await runSteps(kase, LATCHKEY_URL, null);
  });
}

// Stand-in cases share one clock between the client (cache expiry) and the stand-in ($time).
async function runStandin(kase, standin, now, advance) {
  const clients = new Map();
  const counters = {};
  const credentials = new Map();
  const credential = (name) => {
    if (!credentials.has(name)) credentials.set(name, credentialValue(name, counters));
    return credentials.get(name);
  };
  const clientFor = (name) => {
    if (!clients.has(name)) {
      const opts = kase.client ?? {};
      clients.set(name, new Latchkey({
        baseUrl: standin.url, credential: credential(name), now,
        tokenCache: opts.token_cache === false ? false : { bufferSeconds: opts.cache_buffer_seconds },
      }));
    }
    return clients.get(name);
  };
  const ctx = { standin, tokenRequests: () => standin.requests.length, credential };
  for (const step of kase.steps) {
    if (step.advance_clock !== undefined) {
      advance(step.advance_clock * 1000);
      continue;
    }
    const client = clientFor(step.credential ?? kase.client?.credential ?? "standin_key");
    const n = step.concurrent ?? 1;
    const outcomes = await Promise.all(Array.from({ length: n }, () => call(client, step.call, step.args).then((result) => ({ result }), (error) => ({ error }))));
    for (const outcome of outcomes) checkExpect(step.expect ?? {}, outcome, ctx);
  }
}
