/**
 * The shard phase: a run's inputs cut into shards (`planShards`), each shard read and given its per-record work
 * (validation verdicts, dedup hashes, MinHash signatures, token counts: each stage's `Preparer`) by a pure function
 * of (shard, config) whose result is plain data — so it can run in a worker thread (`--workers`), another process or
 * another machine (the queue) — then put back together in shard order into the records a sequential read gives,
 * each carrying its facts. The global phase (the stages themselves, in input order) then decides exactly what a
 * sequential run decides, taking the facts instead of computing them.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { resolve } from "node:path";
import { attachFacts, CurateError, type Envelope, type Preparer, preparerOf, type StageContext } from "@curate/core";
import {
  DEFAULT_MAX_LINE_BYTES,
  emptyStats,
  type InputStats,
  planShards,
  type ReadSource,
  readInputs,
  readShard,
  type ShardEntry,
  type ShardResult,
  type ShardSpec,
  ShardStitcher,
  STDIN,
} from "@curate/read";
import type { RunConfig } from "./config.js";

/**
 * One unit of shard-phase work, as plain data: what to read, and the run's configuration (whose stages' preparers
 * give the per-record facts). Without `config`, the shard is only read.
 * @example const task: ShardTask = { shard, maxLineBytes: 1 << 24, cwd: process.cwd(), config: { dedup: { near: true } } };
 */
export interface ShardTask {
  readonly shard: ShardSpec;
  readonly maxLineBytes: number;
  readonly cwd: string;
  readonly config?: RunConfig;
}

/** Preparers per configuration, built once per thread or process (tokenizers load once). */
const preparers = new Map<string, Promise<Preparer[]>>();

async function preparersFor(config: RunConfig): Promise<Preparer[]> {
  const key = JSON.stringify(config);
  let found = preparers.get(key);
  if (found === undefined) {
    found = (async () => {
      const { planStages } = await import("./plan.js");
      // The shard phase runs inside a worker already: its stages compute in place, never on pools of their own.
      const { stages } = await planStages({ ...config, threads: 1 });
      return stages.map(preparerOf).filter((p): p is Preparer => p !== undefined);
    })();
    preparers.set(key, found);
  }
  return found;
}

/**
 * Runs one shard's work: reads it, then gives its kept records each preparer's facts in plan order (a record a
 * stage will drop is not prepared further). A pure function of the task; the result is plain data.
 * @example const result = await runShardTask({ shard, maxLineBytes: 1 << 24, cwd: process.cwd(), config });
 */
export async function runShardTask(task: ShardTask): Promise<ShardResult> {
  const result = await readShard(task.shard, { maxLineBytes: task.maxLineBytes, cwd: task.cwd });
  if (task.config === undefined) return result;
  const chain = await preparersFor(task.config);
  if (chain.length === 0) return result;
  let live: { entry: Extract<ShardEntry, { kind: "kept" }>; item: Envelope }[] = [];
  for (const entry of result.entries) if (entry.kind === "kept") live.push({ entry, item: entry.item });
  for (const preparer of chain) {
    if (live.length === 0) break;
    const facts = await preparer.prepare(live.map((l) => l.item));
    const next: typeof live = [];
    for (const [i, l] of live.entries()) {
      const fact = facts[i];
      if (fact === undefined) continue;
      l.entry.facts ??= {};
      l.entry.facts[preparer.key] = fact;
      const passed = preparer.pass ? preparer.pass(l.item, fact) : l.item;
      if (passed !== undefined) next.push({ entry: l.entry, item: passed });
    }
    live = next;
  }
  return result;
}

/** Runs a shard task somewhere (a worker thread, a queue) and gives its result. */
export type ShardRunner = (task: ShardTask) => Promise<ShardResult>;

export interface ShardedSourceOptions {
  readonly cwd?: string;
  readonly maxLineBytes?: number;
  /** Bytes per range shard of a big plain JSONL file (default 64 MiB; see `planShards`). */
  readonly shardBytes?: number;
  /** Shards in flight at once (default 2): memory is bounded by this many shards' results. */
  readonly lookahead?: number;
  /** The run's configuration, for the preparers; without it shards are only read. */
  readonly config?: RunConfig;
  /** Progress: bytes of input done. */
  readonly onBytes?: (bytes: number) => void;
}

/** Kept records handed on per batch. */
const BATCH = 512;

/**
 * A record source whose records come from shard tasks run by `run` (in any order, any place), stitched back in
 * shard order: the same records, identities, rejects, warnings and stats as `readInputs`, each kept record with its
 * facts attached. Stdin cannot be sharded: with stdin among the inputs this is `readInputs`.
 * @example const source = shardedSource(["big.jsonl"], (task) => pool.run(task), { lookahead: 4, config });
 */
