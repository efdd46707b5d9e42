import { runStage } from "@curate/core/testing";
import { describe, expect, it } from "vitest";
import { contentHash, normalizeText, unitPosition } from "./hash.js";
import { forEachNgram, NgramIndex } from "./ngram.js";
import { parseFieldPath, valueAt } from "./path.js";
import { roundTable } from "./rounding.js";
import { parseRatios } from "./spec.js";
import { type SplitReport, split } from "./split.js";

/** A small deterministic generator, so the property tests are reproducible. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("roundTable", () => {
  it("keeps every cell within one of its target, rows exact, columns within one", () => {
    const random = lcg(1);
    for (let trial = 0; trial < 200; trial++) {
      const strata = 1 + Math.floor(random() * 40);
      const raw = [random(), random(), random(), random()].map((x) => x + 0.01);
      const shares = raw.map((x) => x / raw.reduce((a, b) => a + b));
      const rows = Array.from({ length: strata }, () => 1 + Math.floor(random() * 50));
      const targets = rows.map((n) => {
        let before = 0;
        let cumulative = 0;
        return shares.map((share, j) => {
          cumulative += share;
          const upTo = j === shares.length - 1 ? n : n * cumulative;
          const cell = upTo - before;
          before = upTo;
          return cell;
        });
      });
      const result = roundTable(targets, rows);
      result.forEach((row, s) => {
        expect(row.reduce((a, b) => a + b)).toBe(rows[s]);
        row.forEach((c, j) => {
          expect(Math.abs(c - targets[s]![j]!)).toBeLessThan(1);
        });
      });
      shares.forEach((_, j) => {
        const got = result.reduce((a, row) => a + row[j]!, 0);
        const want = targets.reduce((a, row) => a + row[j]!, 0);
        expect(Math.abs(got - want)).toBeLessThan(1);
      });
    }
  });

  it("meets whole-number column totals exactly (size mode)", () => {
    // 3 strata of 7, 5 and 3 records; 4 test records in all: 28/15, 20/15, 12/15.
    const rows = [7, 5, 3];
    const targets = rows.map((n) => [(n * 4) / 15, n - (n * 4) / 15]);
    const result = roundTable(targets, rows);
    expect(result.reduce((a, row) => a + row[0]!, 0)).toBe(4);
    expect(result).toEqual([
      [2, 5],
      [1, 4],
      [1, 2],
    ]);
  });
});

describe("field paths", () => {
  it("parses dotted, indexed, quoted and JSONPath-style paths", () => {
    expect(parseFieldPath("category")).toEqual(["category"]);
    expect(parseFieldPath("meta.lang")).toEqual(["meta", "lang"]);
    expect(parseFieldPath("messages[0].role")).toEqual(["messages", 0, "role"]);
    expect(parseFieldPath('$.source["file name"]')).toEqual(["source", "file name"]);
    expect(parseFieldPath("$['a.b']")).toEqual(["a.b"]);
    expect(() => parseFieldPath("a[*]", "--key")).toThrow(/--key "a\[\*\]" is not a field path: cannot read "\[\*\]"/);
    expect(() => parseFieldPath("$")).toThrow(/names the whole record/);
  });

  it("reads values and reports missing ones as undefined", () => {
    const record = { messages: [{ role: "user" }], meta: { lang: "de" }, list: [1] };
    expect(valueAt(record, ["messages", 0, "role"])).toBe("user");
    expect(valueAt(record, ["meta", "lang"])).toBe("de");
    expect(valueAt(record, ["messages", 3, "role"])).toBeUndefined();
    expect(valueAt(record, ["list", "length"])).toBeUndefined();
    expect(valueAt(record, ["meta", "toString"])).toBeUndefined();
  });
});

describe("hashes", () => {
  it("keys content independently of field order, whitespace and metadata", () => {
    const a = contentHash({ instruction: "Add 2 and 2", output: "4", id: 1 });
    expect(contentHash({ output: "4", id: 2, instruction: "Add  2 and 2\n" })).toBe(a);
    expect(contentHash({ instruction: "Add 2 and 3", output: "5" })).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
  });

  it("normalises whitespace runs of every kind and composes Unicode", () => {
    expect(normalizeText(" a  b\tc \n d\u00a0 e \r\n\r\n f ")).toBe("a b c d e f");
    expect(normalizeText("single spaces stay")).toBe("single spaces stay");
    expect(normalizeText("cafe\u0301  au lait")).toBe("caf\u00e9 au lait");
  });

  it("places a unit at a fixed position in [0, 1) for a seed", () => {
    const p = unitPosition("0", "r:abc");
    expect(p).toBe(unitPosition("0", "r:abc"));
    expect(p).not.toBe(unitPosition("1", "r:abc"));
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThan(1);
  });

  it("parses percentages as ratios", () => {
    expect(parseRatios("train=90,test=10")).toEqual({ train: 0.9, test: 0.1 });
  });
});

describe("n-grams", () => {
  it("hashes word n-grams regardless of case, punctuation and spacing", () => {
    const grams = (text: string, n: number) => {
      const out: string[] = [];
      forEachNgram(text, n, (hi, lo) => out.push(`${hi}:${lo}`));
      return out;
    };
    expect(grams("one two three four", 3)).toHaveLength(2);
    expect(grams("One, two; THREE!", 3)).toEqual(grams("one two three", 3));
    expect(grams("one two", 3)).toEqual([]);
    expect(grams("one two three", 3)).not.toEqual(grams("three two one", 3));
    expect(grams("Ébène CAFÉ 東京 Zürich", 4)).toEqual(grams("ébène café—東京 ZÜRICH", 4));
    expect(grams("x1 y2 z3", 3)).toHaveLength(1);
  });

  it("hands each n-gram's documents out once, and grows past its initial size", () => {
    const index = new NgramIndex(4);
    for (let doc = 0; doc < 3; doc++) {
      for (let g = 0; g < 5000; g++) index.add(g, g * 7, doc);
      index.add(1, 7, doc); // the same n-gram twice in one document: stored once
    }
    expect(index.size).toBe(5000);
    const seen: number[] = [];
    index.take(1, 7, (doc) => seen.push(doc));
    index.take(1, 7, (doc) => seen.push(doc));
    expect(seen.sort()).toEqual([0, 1, 2]);
    index.take(99999, 1, () => seen.push(-1));
    expect(seen).not.toContain(-1);
  });
});

describe("split with exact copies", () => {
  it("keeps copies together and still meets stratum targets and exact sizes", async () => {
    const records = Array.from({ length: 300 }, (_, i) => {
      // Every 6th record repeats the record before it: copies of one text are one unit.
      const base = i % 6 === 5 ? i - 1 : i;
      const category = ["news", "chat", "code"][base % 3]!;
      return { id: i, category, prompt: `Question ${base} about ${category}`, completion: "Answer." };
    });
    let report: SplitReport | undefined;
    const result = await runStage(
      split({ sizes: { test: 31 }, stratifyBy: "category", onReport: (r) => (report = r) }),
      records,
    );
    expect(report!.splits.find((s) => s.name === "test")!.records).toBe(31);
    expect(report!.units).toBe(250);
    const splitOfText = new Map<string, Set<unknown>>();
    for (const e of result.kept) {
      const text = (e.data as { prompt: string }).prompt;
      if (!splitOfText.has(text)) splitOfText.set(text, new Set());
      splitOfText.get(text)!.add(e.meta?.split);
    }
    for (const set of splitOfText.values()) expect(set.size).toBe(1);
    for (const stratum of report!.strata!) {
      expect(Math.abs(stratum.counts.test! - stratum.targets.test!)).toBeLessThan(1);
    }
  });
});
