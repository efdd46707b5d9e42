import { availableParallelism } from "node:os";
import { CurateError } from "@curate/core";
import { WorkerPool, workerEntry } from "@curate/core/worker";
import type { BackendOptions, SharedBackend } from "./backend.js";
import {
  handle,
  type Op,
  type PackedCounts,
  packChats,
  type Request,
  type Response,
  unpackCounts,
} from "./protocol.js";
import type { ChatCount, ChatInput, Tokenizer, TokenizerInfo, TokenizerSpec } from "./types.js";

export interface PoolOptions {
  /** Worker threads; default: the number of cores. 0 or 1 runs in-process unless `workers` is true. */
  readonly threads?: number;
  /** Use worker threads even for one thread (tests of the worker path). */
  readonly workers?: boolean;
  /** Piece-cache entries per thread (fast engine); 0 turns the cache off. */
  readonly cacheEntries?: number;
}

/** Batches smaller than this (UTF-16 units) go to one thread whole: splitting them costs more than it saves. */
const SPLIT_CHARS = 64 * 1024;

/** Turns a worker's plain error back into a CurateError the CLI knows how to print. */
function toError(error: { name: string; message: string; stack?: string }): CurateError {
  const code = error.name === "MissingDependency" ? "CURATE_MISSING_DEPENDENCY" : "CURATE_TOKENIZER";
  const wrapped = new CurateError(code, `tokenizer: ${error.message}`, { exitCode: 2 });
  if (error.stack !== undefined) wrapped.stack = `${wrapped.name}: ${wrapped.message}\n(worker) ${error.stack}`;
  return wrapped;
}

/** The worker's entry file (`worker.js`; bundled from source under vitest). */
function workerUrl(): Promise<URL> {
  return workerEntry(import.meta.url, "worker", ["tiktoken", "@huggingface/tokenizers", "@huggingface/jinja"]);
}

/**
 * A pool of tokenizer threads. Each thread loads a tokenizer once, on its first batch for it, and keeps it; batches
 * (never single records) cross the thread boundary, and results come back in input order whatever the thread count.
 * Idle workers do not keep the process alive.
 * @example const pool = new TokenizerPool({ threads: 2 }); const tok = pool.tokenizer(resolveTokenizer("gpt-4o"));
 */
export class TokenizerPool {
  readonly threads: number;
  readonly inProcess: boolean;
  private readonly options: BackendOptions;
  /** The threads, on the shared `WorkerPool`: started on the first batch that needs them. */
  private workers: Promise<WorkerPool<Omit<Request, "id">, unknown>> | undefined;

  constructor(options: PoolOptions = {}) {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 0) {
      throw new CurateError("CURATE_INVALID_OPTION", `threads must be a whole number ≥ 0, found ${threads}`);
    }
    this.threads = Math.max(1, threads);
    this.inProcess = this.threads === 1 && options.workers !== true;
    this.options = options.cacheEntries === undefined ? {} : { cacheEntries: options.cacheEntries };
  }

  /**
   * A handle on one tokenizer, run by this pool.
   * @example const counts = await pool.tokenizer(spec).count(["a", "b"]);
   */
  tokenizer(spec: TokenizerSpec): Tokenizer {
    return new PooledTokenizer(this, spec);
  }

  /** Stops the worker threads. Later calls start new ones. */
  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = undefined;
    if (workers) await (await workers.catch(() => undefined))?.close();
  }

  private start(): Promise<WorkerPool<Omit<Request, "id">, unknown>> {
    this.workers ??= (async () =>
      WorkerPool.start<Omit<Request, "id">, unknown>(await workerUrl(), this.threads, {
        name: "tokenizer",
        // Every batch goes to the least busy thread at once: a thread answers its batches as they finish.
        depth: Number.POSITIVE_INFINITY,
        decode: (reply) => {
          const response = reply as Response;
          return response.ok ? response.result : toError(response.error);
        },
        lost: (message, cause) => {
          // A lost thread fails this pool (its other threads stop); the next batch starts fresh threads.
          const failed = this.workers;
          this.workers = undefined;
          void failed?.then((pool) => pool.close());
          return new CurateError("CURATE_TOKENIZER", `tokenizer worker failed: ${message}`, { cause });
        },
      }))();
    return this.workers;
  }

  /**
   * Runs one operation on one batch: in-process, or on the least busy thread (`slotIndex` pins it to one, for
   * `info` and `share`).
   * @internal
   */
  async run(spec: TokenizerSpec, op: Op, args: unknown, slotIndex?: number, shared?: SharedBackend): Promise<unknown> {
    const request = { spec, options: this.options, op, args, ...(shared === undefined ? {} : { shared }) };
    if (this.inProcess) {
      const { response } = await handle({ ...request, id: 0 });
      if (response.ok) return response.result;
      throw toError(response.error);
    }
    const workers = await this.start();
    return slotIndex === undefined ? workers.run(request) : workers.runOn(slotIndex, request);
  }

  /** How many ways to split a batch: one per thread when the batch is large enough to be worth it. @internal */
  ways(size: number, items: number): number {
    return this.inProcess || size < SPLIT_CHARS ? 1 : Math.min(this.threads, items);
  }
}

