import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isAlive, makeTempDir, removeTempDir } from "./temp.js";

const root = mkdtempSync(join(tmpdir(), "curate-temp-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The pid of a process that has run and exited: what a `kill -9`ed run leaves in its folder names. */
function deadPid(): number {
  const { pid } = spawnSync(process.execPath, ["-e", "0"]);
  expect(isAlive(pid!)).toBe(false);
  return pid!;
}

describe("makeTempDir: stale folders of dead runs", () => {
  it("removes a dead process's spill folder (with its files) and keeps a live one's, this process's and others'", async () => {
    const parent = join(root, "tmp");
    mkdirSync(parent);
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      const dead = deadPid();
      const stale = join(parent, `curate-split-${dead}-a1B2c3`);
      mkdirSync(stale);
      writeFileSync(join(stale, "records.jsonl"), "x".repeat(100_000)); // a half-written spill file
      const live = join(parent, `curate-split-${sleeper.pid}-d4E5f6`);
      mkdirSync(live);
      writeFileSync(join(live, "records.jsonl"), "in use");
      const mine = join(parent, `curate-split-${process.pid}-g7H8i9`);
      mkdirSync(mine);
      const otherPrefix = join(parent, `curate-near-${dead}-j0K1l2`); // swept by its own prefix's first use
      mkdirSync(otherPrefix);
      const notOurs = join(parent, "curate-split-notes");
      mkdirSync(notOurs);

      const made = makeTempDir("curate-split-", parent);
      expect(made).toMatch(new RegExp(`curate-split-${process.pid}-\\w{6}$`));
      expect(existsSync(stale)).toBe(false);
      expect(readdirSync(parent).sort()).toEqual(
        [made, live, mine, otherPrefix, notOurs].map((p) => p.slice(parent.length + 1)).sort(),
      );

      // The first folder of another prefix sweeps that prefix's dead folders too, and only those.
      const near = makeTempDir("curate-near-", parent);
      expect(existsSync(otherPrefix)).toBe(false);
      expect(existsSync(live) && existsSync(mine) && existsSync(made)).toBe(true);
      removeTempDir(made);
      removeTempDir(near);
      expect(existsSync(made) || existsSync(near)).toBe(false);
    } finally {
      sleeper.kill();
    }
  });
});
