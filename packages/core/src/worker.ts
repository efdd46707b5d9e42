import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const bundled = new Map<string, Promise<URL>>();

/**
 * The entry file of a package's worker thread: `<name>.js` beside the calling module in a built package. From
 * TypeScript source (vitest, with the `@curate/source` condition) there is no `.js` to run and Node 20 cannot run
 * `.ts` in a worker, so the entry is bundled once per process with esbuild (a development dependency, imported only
 * in this case) into the package's `node_modules/.cache/`, where its `external` dependencies still resolve; the file
 * is named by a hash of its code and written atomically, so tests run the same worker code as the CLI.
 * A subpath export (`@curate/core/worker`), not part of the main entry, so bundles of the CLI never see esbuild.
 * @example new Worker(await workerEntry(import.meta.url, "worker", ["tiktoken"]));
 */
export function workerEntry(moduleUrl: string, name: string, external: readonly string[] = []): Promise<URL> {
  if (!moduleUrl.endsWith(".ts")) return Promise.resolve(new URL(`./${name}.js`, moduleUrl));
  const key = `${moduleUrl}#${name}`;
  let entry = bundled.get(key);
  if (entry === undefined) {
    entry = bundle(dirname(fileURLToPath(moduleUrl)), name, external);
    bundled.set(key, entry);
  }
  return entry;
}

async function bundle(here: string, name: string, external: readonly string[]): Promise<URL> {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [join(here, `${name}.ts`)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    write: false,
    conditions: ["@curate/source"],
    external: [...external, "esbuild"],
    logLevel: "silent",
  });
  const code = result.outputFiles[0]!.text;
  const dir = join(here, "..", "node_modules", ".cache", `curate-${name}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${createHash("sha256").update(code).digest("hex").slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    const temp = `${file}.tmp-${process.pid}`;
    writeFileSync(temp, code);
    renameSync(temp, file);
  }
  return pathToFileURL(file);
}