/** Splits `items` into `ways` contiguous chunks of about equal `weight`. */
function chunks<T>(items: readonly T[], ways: number, weight: (item: T) => number): T[][] {
  if (ways <= 1) return [items as T[]];
  let total = 0;
  for (const item of items) total += weight(item);
  const out: T[][] = [];
  let current: T[] = [];
  let acc = 0;
  for (const item of items) {
    current.push(item);
    acc += weight(item);
    if (acc >= (total * (out.length + 1)) / ways && out.length < ways - 1) {
      out.push(current);
      current = [];
    }
  }
  out.push(current);
  return out.filter((c) => c.length > 0);
}

class PooledTokenizer implements Tokenizer {
  private infoPromise: Promise<TokenizerInfo> | undefined;

  constructor(
    private readonly pool: TokenizerPool,
    private readonly spec: TokenizerSpec,
  ) {}

  info(): Promise<TokenizerInfo> {
    // Every worker loads the tokenizer now, so that the first real batches do not wait on loading one by one. The
    // first worker loads it from its files; where that is expensive (a Hugging Face tokenizer.json: ~0.6 s of CPU for
    // Llama 3) it hands its built tables over in shared memory and the others load from those, in milliseconds.
    this.infoPromise ??= (async () => {
      if (this.pool.inProcess) return (await this.pool.run(this.spec, "info", undefined)) as TokenizerInfo;
      const shared = ((await this.pool.run(this.spec, "share", undefined, 0)) as SharedBackend | null) ?? undefined;
      const infos = await Promise.all(
        Array.from({ length: this.pool.threads }, (_, i) => this.pool.run(this.spec, "info", undefined, i, shared)),
      );
      return infos[0] as TokenizerInfo;
    })();
    return this.infoPromise;
  }

  async count(texts: readonly string[]): Promise<Uint32Array> {
    const parts = chunks(texts, this.pool.ways(textSize(texts), texts.length), (t) => t.length);
    const results = (await Promise.all(parts.map((p) => this.pool.run(this.spec, "count", p)))) as Uint32Array[];
    if (results.length === 1) return results[0]!;
    const out = new Uint32Array(texts.length);
    let at = 0;
    for (const r of results) {
      out.set(r, at);
      at += r.length;
    }
    return out;
  }

  async encode(texts: readonly string[]): Promise<Uint32Array[]> {
    const parts = chunks(texts, this.pool.ways(textSize(texts), texts.length), (t) => t.length);
    const results = (await Promise.all(parts.map((p) => this.pool.run(this.spec, "encode", p)))) as Uint32Array[][];
    return results.flat();
  }

  async decode(ids: readonly Uint32Array[]): Promise<string[]> {
    return (await this.pool.run(this.spec, "decode", ids)) as string[];
  }

  async countChats(chats: readonly ChatInput[]): Promise<ChatCount[]> {
    const size = chats.reduce((n, c) => n + chatSize(c), 0);
    const parts = chunks(chats, this.pool.ways(size, chats.length), chatSize);
    if (this.pool.inProcess) {
      const results = (await Promise.all(parts.map((p) => this.pool.run(this.spec, "countChats", p)))) as ChatCount[][];
      return results.flat();
    }
    // To a worker, chats travel packed (see `packChats` in protocol.ts): cloning message objects one by one was a
    // large part of what a worker costs over counting in-process.
    const results = (await Promise.all(
      parts.map((p) => this.pool.run(this.spec, "countChatsPacked", packChats(p))),
    )) as PackedCounts[];
    return results.flatMap(unpackCounts);
  }

  async close(): Promise<void> {
    // The pool outlives its handles; whoever made the pool closes it.
  }
}

function textSize(texts: readonly string[]): number {
  let n = 0;
  for (const t of texts) n += t.length;
  return n;
}

function chatSize(chat: ChatInput): number {
  let n = 0;
  for (const m of chat.messages) n += typeof m.content === "string" ? m.content.length : 64;
  return n;
}

const shared = new Map<string, TokenizerPool>();

/**
 * The process's tokenizer pool: created on first use, then shared by every stage that tokenizes, so threads and
 * loaded tokenizers are never duplicated. Pools are kept per configuration (thread count); a run that always asks
 * for the same number of threads, as the CLI does, has exactly one.
 * @example const tokenizer = sharedPool({ threads: 2 }).tokenizer(resolveTokenizer("llama3"));
 */
export function sharedPool(options: PoolOptions = {}): TokenizerPool {
  const key = JSON.stringify([
    options.threads ?? availableParallelism(),
    options.workers ?? false,
    options.cacheEntries,
  ]);
  let pool = shared.get(key);
  if (pool === undefined) {
    pool = new TokenizerPool(options);
    shared.set(key, pool);
  }
  return pool;
}

/**
 * Stops the shared pools' threads (the CLI calls this when a command ends; idle workers would not keep the process
 * alive anyway).
 * @example await closeSharedPool();
 */
export async function closeSharedPool(): Promise<void> {
  const pools = [...shared.values()];
  shared.clear();
  await Promise.all(pools.map((pool) => pool.close()));
}

/**
 * A tokenizer on the shared pool: the usual way to get one.
 * @example const tok = openTokenizer(resolveTokenizer("gpt-4o-mini"), { threads: 2 }); await tok.count(["hi"]);
 */
export function openTokenizer(spec: TokenizerSpec, options: PoolOptions = {}): Tokenizer {
  return sharedPool(options).tokenizer(spec);
}
