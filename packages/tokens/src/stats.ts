import { median, nearestRank } from "@curate/core";

/**
 * Token-length statistics with exact order statistics. Every counted length is kept in a growable `Uint32Array`
 * (4 bytes per record: 4 MB per million records), so min, max, median, p5, p95 and the histogram are computed from
 * the real values at the end, not estimated from a sketch.
 */

/** A growable array of 32-bit counts. */
class Lengths {
  values = new Uint32Array(1024);
  length = 0;

  push(n: number): void {
    if (this.length === this.values.length) {
      const grown = new Uint32Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = n;
  }

  append(other: Lengths): void {
    for (let i = 0; i < other.length; i++) this.push(other.values[i]!);
  }

  sorted(): Uint32Array {
    return this.values.slice(0, this.length).sort();
  }
}

export interface TokenStatsOptions {
  readonly maxTokens?: number;
  readonly minTokens?: number;
}

export interface HistogramBin {
  /** Inclusive lower bound. */
  readonly from: number;
  /** Inclusive upper bound. */
  readonly to: number;
  readonly records: number;
}

/** The statistics of a run, as printed and as `--json` writes them. */
export interface TokenSummary {
  readonly records: number;
  readonly totalTokens: number;
  readonly trainableTokens: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** The nearest-rank p50 (`median` in @curate/core): the same number the manifest calls p50. */
  readonly median: number;
  /** Nearest-rank percentiles: the smallest length with at least 5% (95%) of records at or below it. */
  readonly p5: number;
  readonly p95: number;
  readonly maxTokens?: number;
  readonly minTokens?: number;
  readonly overMax: number;
  readonly underMin: number;
  /** Records cut to `maxTokens` (`--on-overflow truncate`); the other statistics count them at their new length. */
  readonly truncated: number;
  /** Records whose count is an estimate (OpenAI message accounting, templates without located turns). */
  readonly estimated: number;
  /** Sum of tokens per field (`instruction`, `output`, `prompt`, ...), for shapes that have fields. */
  readonly fields: Readonly<Record<string, number>>;
  /** Records per shape (`chat`, `alpaca`, ...). */
  readonly shapes: Readonly<Record<string, number>>;
  readonly histogram: readonly HistogramBin[];
}

/**
 * Accumulates token counts; `summary()` computes the statistics. Shards can be merged.
 * @example const stats = new TokenStats({ maxTokens: 4096 }); stats.add(120, 80); stats.summary().p95;
 */
export class TokenStats {
  readonly maxTokens: number | undefined;
  readonly minTokens: number | undefined;
  private lengths = new Lengths();
  /** Final lengths of the records that were kept (after truncation), for the cost estimate. */
  private kept = new Lengths();
  private total = 0;
  private trainable = 0;
  private overMax = 0;
  private underMin = 0;
  private truncated = 0;
  private estimated = 0;
  private fields: Record<string, number> = {};
  private shapes: Record<string, number> = {};

  constructor(options: TokenStatsOptions = {}) {
    this.maxTokens = options.maxTokens;
    this.minTokens = options.minTokens;
  }

  /** Adds one counted record. */
  add(
    total: number,
    trainable = 0,
    extra: { fields?: Readonly<Record<string, number>>; shape?: string; exact?: boolean; original?: number } = {},
  ) {
    // `original`: the count before truncation; `total` is what was written.
    const original = extra.original ?? total;
    this.lengths.push(total);
    this.total += total;
    this.trainable += trainable;
    if (original !== total) this.truncated++;
    if (this.maxTokens !== undefined && original > this.maxTokens) this.overMax++;
    if (this.minTokens !== undefined && total < this.minTokens) this.underMin++;
    if (extra.exact === false) this.estimated++;
    if (extra.shape !== undefined) this.shapes[extra.shape] = (this.shapes[extra.shape] ?? 0) + 1;
    for (const [field, n] of Object.entries(extra.fields ?? {})) this.fields[field] = (this.fields[field] ?? 0) + n;
  }

  /** Records the final length of a kept record (its count, or its length after truncation). */
  keep(total: number): void {
    this.kept.push(total);
  }

  /** The final lengths of kept records (a copy). */
  keptLengths(): Uint32Array {
    return this.kept.values.slice(0, this.kept.length);
  }

  /** Adds another accumulator's records (shards of one run). */
  merge(other: TokenStats): void {
    this.lengths.append(other.lengths);
    this.kept.append(other.kept);
    this.total += other.total;
    this.trainable += other.trainable;
    this.overMax += other.overMax;
    this.underMin += other.underMin;
    this.truncated += other.truncated;
    this.estimated += other.estimated;
    for (const [k, v] of Object.entries(other.fields)) this.fields[k] = (this.fields[k] ?? 0) + v;
    for (const [k, v] of Object.entries(other.shapes)) this.shapes[k] = (this.shapes[k] ?? 0) + v;
  }

  /** Forgets everything (a stage starting a new run). */
  reset(): void {
    const fresh = new TokenStats({
      ...(this.maxTokens === undefined ? {} : { maxTokens: this.maxTokens }),
      ...(this.minTokens === undefined ? {} : { minTokens: this.minTokens }),
    });
    Object.assign(this, fresh);
  }

  summary(bins = 12): TokenSummary {
    const sorted = this.lengths.sorted();
    const n = sorted.length;
    const at = (rank: number) => sorted[Math.min(n - 1, Math.max(0, rank))] ?? 0;
    return {
      records: n,
      totalTokens: this.total,
      trainableTokens: this.trainable,
      min: n === 0 ? 0 : at(0),
      max: n === 0 ? 0 : at(n - 1),
      mean: n === 0 ? 0 : this.total / n,
      median: median(sorted),
      p5: nearestRank(sorted, 5),
      p95: nearestRank(sorted, 95),
      ...(this.maxTokens === undefined ? {} : { maxTokens: this.maxTokens }),
      ...(this.minTokens === undefined ? {} : { minTokens: this.minTokens }),
      overMax: this.overMax,
      underMin: this.underMin,
      truncated: this.truncated,
      estimated: this.estimated,
      fields: { ...this.fields },
      shapes: { ...this.shapes },
      histogram: histogram(sorted, bins),
    };
  }
}

/** 1, 2, 5, 10, 20, 50, ...: the smallest such step ≥ `x`. */
function niceStep(x: number): number {
  if (x <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * power >= x) return m * power;
  return 10 * power;
}

/**
 * Equal-width bins with round edges from 0 up to the 99th percentile; records above go into a last open bin, so one
 * huge record does not squash the rest of the histogram into the first bar.
 */
function histogram(sorted: Uint32Array, bins: number): HistogramBin[] {
  const n = sorted.length;
  if (n === 0) return [];
  const max = sorted[n - 1]!;
  const p99 = sorted[Math.ceil(0.99 * n) - 1]!;
  const top = max > 2 * p99 ? p99 : max;
  const step = niceStep((top + 1) / bins);
  const out: { from: number; to: number; records: number }[] = [];
  let i = 0;
  for (let from = 0; from <= top; from += step) {
    const to = from + step - 1;
    let records = 0;
    while (i < n && sorted[i]! <= to) {
      records++;
      i++;
    }
    out.push({ from, to, records });
  }
  if (i < n) out.push({ from: out.at(-1)!.to + 1, to: max, records: n - i });
  return out;
}
