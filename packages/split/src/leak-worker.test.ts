import { ngramText } from "@curate/core";
import { runStage, seededRandom } from "@curate/core/testing";
import { trainingText } from "@curate/formats";
import { describe, expect, it } from "vitest";
import { contentHash } from "./hash.js";
import { NgramWorker, TextBatch, unpack } from "./leak-pool.js";
import { forEachNgram } from "./ngram.js";
import { type SplitOptions, type SplitReport, split } from "./split.js";

// Words shared across records (so n-grams overlap between splits), with accents composed and decomposed, CJK,
// Greek with case, an emoji, digits and punctuation.
const WORDS = [
  "the",
  "Cat",
  "sat",
  "on",
  "mat",
  "café",
  "cafe\u0301",
  "東京",
  "Ωμέγα",
  "😀",
  "42",
  "x1",
  "über",
  "—",
  "\ud800",
  "İ",
];
const GAPS = [" ", "  ", "\n", "\t ", ", ", ". "];

function sentence(random: () => number, words: number): string {
  let text = "";
  for (let i = 0; i < words; i++) {
    text += WORDS[Math.floor(random() * WORDS.length)]!;
    if (i < words - 1) text += GAPS[Math.floor(random() * GAPS.length)]!;
  }
  return text;
}

/**
 * Seeded records: some exact copies with other whitespace (same content hash), some sharing a sentence with
 * another record (n-gram overlap only), some shorter than the n-gram, some empty (the JSON-hash fallback), half
 * without an `id` (the `key: "id"` runs hash those in the leakage check, not in pass 1).
 */
function seededRecords(count: number, seed: number): Record<string, unknown>[] {
  const random = seededRandom(seed);
  const shared = Array.from({ length: 40 }, () => sentence(random, 8 + Math.floor(random() * 8)));
  const records: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random();
    let instruction: string;
    if (roll < 0.1 && records.length > 0) {
      const copy = records[Math.floor(random() * records.length)]!;
      instruction = ` ${String(copy.instruction).replace(/ /g, "  ")}\n`;
    } else if (roll < 0.5) instruction = `${sentence(random, 3)} ${shared[Math.floor(random() * shared.length)]!}`;
    else if (roll < 0.55) instruction = sentence(random, 2);
    else if (roll < 0.57) instruction = "";
    else instruction = sentence(random, 6 + Math.floor(random() * 30));
    const record: Record<string, unknown> = { instruction, output: "ok" };
    if (random() < 0.5) record.id = `r${i % 700}`;
    records.push(record);
  }
  return records;
}

async function run(records: readonly unknown[], options: SplitOptions) {
  let report: SplitReport | undefined;
  const result = await runStage(split({ ...options, onReport: (r) => (report = r) }), records);
  return { lines: result.kept.map((e) => `${e.source.line}:${String(e.meta?.split)}`), report: report! };
}

/** The leakage counts by brute force: string n-grams in a Set per training split, content hashes compared. */
function referenceCounts(records: readonly unknown[], splitOfLine: Map<number, string>, n: number) {
  const trainHashes = new Set<string>();
  const trainNgrams = new Set<string>();
  const ngramsOf = (record: unknown) => {
    const text = trainingText(record);
    const list: string[] = [];
    forEachNgram(ngramText(text), n, (hi, lo) => list.push(`${hi}:${lo}`));
    return list;
  };
  records.forEach((record, i) => {
    if (splitOfLine.get(i + 1) !== "train") return;
    trainHashes.add(contentHash(record));
    for (const g of ngramsOf(record)) trainNgrams.add(g);
  });
  const counts: Record<string, { exact: number; ngram: number }> = {};
  records.forEach((record, i) => {
    const name = splitOfLine.get(i + 1)!;
    if (name === "train") return;
    const c = counts[name] ?? { exact: 0, ngram: 0 };
    counts[name] = c;
    const exact = trainHashes.has(contentHash(record));
    if (exact) c.exact++;
    // Short exact copies (fewer than n words) are the exact check's only (packages/split/README.md).
    if (ngramsOf(record).some((g) => trainNgrams.has(g))) c.ngram++;
  });
  return counts;
}