export function shardedSource(
  patterns: readonly string[],
  run: ShardRunner,
  options: ShardedSourceOptions = {},
): ReadSource {
  const cwd = options.cwd ?? process.cwd();
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const readOptions = { cwd, maxLineBytes, ...(options.onBytes ? { onBytes: options.onBytes } : {}) };
  if (patterns.length === 0 || patterns.includes(STDIN)) return readInputs(patterns, readOptions);
  const stats: InputStats[] = [];
  const lookahead = Math.max(1, options.lookahead ?? 2);

  async function* batches(ctx: StageContext): AsyncGenerator<Envelope[]> {
    stats.length = 0;
    const shards = await planShards(patterns, {
      cwd,
      ...(options.shardBytes !== undefined ? { targetBytes: options.shardBytes } : {}),
    });
    const stitcher = new ShardStitcher();
    const pending: Promise<ShardResult>[] = [];
    const request = (shard: ShardSpec): Promise<ShardResult> => {
      const promise = run({ shard, maxLineBytes, cwd, ...(options.config ? { config: options.config } : {}) });
      // Awaited in order below; a later shard's failure must not surface as an unhandled rejection meanwhile.
      promise.catch(() => {});
      return promise;
    };
    let next = 0;
    while (next < shards.length && pending.length < lookahead) pending.push(request(shards[next++]!));
    while (pending.length > 0) {
      let result: ShardResult;
      try {
        result = await pending.shift()!;
      } catch (error) {
        throw error instanceof CurateError
          ? error
          : new CurateError("CURATE_IO", error instanceof Error ? error.message : String(error), { exitCode: 2 });
      }
      if (next < shards.length) pending.push(request(shards[next++]!));
      const { shard } = result;
      if (!shard.whole) options.onBytes?.((shard.end ?? shard.start) - shard.start);
      addStats(stats, result);
      let kept: Envelope[] = [];
      for (const entry of stitcher.stitch(result)) {
        if (entry.kind === "kept") {
          if (entry.facts) attachFacts(entry.item.source, entry.facts);
          kept.push(entry.item);
          if (kept.length >= BATCH) {
            yield kept;
            kept = [];
          }
        } else if (entry.kind === "reject") ctx.reject(entry.item, entry.reason);
        else ctx.warn(entry.item, entry.issue);
      }
      if (kept.length > 0) yield kept;
    }
    // Range-sharded inputs were never read whole in one place: hash them here, as the manifest records them.
    for (const stat of stats) {
      if (stat.sha256 === "") Object.assign(stat, await digest(resolve(cwd, stat.path)));
    }
  }

  async function* read(ctx: StageContext): AsyncGenerator<Envelope> {
    for await (const batch of batches(ctx)) yield* batch;
  }
  return Object.assign(read, { batches, stats });
}

/** Adds a shard's facts to its input's stats (a whole input's are its own). */
function addStats(stats: InputStats[], result: ShardResult): void {
  const { shard } = result;
  if (result.stats) {
    stats[shard.input] = { ...result.stats, path: shard.path };
    return;
  }
  stats[shard.input] ??= { ...emptyStats(shard.path), ...(shard.array ? { container: "json-array" as const } : {}) };
  const stat = stats[shard.input]!;
  stat.records += result.records;
  stat.blankLines += result.blankLines;
}

/** The SHA-256 and size of a file, read once. */
async function digest(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

export interface WorkersSourceOptions extends ShardedSourceOptions {
  /** Worker threads running the shard phase (1–256). */
  readonly workers: number;
}

/**
 * `shardedSource` on `workers` threads of this process: the shard phase of `curate run --workers N`.
 * @example const source = workersSource(["data/"], { workers: 4, config }); // then runDataset({ source, stages })
 */
export function workersSource(patterns: readonly string[], options: WorkersSourceOptions): ReadSource {
  const { workers } = options;
  if (!Number.isSafeInteger(workers) || workers < 1 || workers > 256) {
    throw new CurateError("CURATE_INVALID_OPTION", `workers must be a whole number from 1 to 256, found ${workers}`, {
      exitCode: 2,
    });
  }
  // Started by the first task (requests are made concurrently: one promise, one pool).
  let pool: ReturnType<typeof startPool> | undefined;
  const inner = shardedSource(
    patterns,
    async (task) => {
      pool ??= startPool(workers);
      return (await (await pool).run(task)).result;
    },
    { lookahead: 2 * workers, ...options },
  );
  async function* batches(ctx: StageContext): AsyncGenerator<Envelope[]> {
    try {
      yield* inner.batches!(ctx);
    } finally {
      const used = pool;
      pool = undefined;
      if (used) await (await used.catch(() => undefined))?.close();
    }
  }
  async function* read(ctx: StageContext): AsyncGenerator<Envelope> {
    for await (const batch of batches(ctx)) yield* batch;
  }
  return Object.assign(read, { batches, stats: inner.stats });
}

async function startPool(size: number) {
  const { WorkerPool, workerEntry } = await import("@curate/core/worker");
  const entry = await workerEntry(import.meta.url, "shard-worker", [
    "fast-glob",
    "fzstd",
    "tiktoken",
    "@huggingface/tokenizers",
    "@huggingface/jinja",
  ]);
  return WorkerPool.start<ShardTask, { result: ShardResult }>(entry, size, { name: "shard phase" });
}
