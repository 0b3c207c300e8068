// A newcomer's first minute in real headless Chromium: the Connect link `latchkey serve` printed,
// the sandbox's consent page, Allow, and the sandbox's home with the public token. Prints one JSON
// line with what the browser saw.
//
//   node sandbox-browser.mjs --url http://127.0.0.1:8080/connect?link_token=... [--screenshots DIR]
import { chromium } from "playwright-core";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const shots = args.screenshots;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const result = { consoleErrors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  page.on("console", (m) => m.type() === "error" && result.consoleErrors.push(m.text()));
  await page.goto(args.url);
  result.heading = await page.textContent("h1");
  const connect = page.locator("button[data-connector='sandbox/demo']");
  await Promise.all([page.waitForURL(/\/sandbox\/authorize\?/), connect.click()]);
  const consent = new URL(page.url());
  result.authorize = Object.fromEntries(["client_id", "code_challenge_method", "scope", "redirect_uri"].map((k) => [k, consent.searchParams.get(k)]));
  result.consentHeading = await page.textContent("h1");
  if (shots) await page.screenshot({ path: `${shots}/sandbox-consent.png` });
  await page.fill("#account", "Grace Hopper");
  await Promise.all([page.waitForURL(/\/sandbox\?public_token=/), page.click("#approve")]);
  result.publicToken = (await page.textContent("#public-token")).trim();
  result.homeHeading = await page.textContent("h1");
  if (shots) await page.screenshot({ path: `${shots}/sandbox-connected.png`, fullPage: true });
} catch (error) {
  // A failing step's message can quote a URL with a link token or a code in it.
  result.error = String((error && error.message) || error).replace(/\b(link_token|code|public_token|state)=[^&\s"']+/g, "$1=[redacted]");
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
