import { describe, expect, it } from "vitest";
import { fromArray, runPipeline, totals } from "./runner.js";
import { describeStageContract, runStage } from "./testing.js";
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

describe("runPipeline", () => {
  describeStageContract("parity", parity as () => Stage, [2, 3, 0, 4, 5]);

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
