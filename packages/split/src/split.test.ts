import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Envelope } from "@curate/core";
import { describeStageContract, runStage } from "@curate/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { contentHash } from "./hash.js";
import { type SplitOptions, type SplitReport, split } from "./split.js";

const topics = ["math", "code", "writing", "translation", "trivia"] as const;
const verbs = ["Explain", "Summarise", "Rewrite", "Translate", "Answer"];

/** Real-looking instruction records; `category` is skewed so strata have very different sizes. */
function makeRecords(count: number, from = 0): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const category = topics[(i * i + 3 * i) % 7 < 4 ? 0 : i % topics.length]!;
    return {
      id: `rec-${i}`,
      conversation_id: `conv-${Math.floor(i / 3)}`,
      category,
      instruction: `${verbs[i % verbs.length]} item ${i} about ${category} in plain words.`,
      output: `Here is a short answer for item ${i}: ${category} is explained step by step.`,
    };
  });
}

async function splitOf(records: readonly unknown[], options: SplitOptions) {
  let report: SplitReport | undefined;
  const result = await runStage(split({ ...options, onReport: (r) => (report = r) }), records);
  const byId = new Map<string, string>();
  for (const item of result.kept) byId.set(String((item.data as { id: string }).id), String(item.meta?.split));
  return { result, byId, report: report! };
}

