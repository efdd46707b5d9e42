#!/usr/bin/env node
// The `curate` command. A committed shim rather than dist/bin.js itself: npm links a workspace's bin at install
// time, before the postinstall build has written dist/, and skips a bin whose file does not exist yet.
import { existsSync } from "node:fs";

const built = new URL("../dist/bin.js", import.meta.url);
if (!existsSync(built)) {
  process.stderr.write("curate: error: the CLI is not built yet; run `npm run build` in the repository\n");
  process.exit(2);
}
await import(built.href);
