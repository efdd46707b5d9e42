// Builds the workspace after `npm install` / `npm ci` in this repository, so `npx curate` works at once.
// It is a postinstall rather than a prepare script because `npm pack` runs prepare and prints its output on stdout,
// where the pre-commit framework reads the tarball's name. Installed from a tarball or from git (pre-commit, `npm
// install -g`), there is nothing to build: the committed bundle/ is the whole program.
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";

const root = new URL("..", import.meta.url);
// pre-commit 3.x clones this repository into its store (<store>/repoXXXX, beside the store's db.db) and runs
// `npm install` there only to `npm pack` the root package, which ships the prebuilt bundle/: skip the build there.
const inPreCommitStore = existsSync(new URL("../db.db", root));
if (existsSync(new URL("turbo.json", root)) && existsSync(new URL("packages", root)) && !inPreCommitStore) {
  execSync("npx turbo run build --output-logs=errors-only", { cwd: root, stdio: ["ignore", 2, 2] });
}
