import { describe, expect, it } from "vitest";
import { median, nearestRank } from "./order-stats.js";

describe("order statistics", () => {
  it("uses nearest rank: a value some record has", () => {
    const sorted = Uint32Array.of(10, 20, 30, 1000);
    expect(median(sorted)).toBe(20);
    expect(nearestRank(sorted, 75)).toBe(30);
    expect(nearestRank(sorted, 95)).toBe(1000);
    expect(nearestRank(sorted, 0)).toBe(10);
    expect(median([])).toBe(0);
    expect(median([7])).toBe(7);
  });
});
