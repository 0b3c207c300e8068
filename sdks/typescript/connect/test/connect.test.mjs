// @latchkey/connect in headless Chromium: the bundled SDK needs latchkeyUrl, builds the page URLs
// for link and session tokens, refuses bad tokens, and ignores messages that are not from its frame.
// The copy Latchkey serves at /connect/sdk.js is checked the way apps import it today.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { build } from "esbuild";
import { chromium } from "playwright-core";

const LATCHKEY_URL = process.env.LATCHKEY_URL;
let server;
let browser;
let page;

before(async () => {
  const bundle = await build({
    stdin: { contents: 'import * as connect from "@latchkey/connect"; window.connect = connect;', resolveDir: new URL(".", import.meta.url).pathname },
    bundle: true,
    write: false,
    format: "esm",
    logLevel: "silent",
  });
  const js = bundle.outputFiles[0].text;
  server = createServer((req, res) => {
    if (req.url === "/bundle.js") return res.writeHead(200, { "content-type": "text/javascript" }).end(js);
    res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><title>t</title><body><script type="module" src="/bundle.js"></script></body>');
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => window.connect);
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("the package's SDK is shared/assets/sdk.js, copied unchanged", () => {
  const source = readFileSync(new URL("../../../../shared/assets/sdk.js", import.meta.url), "utf8");
  const shipped = readFileSync(new URL("../dist/index.js", import.meta.url), "utf8");
  assert.ok(shipped.endsWith(source), "dist/index.js is not the shared SDK");
});

test("bundled into an app, open() needs latchkeyUrl", async () => {
  const message = await page.evaluate(() => {
    try {
      window.connect.open({ linkToken: "lk_link_x" });
      return "opened";
    } catch (e) {
      return `${e.name}: ${e.message}`;
    }
  });
  assert.match(message, /^TypeError: .*latchkeyUrl/);
});

test("tokens are checked: a link token must be lk_link_, a session token a JWT, a deep link needs both parts", async () => {
  const errors = await page.evaluate(() =>
    [
      { linkToken: "nope", latchkeyUrl: "http://127.0.0.1:1" },
      { sessionToken: "not-a-jwt", latchkeyUrl: "http://127.0.0.1:1" },
      { sessionToken: "a.b.c", unifiedApi: "crm", latchkeyUrl: "http://127.0.0.1:1" },
      { linkToken: "lk_link_x", latchkeyUrl: "javascript:alert(1)" },
    ].map((o) => {
      try {
        window.connect.open(o);
        return "opened";
      } catch (e) {
        return e.name;
      }
    }),
  );
  assert.deepEqual(errors, ["TypeError", "TypeError", "TypeError", "TypeError"]);
  assert.equal(await page.locator('[data-latchkey="modal"]').count(), 0);
});

test("connectUrl: modal and page URLs for link tokens and session deep links", async () => {
  const urls = await page.evaluate(() => ({
    modal: window.connect.connectUrl({ linkToken: "lk_link_x", latchkeyUrl: "https://auth.example.com/some/path" }),
    page: window.connect.connectUrl({ linkToken: "lk_link_x", latchkeyUrl: "https://auth.example.com", mode: "page" }),
    deep: window.connect.connectUrl({ sessionToken: "a.b.c", unifiedApi: "crm", serviceId: "sales force", latchkeyUrl: "https://auth.example.com", mode: "page" }),
    origin: window.location.origin,
  }));
  const modal = new URL(urls.modal);
  assert.equal(`${modal.origin}${modal.pathname}`, "https://auth.example.com/connect");
  assert.deepEqual(Object.fromEntries(modal.searchParams), { link_token: "lk_link_x", mode: "modal", origin: urls.origin });
  assert.equal(urls.page, "https://auth.example.com/connect?link_token=lk_link_x");
  assert.equal(urls.deep, "https://auth.example.com/connect/crm/sales%20force?jwt=a.b.c");
});

test("messages that do not come from the Connect frame are ignored", async () => {
  const fired = await page.evaluate(async () => {
    const seen = [];
    const handle = window.connect.open({
      linkToken: "lk_link_x",
      latchkeyUrl: window.location.origin,
      onSuccess: (token) => seen.push(`success:${token}`),
      onExit: (error, metadata) => seen.push(`exit:${metadata.status}`),
    });
    window.postMessage({ source: "latchkey", type: "success", public_token: "lk_public_forged" }, "*");
    await new Promise((r) => setTimeout(r, 100));
    const open = !!document.querySelector('[data-latchkey="modal"]');
    handle.close();
    return { seen, open };
  });
  assert.deepEqual(fired, { seen: ["exit:closed"], open: true });
});

test("the SDK Latchkey serves at /connect/sdk.js opens its own origin's Connect page without latchkeyUrl", async () => {
  assert.ok(LATCHKEY_URL, "LATCHKEY_URL must be set (sdks/test.sh sets it)");
  const src = await page.evaluate(async (base) => {
    const { Latchkey } = await import(`${base}/connect/sdk.js`);
    const handle = Latchkey.open({ linkToken: "lk_link_unknown" });
    const src = document.querySelector('[data-latchkey="modal"] iframe').src;
    handle.close();
    return src;
  }, LATCHKEY_URL);
  assert.ok(src.startsWith(`${LATCHKEY_URL}/connect?link_token=lk_link_unknown&mode=modal&origin=`), src);
});
