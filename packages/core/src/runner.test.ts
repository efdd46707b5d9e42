import { describe, expect, it } from "vitest";
import { batchStage, fromArray, jsonOf, rememberJson, runPipeline, totals } from "./runner.js";
import { checkEarlyExit, describeStageContract, runStage } from "./testing.js";
import type { Stage } from "./types.js";

/** Keeps even numbers, rejects odd ones, and calls 0 a duplicate of 2: every route once. */
function parity(): Stage<number, number> {
  return async function* parity(source, ctx) {
    for await (const item of source) {
      if (item.data === 0) ctx.duplicate(item, { source: { file: "x", line: 1 }, method: "exact" });
      else if (item.data % 2 === 0) yield item;
      else ctx.reject(item, { code: "odd", message: `${item.data} is odd` });
    }
  };
}

function leaky(): Stage {
  return async function* leaky(source) {
    let i = 0;
    for await (const item of source) if (i++ % 2 === 0) yield item;
  };
}

/** The same routes as `parity`, written over batches. */
function parityBatch() {
  return batchStage<number, number>("parityBatch", {
    batch(items, ctx) {
      return items.filter((item) => {
        if (item.data === 0) ctx.duplicate(item, { source: { file: "x", line: 1 }, method: "exact" });
        else if (item.data % 2 !== 0) ctx.reject(item, { code: "odd", message: `${item.data} is odd` });
        return item.data !== 0 && item.data % 2 === 0;
      });
    },
  });
}

/**
 * Deliberately broken: it pulls its upstream by hand in batches of 512 and never calls `return`, so when its
 * consumer stops, the stages above it keep their worker pools and temp files. On an input of one batch it reads
 * everything first and the upstream ends by itself: only an input of several batches shows the leak.
 */
function holdsUpstreamOpen(): Stage<number, number> {
  return async function* holdsUpstreamOpen(source) {
    const iterator = source[Symbol.asyncIterator]();
    let done = false;
    while (!done) {
      const batch = [];
      while (batch.length < 512) {
        const next = await iterator.next();
        if (next.done) {
          done = true;
          break;
        }
        batch.push(next.value);
      }
      yield* batch;
    }
  };
}

describe("runPipeline", () => {
  describeStageContract("parity", parity as () => Stage, [2, 3, 0, 4, 5]);
  describeStageContract("parityBatch", parityBatch as () => Stage, [2, 3, 0, 4, 5]);

  it("the contract's early-exit check catches a stage that leaves its upstream open", async () => {
    await expect(checkEarlyExit("holdsUpstreamOpen", holdsUpstreamOpen as () => Stage, [2, 4, 6])).rejects.toThrow(
      /left its upstream open/,
    );
    // A batch stage, which reads a whole batch before its first record: its input spans several batches, so it
    // cannot pass by having drained the upstream.
    const drainsOneBatch = batchStage<number, number>("holdsBatches", { batch: (items) => items });
    await expect(checkEarlyExit("holdsBatches", () => drainsOneBatch as Stage, [2, 4, 6])).resolves.toBeUndefined();
  });

  it("gives the same routes for batch and per-record stages, mixed in one run over 2000 records", async () => {
    const numbers = Array.from({ length: 2000 }, (_, i) => (i * 7919) % 1013);
    const a = await runStage([parity() as Stage, parity() as Stage], numbers);
    const b = await runStage([parityBatch() as Stage, parity() as Stage], numbers);
    const c = await runStage([parityBatch() as Stage, parityBatch() as Stage], numbers);
    for (const other of [b, c]) {
      expect(other.kept).toEqual(a.kept);
      expect(other.rejected.map((r) => r.item.source.line)).toEqual(a.rejected.map((r) => r.item.source.line));
      expect(other.duplicates.length).toBe(a.duplicates.length);
    }
    expect(c.counts.map((x) => x.name)).toEqual(["read", "parityBatch", "parityBatch#2"]);
  });

  it("runs flush and close of a batch stage, and close on early exit", async () => {
    const events: string[] = [];
    const holdLast = () =>
      batchStage<number, number>("holdLast", {
        batch: (items) => items,
        flush: () => {
          events.push("flush");
          return [];
        },
        close: () => void events.push("close"),
      });
    const run = runPipeline(fromArray([1, 2, 3]), [holdLast() as Stage]);
    for await (const _ of run.records);
    expect(events).toEqual(["flush", "close"]);
    events.length = 0;
    const early = runPipeline(fromArray(Array.from({ length: 5000 }, (_, i) => i)), [holdLast() as Stage]);
    for await (const _ of early.records) break;
    expect(events).toEqual(["close"]);
  });

  it("counts every route per stage and names stages after their function", async () => {
    const result = await runStage([parity() as Stage, parity() as Stage], [1, 2, 3, 4, 0]);
    expect(result.kept.map((e) => e.data)).toEqual([2, 4]);
    expect(result.counts.map((c) => c.name)).toEqual(["read", "parity", "parity#2"]);
    expect(result.counts[1]).toMatchObject({ in: 5, out: 2, rejected: 2, duplicates: 1, rejectedByCode: { odd: 2 } });
    expect(result.counts[2]).toMatchObject({ in: 2, out: 2, rejected: 0 });
    expect(totals(result.counts)).toEqual({ read: 5, kept: 2, rejected: 2, duplicates: 1 });
  });

  it("fails with an internal error when a stage drops records silently", async () => {
    const run = runPipeline(fromArray([1, 2, 3, 4]), [leaky()]);
    await expect(async () => {
      for await (const _ of run.records);
    }).rejects.toThrow(/conservation violated in stage "leaky": in 4 ≠ out 2/);
  });
});

describe("rememberJson / jsonOf", () => {
  it("returns the remembered text for that very object, and JSON.stringify for anything else", () => {
    const data = { a: 1, b: ["x"] };
    expect(jsonOf(data)).toBe('{"a":1,"b":["x"]}');
    rememberJson(data, '{"a": 1, "b": ["x"]}');
    expect(jsonOf(data)).toBe('{"a": 1, "b": ["x"]}');
    expect(jsonOf({ ...data })).toBe('{"a":1,"b":["x"]}'); // a changed record is a new object
    rememberJson("text", '"other"'); // primitives are not remembered
    expect(jsonOf("text")).toBe('"text"');
    expect(jsonOf(null)).toBe("null");
  });
});