describe("the leakage check on a worker thread", () => {
  const cases: [string, SplitOptions][] = [
    ["default key, 13-grams", { ratios: "train=0.6,validation=0.2,test=0.2", seed: 1 }],
    ["3-grams, many examples", { ratios: "train=0.5,test=0.5", seed: 2, leakage: { ngram: 3, examples: 50 } }],
    // Records with an id are placed by id, so copies straddle splits (exact leakage) and pass 1 has no hash for them.
    ["key id, spilled to disk", { ratios: "train=0.7,test=0.3", seed: 3, key: "id", memoryBytes: 4096 }],
    ["size mode", { sizes: { test: 700, validation: 300 }, seed: 4, leakage: { ngram: 4 } }],
  ];
  const records = seededRecords(3000, 5);

  for (const [name, options] of cases) {
    it(`gives the same files and report as the calling thread, and the brute-force counts (${name})`, async () => {
      const inThread = await run(records, { ...options, threads: 0 });
      const onWorker = await run(records, { ...options, threads: 1 });
      expect(onWorker.lines).toEqual(inThread.lines);
      expect(onWorker.report).toEqual(inThread.report);

      const splitOfLine = new Map(
        inThread.lines.map((l) => {
          const [line, s] = l.split(":");
          return [Number(line), s!];
        }),
      );
      const expected = referenceCounts(records, splitOfLine, options.leakage ? (options.leakage.ngram ?? 13) : 13);
      const leakage = onWorker.report.leakage!;
      const got = Object.fromEntries(
        Object.entries(leakage.splits).map(([s, v]) => [s, { exact: v.exact, ngram: v.ngram }]),
      );
      expect(got).toEqual(expected);
      // More held-out records than one worker batch, and overlaps to report: the comparison above means something.
      const heldOut = Object.values(leakage.splits).reduce((sum, v) => sum + v.records, 0);
      expect(heldOut).toBeGreaterThan(600);
      expect(Object.values(leakage.splits).some((v) => v.ngram > 0 && v.examples.length > 0)).toBe(true);
    });
  }

  it("finds exact leakage when copies are placed by another key", async () => {
    const options = { ratios: "train=0.7,test=0.3", seed: 3, key: "id", leakage: { examples: 1000 }, threads: 1 };
    const { report } = await run(records, options);
    expect(report.leakage!.splits.test!.exact).toBeGreaterThan(0);
    expect(report.leakage!.splits.test!.examples.some((e) => e.kind === "exact")).toBe(true);
  });

  it("stops the worker when the consumer stops early", async () => {
    const stage = split({ ratios: "train=0.5,test=0.5", threads: 1 });
    const source = (async function* () {
      for (const [i, data] of records.entries()) yield { data, source: { file: "a.jsonl", line: i + 1 } };
    })();
    let seen = 0;
    for await (const _ of stage(source, { reject() {}, duplicate() {}, warn() {} } as never)) {
      if (++seen === 700) break;
    }
    expect(seen).toBe(700);
  });

  it("packs texts into one buffer and reads every one back exactly (lone surrogates, empty, long)", () => {
    const random = seededRandom(9);
    const batch = new TextBatch();
    for (let round = 0; round < 3; round++) {
      const texts = Array.from({ length: 300 }, (_, k) => (k % 50 === 0 ? "" : sentence(random, 1 + (k % 7) * 40)));
      texts.push("\udc00 lone \ud800", "a".repeat(70_000));
      for (const text of texts) batch.push(text);
      expect(batch.count).toBe(texts.length);
      const packed = batch.take();
      expect(batch.count).toBe(0);
      expect(texts.map((_, k) => unpack(packed, k))).toEqual(texts);
    }
  });

  it("rejects a negative or fractional thread count", () => {
    expect(() => split({ threads: -1 })).toThrow(/threads must be a whole number/);
    expect(() => split({ threads: 1.5 })).toThrow(/threads must be a whole number/);
  });

  it("reports a failing worker as an error where its batch is awaited", async () => {
    const worker = await NgramWorker.start(3, 1024);
    await worker.close();
    const texts = new TextBatch();
    texts.push("one two three");
    await expect(worker.check(texts.take())).rejects.toThrow(/leakage worker/);
  });
});
