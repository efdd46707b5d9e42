import type { Source } from "@curate/core";
import { describeStageContract, runStage } from "@curate/core/testing";
import { describe, expect, it } from "vitest";
import type { DedupIndex } from "./dedup-index.js";
import { exactDedup } from "./exact.js";
import { hashHex } from "./hash.js";

const records = [
  { instruction: "Translate 'good morning' into French.", output: "Bonjour." },
  {
    messages: [
      { role: "user", content: "What is 2 + 2?" },
      { role: "assistant", content: "4" },
    ],
  },
  { instruction: "Translate  'good morning'   into French.", output: "Bonjour." }, // same after whitespace collapse
  { instruction: "translate 'good morning' into french.", output: "bonjour." }, // differs in case only
  {
    messages: [
      { role: "user", content: "What is 2 + 2?" },
      { role: "assistant", content: "4" },
    ],
  },
  {
    messages: [
      { role: "assistant", content: "What is 2 + 2?" },
      { role: "user", content: "4" },
    ],
  }, // other speakers
  { instruction: "Ｔｒａｎｓｌａｔｅ 'good morning' into French.", output: "Bonjour." }, // full-width: NFKC folds it
];

describe("exactDedup", () => {
  describeStageContract("exactDedup", () => exactDedup(), records);
  describeStageContract("exactDedup (flag)", () => exactDedup({ mode: "flag" }), records);

  it("keeps the first occurrence and names it in every duplicate", async () => {
    const { kept, duplicates } = await runStage(exactDedup(), records, "train.jsonl");
    expect(kept.map((e) => e.source.line)).toEqual([1, 2, 4, 6]);
    expect(duplicates.map((d) => [d.item.source.line, d.of])).toEqual([
      [3, { source: { file: "train.jsonl", line: 1 }, method: "exact", similarity: 1, cluster: "train.jsonl:1" }],
      [5, { source: { file: "train.jsonl", line: 2 }, method: "exact", similarity: 1, cluster: "train.jsonl:2" }],
      [7, { source: { file: "train.jsonl", line: 1 }, method: "exact", similarity: 1, cluster: "train.jsonl:1" }],
    ]);
  });

  it("reports clusters and the largest one", async () => {
    const stage = exactDedup();
    await runStage(stage, records);
    expect(stage.stats).toMatchObject({ records: 7, duplicates: 3, clusters: 2, largestCluster: 3 });
    expect(stage.stats.indexBytes).toBeGreaterThan(0);
  });

  it("folds case and punctuation only when asked", async () => {
    const { kept } = await runStage(exactDedup({ normalize: "nfkc,lower,punct,whitespace" }), records);
    expect(kept.map((e) => e.source.line)).toEqual([1, 2, 6]);
    const { kept: raw } = await runStage(exactDedup({ normalize: [] }), records);
    expect(raw.map((e) => e.source.line)).toEqual([1, 2, 3, 4, 6, 7]);
  });

  it("keys on chosen fields or on the whole canonical JSON", async () => {
    const rows = [
      { instruction: "Name a colour.", output: "Blue.", id: 1 },
      { instruction: "Name a colour.", output: "Red.", id: 2 },
      { output: "Blue.", id: 1, instruction: "Name a colour." },
    ];
    const byInstruction = await runStage(exactDedup({ key: ["instruction"] }), rows);
    expect(byInstruction.kept.map((e) => e.source.line)).toEqual([1]);
    const byJson = await runStage(exactDedup({ key: "json" }), rows);
    expect(byJson.kept.map((e) => e.source.line)).toEqual([1, 2]);
    expect(byJson.duplicates[0]?.of.source.line).toBe(1);
  });

  it("in flag mode keeps everything, tagging clusters and warning about each duplicate", async () => {
    const { kept, duplicates, warnings } = await runStage(exactDedup({ mode: "flag" }), records, "t.jsonl");
    expect(duplicates).toEqual([]);
    expect(kept).toHaveLength(7);
    expect(kept.map((e) => e.meta?.cluster)).toEqual([
      "t.jsonl:1",
      "t.jsonl:2",
      "t.jsonl:1",
      "t.jsonl:4",
      "t.jsonl:2",
      "t.jsonl:6",
      "t.jsonl:1",
    ]);
    expect(kept[2]?.meta?.duplicateOf).toMatchObject({ source: { file: "t.jsonl", line: 1 }, method: "exact" });
    expect(warnings.map((w) => [w.item.source.line, w.issue.code])).toEqual([
      [3, "exact_duplicate"],
      [5, "exact_duplicate"],
      [7, "exact_duplicate"],
    ]);
    expect(warnings[0]?.issue.message).toMatch(/exact duplicate of t\.jsonl:1/);
  });

  it("works with an asynchronous external index, shared across runs", async () => {
    const seen = new Map<string, Source>();
    const index: DedupIndex = {
      firstSeen: async (hash, source) => {
        const key = hashHex(hash);
        const first = seen.get(key);
        if (!first) seen.set(key, source);
        return first;
      },
    };
    const first = await runStage(exactDedup({ index }), records.slice(0, 2), "shard-0.jsonl");
    expect(first.kept).toHaveLength(2);
    const second = await runStage(exactDedup({ index }), records.slice(2), "shard-1.jsonl");
    expect(second.duplicates.map((d) => d.of.source)).toEqual([
      { file: "shard-0.jsonl", line: 1 },
      { file: "shard-0.jsonl", line: 2 },
      { file: "shard-0.jsonl", line: 1 },
    ]);
  });

  it("rejects bad options before any data flows", () => {
    expect(() => exactDedup({ mode: "drop" as "flag" })).toThrow(/`mode` must be "remove" or "flag", found "drop"/);
    expect(() => exactDedup({ normalize: "nfkc,upper" })).toThrow(/unknown normalization "upper"/);
    expect(() => exactDedup({ key: "instruction" as "text" })).toThrow(/`key` must be "text", "json" or a list/);
    expect(() => exactDedup({ index: {} as DedupIndex })).toThrow(/firstSeen/);
  });
});
