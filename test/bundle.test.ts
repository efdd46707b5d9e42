import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs build script without type declarations
import { bundle } from "../scripts/bundle.mjs";
import { repoRoot, tempDir } from "./helpers/cli.js";
import { explain } from "./helpers/pre-commit.js";

// bundle/ is committed (pre-commit 4.x and `npm install -g git+...` run no build), so it must match the source.
describe("bundle/ (committed, what the root package ships)", () => {
  const { dir, cleanup } = tempDir("curate-bundle-");
  afterAll(cleanup);

  it("is what scripts/bundle.mjs makes from the current source (else: npm run bundle, and commit bundle/)", async () => {
    const files = (await bundle(dir)) as string[];
    expect(files.length).toBeGreaterThan(0);
    const stale = files.filter((file) => {
      let committed: Buffer;
      try {
        committed = readFileSync(join(repoRoot, "bundle", file));
      } catch {
        return true;
      }
      return !committed.equals(readFileSync(join(dir, file)));
    });
    expect(stale, "bundle/ is stale: run `npm run bundle` and commit bundle/").toEqual([]);
  });

  it("curate-validate checks a file and starts in under 300 ms", ({ annotate }) => {
    const hook = join(repoRoot, "bundle/bin/curate-validate.js");
    const file = join(repoRoot, "fixtures/chat/valid.jsonl");
    // The child reports its own CPU time (all threads) at exit: unlike wall time, it barely moves when other
    // processes hold the cores, as they do on shared CI machines.
    const report =
      'data:text/javascript,process.on("exit",()=>{const u=process.cpuUsage();' +
      'process.stderr.write("\\ncpu-ms="+(u.user+u.system)/1000+"\\n")})';
    const time = (args: string[]) => {
      const start = performance.now();
      const result = spawnSync(process.execPath, ["--import", report, ...args], { encoding: "utf8" });
      const cpu = Number(/cpu-ms=([\d.]+)/.exec(result.stderr)?.[1]);
      return { wall: performance.now() - start, cpu, result };
    };
    const hookRuns: { wall: number; cpu: number }[] = [];
    const nodeRuns: { wall: number; cpu: number }[] = [];
    for (let i = 0; i < 7; i++) {
      nodeRuns.push(time(["-e", "0"]));
      const run = time([hook, file]);
      expect(run.result.status, explain(run.result)).toBe(0);
      expect(run.result.stderr).toMatch(/all \d+ records valid/);
      hookRuns.push(run);
    }
    const best = (runs: { wall: number; cpu: number }[], key: "wall" | "cpu") => Math.min(...runs.map((r) => r[key]));
    const note =
      `hook wall ${hookRuns.map((r) => Math.round(r.wall)).join(", ")} ms, cpu ${hookRuns.map((r) => Math.round(r.cpu)).join(", ")} ms; ` +
      `node -e 0 wall ${nodeRuns.map((r) => Math.round(r.wall)).join(", ")} ms, cpu ${nodeRuns.map((r) => Math.round(r.cpu)).join(", ")} ms; load ${loadavg()[0]}`;
    annotate(note);
    // What the hook adds to node's own start-up, in CPU time (best of seven, interleaved with bare node).
    expect(best(hookRuns, "cpu") - best(nodeRuns, "cpu"), note).toBeLessThan(250);
    // Wall time in all, only where the machine is idle enough for wall time to measure the hook.
    if ((loadavg()[0] ?? 0) < 1) expect(best(hookRuns, "wall"), note).toBeLessThan(300);
  });
});
