import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { seededRandom } from "@curate/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, tempDir } from "./helpers/cli.js";
import { inCi } from "./helpers/pre-commit.js";
import {
  type Background,
  findRedisServer,
  freePort,
  type RedisServer,
  spawnCurate,
  startRedis,
} from "./helpers/redis.js";

// `curate run --queue` / `curate worker` on a real redis-server with real worker processes: the output files are
// byte-identical to the embedded run's, whatever the number of workers, when a worker is SIGKILLed mid-shard and
// when the coordinator is killed and started again; an unreachable or vanishing Redis is a clear exit 2.

const redisServer = findRedisServer();
if (!redisServer.found && !inCi) console.warn(`NOTICE: skipping the queue tests: ${redisServer.reason}`);

const { dir, cleanup } = tempDir("curate-queue-");
let redis: RedisServer | undefined;
const started: Background[] = [];

beforeAll(async () => {
  if (!redisServer.found) {
    if (inCi) throw new Error(`redis-server is required under CI=true: ${redisServer.reason}`);
    return;
  }
  redis = await startRedis(dir);
});
afterAll(async () => {
  await Promise.all(started.map((p) => p.kill("SIGKILL")));
  await redis?.stop();
  cleanup();
});

const topics = ["binary search", "the carbon cycle", "Rust lifetimes", "a haiku about rain", "VAT in the EU"];

