import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { TransferListItem } from "node:worker_threads";

const bundled = new Map<string, Promise<URL>>();

/**
 * The entry file of a package's worker thread: `<name>.js` beside the calling module in a built package. From
 * TypeScript source (vitest, with the `@curate/source` condition) there is no `.js` to run and Node 20 cannot run
 * `.ts` in a worker, so the entry is bundled once per process with esbuild (a development dependency, imported only
 * in this case) into the package's `node_modules/.cache/`, where its `external` dependencies still resolve; the file
 * is named by a hash of its code and written atomically, so tests run the same worker code as the CLI.
 * A subpath export (`@curate/core/worker`), not part of the main entry, so bundles of the CLI never see esbuild.
 * @example new Worker(await workerEntry(import.meta.url, "worker", ["tiktoken"]));
 */
export function workerEntry(moduleUrl: string, name: string, external: readonly string[] = []): Promise<URL> {
  if (!moduleUrl.endsWith(".ts")) return Promise.resolve(new URL(`./${name}.js`, moduleUrl));
  const key = `${moduleUrl}#${name}`;
  let entry = bundled.get(key);
  if (entry === undefined) {
    entry = bundle(dirname(fileURLToPath(moduleUrl)), name, external);
    bundled.set(key, entry);
  }
  return entry;
}

