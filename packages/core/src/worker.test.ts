import { describe, expect, it } from "vitest";
import { WorkerPool } from "./worker.js";

/**
 * A worker that answers `{ wait, value }` after `wait` ms with its thread id and the value (so replies can come back
 * out of order), fails on `fail`, and exits on `exit`.
 */
const entry = new URL(
  `data:text/javascript,${encodeURIComponent(`
import { parentPort, threadId, workerData } from "node:worker_threads";
parentPort.on("message", ({ id, wait, value, fail, exit }) => {
  if (exit) process.exit(3);
  setTimeout(() => {
    if (fail) parentPort.postMessage({ id, error: "refused " + value });
    else parentPort.postMessage({ id, value: value * (workerData?.factor ?? 1), thread: threadId });
  }, wait);
});`)}`,
);

type Req = { wait: number; value: number; fail?: boolean; exit?: boolean };
type Res = { value: number; thread: number };

describe("WorkerPool", () => {
  it("answers each call with its own reply, whatever order the threads finish in", async () => {
    const pool = await WorkerPool.start<Req, Res>(entry, 2, { depth: 4, workerData: { factor: 10 } });
    try {
      const waits = [40, 5, 30, 1, 20, 10, 2, 15];
      const replies = await Promise.all(waits.map((wait, value) => pool.run({ wait, value })));
      expect(replies.map((r) => r.value)).toEqual(waits.map((_, i) => i * 10));
      expect(new Set(replies.map((r) => r.thread)).size).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it("keeps a pinned request on its thread and reports a refused request as an error naming the pool", async () => {
    const pool = await WorkerPool.start<Req, Res>(entry, 3, { name: "test pool" });
    try {
      const pinned = await Promise.all([0, 1, 2, 2, 1].map((thread, value) => pool.runOn(thread, { wait: 1, value })));
      const byThread = pinned.map((r) => r.thread);
      expect(byThread[2]).toBe(byThread[3]);
      expect(byThread[1]).toBe(byThread[4]);
      expect(new Set(byThread).size).toBe(3);
      await expect(pool.run({ wait: 1, value: 7, fail: true })).rejects.toThrow("test pool: refused 7");
      await expect(pool.runOn(5, { wait: 1, value: 1 })).rejects.toThrow(/no thread 5/);
      // The pool still works after a refused request.
      expect((await pool.run({ wait: 1, value: 4 })).value).toBe(4);
    } finally {
      await pool.close();
    }
  });

  it("fails every request in flight and every later one when a thread exits: never a hang", async () => {
    const pool = await WorkerPool.start<Req, Res>(entry, 1, { depth: 8, name: "dying pool" });
    const slow = pool.run({ wait: 200, value: 1 });
    const exit = pool.run({ wait: 0, value: 0, exit: true });
    await expect(slow).rejects.toThrow(/dying pool: a worker thread exited with code 3/);
    await expect(exit).rejects.toThrow(/exited/);
    await expect(pool.run({ wait: 0, value: 2 })).rejects.toThrow(/exited/);
    await pool.close();
  });
});
