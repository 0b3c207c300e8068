// What a person does on a page before it is checked or photographed, shared by a11y.mjs and
// screens.mjs. Each step is one of:
//   {"click": css}             click it
//   {"fill": css, "value": s}  type into it
//   {"unrequire": css}         drop its `required` (to send a form the browser would stop)
//   {"untarget": css}          drop its `target` (the provider's window opens in this tab)
//   {"submit": css}            click it and wait for the page it leads to
//   {"hold": true}             forms are not sent: the page stays as it is on its way elsewhere
//   {"wait": css}              wait until it is on the page
//   {"text": css, "is": s}     fail unless it says exactly that
//   {"lang": code}             fail unless the page says it is in that language
import { chromium } from "playwright-core";

export async function step(page, action) {
  // Runs after the page's own submit handlers (it listens on the window, where the event ends),
  // so the page shows what it shows on its way, and the browser never leaves.
  if (action.hold) await page.evaluate(() => window.addEventListener("submit", (e) => e.preventDefault()));
  if (action.click) await page.click(action.click);
  if (action.fill) await page.fill(action.fill, action.value ?? "");
  if (action.unrequire) await page.locator(action.unrequire).evaluate((el) => el.removeAttribute("required"));
  if (action.untarget) await page.locator(action.untarget).evaluateAll((els) => els.forEach((el) => el.removeAttribute("target")));
  if (action.submit) await Promise.all([page.waitForNavigation(), page.click(action.submit)]);
  if (action.wait) await page.waitForSelector(action.wait, { timeout: 15000 });
  if (action.text) {
    const said = await page.locator(action.text).textContent();
    if (said !== action.is) throw new Error(`${action.text} says ${JSON.stringify(said)}, not ${JSON.stringify(action.is)}`);
  }
  if (action.lang) {
    const lang = await page.evaluate(() => document.documentElement.lang);
    if (lang !== action.lang) throw new Error(`the page is in ${JSON.stringify(lang)}, not ${JSON.stringify(action.lang)}`);
  }
}

// A failing step's message can quote a page URL, which holds a link, session or sign-in token.
export function redact(error) {
  return String((error && error.message) || error).replace(/\b(link_token|jwt|token|code|state|request|public_token)=[^&\s"']+/g, "$1=[redacted]");
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}

export function parseArgs(argv) {
  return Object.fromEntries(argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
}
