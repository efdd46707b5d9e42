/**
 * A run's shard phase on many machines. The coordinator (`queueSource`, `curate run --queue URL`) plans the shards
 * exactly as `curate run --workers N` does, enqueues them as BullMQ jobs (one job per shard of thousands of records)
 * and stitches their results back in shard order through `shardedSource`; workers (`startWorker`, `curate worker`)
 * run `runShardTask` on the jobs and store each result under the run's output folder, named by shard id. The global
 * phase (exact and near dedup decisions, split) then runs in the coordinator on the stitched records, in input
 * order, as in every other run: the output is byte-identical to the embedded run's by construction.
 */
import { rmdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CurateError } from "@curate/core";
import {
  type ShardedSourceOptions,
  type ShardRunner,
  type ShardTask,
  shardedSource,
  startShardPool,
} from "@curate/pipeline/shards";
import { DEFAULT_MAX_LINE_BYTES, planShards, type ReadSource, type ShardResult, type ShardSpec } from "@curate/read";
import { SHARD_RESULTS_DIR } from "@curate/write";
import type { Queue, QueueEvents } from "bullmq";
import { runKey } from "./key.js";
import { type Connection, connect } from "./redis.js";
import { fileShardStore, type ShardStore } from "./store.js";

export { runKey, shardConfig } from "./key.js";
export { type Connection, connect } from "./redis.js";
export { fileShardStore, type ShardStore } from "./store.js";

/** The BullMQ queue curate's coordinators and workers share (runs are told apart by their key). */
export const DEFAULT_QUEUE_NAME = "curate-shards";
/** A worker that stops renewing a shard's lock for this long is taken for dead: its shard runs again elsewhere. */
export const DEFAULT_STALL_MS = 30_000;

/** What a shard job carries: the task (plain JSON) and where its result goes. */
export interface ShardJobData {
  readonly run: string;
  readonly task: ShardTask;
  /** The run's `ShardStore` location (a folder all machines see). */
  readonly results: string;
}

export interface QueueSourceOptions extends ShardedSourceOptions {
  /** `redis://HOST:PORT`. */
  readonly url: string;
  /** The run's output folder: shard results wait in `<out>/.curate-shards/<run key>/`. */
  readonly out: string;
  readonly queueName?: string;
}

