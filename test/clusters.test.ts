import { fromArray, runPipeline } from "@curate/core";
import { seededRandom } from "@curate/core/testing";
import { nearDedup } from "@curate/dedup";
import { split } from "@curate/split";
import { describe, expect, it } from "vitest";

// Near-duplicate clusters are resolved before split assigns a single record: a cluster never straddles splits, even
// when it formed as two clusters that a later record joined (A~B, C~D, then E~B and E~D).

/**
 * Chains of records: node k of a chain holds the words of its two links (8 words each, unique to that link), so
 * neighbours share one third of their words (Jaccard 1/3) and nodes two apart share none. A chain is therefore one
 * cluster at threshold 0.3, held together only through its middle records.
 */
function chainRecords(
  chain: number,
  length: number,
): { id: string; chain: number; prompt: string; completion: string }[] {
  const link = (k: number) => Array.from({ length: 8 }, (_, i) => `c${chain}l${k}w${i}`).join(" ");
  return Array.from({ length }, (_, k) => ({
    id: `${chain}.${k}`,
    chain,
    prompt: link(k),
    completion: ` ${link(k + 1)}`, // a completion starts with a space: the key text is prompt + completion
  }));
}

type Rec = ReturnType<typeof chainRecords>[number];

// One band per permutation: every pair sharing a word is a candidate, and verification is exact Jaccard, so the
// clusters are exactly the chains whatever the input order (no LSH miss can make the test flaky).
const dedupOptions = { threshold: 0.3, shingle: "word:1", numPerm: 128, bands: 128, rows: 1, threads: 1 } as const;

async function run(records: Rec[], mode: "remove" | "flag", seed: number) {
  const splitStage = split({ ratios: { train: 0.5, test: 0.5 }, seed });
  const run = runPipeline<Rec>(fromArray(records, "chains.jsonl"), [nearDedup({ ...dedupOptions, mode }), splitStage]);
  const kept: { rec: Rec; split: string }[] = [];
  for await (const item of run.records) kept.push({ rec: item.data, split: String(item.meta?.split) });
  return { kept, links: run.clusters.size };
}

/** The splits each chain's kept records went to. */
function splitsByChain(kept: { rec: Rec; split: string }[]): Map<number, Set<string>> {
  const byChain = new Map<number, Set<string>>();
  for (const { rec, split } of kept) {
    const set = byChain.get(rec.chain) ?? new Set<string>();
    set.add(split);
    byChain.set(rec.chain, set);
  }
  return byChain;
}

describe("near-duplicate clusters and split", () => {
  it("keeps A~B, C~D, then E~B and E~D in one split, in both dedup modes", async () => {
    const [a, b, e, d, c] = chainRecords(0, 5); // path a-b-e-d-c
    const order = [a!, b!, c!, d!, e!];
    for (const mode of ["remove", "flag"] as const) {
      for (let seed = 0; seed < 40; seed++) {
        const { kept, links } = await run(order, mode, seed);
        expect(links).toBe(1);
        // remove: a and c are kept (b, d, e are duplicates); flag: all five are kept.
        expect(kept.length).toBe(mode === "remove" ? 2 : 5);
        expect(splitsByChain(kept).get(0)?.size).toBe(1);
      }
    }
  });

  it("property: every chain ends in one split, for random chains in random input order", async () => {
    const random = seededRandom(10);
    for (let trial = 0; trial < 12; trial++) {
      const records: Rec[] = [];
      const chains = 25;
      for (let chain = 0; chain < chains; chain++) records.push(...chainRecords(chain, 2 + Math.floor(random() * 7)));
      // Fisher–Yates with the seeded PRNG: merges happen in every order.
      for (let i = records.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [records[i], records[j]] = [records[j]!, records[i]!];
      }
      for (const mode of ["remove", "flag"] as const) {
        const { kept } = await run(records, mode, trial);
        const straddling = [...splitsByChain(kept)].filter(([, splits]) => splits.size > 1).map(([chain]) => chain);
        expect(straddling, `trial ${trial}, ${mode}`).toEqual([]);
        // Both splits are used: the property is not met by putting everything in one place.
        expect(
          new Set(kept.map((k) => k.split)).size,
          JSON.stringify([mode, trial, kept.length, [...splitsByChain(kept)].map(([c, s]) => [c, [...s]])]),
        ).toBe(2);
      }
    }
  });
});
