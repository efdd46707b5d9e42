import { InternalError } from "@curate/core";
import { WorkerPool, workerEntry } from "@curate/core/worker";

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

type Channel = WorkerPool<LeakMessage, LeakResponse>;
type LeakMessage = LeakRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

/**
 * The held-out n-gram index on a worker thread: `add` indexes held-out texts, `check` looks training texts up.
 * One thread of the shared `WorkerPool` with every request in flight at once: it answers in order, so a check sees
 * every add sent before it and results match the in-thread index exactly. Every promise already has a rejection
 * handler (a failed batch surfaces where it is awaited, never as an unhandled rejection); the worker never keeps the
 * process alive.
 * @example const w = await NgramWorker.start(13, 1024); w.add(["held out text"], 0); const r = await w.check(["train"]); await w.close();
 */
export class NgramWorker {
  private closed = false;

  private constructor(private readonly channel: Channel) {}

  /** Starts a worker for `n`-grams with an index sized for `capacity` distinct n-grams. */
  static async start(n: number, capacity: number): Promise<NgramWorker> {
    const channel: Channel = await WorkerPool.start(await workerUrl(), 1, {
      name: "split: the leakage worker",
      workerData: { n, capacity },
      depth: Number.POSITIVE_INFINITY,
    });
    return new NgramWorker(channel);
  }

  /** Indexes `texts` as held-out documents `firstDoc`, `firstDoc + 1`, …; resolves when done. */
  add(texts: PackedTexts, firstDoc: number): Promise<LeakResponse> {
    return this.send({ op: "add", texts, firstDoc });
  }

  /** Looks up every n-gram of each text (in order); resolves with the documents handed out per text. */
  check(texts: PackedTexts): Promise<LeakResponse> {
    return this.send({ op: "check", texts });
  }

  /** The index's size in bytes (`NgramIndex.bytes`), after every earlier message. */
  async bytes(): Promise<number> {
    return (await this.send({ op: "bytes" })).bytes ?? 0;
  }

  private send(message: LeakMessage): Promise<LeakResponse> {
    const transfer = message.op === "bytes" ? [] : [message.texts.bytes, message.texts.ends.buffer as ArrayBuffer];
    const promise = this.channel.run(message, transfer).catch((error: Error) => {
      throw new InternalError(error.message, { cause: error });
    });
    promise.catch(() => {});
    return promise;
  }

  /** Stops the worker; batches still in flight are rejected. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.channel.close();
  }
}
