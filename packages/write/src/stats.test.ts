import { describe, expect, it } from "vitest";
import { tokenStats } from "./stats.js";

describe("tokenStats", () => {
  it("p50 is the nearest-rank median that `curate tokens` reports too ([10, 20, 30, 1000] → 20)", () => {
    expect(tokenStats(Uint32Array.of(1000, 10, 30, 20))).toMatchObject({ p50: 20, p95: 1000, min: 10, max: 1000 });
  });
});
