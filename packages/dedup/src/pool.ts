import { Worker } from "node:worker_threads";
import { InternalError } from "@curate/core";
import type { SketchBatch, SketchParams } from "../src/sketch-kernel.mjs";

/**
 * The worker entry. "../src/" from this file is packages/dedup/src/ whether this file runs from src/ (vitest) or
 * from dist/ (the built CLI), so the plain-JavaScript worker needs no build step of its own.
 */
const WORKER_URL = new URL("../src/sketch-worker.mjs", import.meta.url);

interface Pending {
  resolve(batch: SketchBatch): void;
  reject(error: Error): void;
}

/**
 * A fixed pool of sketching workers. Batches go round-robin and each call gets its own promise, so the caller
 * consumes results in the order it asked for them whatever order the workers finish in.
 * @example const pool = new SketchPool(2, params); const batch = await pool.sketch(["a text"]); await pool.close();
 */
export class SketchPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private nextWorker = 0;
  private closing = false;
  private failure: Error | undefined;

  constructor(threads: number, params: SketchParams) {
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(WORKER_URL, { workerData: { params } });
      worker.on("message", (message: { id: number; batch?: SketchBatch; error?: string }) => {
        const pending = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (!pending) return;
        if (message.batch) pending.resolve(message.batch);
        else pending.reject(new InternalError(`near dedup: a sketching worker failed: ${message.error}`));
      });
      worker.on("error", (cause) =>
        this.fail(new InternalError(`near dedup: a sketching worker crashed: ${cause.message}`, { cause })),
      );
      worker.on("exit", (code) => {
        if (!this.closing) this.fail(new InternalError(`near dedup: a sketching worker exited with code ${code}`));
      });
      this.workers.push(worker);
    }
  }

  /** Sketches `texts` on the next worker. */
  sketch(texts: readonly string[]): Promise<SketchBatch> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const worker = this.workers[this.nextWorker++ % this.workers.length]!;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, texts });
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }

  /** Stops every worker; pending batches are rejected. */
  async close(): Promise<void> {
    this.closing = true;
    this.fail(new InternalError("near dedup: the sketching pool was closed with batches in flight"));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