async function bundle(here: string, name: string, external: readonly string[]): Promise<URL> {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [join(here, `${name}.ts`)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    write: false,
    conditions: ["@curate/source"],
    external: [...external, "esbuild"],
    logLevel: "silent",
  });
  const code = result.outputFiles[0]!.text;
  const dir = join(here, "..", "node_modules", ".cache", `curate-${name}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${createHash("sha256").update(code).digest("hex").slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    const temp = `${file}.tmp-${process.pid}`;
    writeFileSync(temp, code);
    renameSync(temp, file);
  }
  return pathToFileURL(file);
}

interface Job<Req, Res> {
  readonly request: Req;
  /** A thread the request must run on (it holds state the request needs). */
  readonly thread?: number;
  readonly transfer: readonly TransferListItem[];
  resolve(response: Res): void;
  reject(error: Error): void;
}

export interface WorkerPoolOptions {
  /** Names the pool in errors ("near dedup: a worker thread crashed: …"). */
  readonly name?: string;
  /** Given to every thread as `workerData`. */
  readonly workerData?: unknown;
  /**
   * Requests in flight per thread (default 1). A thread answers its requests in the order it got them; more than one
   * keeps it busy while the next request crosses over (and, with one thread, makes the pool an ordered channel to a
   * stateful worker).
   */
  readonly depth?: number;
  /**
   * Turns a thread's reply into the answer, or into the error to reject with (default: a reply with an `error`
   * string is a failure, anything else the answer).
   */
  readonly decode?: (reply: unknown) => unknown;
  /** Turns a crashed or exited thread into the error every request in flight is rejected with. */
  readonly lost?: (message: string, cause?: Error) => Error;
}

/**
 * The one worker pool: threads running one entry module; each request goes to the thread with the fewest in flight
 * (up to `depth`), or to the thread it names (`runOn`), and every call gets its own promise, so a caller consumes
 * answers in the order it asked whatever order the threads finish in. The entry answers `{ id, ...request }` with
 * `{ id, ...response }` or `{ id, error }` (another reply shape through `decode`). A thread that crashes or exits fails every request in flight and every later one (never a hang);
 * idle threads do not keep the process alive. The shard phase, near dedup's sketching and split's leakage index run
 * on it. Hand-written rather than piscina/tinypool: it is ~100 lines, and those libraries need their own worker
 * wrapper around each entry while giving neither ordered per-thread pipelining nor stateful single-thread use.
 * @example const pool = await WorkerPool.start(new URL("./w.js", import.meta.url), 2); const r = await pool.run({ n: 1 }); await pool.close();
 */
export class WorkerPool<Req extends object, Res = unknown> {
  /** Per thread, its requests in flight by id (a thread may answer them in any order). */
  private readonly inFlight = new Map<import("node:worker_threads").Worker, Map<number, Job<Req, Res>>>();
  private readonly queue: Job<Req, Res>[] = [];
  private failure: Error | undefined;
  private closing = false;
  private nextId = 0;

  private readonly depth: number;

  private constructor(
    private readonly workers: import("node:worker_threads").Worker[],
    private readonly name: string,
    options: WorkerPoolOptions,
  ) {
    this.depth = Math.max(1, options.depth ?? 1);
    const decode =
      options.decode ??
      ((reply: unknown) => {
        const error = (reply as { error?: unknown }).error;
        return typeof error === "string" ? new Error(`${name}: ${error}`) : reply;
      });
    const lost = options.lost ?? ((message: string) => new Error(`${name}: ${message}`));
    for (const worker of workers) {
      const jobs = new Map<number, Job<Req, Res>>();
      this.inFlight.set(worker, jobs);
      worker.on("message", (reply: unknown) => {
        const id = (reply as { id?: unknown }).id as number;
        const job = jobs.get(id);
        jobs.delete(id);
        if (jobs.size === 0) worker.unref();
        if (job) {
          const answer = decode(reply);
          if (answer instanceof Error) job.reject(answer);
          else job.resolve(answer as Res);
        }
        this.pump();
      });
      worker.on("error", (cause) => this.fail(lost(`a worker thread crashed: ${cause.message}`, cause)));
      worker.on("exit", (code) => {
        if (!this.closing) this.fail(lost(`a worker thread exited with code ${code}`));
      });
      worker.unref();
    }
  }

  /** Starts `size` threads (at least one) of the entry at `url`. */
  static async start<Req extends object, Res = unknown>(
    url: URL,
    size: number,
    options: WorkerPoolOptions = {},
  ): Promise<WorkerPool<Req, Res>> {
    const { Worker } = await import("node:worker_threads");
    const workers = Array.from(
      { length: Math.max(1, size) },
      () => new Worker(url, options.workerData === undefined ? {} : { workerData: options.workerData }),
    );
    return new WorkerPool<Req, Res>(workers, options.name ?? "worker pool", options);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Sends `request` to the least busy thread; `transfer` moves buffers instead of copying them. */
  run(request: Req, transfer: readonly TransferListItem[] = []): Promise<Res> {
    return this.enqueue({ request, transfer });
  }

  /** Sends `request` to thread `thread` (0-based), which holds something the request needs. */
  runOn(thread: number, request: Req, transfer: readonly TransferListItem[] = []): Promise<Res> {
    if (!(thread >= 0 && thread < this.workers.length)) {
      return Promise.reject(new RangeError(`${this.name}: no thread ${thread} (the pool has ${this.workers.length})`));
    }
    return this.enqueue({ request, transfer, thread });
  }

  private enqueue(job: Pick<Job<Req, Res>, "request" | "transfer" | "thread">): Promise<Res> {
    if (this.failure) return Promise.reject(this.failure);
    const promise = new Promise<Res>((resolve, reject) => {
      this.queue.push({ ...job, resolve, reject });
    });
    this.pump();
    return promise;
  }

  /** The thread a job may go to now: its own thread, or the least busy one, if below `depth`. */
  private threadFor(job: Job<Req, Res>): import("node:worker_threads").Worker | undefined {
    if (job.thread !== undefined) {
      const worker = this.workers[job.thread]!;
      return this.inFlight.get(worker)!.size < this.depth ? worker : undefined;
    }
    let best: import("node:worker_threads").Worker | undefined;
    let least = this.depth;
    for (const worker of this.workers) {
      const n = this.inFlight.get(worker)!.size;
      if (n < least) {
        best = worker;
        least = n;
      }
    }
    return best;
  }

  private pump(): void {
    // In order, except that a job waiting for its own busy thread does not hold up the jobs behind it.
    for (let i = 0; i < this.queue.length; ) {
      const job = this.queue[i]!;
      const worker = this.threadFor(job);
      if (worker === undefined) {
        if (job.thread === undefined) return;
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      const jobs = this.inFlight.get(worker)!;
      if (jobs.size === 0) worker.ref();
      const id = this.nextId++;
      jobs.set(id, job);
      worker.postMessage({ ...job.request, id }, job.transfer as TransferListItem[]);
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const jobs of this.inFlight.values()) {
      for (const job of jobs.values()) job.reject(this.failure);
      jobs.clear();
    }
    for (const job of this.queue) job.reject(this.failure);
    this.queue.length = 0;
  }

  /** Stops every thread; requests in flight are rejected. */
  async close(): Promise<void> {
    this.closing = true;
    this.fail(new Error(`${this.name}: closed with requests in flight`));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
