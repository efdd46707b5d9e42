import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { curateBin, repoRoot } from "./helpers/cli.js";
import { explain } from "./helpers/pre-commit.js";

// The README opens with two commands that a new user runs in order: the demo (which writes out/ inside the
// repository) and `npm test`. The second must not trip over what the first leaves behind.
function readmeCommands(): string[] {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
  return block.split("\n").filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"));
}

describe("the README's first two commands, in order", () => {
  it("are the demo run and npm test", () => {
    const commands = readmeCommands();
    expect(commands).toHaveLength(2);
    expect(commands[0]).toMatch(/^npm install && npx curate run .* --out out --force$/);
    expect(commands[1]).toBe("npm test");
  });

  it("the demo's out/ is left alone by the lint that npm test runs", { timeout: 300_000 }, () => {
    const args = readmeCommands()[0]!
      .replace(/^npm install && npx curate /, "")
      .split(/\s+/);
    const demo = spawnSync(process.execPath, [curateBin, ...args], { cwd: repoRoot, encoding: "utf8" });
    expect([0, 1], explain(demo)).toContain(demo.status); // 1: the demo corpus holds invalid records on purpose
    expect(existsSync(join(repoRoot, "out/manifest.json"))).toBe(true);
    const biome = spawnSync(process.execPath, [join(repoRoot, "node_modules/@biomejs/biome/bin/biome"), "check", "."], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    expect(biome.status, explain(biome)).toBe(0);
    expect(biome.stdout + biome.stderr).not.toMatch(/out\/manifest\.json/);
    const git = spawnSync("git", ["status", "--porcelain", "--ignored=no", "out"], { cwd: repoRoot, encoding: "utf8" });
    expect(git.stdout, explain(git)).toBe("");
  });
});
