import { InternalError } from "@curate/core";
import { WorkerPool } from "@curate/core/worker";
import type { SketchBatch, SketchParams } from "../src/sketch-kernel.mjs";

/**
 * The worker entry. "../src/" from this file is packages/dedup/src/ whether this file runs from src/ (vitest) or
 * from dist/ (the built CLI), so the plain-JavaScript worker needs no build step of its own.
 */
const WORKER_URL = new URL("../src/sketch-worker.mjs", import.meta.url);

/**
 * Near dedup's sketching threads, on the shared `WorkerPool`: each call gets its own promise, so the caller consumes
 * results in the order it asked for them whatever order the threads finish in.
 * @example const pool = new SketchPool(2, params); const batch = await pool.sketch(["a text"]); await pool.close();
 */
export class SketchPool {
  private readonly pool: Promise<WorkerPool<{ texts: readonly string[] }, { batch: SketchBatch }>>;

  constructor(threads: number, params: SketchParams) {
    this.pool = WorkerPool.start(WORKER_URL, threads, { name: "near dedup", workerData: { params }, depth: 2 });
  }

  /** Sketches `texts` on the least busy thread. */
  async sketch(texts: readonly string[]): Promise<SketchBatch> {
    try {
      return (await (await this.pool).run({ texts })).batch;
    } catch (error) {
      throw new InternalError(`near dedup: sketching failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Stops every thread; pending batches are rejected. */
  async close(): Promise<void> {
    await (await this.pool).close();
  }
}
