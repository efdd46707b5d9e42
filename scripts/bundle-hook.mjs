// Bundles `curate validate` into one self-contained file for the pre-commit hook (`language: node` installs the
// root package from `npm pack`, where unpublished workspace packages would not resolve).
import { chmodSync, mkdirSync, readFileSync } from "node:fs";
import { build } from "esbuild";

const root = new URL("..", import.meta.url);
const out = new URL("dist/curate-validate.mjs", root);
mkdirSync(new URL("dist/", root), { recursive: true });
await build({
  entryPoints: [new URL("packages/cli/src/hook.ts", root).pathname],
  outfile: out.pathname,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  conditions: ["@curate/source"],
  // Some bundled CommonJS code calls require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __curateRequire } from 'node:module'; const require = __curateRequire(import.meta.url);",
  },
  // The version is read from packages/cli/package.json at run time; inline it instead.
  define: {},
  logLevel: "warning",
  legalComments: "none",
});
chmodSync(out, 0o755);
const size = readFileSync(out).length;
console.log(`bundled dist/curate-validate.mjs (${(size / 1024).toFixed(0)} KiB)`);
