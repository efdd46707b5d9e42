/**
 * Test helpers for stage authors: run a stage over inline records, and the contract suite every stage passes
 * (conservation, determinism, empty input, early exit). Imports vitest, so it is only for test files.
 */
import { describe, expect, it } from "vitest";
import { runPipeline, type StageCounts } from "./runner.js";
import type { Duplicate, Envelope, RecordSource, Rejected, Stage, Warning } from "./types.js";

export interface StageResult<T = unknown> {
  kept: Envelope<T>[];
  rejected: Rejected[];
  duplicates: Duplicate[];
  warnings: Warning[];
  counts: readonly StageCounts[];
}

/** Records as envelopes from `file`, lines 1..n; envelopes pass through unchanged. */
export function envelopes(records: readonly unknown[], file = "inline.jsonl"): Envelope[] {
  return records.map((data, i) =>
    isEnvelope(data) ? data : ({ data, source: { file, line: i + 1 } } satisfies Envelope),
  );
}

function isEnvelope(value: unknown): value is Envelope {
  return typeof value === "object" && value !== null && "data" in value && "source" in value;
}

/**
 * Runs one stage (or several in a row) over inline records and collects every route.
 * @example const { kept, rejected } = await runStage(validate({ format: "chat" }), [{ messages: [] }]);
 */
export async function runStage<T = unknown>(
  stage: Stage | readonly Stage[],
  records: readonly unknown[],
  file = "inline.jsonl",
): Promise<StageResult<T>> {
  const items = envelopes(records, file);
  const source: RecordSource = async function* inline() {
    yield* items;
  };
  const result: StageResult<T> = { kept: [], rejected: [], duplicates: [], warnings: [], counts: [] };
  const run = runPipeline<T>(source, Array.isArray(stage) ? stage : [stage as Stage], {
    onReject: (r) => result.rejected.push(r),
    onDuplicate: (d) => result.duplicates.push(d),
    onWarning: (w) => result.warnings.push(w),
  });
  for await (const record of run.records) result.kept.push(record);
  result.counts = run.counts;
  return result;
}

/** A stable, comparable view of a result: what went where, by source line. */
function fingerprint(result: StageResult): string {
  return JSON.stringify({
    kept: result.kept,
    rejected: result.rejected.map((r) => [r.item.source, r.reason]),
    duplicates: result.duplicates.map((d) => [d.item.source, d.of]),
    warnings: result.warnings.map((w) => [w.item.source, w.issue]),
  });
}

/**
 * The suite every stage passes. `makeStage` is called afresh for each test; `records` should exercise every route
 * the stage has (kept, rejected, duplicate).
 * @example describeStageContract("validate", () => validate({ format: "chat" }), chatRecords);
 */
export function describeStageContract(name: string, makeStage: () => Stage, records: readonly unknown[]): void {
  describe(`${name}: stage contract`, () => {
    it("conserves records: kept + rejected + duplicates = input", async () => {
      const result = await runStage(makeStage(), records);
      expect(result.kept.length + result.rejected.length + result.duplicates.length).toBe(records.length);
      const lines = [...result.kept, ...result.rejected.map((r) => r.item), ...result.duplicates.map((d) => d.item)]
        .map((e) => e.source.line)
        .sort((a, b) => a - b);
      expect(lines).toEqual(envelopes(records).map((e) => e.source.line));
    });

    it("is deterministic: two runs give the same routes", async () => {
      const a = await runStage(makeStage(), records);
      const b = await runStage(makeStage(), records);
      expect(fingerprint(b)).toBe(fingerprint(a));
    });

    it("handles empty input", async () => {
      const result = await runStage(makeStage(), []);
      expect(result.kept).toEqual([]);
      expect(result.rejected).toEqual([]);
      expect(result.duplicates).toEqual([]);
    });

    it("closes its upstream when the consumer stops early", async () => {
      await checkEarlyExit(name, makeStage, records);
    });
  });
}

/**
 * The contract's early-exit check: the consumer stops after the first record, and the stage must close its
 * upstream (so every stage above it runs its `finally`: worker pools, temp files). The input is `records` repeated
 * past several batches (4 × 512), so that a stage cannot pass by having read everything before it yields. Throws
 * when the upstream is left open.
 * @example await checkEarlyExit("validate", () => validate(), records);
 */
export async function checkEarlyExit(name: string, makeStage: () => Stage, records: readonly unknown[]): Promise<void> {
  if (records.length === 0) throw new Error("checkEarlyExit(): give at least one record");
  const total = Math.max(records.length, 4 * 512 + 1);
  let closed = false;
  let pulled = 0;
  const items = envelopes(records);
  async function* upstream(): AsyncGenerator<Envelope> {
    try {
      for (let i = 0; i < total; i++) {
        pulled++;
        const item = items[i % items.length]!;
        yield i < items.length ? item : { ...item, source: { ...item.source, line: i + 1 } };
      }
    } finally {
      closed = true;
    }
  }
  const ctx = { stage: name, reject() {}, duplicate() {}, warn() {} };
  for await (const _ of makeStage()(upstream(), ctx)) break;
  if (pulled === 0) throw new Error(`${name}: the stage never read its input`);
  if (!closed) {
    throw new Error(
      `${name}: the consumer stopped early after ${pulled} of ${total} records, and the stage left its upstream open (close it in a finally, or iterate it with for await)`,
    );
  }
}

/**
 * A small seeded PRNG (mulberry32) returning numbers in [0, 1): property tests over seeded inputs are the same on every
 * run, so a failure names an input that can be found again.
 * @example const random = seededRandom(7); random(); // 0.6...
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
