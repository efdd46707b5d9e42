import { median, nearestRank } from "@curate/core";
import type { SplitTokens, TokenStats } from "./manifest.js";

/**
 * Per-record token counts of one split, 4 bytes each in a growable typed array: exact percentiles need every
 * value, and 4 bytes per record is small next to the records themselves.
 * @example const t = new TokenColumn(); t.push(120); tokenStats(t.values());
 */
export class TokenColumn {
  private data = new Uint32Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = Math.max(0, Math.min(0xffffffff, Math.round(value)));
  }

  values(): Uint32Array {
    return this.data.subarray(0, this.length);
  }
}

/**
 * min / max / mean / p50 / p95 / sum, percentiles by nearest rank (an actual record's count, never interpolated).
 * @example tokenStats(Uint32Array.of(10, 20, 30)); // { records: 3, sum: 60, min: 10, max: 30, mean: 20, p50: 20, p95: 30 }
 */
export function tokenStats(values: Uint32Array): TokenStats {
  const n = values.length;
  if (n === 0) return { records: 0, sum: 0, min: 0, max: 0, mean: 0, p50: 0, p95: 0 };
  const sorted = Uint32Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    records: n,
    sum,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    mean: Math.round((sum / n) * 100) / 100,
    p50: median(sorted),
    p95: nearestRank(sorted, 95),
  };
}

/**
 * Bin edges of round width (1, 2 or 5 × 10ⁿ) from 0 past `max`, about `bins` of them.
 * @example histogramEdges(950, 10); // [0, 100, 200, …, 1000]
 */
export function histogramEdges(max: number, bins = 20): number[] {
  const raw = Math.max(1, max) / bins;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const width = [1, 2, 5, 10].map((m) => m * magnitude).find((w) => w >= raw)!;
  const edges = [0];
  while (edges.at(-1)! <= max) edges.push(edges.at(-1)! + Math.max(1, Math.round(width)));
  return edges;
}

/**
 * Counts per bin [edges[i], edges[i+1]).
 * @example histogram(Uint32Array.of(1, 5, 12), [0, 10, 20]); // [2, 1]
 */
export function histogram(values: Uint32Array, edges: readonly number[]): number[] {
  const counts = new Array<number>(Math.max(0, edges.length - 1)).fill(0);
  const width = edges.length > 1 ? edges[1]! - edges[0]! : 1;
  for (const v of values) counts[Math.min(counts.length - 1, Math.floor(v / width))]!++;
  return counts;
}

/**
 * Token statistics for every split that has counts, with one set of histogram edges shared by all.
 * @example splitTokenStats({ train: { total, trainable, missing: 0 } });
 */
export function splitTokenStats(
  columns: Readonly<Record<string, { total: TokenColumn; trainable: TokenColumn; missing: number }>>,
): Record<string, SplitTokens> {
  let max = 0;
  for (const c of Object.values(columns)) for (const v of c.total.values()) max = Math.max(max, v);
  const edges = histogramEdges(max);
  const out: Record<string, SplitTokens> = {};
  for (const [name, c] of Object.entries(columns)) {
    if (c.total.length === 0) continue;
    out[name] = {
      ...tokenStats(c.total.values()),
      missing: c.missing,
      ...(c.trainable.length > 0 ? { trainable: tokenStats(c.trainable.values()) } : {}),
      histogram: { edges, counts: histogram(c.total.values(), edges) },
    };
  }
  return out;
}
