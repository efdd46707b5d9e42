import { describe, expect, it } from "vitest";
import { defaultEpochs, estimateCost, priceFor } from "./cost.js";
import { renderStats, statsJson } from "./render.js";
import { TokenStats } from "./stats.js";

describe("TokenStats", () => {
  it("computes exact order statistics: nearest-rank p5/p50/p95", () => {
    const stats = new TokenStats({ maxTokens: 90, minTokens: 3 });
    // 1..100 in a scrambled order
    for (let i = 0; i < 100; i++) stats.add(((i * 37) % 100) + 1, 1);
    const s = stats.summary();
    expect(s).toMatchObject({ records: 100, totalTokens: 5050, trainableTokens: 100, min: 1, max: 100 });
    expect(s.mean).toBe(50.5);
    expect(s.median).toBe(50);
    expect(s.p5).toBe(5);
    expect(s.p95).toBe(95);
    expect(s.overMax).toBe(10);
    expect(s.underMin).toBe(2);
    expect(s.histogram.reduce((n, b) => n + b.records, 0)).toBe(100);
    expect(s.histogram[0]).toEqual({ from: 0, to: 9, records: 9 });
  });

  it("puts far outliers into a last open bin and merges shards", () => {
    const a = new TokenStats();
    const b = new TokenStats();
    for (let i = 0; i < 200; i++) a.add(100 + i);
    b.add(1_000_000, 0, { shape: "chat", fields: { output: 7 }, exact: false });
    a.merge(b);
    const s = a.summary();
    expect(s.records).toBe(201);
    expect(s.histogram.at(-1)).toMatchObject({ to: 1_000_000, records: 1 });
    expect(s.histogram.length).toBeLessThan(20);
    expect(s).toMatchObject({ shapes: { chat: 1 }, fields: { output: 7 }, estimated: 1, median: 200 });
  });

  it("reports the same median as the manifest's p50 ([10, 20, 30, 1000] → 20, not 25)", () => {
    const stats = new TokenStats();
    for (const n of [1000, 10, 30, 20]) stats.add(n);
    expect(stats.summary().median).toBe(20);
  });

  it("handles no records", () => {
    expect(new TokenStats().summary()).toMatchObject({ records: 0, min: 0, max: 0, median: 0, histogram: [] });
  });

  it("renders a table with a histogram, and JSON", () => {
    const stats = new TokenStats({ maxTokens: 50 });
    for (const n of [10, 12, 20, 35, 60]) stats.add(n, n / 2);
    const text = renderStats(stats.summary(), { cost: estimateCost([10, 12, 20, 35], { model: "gpt-4o-mini" }) });
    expect(text).toMatch(/records counted\s+5/);
    expect(text).toMatch(/p5 \/ p95\s+10 \/ 60/);
    expect(text).toMatch(/over --max-tokens 50\s+1/);
    expect(text).toContain("█");
    expect(text).toMatch(/4 examples × 25 epochs \(default rule\)/);
    expect(text).toMatch(/\$0\.01 at \$3\/1M tokens \(built-in price of \d{4}-\d\d-\d\d\)/);
    expect(statsJson(stats.summary())).toMatchObject({ records: 5, totalTokens: 137, p95: 60 });
  });
});

describe("cost estimate", () => {
  it("follows OpenAI's default epoch rule", () => {
    expect(defaultEpochs(1)).toBe(25);
    expect(defaultEpochs(10)).toBe(10);
    expect(defaultEpochs(33)).toBe(3);
    expect(defaultEpochs(34)).toBe(3);
    expect(defaultEpochs(20)).toBe(5);
    expect(defaultEpochs(1000)).toBe(3);
    expect(defaultEpochs(8333)).toBe(3);
    expect(defaultEpochs(8334)).toBe(2);
    expect(defaultEpochs(30_000)).toBe(1);
  });

  it("bills min(context limit, length) × epochs at the table price or --price", () => {
    const estimate = estimateCost([100, 70_000], { model: "gpt-4o-mini-2024-07-18" });
    expect(estimate).toMatchObject({
      contextLimit: 65_536,
      tokensPerEpoch: 65_636,
      epochs: 25,
      billedTokens: 1_640_900,
    });
    expect(estimate.cost).toBeCloseTo(4.9227, 4);
    const priced = estimateCost([1000, 1000], { model: "gpt-4o", price: 10, epochs: 2 });
    expect(priced).toMatchObject({
      billedTokens: 4000,
      pricePerMillion: 10,
      priceFrom: "--price",
      epochsFrom: "--epochs",
    });
    expect(priced.cost).toBeCloseTo(0.04, 6);
    expect(estimateCost([5], { model: "unknown-model" }).cost).toBeUndefined();
    expect(priceFor("ft:gpt-4.1-mini-2025-04-14:org::x")?.price).toBe(5);
    // A typo of a model name is not priced as the model it starts with (gpt-4o-mni is not gpt-4o).
    expect(priceFor("gpt-4o-mni")).toBeUndefined();
    expect(estimateCost([1000], { model: "gpt-4o-mni" }).cost).toBeUndefined();
    expect(priceFor("gpt-4o-mini-2024-07-18")?.price).toBe(3);
    expect(() => estimateCost([1], { price: -1 })).toThrow(/price/);
  });
});
