import { runStage } from "@curate/core/testing";
import { trainingText } from "@curate/formats";
import { describe, expect, it } from "vitest";
import { nearDedup } from "./near.js";
import { bruteForce, corpus } from "./testing.js";

/**
 * Near dedup against the brute-force truth on generated text with near-duplicates at known edit rates.
 * Record level: a record is a true duplicate when brute-force union-find puts it in a cluster after an earlier
 * record; precision and recall compare the records near dedup removed with those. Pair level: the share of pairs
 * with Jaccard ≥ threshold that end in one cluster.
 */
async function measure(threshold: number, shingle: "word:5" | "char:5", verify: boolean) {
  const { records } = corpus(20240611, 700);
  const texts = records.map(trainingText);
  const [kind, n] = shingle.split(":") as ["word" | "char", string];
  const truth = bruteForce(texts, { kind, n: Number(n), threshold });
  const result = await runStage(nearDedup({ threshold, shingle, verify, threads: 1, store: "memory" }), records);
  const removed = new Set(result.duplicates.map((d) => d.item.source.line - 1));
  const cluster = new Map<number, string>();
  for (const item of result.kept) cluster.set(item.source.line - 1, `inline.jsonl:${item.source.line}`);
  for (const d of result.duplicates) cluster.set(d.item.source.line - 1, String(d.of.cluster));
  const truePositives = [...removed].filter((i) => truth.duplicates.has(i)).length;
  const precision = removed.size === 0 ? 1 : truePositives / removed.size;
  const recall = truth.duplicates.size === 0 ? 1 : truePositives / truth.duplicates.size;
  const pairsJoined = truth.pairs.filter(([i, j]) => cluster.get(i) === cluster.get(j)).length;
  const figures = {
    threshold,
    shingle,
    verify,
    records: records.length,
    truePairs: truth.pairs.length,
    trueDuplicates: truth.duplicates.size,
    removed: removed.size,
    precision: Number(precision.toFixed(4)),
    recall: Number(recall.toFixed(4)),
    pairRecall: Number((truth.pairs.length === 0 ? 1 : pairsJoined / truth.pairs.length).toFixed(4)),
  };
  // The README quotes these figures.
  console.info(JSON.stringify(figures));
  return figures;
}

describe("near dedup quality against brute-force Jaccard", () => {
  it("word 5-grams at 0.8, verified: precision ≥ 0.99, recall ≥ 0.95", async () => {
    const f = await measure(0.8, "word:5", true);
    expect(f.trueDuplicates).toBeGreaterThan(100); // the corpus really has near-duplicates to find
    expect(f.precision).toBeGreaterThanOrEqual(0.99);
    expect(f.recall).toBeGreaterThanOrEqual(0.95);
  });

  it("char 5-grams at 0.8, verified: precision ≥ 0.99, recall ≥ 0.95", async () => {
    const f = await measure(0.8, "char:5", true);
    expect(f.precision).toBeGreaterThanOrEqual(0.99);
    expect(f.recall).toBeGreaterThanOrEqual(0.95);
  });

  it("word 5-grams at 0.5, verified: precision ≥ 0.99, recall ≥ 0.95", async () => {
    const f = await measure(0.5, "word:5", true);
    expect(f.precision).toBeGreaterThanOrEqual(0.99);
    expect(f.recall).toBeGreaterThanOrEqual(0.95);
  });

  it("without verification the signature estimate still clears precision 0.9 and recall 0.85", async () => {
    const f = await measure(0.8, "word:5", false);
    expect(f.precision).toBeGreaterThanOrEqual(0.9);
    expect(f.recall).toBeGreaterThanOrEqual(0.85);
  });
});
