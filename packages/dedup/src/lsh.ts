import { Uint32Pages } from "./pages.js";

/** How much a missed near-duplicate costs against a needless candidate check, for choosing bands and rows. */
export interface LshWeights {
  readonly falsePositive: number;
  readonly falseNegative: number;
}

export interface LshParams {
  readonly bands: number;
  readonly rows: number;
  /** ∫₀ᵗ P(s) ds: the area under the candidate curve below the threshold. */
  readonly falsePositive: number;
  /** ∫ₜ¹ 1 − P(s) ds: the area above the curve from the threshold up. */
  readonly falseNegative: number;
}

/**
 * Probability that two records with Jaccard similarity `s` share at least one of `bands` bands of `rows` MinHash
 * values: 1 − (1 − sʳ)ᵇ.
 * @example candidateProbability(0.8, 16, 8); // ≈ 0.947
 */
export function candidateProbability(s: number, bands: number, rows: number): number {
  return 1 - (1 - s ** rows) ** bands;
}

/** Simpson's rule with 100 intervals: the integrands are smooth, so this is accurate to ~1e-6. */
function integrate(f: (s: number) => number, a: number, b: number): number {
  const n = 100;
  const h = (b - a) / n;
  let sum = f(a) + f(b);
  for (let i = 1; i < n; i++) sum += f(a + i * h) * (i % 2 === 1 ? 4 : 2);
  return (sum * h) / 3;
}

const cache = new Map<string, LshParams>();

/**
 * Picks bands b and rows r (b·r ≤ numPerm) minimising w_fp·FP + w_fn·FN, where for the candidate probability
 * P(s) = 1 − (1 − sʳ)ᵇ and threshold t:
 *
 *   FP(b, r) = ∫₀ᵗ P(s) ds        (pairs below the threshold that still become candidates)
 *   FN(b, r) = ∫ₜ¹ 1 − P(s) ds    (pairs at or above the threshold that never become candidates)
 *
 * This is the rule datasketch uses. Near dedup checks every candidate, so a false positive costs one check and a
 * false negative a missed duplicate: it weighs them 0.05 : 0.95 by default (16 × 8 at t = 0.8 with 128
 * permutations: P(0.8) ≈ 0.95, P(0.9) ≈ 1.0, P(0.5) ≈ 0.06). Equal weights give 9 × 13, with P(0.8) ≈ 0.40.
 * @example optimalBands(0.8, 128, { falsePositive: 0.05, falseNegative: 0.95 }); // { bands: 16, rows: 8, ... }
 */
export function optimalBands(threshold: number, numPerm: number, weights: LshWeights): LshParams {
  const id = `${threshold}/${numPerm}/${weights.falsePositive}/${weights.falseNegative}`;
  const cached = cache.get(id);
  if (cached) return cached;
  let best: LshParams & { cost: number } = { bands: 1, rows: numPerm, falsePositive: 1, falseNegative: 1, cost: 2 };
  for (let bands = 1; bands <= numPerm; bands++) {
    for (let rows = 1; bands * rows <= numPerm; rows++) {
      const falsePositive = integrate((s) => candidateProbability(s, bands, rows), 0, threshold);
      const falseNegative = integrate((s) => 1 - candidateProbability(s, bands, rows), threshold, 1);
      const cost = weights.falsePositive * falsePositive + weights.falseNegative * falseNegative;
      if (cost < best.cost) best = { bands, rows, falsePositive, falseNegative, cost };
    }
  }
  const { cost: _, ...params } = best;
  cache.set(id, params);
  return params;
}

const MAX_LOAD = 0.75;

/**
 * LSH buckets for near dedup: per band, an open-addressing table from a 32-bit band key to the latest record with
 * that key, and per (record, band) a link to the previous record with the same key. Per record and band that is
 * 8 bytes per slot at ≤ 75% load (10.7–21.3 bytes) plus a 4-byte link, in typed arrays; Maps of arrays cost ~10×.
 * Records are numbered 0, 1, 2, ... in input order.
 *
 * A slot is the key and the head side by side in one array, so a lookup costs one cache miss, not two: lookups are
 * random over tables of megabytes, and the probe was two thirds of near dedup's own time on the calling thread
 * (query + insert 5.5 → 4.2 µs per record with 16 bands on the 100k benchmark corpus). An `insert` of the keys
 * the last `query` looked up, with no insert in between, reuses the slots that query found.
 * @example const lsh = new LshIndex(16); lsh.insert(0, keys, 0); lsh.query(keys, 0, 100, (id) => ids.push(id));
 */
