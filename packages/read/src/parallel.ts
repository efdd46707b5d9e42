import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { resolve } from "node:path";
import { Worker } from "node:worker_threads";
import { CurateError, type Envelope, type StageContext } from "@curate/core";
import { workerEntry } from "@curate/core/worker";
import { DEFAULT_MAX_LINE_BYTES } from "./defaults.js";
import { STDIN } from "./inputs.js";
import { emptyStats, type ReadSource, readInputs } from "./read.js";
import type { ShardReply, ShardRequest } from "./shard-worker.js";
import { planShards, type ShardResult, type ShardSpec, ShardStitcher } from "./shards.js";
import type { InputStats, ReadOptions } from "./types.js";

export interface ParallelReadOptions extends ReadOptions {
  /** Worker threads that read shards (default 2). 1 still reads in a worker; use `readInputs` for none. */
  readonly workers?: number;
  /** Bytes per range shard of a big plain JSONL file (default 64 MiB; see `planShards`). */
  readonly shardBytes?: number;
}

/** Kept records handed on per batch. */
const BATCH = 512;

/**
 * Reads the inputs as `readInputs` does — the same records, identities, rejects, warnings and stats, in the same
 * order — with the parsing done by `workers` threads: the inputs are cut into shards (`planShards`), each read in a
 * worker (a pure function of the shard), and the results stitched back in shard order. At most two shards per worker
 * are in flight, so memory stays bounded by the shard size. Stdin cannot be split or handed to a thread: with stdin
 * among the inputs this is `readInputs`.
 * @example const source = readInputsParallel(["big.jsonl"], { workers: 4 }); // then runPipeline(source, stages)
 */
export function readInputsParallel(patterns: readonly string[], options: ParallelReadOptions = {}): ReadSource {
  const workers = options.workers ?? 2;
  if (!Number.isSafeInteger(workers) || workers < 1 || workers > 256) {
    throw new CurateError("CURATE_INVALID_OPTION", `workers must be a whole number from 1 to 256, found ${workers}`, {
      exitCode: 2,
    });
  }
  if (patterns.length === 0 || patterns.includes("-")) return readInputs(patterns, options);
  const cwd = options.cwd ?? process.cwd();
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const stats: InputStats[] = [];

  async function* batches(ctx: StageContext): AsyncGenerator<Envelope[]> {
    stats.length = 0;
    const shards = await planShards(patterns, {
      cwd,
      ...(options.shardBytes !== undefined ? { targetBytes: options.shardBytes } : {}),
    });
    if (shards.some((s) => s.path === STDIN)) {
      yield* readInputs(patterns, options).batches!(ctx);
      return;
    }
    const ranged = new Set(shards.filter((s) => s.start > 0).map((s) => s.input));
    const pool = await ShardPool.start(Math.min(workers, shards.length));
    const stitcher = new ShardStitcher();
    const pending: Promise<ShardReply>[] = [];
    let next = 0;
    const request = (shard: ShardSpec): Promise<ShardReply> =>
      pool.read({
        shard,
        whole: !ranged.has(shard.input) && shard.start === 0 && shard.end === undefined,
        maxLineBytes,
        cwd,
      });
    try {
      while (next < shards.length && pending.length < 2 * pool.size) pending.push(request(shards[next++]!));
      while (pending.length > 0) {
        const reply = await pending.shift()!;
        if (next < shards.length) pending.push(request(shards[next++]!));
        if ("error" in reply) throw new CurateError("CURATE_IO", reply.error, { exitCode: 2 });
        const { result } = reply;
        options.onBytes?.((result.shard.end ?? result.shard.start) - result.shard.start);
        addStats(stats, result, reply.stats);
        let kept: Envelope[] = [];
        for (const entry of stitcher.stitch(result)) {
          if (entry.kind === "kept") {
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
    } finally {
      await pool.close();
    }
  }

  async function* read(ctx: StageContext): AsyncGenerator<Envelope> {
    for await (const batch of batches(ctx)) yield* batch;
  }
  return Object.assign(read, { batches, stats });
}

/** Adds a shard's facts to its input's stats (the worker's own, for a whole input). */
function addStats(stats: InputStats[], result: ShardResult, whole: InputStats | undefined): void {
  const { shard } = result;
  if (whole) {
    stats[shard.input] = { ...whole, path: shard.path };
    return;
  }
  stats[shard.input] ??= emptyStats(shard.path);
  const stat = stats[shard.input]!;
  if (shard.rowGroups) stat.container = "parquet";
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

/** Worker threads that each read one shard at a time, first come first served. */
class ShardPool {
  private readonly idle: Worker[];
  private readonly queue: { request: ShardRequest; done: (reply: ShardReply) => void; fail: (e: Error) => void }[] = [];

  private constructor(private readonly workers: Worker[]) {
    this.idle = [...workers];
  }

  static async start(size: number): Promise<ShardPool> {
    const entry = await workerEntry(import.meta.url, "shard-worker", [
      "fast-glob",
      "fzstd",
      "hyparquet",
      "hyparquet-compressors",
    ]);
    return new ShardPool(Array.from({ length: Math.max(1, size) }, () => new Worker(entry)));
  }

  get size(): number {
    return this.workers.length;
  }

  read(request: ShardRequest): Promise<ShardReply> {
    return new Promise((done, fail) => {
      this.queue.push({ request, done, fail });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const job = this.queue.shift()!;
      const onMessage = (reply: ShardReply) => {
        worker.off("error", onError);
        this.idle.push(worker);
        job.done(reply);
        this.pump();
      };
      const onError = (error: Error) => {
        worker.off("message", onMessage);
        job.fail(error);
      };
      worker.once("message", onMessage);
      worker.once("error", onError);
      worker.postMessage(job.request);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
