import { describe, expect, it } from "vitest";
import { candidateProbability, LshIndex, optimalBands } from "./lsh.js";
import { random } from "./testing.js";

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

describe("LshIndex against a Map-of-arrays reference", () => {
  it("finds the same records through growth, colliding keys and insert with or without a query first", () => {
    const rand = random(21);
    const bands = 4;
    const lsh = new LshIndex(bands);
    const reference = Array.from({ length: bands }, () => new Map<number, number[]>());
    const keys = new Uint32Array(bands);
    for (let id = 0; id < 20_000; id++) {
      // Few distinct keys in band 0 (long chains), many in the others; some keys equal to 0 and to 2³² − 1.
      keys[0] = Math.floor(rand() * 50);
      for (let b = 1; b < bands; b++) keys[b] = rand() < 0.01 ? 0xffffffff : Math.floor(rand() * 2 ** 32) >>> (b * 3);
      const found: number[] = [];
      const queried = rand() < 0.8;
      if (queried) lsh.query(keys, 0, 5, (other) => found.push(other));
      const expected: number[] = [];
      for (let b = 0; b < bands; b++) expected.push(...(reference[b]!.get(keys[b]!) ?? []).slice(-5).reverse());
      if (queried) expect(found).toEqual(expected);
      // Like near dedup: identical records are queried but not inserted.
      if (rand() < 0.9) {
        lsh.insert(id, keys, 0);
        for (let b = 0; b < bands; b++) {
          const list = reference[b]!.get(keys[b]!) ?? [];
          list.push(id);
          reference[b]!.set(keys[b]!, list);
        }
      }
    }
  });
});
