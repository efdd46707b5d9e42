import { describeStageContract, runStage, type StageResult } from "@curate/core/testing";
import { describe, expect, it } from "vitest";
import { nearDedup, parseShingle } from "./near.js";
import { corpus } from "./testing.js";

const story =
  "Maria repaired the old violin in the basement last spring, and then she explained to Kenji how the bridge had cracked during the storm, why the varnish had to dry for a whole week, what the repair finally cost her, and why she would never again leave an instrument next to the radiator.";
const records = [
  { instruction: "Summarise the story.", input: story, output: "Maria fixed a cracked violin." },
  { instruction: "Name three primary colours.", output: "Red, yellow and blue." },
  // One word changed in 60: Jaccard 52/62 ≈ 0.839 on word 5-grams.
  {
    instruction: "Summarise the story.",
    input: story.replace("whole week", "full week"),
    output: "Maria fixed a cracked violin.",
  },
  { instruction: "Summarise the story.", input: story, output: "Maria fixed a cracked violin." },
  { instruction: "", output: "" },
  {
    instruction: "Write a haiku about autumn leaves falling on a quiet river at dusk.",
    output: "Red leaves drift slowly.",
  },
];

function routes(result: StageResult) {
  return {
    kept: result.kept.map((e) => e.source.line),
    duplicates: result.duplicates.map((d) => [d.item.source.line, d.of]),
  };
}

describe("nearDedup", () => {
  describeStageContract("nearDedup (1 thread)", () => nearDedup({ threads: 1 }), records);
  describeStageContract("nearDedup (2 threads)", () => nearDedup({ threads: 2, batchSize: 2 }), records);
  describeStageContract("nearDedup (flag)", () => nearDedup({ threads: 1, mode: "flag" }), records);

  it("removes near and exact copies, naming the kept record, cluster and similarity", async () => {
    const stage = nearDedup({ threads: 1 });
    const result = await runStage(stage, records, "train.jsonl");
    expect(routes(result)).toEqual({
      kept: [1, 2, 5, 6],
      duplicates: [
        [3, { source: { file: "train.jsonl", line: 1 }, method: "near", similarity: 0.8387, cluster: "train.jsonl:1" }],
        [4, { source: { file: "train.jsonl", line: 1 }, method: "near", similarity: 1, cluster: "train.jsonl:1" }],
      ],
    });
    expect(stage.stats).toMatchObject({
      records: 6,
      duplicates: 2,
      clusters: 1,
      largestCluster: 3,
      bands: 16,
      rows: 8,
    });
  });

  it("joins chains by union-find and says which record matched when it is not the kept one", async () => {
    const a = Array.from({ length: 40 }, (_, i) => `word${i}`);
    const b = a.map((w, i) => (i === 10 ? "changed" : w)); // J(a, b) = 35/41 ≈ 0.854 on 3-grams
    const c = b.map((w, i) => (i === 30 ? "altered" : w)); // J(b, c) ≈ 0.854, but J(a, c) = 32/44 ≈ 0.727
    const result = await runStage(nearDedup({ threads: 1, shingle: "word:3" }), [
      { text: a.join(" ") },
      { text: b.join(" ") },
      { text: c.join(" ") },
    ]);
    expect(result.duplicates.map((d) => [d.item.source.line, d.of])).toEqual([
      [2, { source: { file: "inline.jsonl", line: 1 }, method: "near", similarity: 0.8537, cluster: "inline.jsonl:1" }],
      [
        3,
        {
          source: { file: "inline.jsonl", line: 1 },
          method: "near",
          similarity: 0.8537,
          cluster: "inline.jsonl:1",
          matched: { file: "inline.jsonl", line: 2 },
        },
      ],
    ]);
  });

  it("gives identical routes with 1, 2 and 3 threads, any batch size, disk or memory store", async () => {
    const { records: many } = corpus(11, 250);
    const reference = routes(await runStage(nearDedup({ threads: 1 }), many));
    expect(reference.duplicates.length).toBeGreaterThan(20);
    for (const options of [
      { threads: 2 },
      { threads: 2, batchSize: 7 },
      { threads: 3, batchSize: 50 },
      { threads: 1, batchSize: 1, store: "memory" as const },
    ]) {
      expect(routes(await runStage(nearDedup(options), many))).toEqual(reference);
    }
  });

  it("in flag mode keeps every record with its cluster, and warns about duplicates", async () => {
    const { kept, duplicates, warnings } = await runStage(nearDedup({ threads: 1, mode: "flag" }), records, "t.jsonl");
    expect(duplicates).toEqual([]);
    expect(kept.map((e) => e.meta?.cluster)).toEqual([
      "t.jsonl:1",
      "t.jsonl:2",
      "t.jsonl:1",
      "t.jsonl:1",
      "t.jsonl:5",
      "t.jsonl:6",
    ]);
    expect(kept[2]?.meta?.duplicateOf).toMatchObject({ method: "near", similarity: 0.8387 });
    expect(warnings.map((w) => [w.item.source.line, w.issue.code])).toEqual([
      [3, "near_duplicate"],
      [4, "near_duplicate"],
    ]);
  });

  it("keeps a cluster id set upstream on records without words", async () => {
    const tagged = { data: { text: "" }, source: { file: "x", line: 1 }, meta: { cluster: "x:0" } };
    const { kept } = await runStage(nearDedup({ threads: 1, mode: "flag" }), [tagged]);
    expect(kept[0]?.meta?.cluster).toBe("x:0");
  });

  it("compares signatures instead of shingles with verify: false", async () => {
    const stage = nearDedup({ threads: 1, verify: false });
    const result = await runStage(stage, records);
    expect(result.duplicates.map((d) => d.item.source.line)).toContain(4);
    expect(result.duplicates.find((d) => d.item.source.line === 4)?.of.similarity).toBe(1);
  });

  it("uses character shingles when asked", async () => {
    const result = await runStage(nearDedup({ threads: 1, shingle: "char:5", threshold: 0.85 }), [
      { text: "A short guide to colour theory for painters, illustrators and graphic designers" },
      { text: "A short guide to color theory for painters, illustrators and graphic designers" },
    ]);
    expect(result.duplicates).toHaveLength(1);
    expect(result.duplicates[0]?.of.similarity).toBe(0.8861); // 70/79 char 5-grams; word 5-grams give 0.23
  });

  it("rejects bad options with the expected form", () => {
    expect(() => nearDedup({ threshold: 1.5 })).toThrow(/`threshold` must be a number in \(0, 1\], found 1.5/);
    expect(() => nearDedup({ shingle: "sentence:3" })).toThrow(/expected word:N or char:N/);
    expect(() => nearDedup({ numPerm: 1 })).toThrow(/`numPerm` must be a whole number from 2/);
    expect(() => nearDedup({ bands: 20, rows: 10 })).toThrow(/bands × rows must be ≤ numPerm \(128\)/);
    expect(() => nearDedup({ threads: 0 })).toThrow(/`threads` must be a whole number from 1/);
    expect(() => nearDedup({ store: "cloud" as "disk" })).toThrow(/`store` must be "disk" or "memory"/);
    expect(parseShingle("word")).toEqual({ kind: "word", n: 5 });
  });
});
