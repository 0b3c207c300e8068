// Drives a Connect session in real headless Chromium, as a person would, through the hosted page
// and the provider's sign-in and consent. Prints one JSON line with what each step showed.
//
//   node session-browser.mjs --session URL --isolated URL --redirect PREFIX [--screenshots DIR]
//
// --session: a session with auto_redirect (its overview URL); --isolated: a deep link of a session
// in isolation mode; --redirect: the app URL the session returns to.
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
const result = {};

async function consent(page, approve = true) {
  if (await page.locator("#login").count()) {
    await page.fill("#login", "alice");
    await page.click("#sign-in");
  }
  await page.waitForSelector("#approve");
  await page.click(approve ? "#approve" : "#deny");
}

async function stateOf(page) {
  return page.locator('[data-uid="oidc/test"] [data-state]').first().getAttribute("data-state");
}

try {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();

  // 1. Connect from the overview; auto_redirect brings the browser back to the app.
  await page.goto(args.session);
  result.initialState = await stateOf(page);
  if (shots) await page.screenshot({ path: `${shots}/session-overview.png` });
  await page.getByRole("button", { name: /Connect Test Provider/ }).click();
  await consent(page);
  await page.waitForURL((url) => url.toString().startsWith(args.redirect), { timeout: 15000 });
  result.redirectedTo = page.url();

  // 2. The overview now says connected; disconnect it.
  await page.goto(args.session);
  result.connectedState = await stateOf(page);
  if (shots) await page.screenshot({ path: `${shots}/session-connected.png` });
  await page.locator('[data-uid="oidc/test"] [data-action="disconnect"]').click();
  await page.waitForLoadState();
  result.disconnectedState = await stateOf(page);

  // 3. Reauthorize: back through the provider, and connected again.
  await page.locator('[data-uid="oidc/test"] [data-action="reauthorize"]').click();
  await consent(page);
  await page.waitForURL((url) => url.toString().startsWith(args.redirect), { timeout: 15000 });
  await page.goto(args.session);
  result.reauthorizedState = await stateOf(page);

  // 4. A deep link in isolation mode: one connector, no way back.
  await page.goto(args.isolated);
  result.isolatedConnectors = await page.locator("[data-uid]").count();
  result.isolatedHasBack = (await page.locator("#back").count()) > 0;
  if (shots) await page.screenshot({ path: `${shots}/session-deep-link.png` });
} catch (error) {
  result.error = String((error && error.stack) || error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