/** A coordinator's side of a distributed run. */
export interface QueueRun {
  /** The run's records, stitched from the workers' shard results in shard order. */
  readonly source: ReadSource;
  /** After the dataset is written: removes the run's jobs and shard results. */
  finish(): Promise<void>;
  /** Closes the connections (always, success or not). */
  close(): Promise<void>;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

interface Session {
  readonly connection: Connection;
  readonly queue: Queue;
  readonly events: QueueEvents;
  readonly store: ShardStore;
  readonly jobIds: readonly string[];
  result(shard: ShardSpec): Promise<ShardResult>;
}

/** A job id: the run's key (config and inputs) and the shard's place in the plan. */
export function jobId(key: string, shard: number): string {
  return `${key.slice(0, 32)}-${shard}`;
}

/**
 * The coordinator: a record source whose shards run on `curate worker` processes through a BullMQ queue. Every
 * shard of the plan is enqueued at once (`addBulk`) on first read, with job ids from the run's key, so a coordinator
 * started again with the same arguments finds its finished shards (their results are on disk) and waits only for
 * the rest. Lookahead (default 1) bounds how many results are held in memory, not how many shards run.
 * @example const run = queueSource(["data/"], { url: "redis://127.0.0.1:6379", out: "out", config });
 * try { await runDataset({ dir: "out", source: run.source, stages }); await run.finish(); } finally { await run.close(); }
 */
export function queueSource(patterns: readonly string[], options: QueueSourceOptions): QueueRun {
  const cwd = options.cwd ?? process.cwd();
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const name = options.queueName ?? DEFAULT_QUEUE_NAME;
  let session: Promise<Session> | undefined;
  let opened: Session | undefined;

  async function open(): Promise<Session> {
    const connection = await connect(options.url);
    try {
      return await Promise.race([start(connection), connection.lost]);
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  async function start(connection: Connection): Promise<Session> {
    const shards = await planShards(patterns, {
      cwd,
      ...(options.shardBytes !== undefined ? { targetBytes: options.shardBytes } : {}),
    });
    const base = { maxLineBytes, cwd, ...(options.config ? { config: options.config } : {}) };
    const key = runKey(shards, base, options.out);
    const store = fileShardStore(join(resolve(cwd, options.out), SHARD_RESULTS_DIR, key));
    const jobIds = shards.map((shard) => jobId(key, shard.id));
    const shardOf = new Map(jobIds.map((id, shard) => [id, shard]));
    const done = shards.map(() => deferred());
    const { Queue, QueueEvents } = await import("./deps.js");
    const queue = new Queue<ShardJobData>(name, { connection: connection.client });
    const events = new QueueEvents(name, { connection: connection.client });
    events.on("error", () => {}); // a lost connection is reported through `connection.lost`
    queue.on("error", () => {});
    events.on("completed", ({ jobId }) => {
      const shard = shardOf.get(jobId);
      if (shard !== undefined) done[shard]!.resolve();
    });
    events.on("failed", ({ jobId, failedReason }) => {
      const shard = shardOf.get(jobId);
      if (shard !== undefined) done[shard]!.reject(shardFailed(shards[shard]!, failedReason));
    });
    await events.waitUntilReady();

    // Shards whose result an earlier try of this run stored are done; the others are (re)enqueued. A job id that
    // already exists is not added twice (BullMQ keeps the job, whatever its state), so its state is looked at.
    const todo: ShardSpec[] = [];
    for (const shard of shards) {
      if (await store.has(shard.id)) done[shard.id]!.resolve();
      else todo.push(shard);
    }
    const job = (shard: ShardSpec) => ({
      name: "shard",
      data: { run: key, task: { shard, ...base }, results: store.location },
      opts: { jobId: jobIds[shard.id]!, attempts: 1, removeOnComplete: false, removeOnFail: false },
    });
    const added = await queue.addBulk(todo.map(job));
    await Promise.all(
      added.map(async (existing, i) => {
        const shard = todo[i]!;
        const state = await existing.getState();
        if (state === "failed") await existing.retry("failed");
        else if (state === "completed" && !(await store.has(shard.id))) {
          // Finished before, but its result is gone (the output folder was cleaned): run it again.
          await existing.remove();
          await queue.add(job(shard).name, job(shard).data, job(shard).opts);
        } else if (state === "completed") done[shard.id]!.resolve();
      }),
    );

    return {
      connection,
      queue,
      events,
      store,
      jobIds,
      async result(shard) {
        const id = jobIds[shard.id]!;
        // The completed event settles the wait; a slow poll covers events missed while the listener started.
        for (;;) {
          const settled = await Promise.race([
            done[shard.id]!.promise.then(() => true),
            sleep(1000).then(() => false),
            connection.lost,
          ]);
          if (settled) break;
          const state = await Promise.race([queue.getJobState(id), connection.lost]);
          if (state === "completed") break;
          if (state === "failed") {
            const failed = await queue.getJob(id);
            throw shardFailed(shard, failed?.failedReason ?? "no reason recorded");
          }
        }
        const result = await store.get(shard.id);
        if (result === undefined) {
          throw new CurateError(
            "CURATE_QUEUE_RESULT_MISSING",
            `shard ${shard.id} (${shard.path}) is done, but its result is not in ${store.location}: --out must be a folder that the workers see at the same path (a shared file system)`,
            { exitCode: 2 },
          );
        }
        return result;
      },
    };
  }

  const runner: ShardRunner = async (task) => {
    session ??= open().then((s) => {
      opened = s;
      return s;
    });
    return (await session).result(task.shard);
  };
  // Lookahead 1: every shard is enqueued at once anyway, so the workers never wait on it; it only bounds how many
  // decoded shard results the coordinator holds (the one being stitched and the next), and a decoded 64 MiB shard is
  // a few hundred MiB of objects (bench/RESULTS.md).
  const source = shardedSource(patterns, runner, { lookahead: 1, ...options, cwd, maxLineBytes });

  return {
    source,
    async finish() {
      if (!opened) return;
      const { queue, jobIds, store } = opened;
      await Promise.all(jobIds.map((id) => queue.remove(id)));
      await store.clear();
      await rmdir(dirname(store.location)).catch(() => {}); // only when no other run's results are there
    },
    async close() {
      const s = opened ?? (await session?.catch(() => undefined));
      if (!s) return;
      // Closing waits on Redis; when Redis is gone there is nothing to wait for.
      await Promise.race([Promise.all([s.events.close(), s.queue.close()]), sleep(2000)]).catch(() => {});
      await s.connection.close();
    },
  };
}

function shardFailed(shard: ShardSpec, reason: string): CurateError {
  const range = shard.whole ? "" : ` bytes ${shard.start}–${shard.end ?? "end"}`;
  return new CurateError(
    "CURATE_QUEUE_SHARD_FAILED",
    `shard ${shard.id} (${shard.path}${range}) failed on a worker: ${reason}`,
    {
      exitCode: 2,
    },
  );
}

export interface WorkerOptions {
  readonly url: string;
  readonly queueName?: string;
  /** Shards run at once, each in its own thread (default 1). */
  readonly concurrency?: number;
  /** See `DEFAULT_STALL_MS`. */
  readonly stallMs?: number;
  /** Called after each shard's result is stored. */
  readonly onShard?: (info: { run: string; shard: number; path: string; records: number; ms: number }) => void;
}

/** A running worker. */
export interface QueueWorker {
  /** Rejects when the connection to Redis is lost for good; never resolves. */
  readonly lost: Promise<never>;
  /** Stops taking shards, lets the ones in flight finish, and disconnects. */
  close(): Promise<void>;
}

/**
 * A worker: takes shard jobs from the queue and runs them in its own threads (the event loop stays free to renew the
 * jobs' locks, however long a shard takes), storing each result where the job says. A worker killed mid-shard
 * stops renewing the lock; after `stallMs` another worker's stalled-job check puts the shard back in the queue, and
 * its result replaces nothing (the killed worker never stored one) or the same bytes.
 * @example const worker = await startWorker({ url: "redis://10.0.0.5:6379", concurrency: 2 }); await worker.lost;
 */
export async function startWorker(options: WorkerOptions): Promise<QueueWorker> {
  const concurrency = options.concurrency ?? 1;
  const stallMs = options.stallMs ?? DEFAULT_STALL_MS;
  const connection = await connect(options.url);
  const pool = await startShardPool(concurrency);
  const { Worker } = await import("./deps.js");
  const worker = new Worker<ShardJobData>(
    options.queueName ?? DEFAULT_QUEUE_NAME,
    async (job) => {
      const started = performance.now();
      const { run, task, results } = job.data;
      const { result } = await pool.run(task);
      await fileShardStore(results).put(result);
      options.onShard?.({
        run,
        shard: task.shard.id,
        path: task.shard.path,
        records: result.records,
        ms: performance.now() - started,
      });
      return { records: result.records };
    },
    {
      connection: connection.client,
      concurrency,
      lockDuration: stallMs,
      stalledInterval: Math.max(1000, Math.floor(stallMs / 2)),
      // A shard is stalled only when its worker died; one that kills workers repeatedly fails the run instead.
      maxStalledCount: 3,
    },
  );
  worker.on("error", () => {}); // a lost connection is reported through `connection.lost`
  await Promise.race([worker.waitUntilReady(), connection.lost]);
  return {
    lost: connection.lost,
    async close() {
      await Promise.race([worker.close(), sleep(5000)]).catch(() => {});
      await pool.close();
      await connection.close();
    },
  };
}

/** Where each shard of a run stands. */
export interface RunStatus {
  readonly run: string;
  readonly shards: number;
  readonly done: number;
  readonly running: number;
  readonly waiting: number;
  readonly failed: number;
  /** Shards with no job: the run was not started, or it finished and its jobs were removed. */
  readonly notQueued: number;
  /** The shards running now. */
  readonly active: readonly number[];
  /** Failed shards and why. */
  readonly failures: readonly { shard: number; path: string; reason: string }[];
}

/** The run's options, as given to `queueSource`: the same inputs, options and --out name the same run. */
export type RunStatusOptions = QueueSourceOptions;

/**
 * The state of the run that `curate run` with the same inputs and options would coordinate: shards done (result
 * stored or job completed), running, waiting, failed (with the worker's reason).
 * @example const status = await runStatus(["data/"], { url: "redis://127.0.0.1:6379", out: "out", config });
 */
export async function runStatus(patterns: readonly string[], options: RunStatusOptions): Promise<RunStatus> {
  const cwd = options.cwd ?? process.cwd();
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const connection = await connect(options.url);
  const { Queue } = await import("./deps.js");
  const queue = new Queue<ShardJobData>(options.queueName ?? DEFAULT_QUEUE_NAME, { connection: connection.client });
  queue.on("error", () => {});
  try {
    const work = async (): Promise<RunStatus> => {
      const shards = await planShards(patterns, {
        cwd,
        ...(options.shardBytes !== undefined ? { targetBytes: options.shardBytes } : {}),
      });
      const key = runKey(
        shards,
        { maxLineBytes, cwd, ...(options.config ? { config: options.config } : {}) },
        options.out,
      );
      const store = fileShardStore(join(resolve(cwd, options.out), SHARD_RESULTS_DIR, key));
      const counts = { done: 0, running: 0, waiting: 0, failed: 0, notQueued: 0 };
      const failures: { shard: number; path: string; reason: string }[] = [];
      const active: number[] = [];
      for (const shard of shards) {
        if (await store.has(shard.id)) {
          counts.done++;
          continue;
        }
        const id = jobId(key, shard.id);
        const state = await queue.getJobState(id);
        if (state === "completed") counts.done++;
        else if (state === "active") {
          counts.running++;
          active.push(shard.id);
        } else if (state === "failed") {
          counts.failed++;
          failures.push({ shard: shard.id, path: shard.path, reason: (await queue.getJob(id))?.failedReason ?? "" });
        } else if (state === "unknown") counts.notQueued++;
        else counts.waiting++; // waiting, delayed, prioritized
      }
      return { run: key, shards: shards.length, ...counts, active, failures };
    };
    return await Promise.race([work(), connection.lost]);
  } finally {
    await Promise.race([queue.close(), sleep(2000)]).catch(() => {});
    await connection.close();
  }
}
