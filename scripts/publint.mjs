// Runs publint (https://publint.dev) on every workspace package: exports that point at missing files, files that
// `npm pack` would leave out, and similar mistakes that only show once a package is installed elsewhere.
import { readdirSync } from "node:fs";
import { publint } from "publint";
import { formatMessage } from "publint/utils";

const root = new URL("../packages/", import.meta.url);
let failed = 0;
for (const name of readdirSync(root).sort()) {
  const dir = new URL(`${name}/`, root);
  const { messages, pkg } = await publint({ pkgDir: dir.pathname, level: "suggestion", strict: true });
  for (const message of messages) {
    if (message.type === "error" || message.type === "warning") failed++;
    console.error(`${pkg.name}: ${message.type}: ${formatMessage(message, pkg)}`);
  }
}
if (failed > 0) {
  console.error(`publint: ${failed} problem(s)`);
  process.exit(1);
}
console.log("publint: every package is publishable");
