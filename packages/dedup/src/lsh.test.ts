import { describe, expect, it } from "vitest";
import { candidateProbability, LshIndex, optimalBands } from "./lsh.js";

describe("optimalBands", () => {
  it("minimises weighted false positives and negatives (datasketch's rule)", () => {
    expect(optimalBands(0.8, 128, { falsePositive: 0.5, falseNegative: 0.5 })).toMatchObject({ bands: 9, rows: 13 });
    expect(optimalBands(0.8, 128, { falsePositive: 0.05, falseNegative: 0.95 })).toMatchObject({ bands: 16, rows: 8 });
    expect(optimalBands(0.5, 128, { falsePositive: 0.5, falseNegative: 0.5 })).toMatchObject({ bands: 25, rows: 5 });
  });

  it("reports the two error areas, which trade against each other", () => {
    const even = optimalBands(0.8, 128, { falsePositive: 0.5, falseNegative: 0.5 });
    const recall = optimalBands(0.8, 128, { falsePositive: 0.05, falseNegative: 0.95 });
    expect(recall.falseNegative).toBeLessThan(even.falseNegative);
    expect(recall.falsePositive).toBeGreaterThan(even.falsePositive);
    expect(candidateProbability(0.8, 16, 8)).toBeCloseTo(0.947, 3);
  });
});

describe("LshIndex", () => {
  it("finds earlier records sharing any band key, newest first per band", () => {
    const lsh = new LshIndex(2);
    lsh.insert(0, Uint32Array.of(10, 20), 0);
    lsh.insert(1, Uint32Array.of(10, 21), 0);
    lsh.insert(2, Uint32Array.of(11, 20), 0);
    const found: number[] = [];
    lsh.query(Uint32Array.of(10, 20), 0, 100, (id) => found.push(id));
    expect(found).toEqual([1, 0, 2, 0]);
    found.length = 0;
    lsh.query(Uint32Array.of(10, 20), 0, 1, (id) => found.push(id));
    expect(found).toEqual([1, 2]);
  });

  it("survives table growth", () => {
    const lsh = new LshIndex(1);
    for (let i = 0; i < 5000; i++) lsh.insert(i, Uint32Array.of(i % 1500), 0);
    const found: number[] = [];
    lsh.query(Uint32Array.of(7), 0, 100, (id) => found.push(id));
    expect(found).toEqual([4507, 3007, 1507, 7]);
  });
});
