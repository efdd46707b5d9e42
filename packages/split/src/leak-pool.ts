import { Worker } from "node:worker_threads";
import { InternalError } from "@curate/core";
import { workerEntry } from "@curate/core/worker";

/** Texts as sent to the worker: UTF-16 code units, text k ending at byte `ends[k]` (see `TextBatch`). */
export interface PackedTexts {
  readonly bytes: ArrayBuffer;
  readonly ends: Int32Array;
}

/** A message to the leakage worker; each gets exactly one `LeakResponse` with the same `id`, in order. */
export type LeakRequest =
  | { readonly op: "add"; readonly id: number; readonly texts: PackedTexts; readonly firstDoc: number }
  | { readonly op: "check"; readonly id: number; readonly texts: PackedTexts }
  | { readonly op: "bytes"; readonly id: number };

/**
 * Texts packed into one transferable buffer as UTF-16 code units, so that a batch crosses to the worker without
 * structured-cloning a string per record: cloning arrays of ~450-character strings cost the main thread 0.5 s per
 * 90k training records in the run:all profile (as much as the n-gram work it moved off). UTF-16, not UTF-8, so
 * every text (lone surrogates included) reads back exactly.
 * @example const batch = new TextBatch(); batch.push("some text"); const packed = batch.take(); unpack(packed, 0);
 */
export class TextBatch {
  private bytes = Buffer.allocUnsafeSlow(1 << 16);
  private ends: number[] = [];
  private used = 0;

  /** Texts in the batch. */
  get count(): number {
    return this.ends.length;
  }

  /** Bytes in the batch. */
  get size(): number {
    return this.used;
  }

  push(text: string): void {
    const need = this.used + text.length * 2;
    if (need > this.bytes.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    this.used += this.bytes.write(text, this.used, "utf16le");
    this.ends.push(this.used);
  }

  /** A copy of the batch's texts, packed for transfer; the batch starts empty again (its buffer is reused). */
  take(): PackedTexts {
    // allocUnsafeSlow: a Buffer of its own at offset 0 of its ArrayBuffer, never a slice of Node's shared pool.
    const packed = { bytes: this.bytes.buffer.slice(0, this.used) as ArrayBuffer, ends: Int32Array.from(this.ends) };
    this.ends = [];
    this.used = 0;
    return packed;
  }
}

/**
 * Text `k` of a packed batch.
 * @example const texts = new TextBatch(); texts.push("a"); unpack(texts.take(), 0); // "a"
 */
export function unpack(packed: PackedTexts, k: number): string {
  const start = k === 0 ? 0 : packed.ends[k - 1]!;
  return Buffer.from(packed.bytes, start, packed.ends[k]! - start).toString("utf16le");
}

/** The worker's answer: for `check`, the held-out documents each text's n-grams hand out (`docs[offsets[k]..offsets[k+1])`). */
export interface LeakResponse {
  readonly id: number;
  readonly offsets?: Int32Array;
  readonly docs?: Int32Array;
  readonly bytes?: number;
  readonly error?: string;
}

/** The worker's entry file (`leak-worker.js`; bundled from source under vitest). */
function workerUrl(): Promise<URL> {
  return workerEntry(import.meta.url, "leak-worker");
}

interface Waiter {
  resolve(response: LeakResponse): void;
  reject(error: Error): void;
}

/**
 * The held-out n-gram index on a worker thread: `add` indexes held-out texts, `check` looks training texts up.
 * One worker answers in order, so a check sees every add sent before it and results match the in-thread index
 * exactly. Every promise already has a rejection handler (a failed batch surfaces where it is awaited, never as an
 * unhandled rejection); the worker never keeps the process alive.
 * @example const w = await NgramWorker.start(13, 1024); w.add(["held out text"], 0); const r = await w.check(["train"]); await w.close();
 */
export class NgramWorker {
  private readonly waiters = new Map<number, Waiter>();
  private nextId = 0;
  private failure: Error | undefined;
  private closed = false;

  private constructor(private readonly worker: Worker) {
    worker.on("message", (response: LeakResponse) => {
      const waiter = this.waiters.get(response.id);
      this.waiters.delete(response.id);
      if (this.waiters.size === 0) worker.unref();
      if (!waiter) return;
      if (response.error === undefined) waiter.resolve(response);
      else waiter.reject(new InternalError(`split: the leakage worker failed: ${response.error}`));
    });
    worker.on("error", (cause) =>
      this.fail(new InternalError(`split: the leakage worker crashed: ${cause.message}`, { cause })),
    );
    worker.on("exit", (code) => {
      if (!this.closed) this.fail(new InternalError(`split: the leakage worker exited with code ${code}`));
    });
    worker.unref();
  }

  /** Starts a worker for `n`-grams with an index sized for `capacity` distinct n-grams. */
  static async start(n: number, capacity: number): Promise<NgramWorker> {
    return new NgramWorker(new Worker(await workerUrl(), { workerData: { n, capacity } }));
  }

  /** Indexes `texts` as held-out documents `firstDoc`, `firstDoc + 1`, …; resolves when done. */
  add(texts: PackedTexts, firstDoc: number): Promise<LeakResponse> {
    return this.send((id) => ({ op: "add", id, texts, firstDoc }));
  }

  /** Looks up every n-gram of each text (in order); resolves with the documents handed out per text. */
  check(texts: PackedTexts): Promise<LeakResponse> {
    return this.send((id) => ({ op: "check", id, texts }));
  }

  /** The index's size in bytes (`NgramIndex.bytes`), after every earlier message. */
  async bytes(): Promise<number> {
    return (await this.send((id) => ({ op: "bytes", id }))).bytes ?? 0;
  }

  private send(request: (id: number) => LeakRequest): Promise<LeakResponse> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const promise = new Promise<LeakResponse>((resolve, reject) => {
      this.waiters.set(id, { resolve, reject });
    });
    promise.catch(() => {});
    this.worker.ref();
    const message = request(id);
    this.worker.postMessage(
      message,
      message.op === "bytes" ? [] : [message.texts.bytes, message.texts.ends.buffer as ArrayBuffer],
    );
    return promise;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiters.values()) waiter.reject(error);
    this.waiters.clear();
  }

  /** Stops the worker; batches still in flight are rejected. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new InternalError("split: the leakage worker was closed with batches in flight"));
    await this.worker.terminate();
  }
}