/** Chat records as real exports have them: exact and near copies, broken lines, blank lines, a bad role. */
function corpus(random: () => number, count: number): string {
  const lines: string[] = [];
  const earlier: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    if (r < 0.03) lines.push('{"messages": [{"role": "user", "content": "cut off');
    else if (r < 0.05) lines.push("");
    else if (r < 0.1 && earlier.length > 0) lines.push(earlier[Math.floor(random() * earlier.length)]!);
    else {
      const topic = topics[i % topics.length]!;
      const role = r < 0.12 ? "wizard" : "assistant";
      const words = Array.from({ length: 20 + Math.floor(random() * 30) }, (_, k) => `w${(i * 13 + k * 7) % 211}`);
      const line = JSON.stringify({
        messages: [
          { role: "user", content: `Explain ${topic}, case ${i % 400}.` },
          { role, content: `Here is ${topic}: ${words.join(" ")}.` },
        ],
      });
      lines.push(line);
      if (random() < 0.2) earlier.push(line);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Every output file's sha256 by name, and the manifest's parts that must not depend on where shards ran. */
function outputs(out: string) {
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
  return {
    files: Object.fromEntries((manifest.outputs as { path: string; sha256: string }[]).map((o) => [o.path, o.sha256])),
    inputs: manifest.inputs,
    stages: manifest.stages.map((s: { selfMs: number }) => ({ ...s, selfMs: 0 })),
    conservation: manifest.conservation,
  };
}

let inputs: string[] = [];
const options = ["--dedup", "near", "--split", "train=0.8,validation=0.1,test=0.1", "--format", "chat"];
const shardBytes = ["--shard-bytes", "100000"];
let embedded: ReturnType<typeof outputs>;

function worker(...extra: string[]): Background {
  const process = spawnCurate(["worker", "--queue", redis!.url, ...extra]);
  started.push(process);
  return process;
}

function coordinatorArgs(out: string, url = redis!.url): string[] {
  return ["run", ...inputs, ...options, ...shardBytes, "--queue", url, "--out", out, "--quiet"];
}

/** The shard ids a worker's log says it finished, in order. */
function shardsDone(worker: Background): number[] {
  return [...worker.stderr().matchAll(/ shard (\d+) \(/g)].map((m) => Number(m[1]));
}

describe.skipIf(!redisServer.found && !inCi)("curate run --queue with curate worker", () => {
  beforeAll(async () => {
    const random = seededRandom(11);
    writeFileSync(join(dir, "big.jsonl"), corpus(random, 6000));
    writeFileSync(join(dir, "small.jsonl.gz"), gzipSync(corpus(random, 300)));
    writeFileSync(
      join(dir, "array.json"),
      JSON.stringify([
        {
          messages: [
            { role: "user", content: "Say hi" },
            { role: "assistant", content: "hi" },
          ],
        },
        {
          messages: [
            { role: "user", content: "Say bye" },
            { role: "assistant", content: "bye" },
          ],
        },
      ]),
    );
    inputs = ["big.jsonl", "small.jsonl.gz", "array.json"].map((f) => join(dir, f));
    const out = join(dir, "out-embedded");
    const r = await runCli(["run", ...inputs, ...options, "--out", out, "--quiet"]);
    expect(r.exitCode, r.stderr).toBe(1); // broken lines and bad roles are rejected
    embedded = outputs(out);
    expect(embedded.conservation.duplicates).toBeGreaterThan(100);
    expect(embedded.conservation.rejected).toBeGreaterThan(100);
  });

  it.each([1, 2, 3])("writes the embedded run's bytes with %i worker(s)", { timeout: 120_000 }, async (count) => {
    const workers = Array.from({ length: count }, () => worker());
    await Promise.all(workers.map((w) => w.waitFor("waiting for shards")));
    const out = join(dir, `out-${count}`);
    const r = await runCli(coordinatorArgs(out));
    expect(r.exitCode, r.stderr).toBe(1);
    expect(outputs(out)).toEqual(embedded);
    // The shards ran on the workers, each exactly once (the 2 MB input in shards of 100 kB, and the two small files).
    const done = workers.flatMap(shardsDone).sort((a, b) => a - b);
    expect(done.length).toBeGreaterThan(15);
    expect(done).toEqual([...new Set(done)]);
    if (count > 1) for (const w of workers) expect(shardsDone(w).length).toBeGreaterThan(0);
    // The shard results were removed with the run's jobs once the dataset was written.
    expect(existsSync(join(out, ".curate-shards"))).toBe(false);
    await Promise.all(workers.map((w) => w.kill()));
  });

  it("re-runs the shard of a worker SIGKILLed mid-shard (stalled-job recovery): nothing lost, nothing doubled", {
    timeout: 120_000,
  }, async () => {
    const out = join(dir, "out-killed");
    const first = worker("--stall-ms", "2000");
    await first.waitFor("waiting for shards");
    const coordinator = spawnCurate(coordinatorArgs(out));
    started.push(coordinator);
    await first.waitFor(/ shard \d+ \(/);
    // Freeze the worker, find the shard it holds (a running job whose worker is stopped is mid-shard), kill it.
    let active: number[] = [];
    for (let i = 0; i < 20 && active.length === 0; i++) {
      first.child.kill("SIGSTOP");
      const status = await runCli([...coordinatorArgs(out), "--status", "--json"]);
      expect(status.exitCode, status.stderr).toBe(0);
      active = JSON.parse(status.stdout).active;
      if (active.length === 0) {
        first.child.kill("SIGCONT"); // caught between two shards: let it take the next one
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(active).toHaveLength(1);
    expect(await first.kill("SIGKILL")).toBe("SIGKILL");
    expect(shardsDone(first)).not.toContain(active[0]);

    const second = worker("--stall-ms", "2000");
    expect(await coordinator.exited, coordinator.stderr()).toBe(1);
    expect(shardsDone(second)).toContain(active[0]);
    expect(outputs(out)).toEqual(embedded);
    // Nothing lost: every shard ran. Nothing doubled: the outputs equal the embedded run's (a re-run shard replaces
    // its result file). Shard jobs are at-least-once: a shard whose worker logged it but was stopped before BullMQ
    // recorded the completion may run again, so at most one shard besides the killed one ran twice.
    const done = [...shardsDone(first), ...shardsDone(second)].sort((a, b) => a - b);
    const twice = done.filter((shard, i) => i > 0 && done[i - 1] === shard);
    expect(twice.length, `shards run twice: ${twice.join(", ")}`).toBeLessThanOrEqual(1);
    await second.kill();
  });

  it("resumes a killed coordinator: started again with the same arguments, it redoes no finished shard", {
    timeout: 120_000,
  }, async () => {
    const out = join(dir, "out-resumed");
    const w = worker();
    await w.waitFor("waiting for shards");
    const coordinator = spawnCurate(coordinatorArgs(out));
    started.push(coordinator);
    while (shardsDone(w).length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await coordinator.kill("SIGKILL")).toBe("SIGKILL");
    const before = shardsDone(w).length;
    expect(before).toBeGreaterThanOrEqual(2);

    const again = await runCli(coordinatorArgs(out));
    expect(again.exitCode, again.stderr).toBe(1);
    expect(outputs(out)).toEqual(embedded);
    const done = shardsDone(w).sort((a, b) => a - b);
    expect(done).toEqual([...new Set(done)]); // every shard ran once, across both coordinators
    await w.kill();
  });

  it("fails with exit 2 within seconds when Redis cannot be reached", { timeout: 60_000 }, async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    for (const args of [coordinatorArgs(join(dir, "out-unreachable"), url), ["worker", "--queue", url]]) {
      const t0 = Date.now();
      const r = await runCli(args);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
      expect(Date.now() - t0).toBeLessThan(10_000);
    }
    const bad = await runCli(["worker", "--queue", "localhost:6379"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("--queue takes a Redis URL such as redis://127.0.0.1:6379");
  });

  it("shows the run's shards waiting, then fails with exit 2 when Redis goes away", { timeout: 60_000 }, async () => {
    const forRun = await startRedis(dir);
    const forWorker = await startRedis(dir); // a worker of its own, so that the run's shards stay queued
    const out = join(dir, "out-gone");
    const coordinator = spawnCurate(coordinatorArgs(out, forRun.url));
    const idle = spawnCurate(["worker", "--queue", forWorker.url]);
    started.push(coordinator, idle);
    await idle.waitFor("waiting for shards");
    let status = { shards: 0, waiting: 0 };
    for (let i = 0; i < 50 && (status.shards === 0 || status.waiting < status.shards); i++) {
      const r = await runCli([...coordinatorArgs(out, forRun.url), "--status", "--json"]);
      expect(r.exitCode, r.stderr).toBe(0);
      status = JSON.parse(r.stdout);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status.shards).toBeGreaterThan(15);
    expect(status.waiting).toBe(status.shards);
    const text = await runCli([...coordinatorArgs(out, forRun.url), "--status"]);
    expect(text.stdout).toMatch(/waiting\s+\d+/);

    const t0 = Date.now();
    await Promise.all([forRun.stop(), forWorker.stop()]);
    for (const [process, url] of [
      [coordinator, forRun.url],
      [idle, forWorker.url],
    ] as const) {
      expect(await process.exited, process.stderr()).toBe(2);
      expect(process.stderr()).toContain(`lost the connection to Redis at ${url}`);
      expect(process.stderr()).not.toMatch(/\n\s+at /);
    }
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
