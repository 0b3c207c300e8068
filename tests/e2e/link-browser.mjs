// Drives the example app's Connect button in real headless Chromium, through Latchkey's modal and
// the provider's sign-in and consent pages. Prints one JSON line with what the page ended up showing.
//
//   node link-browser.mjs --app http://127.0.0.1:3000 --scenario approve|deny|api-key|keyboard [--screenshots DIR]
import { chromium } from "playwright-core";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const appUrl = args.app;
const scenario = args.scenario || "approve";
const shots = args.screenshots;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const result = { scenario, consoleErrors: [] };
try {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && result.consoleErrors.push(m.text()));
  await page.goto(appUrl);
  await page.click("#connect");
  const frame = page.frameLocator('iframe[title="Connect an account"]');
  if (scenario === "keyboard") {
    // Tab through the modal and past its end: focus must stay in the frame. Then Escape, pressed
    // inside the frame, closes the modal and focus goes back to the Connect button.
    await frame.locator("#search").waitFor();
    result.focusOutside = [];
    for (let i = 0; i < 25; i += 1) {
      await page.keyboard.press(i % 5 === 4 ? "Shift+Tab" : "Tab");
      const where = await page.evaluate(() => (document.activeElement ? document.activeElement.tagName : "none"));
      if (where !== "IFRAME") result.focusOutside.push(where);
    }
    await frame.locator("#search").focus();
    if (shots) await page.screenshot({ path: `${shots}/connect-keyboard.png` });
    await page.keyboard.press("Escape");
  } else if (scenario === "api-key") {
    await frame.locator("summary").first().click();
    await frame.locator('input[name="api_key"]').fill("demo-key-typed-by-a-person");
    if (shots) await page.screenshot({ path: `${shots}/connect-api-key.png` });
    await frame.locator('button[type="submit"]').first().click();
  } else {
    const button = frame.getByRole("button", { name: /Connect Test Provider/ });
    await button.waitFor();
    if (shots) await page.screenshot({ path: `${shots}/connect-modal.png` });
    const [popup] = await Promise.all([context.waitForEvent("page"), button.click()]);
    await popup.waitForLoadState();
    await popup.fill("#login", "alice");
    await popup.click("#sign-in");
    await popup.waitForSelector(scenario === "deny" ? "#deny" : "#approve");
    if (shots) await popup.screenshot({ path: `${shots}/provider-consent.png` });
    // The result page closes its window at once: listen before clicking, or the close can be missed.
    const closed = popup.waitForEvent("close", { timeout: 15000 });
    await popup.click(scenario === "deny" ? "#deny" : "#approve");
    await closed;
  }
  await page.waitForFunction(() => /^(Connected|Not connected|Exchange failed|Closed)/.test(document.getElementById("status").textContent), null, { timeout: 15000 });
  result.status = await page.textContent("#status");
  result.events = await page.evaluate(() => window.latchkeyEvents);
  result.modalOpen = (await page.locator('[data-latchkey="modal"]').count()) > 0;
  if (scenario === "keyboard") {
    // Focus goes back once the app has re-enabled its button (a frame after onExit).
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === "connect", null, { timeout: 5000 }).catch(() => {});
  }
  result.focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  if (shots) await page.screenshot({ path: `${shots}/app-after-${scenario}.png` });
} catch (error) {
  result.error = String(error && error.stack || error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
