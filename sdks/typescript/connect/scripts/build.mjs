// Builds @latchkey/connect: the SDK that Latchkey serves at /connect/sdk.js
// (shared/assets/sdk.js, the one source) copied as is, beside its hand-written types.
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const source = here("../../../../shared/assets/sdk.js");
await rm(here("../dist"), { recursive: true, force: true });
await mkdir(here("../dist"), { recursive: true });
const sdk = await readFile(source, "utf8");
await writeFile(here("../dist/index.js"), `// Copied from shared/assets/sdk.js by @latchkey/connect's build; edit that file.\n${sdk}`);
await copyFile(here("../src/index.d.ts"), here("../dist/index.d.ts"));