export class LshIndex {
  /** Per band: slot i holds the key at 2i and the head (latest record id + 1, 0 = empty) at 2i + 1. */
  private readonly tables: Uint32Array[] = [];
  private readonly counts: Int32Array;
  private readonly links = new Uint32Pages();
  /** Slots found by the last `query` and their keys, for the `insert` of the same keys that usually follows it. */
  private readonly found: Int32Array;
  private readonly foundKeys: Uint32Array;
  /** Inserts so far; a found slot is only reused when no insert happened since the query that found it. */
  private version = 0;
  private foundVersion = -1;

  constructor(readonly bands: number) {
    for (let b = 0; b < bands; b++) this.tables.push(new Uint32Array(2048));
    this.counts = new Int32Array(bands);
    this.found = new Int32Array(bands);
    this.foundKeys = new Uint32Array(bands);
  }

  /** Slot of `key` in `table`: where it is, or the empty slot where it would go. */
  private slot(table: Uint32Array, key: number): number {
    const mask = (table.length >>> 1) - 1;
    let pos = key & mask;
    while (table[2 * pos + 1] !== 0 && table[2 * pos] !== key) pos = (pos + 1) & mask;
    return pos;
  }

  /** Adds record `id` under its band keys `keys[at .. at + bands)`. Ids must grow. */
  insert(id: number, keys: Uint32Array, at: number): void {
    const reuse = this.foundVersion === this.version;
    this.version++;
    for (let band = 0; band < this.bands; band++) {
      let table = this.tables[band]!;
      const key = keys[at + band]!;
      let pos: number;
      if (this.counts[band]! >= (table.length >>> 1) * MAX_LOAD) {
        table = this.grow(band);
        pos = this.slot(table, key);
      } else pos = reuse && this.foundKeys[band] === key ? this.found[band]! : this.slot(table, key);
      const head = table[2 * pos + 1]!;
      if (head === 0) {
        table[2 * pos] = key;
        this.counts[band]!++;
      }
      this.links.set(id * this.bands + band, head);
      table[2 * pos + 1] = id + 1;
    }
  }

  /**
   * Calls `visit(id)` for the records sharing a band key with `keys[at .. at + bands)`, newest first within a
   * band, at most `perBand` per band (a bound on the work a huge cluster can cause; its newest members are enough
   * to join it). A record sharing several bands is visited once per band. `visit` must not insert.
   */
  query(keys: Uint32Array, at: number, perBand: number, visit: (id: number) => void): void {
    for (let band = 0; band < this.bands; band++) {
      const table = this.tables[band]!;
      const key = keys[at + band]!;
      const pos = this.slot(table, key);
      this.found[band] = pos;
      this.foundKeys[band] = key;
      let next = table[2 * pos + 1]!;
      for (let seen = 0; next !== 0 && seen < perBand; seen++) {
        visit(next - 1);
        next = this.links.get((next - 1) * this.bands + band);
      }
    }
    this.foundVersion = this.version;
  }

  private grow(band: number): Uint32Array {
    const old = this.tables[band]!;
    const table = new Uint32Array(old.length * 2);
    const mask = (table.length >>> 1) - 1;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i + 1] === 0) continue;
      let pos = old[i]! & mask;
      while (table[2 * pos + 1] !== 0) pos = (pos + 1) & mask;
      table[2 * pos] = old[i]!;
      table[2 * pos + 1] = old[i + 1]!;
    }
    this.tables[band] = table;
    return table;
  }

  /** Bytes held by the tables and links. */
  get bytes(): number {
    let bytes = this.links.bytes;
    for (const table of this.tables) bytes += table.byteLength;
    return bytes;
  }
}
