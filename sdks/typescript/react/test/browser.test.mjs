// @latchkey/react in real headless Chromium (Debian's, via playwright-core) against the real local
// Latchkey: the button opens the hosted Connect page in the modal, a person pastes an API key into
// an API-key connector's form (a connector like demo/api-key, made for this run), onSuccess receives
// the public token, and the backend (@latchkey/server) exchanges it and gets the provider token with
// the connection's access token.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { execFileSync } from "node:child_process";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { Latchkey } from "@latchkey/server";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} must be set (sdks/test.sh sets it)`);
  return value;
};
const cli = (...args) =>
  JSON.parse(execFileSync(env("LATCHKEY_BIN"), ["--json", ...args], { env: { ...process.env, LATCHKEY_DATA_DIR: env("LATCHKEY_DATA_DIR") }, encoding: "utf8" }));

const CONNECTOR = `sdkreact${Date.now()}/api-key`;
let server;
let appUrl;
let browser;
let latchkey;
const exchangedTokens = [];

before(async () => {
  const bundle = await build({
    entryPoints: [new URL("./app.jsx", import.meta.url).pathname],
    bundle: true,
    write: false,
    format: "esm",
    jsx: "automatic",
    minify: true,
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "silent",
  });
  const js = bundle.outputFiles[0].text;
  server = createServer(async (req, res) => {
    const json = (status, body) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    try {
      if (req.url === "/") {
        return res
          .writeHead(200, { "content-type": "text/html" })
          .end(`<!doctype html><meta charset="utf-8"><meta name="latchkey-url" content="${env("LATCHKEY_URL")}"><title>t</title><div id="root"></div><script type="module" src="/app.js"></script>`);
      }
      if (req.url === "/app.js") return res.writeHead(200, { "content-type": "text/javascript" }).end(js);
      if (req.url === "/favicon.ico") return res.writeHead(204).end();
      let raw = "";
      for await (const chunk of req) raw += chunk;
      const body = raw ? JSON.parse(raw) : {};
      if (req.url === "/api/link-token") return json(201, { link_token: (await latchkey.createLinkToken({ endUser: { id: "react-user" } })).linkToken });
      if (req.url === "/api/session") {
        const session = await latchkey.createSession({ consumerId: "react-session-user", redirectUri: `${appUrl}/`, settings: { allowedConnectors: [CONNECTOR] } });
        return json(201, { session_token: session.sessionToken });
      }
      if (req.url === "/api/exchange") {
        const exchanged = await latchkey.exchangePublicToken(body.public_token);
        exchangedTokens.push(exchanged);
        return json(200, { connection_id: exchanged.connectionId, connector: exchanged.connector });
      }
      json(404, {});
    } catch (error) {
      json(500, { error: String(error) });
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  appUrl = `http://127.0.0.1:${server.address().port}`;
  // A project of its own that allows this page's origin, with the demo connector.
  const created = cli("projects", "create", "--name", `React test ${Date.now()}`, "--allowed-origin", appUrl);
  const project = Array.isArray(created) ? created[0] : created; // today's CLI prints [project]
  // A connector of its own too: a running server caches connector records (up to a minute), so
  // linking an existing connector to a new project may not be seen at once.
  cli("connectors", "create", "--uid", CONNECTOR, "--name", "React test service", "--auth-mode", "api-key");
  cli("connectors", "link", "--uid", CONNECTOR, "--project", project.id, "--environment", "development");
  const key = cli("keys", "create", "--project", project.id, "--environment", "development");
  latchkey = new Latchkey({ baseUrl: env("LATCHKEY_URL"), credential: key.secret_key });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  server?.closeAllConnections();
  server?.close();
});

async function openPage() {
  const page = await browser.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(appUrl);
  return { page, errors };
}

test("ConnectButton: the modal opens, a pasted API key connects, onSuccess gets the public token, the backend exchanges it", async () => {
  const { page, errors } = await openPage();
  await page.click("#connect");
  const frame = page.frameLocator('iframe[title="Connect an account"]');
  assert.equal(await page.locator("#connect").isDisabled(), true, "the button is disabled while the modal is open");
  await frame.locator("summary").first().click();
  await frame.locator('input[name="api_key"]').fill("react-typed-key");
  await frame.locator('button[type="submit"]').first().click();
  await page.waitForFunction(() => window.results.exchanged, null, { timeout: 15000 });
  const results = await page.evaluate(() => window.results);
  assert.equal(results.success.length, 1);
  assert.match(results.success[0].publicToken, /^lk_public_/);
  assert.equal(results.success[0].metadata.connector.uid, CONNECTOR);
  assert.ok(results.events.includes("OPEN"), JSON.stringify(results.events));
  assert.match(results.exchanged.connection_id, /^conn_/);
  assert.equal(await page.locator('[data-latchkey="modal"]').count(), 0, "the modal closed");
  assert.equal(await page.locator("#connect").isDisabled(), false, "the button is enabled again");
  assert.deepEqual(errors, []);

  // The connection works: its access token gets the key the person typed.
  const exchanged = exchangedTokens.at(-1);
  const asConnection = new Latchkey({ baseUrl: env("LATCHKEY_URL"), credential: exchanged.accessToken });
  const token = await asConnection.getToken(CONNECTOR, { subject: { type: "user", id: "react-user" } });
  assert.equal(token.accessToken, "react-typed-key");
  await page.close();
});

test("the Connect page's close button closes the modal and onExit gets null with status closed", async () => {
  const { page, errors } = await openPage();
  await page.click("#connect");
  await page.frameLocator('iframe[title="Connect an account"]').locator("#close").click();
  await page.waitForFunction(() => window.results.exit.length === 1);
  const exit = await page.evaluate(() => window.results.exit[0]);
  assert.deepEqual(exit, { error: null, metadata: { status: "closed" } });
  assert.equal(await page.locator('[data-latchkey="modal"]').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test("a link token the backend cannot give reaches onExit as token_unavailable, and no modal opens", async () => {
  const { page } = await openPage();
  await page.click("#broken");
  await page.waitForFunction(() => window.results.exit.length === 1);
  const exit = await page.evaluate(() => window.results.exit[0]);
  assert.equal(exit.error.code, "token_unavailable");
  assert.equal(exit.error.message, "backend down");
  assert.equal(await page.locator('[data-latchkey="modal"]').count(), 0);
  await page.close();
});

test("useLatchkeyConnect: isOpen follows the modal; Escape on the app's page closes it as closed", async () => {
  const { page } = await openPage();
  await page.click("#hook-open");
  await page.waitForFunction(() => document.getElementById("hook-state").textContent === "open");
  await page.frameLocator('iframe[title="Connect an account"]').locator("summary").first().waitFor();
  // The SDK listens for Escape on the app's document; the frame has focus after opening.
  await page.evaluate(() => document.activeElement.blur());
  await page.keyboard.press("Escape");
  await page.waitForFunction(() => document.getElementById("hook-state").textContent === "hook-exit:closed");
  await page.close();
});

test("a session opens in the modal: the hosted page for the session token, connected through the API-key form", async () => {
  const { page, errors } = await openPage();
  await page.click("#make-session");
  await page.click("#session");
  const frame = page.frameLocator('iframe[title="Connect an account"]');
  const src = await page.locator('iframe[title="Connect an account"]').getAttribute("src");
  assert.ok(src.startsWith(`${env("LATCHKEY_URL")}/connect?jwt=`), src);
  assert.ok(src.includes("mode=modal"));
  const deepLink = await page.locator("#deep-link").getAttribute("href");
  assert.ok(deepLink.startsWith(`${env("LATCHKEY_URL")}/connect/crm/salesforce?jwt=`), deepLink);
  await frame.locator("summary").first().click();
  await frame.locator('input[name="api_key"]').fill("session-typed-key");
  await frame.locator('button[type="submit"]').first().click();
  await page.waitForFunction(() => window.results.success.some((s) => s.session) || window.results.exit.some((e) => e.session), null, { timeout: 15000 });
  const results = await page.evaluate(() => window.results);
  const success = results.success.find((s) => s.session);
  assert.ok(success, JSON.stringify(results.exit));
  assert.match(success.publicToken, /^lk_public_/);
  assert.deepEqual(errors, []);
  await page.close();
});