function countBy<T>(values: Iterable<T>): Map<T, number> {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe("split", () => {
  describeStageContract("split", () => split({ ratios: "train=0.7,test=0.3", seed: 1 }), makeRecords(30));
  describeStageContract(
    "split (stratified, grouped, sized)",
    () => split({ sizes: { test: 5 }, stratifyBy: "category", groupBy: "conversation_id" }),
    makeRecords(30),
  );

  it("tags every record with meta.split and keeps each split in input order", async () => {
    const { result, report } = await splitOf(makeRecords(200), { ratios: "train=0.8,validation=0.1,test=0.1" });
    expect(result.kept).toHaveLength(200);
    expect(result.rejected).toEqual([]);
    for (const name of ["train", "validation", "test"]) {
      const lines = result.kept.filter((e) => e.meta?.split === name).map((e) => e.source.line);
      expect(lines).toEqual([...lines].sort((a, b) => a - b));
    }
    expect(report.splits.map((s) => s.records).reduce((a, b) => a + b)).toBe(200);
    expect(report.units).toBe(200);
  });

  it("keeps each split within sampling bounds of its ratio", async () => {
    const n = 4000;
    const ratios = { train: 0.8, validation: 0.12, test: 0.08 };
    const { report } = await splitOf(makeRecords(n), { ratios, seed: "bounds" });
    for (const s of report.splits) {
      const p = ratios[s.name as keyof typeof ratios];
      const sigma = Math.sqrt(n * p * (1 - p));
      expect(Math.abs(s.records - n * p)).toBeLessThan(4 * sigma);
    }
    // Not trivially exact: thresholds on hashes, not a cut at a rank.
    expect(report.splits.map((s) => s.records)).not.toEqual([3200, 480, 320]);
  });

  it("is deterministic, seed-dependent, and independent of input order", async () => {
    const records = makeRecords(300);
    const a = await splitOf(records, { seed: 7 });
    const b = await splitOf(records, { seed: 7 });
    expect([...b.byId]).toEqual([...a.byId]);
    const shuffled = [...records].sort((x, y) => contentHash(x).localeCompare(contentHash(y)));
    const c = await splitOf(shuffled, { seed: 7 });
    expect(new Map([...c.byId].sort())).toEqual(new Map([...a.byId].sort()));
    const other = await splitOf(records, { seed: 8 });
    const moved = [...a.byId].filter(([id, s]) => other.byId.get(id) !== s).length;
    expect(moved).toBeGreaterThan(10);
  });

  it("is append-stable in ratio mode: adding 10% never moves an old record", async () => {
    const old = makeRecords(1000);
    const before = await splitOf(old, { ratios: "train=0.8,validation=0.1,test=0.1", seed: 3 });
    const after = await splitOf([...old, ...makeRecords(100, 1000)], {
      ratios: "train=0.8,validation=0.1,test=0.1",
      seed: 3,
    });
    const moved = [...before.byId].filter(([id, s]) => after.byId.get(id) !== s);
    expect(moved).toEqual([]);
    expect(after.byId.size).toBe(1100);
  });

  it("stratifies within one record of the target in every stratum, with totals within one record", async () => {
    const records = makeRecords(997);
    const ratios = { train: 0.8, validation: 0.15, test: 0.05 };
    const { result, report } = await splitOf(records, { ratios, stratifyBy: "category", seed: 11 });
    const strata = countBy(records.map((r) => r.category as string));
    expect(strata.size).toBe(5);
    for (const [category, size] of strata) {
      const got = countBy(
        result.kept.filter((e) => (e.data as { category: string }).category === category).map((e) => e.meta?.split),
      );
      for (const [name, ratio] of Object.entries(ratios)) {
        expect(Math.abs((got.get(name) ?? 0) - size * ratio)).toBeLessThan(1);
      }
    }
    for (const s of report.splits) {
      expect(Math.abs(s.records - 997 * ratios[s.name as keyof typeof ratios])).toBeLessThanOrEqual(1);
    }
    expect(report.strata?.map((s) => s.value)).toEqual(["code", "math", "translation", "trivia", "writing"]);
  });

  it("moves few old records when appending in stratified mode (the cost of exact proportions)", async () => {
    const options = { ratios: "train=0.8,test=0.2", stratifyBy: "category", seed: 5 } as const;
    const before = await splitOf(makeRecords(1000), options);
    const after = await splitOf(makeRecords(1100), options);
    const moved = [...before.byId].filter(([id, s]) => after.byId.get(id) !== s).length;
    // One cut per stratum; each moves O(√100) records near the cut at most.
    expect(moved).toBeLessThanOrEqual(5 * 2 * 10);
  });

  it("never lets a group straddle two splits", async () => {
    const records = makeRecords(600).map((r, i) => ({ ...r, conversation_id: `conv-${(i * 7919) % 150}` }));
    const { result, report } = await splitOf(records, {
      ratios: "train=0.6,validation=0.2,test=0.2",
      groupBy: "conversation_id",
    });
    const splitsPerGroup = new Map<string, Set<string>>();
    for (const e of result.kept) {
      const g = (e.data as { conversation_id: string }).conversation_id;
      if (!splitsPerGroup.has(g)) splitsPerGroup.set(g, new Set());
      splitsPerGroup.get(g)!.add(String(e.meta?.split));
    }
    expect(splitsPerGroup.size).toBe(150);
    for (const set of splitsPerGroup.values()) expect(set.size).toBe(1);
    expect(report.units).toBe(150);
    expect(new Set([...splitsPerGroup.values()].map((s) => [...s][0])).size).toBe(3);
  });

  it("keeps near-duplicate clusters together, joining groups that share one", async () => {
    const records = makeRecords(400);
    const items: Envelope[] = records.map((data, i) => ({
      data,
      source: { file: "dedup.jsonl", line: i + 1 },
      // Every 10th record shares a cluster with the record 200 positions later (a different conversation).
      ...(i % 10 === 0 ? { meta: { cluster: `c${i % 200}` } } : {}),
    }));
    for (const groupBy of [undefined, "conversation_id"]) {
      const { result, report } = await splitOf(items, {
        ratios: "train=0.5,test=0.5",
        ...(groupBy ? { groupBy } : {}),
      });
      const byCluster = new Map<string, Set<string>>();
      const byGroup = new Map<string, Set<string>>();
      for (const e of result.kept) {
        const cluster = e.meta?.cluster;
        const group = (e.data as { conversation_id: string }).conversation_id;
        if (typeof cluster === "string")
          (byCluster.get(cluster) ?? byCluster.set(cluster, new Set()).get(cluster)!).add(String(e.meta?.split));
        (byGroup.get(group) ?? byGroup.set(group, new Set()).get(group)!).add(String(e.meta?.split));
      }
      expect(byCluster.size).toBe(20);
      for (const set of byCluster.values()) expect(set.size).toBe(1);
      expect(report.joinedByClusters).toBe(20);
      if (groupBy) for (const set of byGroup.values()) expect(set.size).toBe(1);
    }
  });

  it("ignores cluster names and clusters of one (dedup's flag mode gives every record its own)", async () => {
    const records = makeRecords(300);
    const plain = await splitOf(records, { ratios: "train=0.5,test=0.5", seed: 6 });
    const flagged: Envelope[] = records.map((data, i) => ({
      data,
      source: { file: "a.jsonl", line: i + 1 },
      meta: { cluster: `a.jsonl:${i + 1}` },
    }));
    const tagged = await splitOf(flagged, { ratios: "train=0.5,test=0.5", seed: 6 });
    expect(tagged.byId).toEqual(plain.byId);
    expect(tagged.report.joinedByClusters).toBe(0);
  });

  it("gives exact absolute sizes, taking held-out splits in the order given", async () => {
    const { report, byId } = await splitOf(makeRecords(500), { sizes: { test: 50, validation: 30 }, seed: 2 });
    expect(report.mode).toBe("size");
    expect(report.splits.map((s) => [s.name, s.target, s.records])).toEqual([
      ["test", 50, 50],
      ["validation", 30, 30],
      ["train", 420, 420],
    ]);
    expect(countBy(byId.values()).get("test")).toBe(50);
  });

  it("gives exact absolute sizes when stratified, each stratum within one record of its share", async () => {
    const records = makeRecords(613);
    const { result, report } = await splitOf(records, { sizes: { test: 61 }, stratifyBy: "category" });
    expect(report.splits.find((s) => s.name === "test")!.records).toBe(61);
    for (const [category, size] of countBy(records.map((r) => r.category as string))) {
      const test = result.kept.filter(
        (e) => (e.data as { category: string }).category === category && e.meta?.split === "test",
      ).length;
      expect(Math.abs(test - (size * 61) / 613)).toBeLessThan(1);
    }
  });

  it("in size mode, appending never moves an old training record into a held-out split", async () => {
    const options = { sizes: { test: 40, validation: 40 }, seed: 9 };
    const before = await splitOf(makeRecords(800), options);
    const after = await splitOf(makeRecords(880), options);
    const moves = [...before.byId]
      .filter(([id, s]) => after.byId.get(id) !== s)
      .map(([id, s]) => [s, after.byId.get(id)]);
    expect(moves.filter(([from]) => from === "train")).toEqual([]);
    // Held-out records only move later in the order (test → validation → train), at most 80 of them.
    for (const [from, to] of moves) expect(from === "test" ? ["validation", "train"] : ["train"]).toContain(to);
    expect(moves.length).toBeLessThanOrEqual(80);
    expect(countBy(after.byId.values()).get("test")).toBe(40);
  });

  it("reports exact and n-gram leakage between train and held-out splits", async () => {
    const passage =
      "the quick brown fox jumps over the lazy dog while the farmer counts sheep in the green valley below";
    const records = makeRecords(200).map((r, i) => {
      // Ids differ, so --key id can put copies in different splits: exactly the leak the check must find.
      if (i % 20 === 0) return { ...r, instruction: "What is the capital of France?", output: "Paris." };
      if (i % 20 === 1) return { ...r, instruction: `Q${i}: ${passage}`, output: `A${i}` };
      return r;
    });
    const { report } = await splitOf(records, { ratios: "train=0.5,test=0.5", key: "id", seed: 4 });
    const test = report.leakage!.splits.test!;
    expect(report.leakage!.ngram).toBe(13);
    expect(test.exact).toBeGreaterThan(0);
    expect(test.ngram).toBeGreaterThan(test.exact);
    expect(test.examples.length).toBeGreaterThan(0);
    // One example per held-out record, and an exact copy is reported as such even when an n-gram came first.
    const heldOutLines = test.examples.map((e) => e.heldOut.line);
    expect(new Set(heldOutLines).size).toBe(heldOutLines.length);
    for (const e of test.examples) {
      const record = records[e.heldOut.line - 1]!;
      expect(e.kind).toBe(record.instruction === "What is the capital of France?" ? "exact" : "ngram");
    }
    expect(test.examples[0]).toMatchObject({ heldOut: { file: "inline.jsonl" }, train: { file: "inline.jsonl" } });

    // By content (the default key), exact copies always land together: zero exact leakage.
    const byContent = await splitOf(records, { ratios: "train=0.5,test=0.5", seed: 4 });
    expect(byContent.report.leakage!.splits.test!.exact).toBe(0);
    const clean = await splitOf(makeRecords(200), { ratios: "train=0.5,test=0.5", leakage: false });
    expect(clean.report.leakage).toBeUndefined();
  });

  it("warns (never drops) when the key, stratum or group field is missing", async () => {
    const records = makeRecords(20).map((r, i) => (i < 3 ? { instruction: r.instruction, output: r.output } : r));
    const { result, report } = await splitOf(records, {
      key: "id",
      stratifyBy: "category",
      groupBy: "conversation_id",
      ratios: "train=0.5,test=0.5",
    });
    expect(result.kept).toHaveLength(20);
    expect(report.missing).toEqual({ key: 3, stratum: 3, group: 3 });
    expect(countBy(result.warnings.map((w) => w.issue.code))).toEqual(
      new Map([
        ["split_key_missing", 3],
        ["split_group_missing", 3],
        ["split_stratum_missing", 3],
      ]),
    );
    expect(result.warnings[0]).toMatchObject({ item: { source: { line: 1 } }, issue: { path: "id" } });
    expect(report.strata?.[0]).toMatchObject({ value: null, records: 3 });
  });

  it("spills to disk past memoryBytes, with the same result, and removes its temp file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "split-spill-"));
    temps.push(dir);
    const records = makeRecords(500);
    const inMemory = await splitOf(records, { stratifyBy: "category" });
    const spilled = await splitOf(records, { stratifyBy: "category", memoryBytes: 1000, tempDir: dir });
    expect(spilled.report.memory.spillBytes).toBeGreaterThan(50_000);
    expect(inMemory.report.memory.spillBytes).toBe(0);
    expect(spilled.result.kept).toEqual(inMemory.result.kept);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(true);
  });

  it("exposes its split names and the last report on the stage", async () => {
    const stage = split({ ratios: "test=0.1,train=0.9" });
    expect(stage.name).toBe("split");
    expect(stage.splits).toEqual(["train", "test"]);
    expect(stage.report).toBeUndefined();
    await runStage(stage, makeRecords(10));
    expect(stage.report?.records).toBe(10);
  });

  it("refuses bad options before any data flows", () => {
    expect(() => split({ ratios: "train=0.9,test=0.2" })).toThrow(/must sum to 1, found 1.1/);
    expect(() => split({ ratios: "train=0.9,test" })).toThrow(/expected name=ratio pairs/);
    expect(() => split({ ratios: { "../x": 1 } })).toThrow(/split name "..\/x"/);
    expect(() => split({ ratios: "a=0.5,b=0.5", train: "c" })).toThrow(/training split "c" is not among a, b/);
    expect(() => split({ ratios: "train=1", sizes: { test: 5 } })).toThrow(/not both/);
    expect(() => split({ sizes: { train: 5 } })).toThrow(/takes the records left over/);
    expect(() => split({ sizes: { test: 1.5 } })).toThrow(/whole number/);
    expect(() => split({ stratifyBy: "a..b" })).toThrow(/--stratify-by "a..b" is not a field path/);
    expect(split({ ratios: "train=90,test=10" }).splits).toEqual(["train", "test"]);
  });

  it("runs ratio mode on shards with the same assignment, and refuses ranking modes there", async () => {
    const records = makeRecords(40);
    const items = records.map((data, i) => ({ data, source: { file: "s.jsonl", line: i + 1 } }));
    const ctx = (index: number) => ({
      stage: "split",
      shard: { index, count: 2 },
      reject() {},
      duplicate() {},
      warn() {},
    });
    async function* from<T>(values: T[]) {
      yield* values;
    }
    const whole = (await splitOf(records, { ratios: "train=0.5,test=0.5" })).byId;
    const sharded = new Map<string, string>();
    for (const [index, part] of [items.slice(0, 20), items.slice(20)].entries()) {
      for await (const e of split({ ratios: "train=0.5,test=0.5" })(from(part), ctx(index))) {
        sharded.set((e.data as { id: string }).id, String(e.meta?.split));
      }
    }
    expect(sharded).toEqual(whole);
    const stratified = split({ stratifyBy: "category" })(from(items), ctx(0));
    await expect(stratified[Symbol.asyncIterator]().next()).rejects.toThrow(/cannot run sharded/);
  });

  it("fails clearly when held-out sizes exceed the records", async () => {
    await expect(runStage(split({ sizes: { test: 50 } }), makeRecords(20))).rejects.toThrow(
      /held-out sizes \(test 50 = 50\) exceed the 20 records/,
    );
  });
});
