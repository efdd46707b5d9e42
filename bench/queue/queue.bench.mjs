#!/usr/bin/env node
/**
 * The distributed shard phase on this machine: a redis-server of its own on a free loopback port, real
 * `curate worker` processes, the coordinator in this process (`queueSource` from the built @curate/queue).
 *
 *   node bench/queue/queue.bench.mjs [--records 100k] [--big 300k] [--json]
 *
 * Rows: the shard phase with 1 and 2 workers (near-dedup config: validation verdicts, exact hashes and MinHash
 * signatures per record); per-shard overhead (enqueue → stored result → stitched) on one-record shards; the cost of
 * `v8.serialize` against JSON for a shard result; peak RSS of a full `curate run --queue` coordinator and its worker
 * against the embedded `curate run` at two corpus sizes. Needs redis-server, GNU time and a build (npm run build).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { deserialize, serialize } from "node:v8";
import { parseArgs, parseCount } from "../lib/args.mjs";
import { ensureCorpus } from "../lib/corpus.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = join(root, "packages/cli/dist/bin.js");
const args = parseArgs(process.argv.slice(2), { booleans: ["json"] });
const records = parseCount(args.records ?? "100k");
const big = parseCount(args.big ?? "300k");
const work = mkdtempSync(join(tmpdir(), "curate-queue-bench-"));
const { queueSource } = await import(join(root, "packages/queue/dist/index.js"));
const { planShards } = await import(join(root, "packages/read/dist/index.js"));
const { runShardTask } = await import(join(root, "packages/pipeline/dist/index.js"));

function freePort() {
  return new Promise((res) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => res(port));
    });
  });
}

const port = await freePort();
const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", work], {
  stdio: "ignore",
});
const url = `redis://127.0.0.1:${port}`;
await new Promise((r) => setTimeout(r, 500));

function startWorkers(n) {
  return Array.from({ length: n }, () => {
    const child = spawn(process.execPath, [bin, "worker", "--queue", url], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr.on("data", (d) => {
      log += d;
    });
    return { child, log: () => log, ready: waitFor(() => log.includes("waiting for shards")) };
  });
}
async function waitFor(test) {
  while (!test()) await new Promise((r) => setTimeout(r, 20));
}
async function stop(workers) {
  for (const w of workers) w.child.kill("SIGTERM");
  await Promise.all(
    workers.map((w) => new Promise((r) => (w.child.exitCode !== null ? r() : w.child.once("exit", r)))),
  );
}
const peakRss = (log) => Math.max(0, ...[...log.matchAll(/peak RSS (\d+) MiB/g)].map((m) => Number(m[1])));
const ctx = { reject() {}, warn() {}, duplicate() {} };

/** The shard phase as the coordinator sees it: every shard run by the workers, stitched in order. */
async function shardPhase(files, workers, options) {
  const started = startWorkers(workers);
  await Promise.all(started.map((w) => w.ready));
  const out = join(work, `out-${workers}-${Date.now()}`);
  const run = queueSource(files, { url, out, ...options });
  const t0 = performance.now();
  let count = 0;
  for await (const batch of run.source.batches(ctx)) count += batch.length;
  const ms = performance.now() - t0;
  await run.finish();
  await run.close();
  await stop(started);
  return { ms, records: count, workerRss: Math.max(...started.map((w) => peakRss(w.log()))) };
}

const rows = [];
const corpus = ensureCorpus({ records, seed: 1, root, log: (m) => process.stderr.write(`${m}\n`) });
const files = corpus.files.map((f) => f.path);
const config = { dedup: { near: true } };
const shardBytes = 4 * 1024 * 1024;

// 1 vs 2 workers, interleaved twice: the machine is shared, a single pair can mislead.
const phase = { 1: [], 2: [] };
for (let round = 0; round < 2; round++) {
  for (const n of [1, 2]) phase[n].push(await shardPhase(files, n, { shardBytes, config }));
}
const best = (list) => list.reduce((a, b) => (a.ms < b.ms ? a : b));
const [one, two] = [best(phase[1]), best(phase[2])];
const shards = (await planShards(files, { targetBytes: shardBytes })).length;
rows.push({
  row: `shard phase, 1 worker (${shards} shards of 4 MiB, near config)`,
  value: `${(one.ms / 1000).toFixed(2)} s (${phase[1].map((r) => (r.ms / 1000).toFixed(2)).join(", ")})`,
});
rows.push({
  row: "shard phase, 2 workers",
  value: `${(two.ms / 1000).toFixed(2)} s (${phase[2].map((r) => (r.ms / 1000).toFixed(2)).join(", ")}): ${(one.ms / two.ms).toFixed(2)}× 1 worker`,
});

