// Photographs every state of the Connect page in headless Chromium (Debian's), at a phone's and a
// desktop's width, with the pages' own Content-Security-Policy in force. Prints one JSON line: for
// each picture, its file, its size, the page's language and the text the state was checked by.
//
//   node screens.mjs --states states.json --out DIR
//
// states.json: [{"name": "list", "url": "...", "widths": ["phone", "desktop"], "scheme": "light",
//   "steps": [...], "check": {"text": css, "is": "..."}}]; the steps are those of steps.mjs.
import { readFile, stat } from "node:fs/promises";
import { launch, parseArgs, redact, step } from "./steps.mjs";

const args = parseArgs(process.argv);
const states = JSON.parse(await readFile(args.states, "utf8"));
const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 800 } };

const browser = await launch();
const shots = [];
try {
  for (const state of states) {
    for (const width of state.widths || ["phone", "desktop"]) {
      const file = `${args.out}/${state.name}-${width}.png`;
      const context = await browser.newContext({ viewport: VIEWPORTS[width], colorScheme: state.scheme || "light", deviceScaleFactor: 1 });
      const page = await context.newPage();
      try {
        await page.goto(state.url);
        for (const action of state.steps || []) await step(page, action);
        const check = state.check ? (await page.locator(state.check.text).first().textContent()).trim() : null;
        const lang = await page.evaluate(() => document.documentElement.lang);
        // The caret of a focused field blinks: hide it so the same state makes the same picture.
        await page.screenshot({ path: file, fullPage: true, caret: "hide", animations: "disabled" });
        shots.push({ name: state.name, width, file, bytes: (await stat(file)).size, lang, said: check });
      } catch (error) {
        shots.push({ name: state.name, width, file, error: redact(error) });
      } finally {
        await context.close();
      }
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ shots }));
