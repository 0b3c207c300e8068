// Runs axe-core over every page state Latchkey shows people, in headless Chromium (Debian's), in
// the light and the dark colour scheme. Prints one JSON line: for each state, the violations axe
// found (rule id, impact, the elements), or the error that kept the state from being reached.
//
//   node a11y.mjs --states states.json
//
// states.json: [{"name": "...", "url": "...", "locale": "fr-FR"?, "light_only": true?, "steps": [...]}];
// the steps are those of steps.mjs. A state whose colours are another state's (the same page in
// another language) may be checked in the light scheme only.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { launch, parseArgs, redact, step } from "./steps.mjs";

const args = parseArgs(process.argv);
const states = JSON.parse(await readFile(args.states, "utf8"));
const axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

// The rules axe runs by default (WCAG 2.x A and AA, best practices), on the whole document.
async function audit(page) {
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const found = await window.axe.run(document, { resultTypes: ["violations"] });
    return found.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) }));
  });
}

const browser = await launch();
const results = [];
try {
  for (const colorScheme of ["light", "dark"]) {
    // The pages allow only their own nonce'd scripts; axe is injected past that policy.
    const options = { bypassCSP: true, colorScheme, viewport: { width: 390, height: 844 } };
    const context = await browser.newContext(options);
    for (const state of states.filter((s) => colorScheme === "light" || !s.light_only)) {
      const name = `${state.name} (${colorScheme})`;
      // A state that asks for a browser language gets a browser of its own.
      const own = state.locale ? await browser.newContext({ ...options, locale: state.locale }) : null;
      const page = await (own || context).newPage();
      try {
        await page.goto(state.url);
        for (const action of state.steps || []) await step(page, action);
        results.push({ name, violations: await audit(page) });
      } catch (error) {
        results.push({ name, error: redact(error) });
      } finally {
        await page.close();
        if (own) await own.close();
      }
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ results }));