// Per-shard overhead: one-record files, so the shard's own work is ~nothing.
const tinyDir = join(work, "tiny");
mkdirSync(tinyDir);
const tiny = 300;
for (let i = 0; i < tiny; i++)
  writeFileSync(join(tinyDir, `t${String(i).padStart(4, "0")}.jsonl`), `{"prompt":"p${i}","completion":"c"}\n`);
const tinyInProcess = performance.now();
for (const shard of await planShards([tinyDir])) await runShardTask({ shard, maxLineBytes: 1 << 20, cwd: root });
const inProcessMs = (performance.now() - tinyInProcess) / tiny;
const overhead = await shardPhase([tinyDir], 1, { lookahead: 2 });
rows.push({
  row: `per-shard, enqueue → result → stitched (${tiny} one-record shards, 1 worker, lookahead 2)`,
  value: `${(overhead.ms / tiny).toFixed(2)} ms/shard (the shard's own read in-process: ${inProcessMs.toFixed(2)} ms)`,
});
const pipelined = await shardPhase([tinyDir], 2, { lookahead: 64 });
rows.push({ row: "per-shard, 2 workers, lookahead 64", value: `${(pipelined.ms / tiny).toFixed(2)} ms/shard` });

// v8.serialize against JSON for one 4 MiB shard's result with near-dedup facts.
const [first] = await planShards(files, { targetBytes: shardBytes });
const result = await runShardTask({ shard: first, maxLineBytes: 1 << 24, cwd: root, config });
let t = performance.now();
const v8bytes = serialize(result);
deserialize(v8bytes);
const v8ms = performance.now() - t;
t = performance.now();
const json = JSON.stringify(result);
JSON.parse(json);
const jsonMs = performance.now() - t;
rows.push({
  row: `shard result, ${result.records} records: v8.serialize + deserialize vs JSON`,
  value: `${v8ms.toFixed(0)} ms, ${(v8bytes.length / 2 ** 20).toFixed(1)} MiB vs ${jsonMs.toFixed(0)} ms, ${(Buffer.byteLength(json) / 2 ** 20).toFixed(1)} MiB (JSON loses typed arrays)`,
});

// Memory: the whole run, coordinator as a child under GNU time, at two sizes.
function timed(argv) {
  const r = spawnSync("/usr/bin/time", ["-f", "maxrss=%M elapsed=%e", process.execPath, bin, ...argv], {
    encoding: "utf8",
  });
  const m = /maxrss=(\d+) elapsed=([\d.]+)/.exec(r.stderr);
  return { rss: Number(m?.[1]) / 1024, s: Number(m?.[2]), status: r.status };
}
for (const size of [records, big]) {
  const c = ensureCorpus({ records: size, seed: 1, root, log: (m) => process.stderr.write(`${m}\n`) });
  const inputs = c.files.map((f) => f.path);
  const common = ["--dedup", "exact", "--shard-bytes", String(32 * 1024 * 1024), "--quiet", "--force"];
  const embedded = timed(["run", ...inputs, ...common, "--out", join(work, `emb-${size}`)]);
  const workers = startWorkers(1);
  await Promise.all(workers.map((w) => w.ready));
  const queued = timed(["run", ...inputs, ...common, "--queue", url, "--out", join(work, `q-${size}`)]);
  await stop(workers);
  rows.push({
    row: `${size.toLocaleString("en-US")} records, --dedup exact: peak RSS coordinator / worker / embedded run`,
    value: `${queued.rss.toFixed(0)} / ${peakRss(workers[0].log())} / ${embedded.rss.toFixed(0)} MiB (${queued.s} s vs ${embedded.s} s)`,
  });
}

redis.kill("SIGKILL");
rmSync(work, { recursive: true, force: true });
if (args.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
else for (const { row, value } of rows) process.stdout.write(`| ${row} | ${value} |\n`);
