// Runs axe-core over every page state Latchkey shows people, in headless Chromium (Debian's), in
// the light and the dark colour scheme. Prints one JSON line: for each state, the violations axe
// found (rule id, impact, the elements), or the error that kept the state from being reached.
//
//   node a11y.mjs --states states.json [--screenshots DIR]
//
// states.json: [{"name": "...", "url": "..." or ["light", "dark"], "steps": [{"click": "css"}, {"fill": "css", "value": "..."},
//   {"unrequire": "css"}, {"submit": "css"}, {"text": "css", "is": "..."}]}]. `submit` clicks and waits
//   for the page it leads to; `text` fails the state unless the element says exactly that.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const states = JSON.parse(await readFile(args.states, "utf8"));
const axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

async function step(page, action) {
  if (action.click) await page.click(action.click);
  if (action.fill) await page.fill(action.fill, action.value ?? "");
  if (action.unrequire) await page.locator(action.unrequire).evaluate((el) => el.removeAttribute("required"));
  if (action.submit) await Promise.all([page.waitForNavigation(), page.click(action.submit)]);
  if (action.text) {
    const said = await page.locator(action.text).textContent();
    if (said !== action.is) throw new Error(`${action.text} says ${JSON.stringify(said)}, not ${JSON.stringify(action.is)}`);
  }
}

// The rules axe runs by default (WCAG 2.x A and AA, best practices), on the whole document.
async function audit(page) {
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const found = await window.axe.run(document, { resultTypes: ["violations"] });
    return found.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) }));
  });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const results = [];
try {
  for (const [scheme, colorScheme] of ["light", "dark"].entries()) {
    // The pages allow only their own nonce'd scripts; axe is injected past that policy.
    const context = await browser.newContext({ bypassCSP: true, colorScheme, viewport: { width: 390, height: 844 } });
    for (const state of states) {
      const name = `${state.name} (${colorScheme})`;
      const page = await context.newPage();
      try {
        // A state that changes what it shows (a connection made) has a URL for each scheme.
        await page.goto(Array.isArray(state.url) ? state.url[scheme] : state.url);
        for (const action of state.steps || []) await step(page, action);
        const violations = await audit(page);
        if (args.screenshots) await page.screenshot({ path: `${args.screenshots}/a11y-${results.length}.png`, fullPage: true });
        results.push({ name, violations });
      } catch (error) {
        // A failing step's message can quote the page URL, which holds the link or session token.
        const message = String((error && error.message) || error).replace(/\b(link_token|jwt|token)=[^&\s"']+/g, "$1=[redacted]");
        results.push({ name, error: message });
      } finally {
        await page.close();
      }
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ results }));
