import { availableParallelism } from "node:os";
import {
  type BatchStage,
  batchStage,
  type Envelope,
  type PreparedStage,
  type StageContext,
  takeFact,
  UsageError,
  withPreparer,
} from "@curate/core";
import {
  createSketcher,
  jaccardSorted,
  type ShingleKind,
  type SketchBatch,
  type SketchParams,
  shingleSet,
  signatureSimilarity,
} from "../src/sketch-kernel.mjs";
import {
  checkMode,
  type DedupMode,
  type DedupStats,
  flagDuplicate,
  newStats,
  withOwnCluster,
  withStats,
} from "./common.js";
import { DEFAULT_NUM_PERM, DEFAULT_SHINGLE, DEFAULT_THRESHOLD } from "./defaults.js";
import { type KeySpec, keyReader, missingKeyField, missingKeyReason, noRecordHasKey, parseKey } from "./key.js";
import { LshIndex, type LshWeights, optimalBands } from "./lsh.js";
import { clusterId, SourceTable, Uint32Pages } from "./pages.js";
import { SketchPool } from "./pool.js";
import { ShapeTally } from "./shape.js";
import { FileSketchStore, MemorySketchStore, type SketchStore } from "./store.js";

export interface NearDedupOptions {
  /** Jaccard similarity at or above which two records are near-duplicates. Default 0.8. */
  readonly threshold?: number;
  /** Shingles: `"word:5"` (default: 5 consecutive words) or `"char:5"` (5 characters). */
  readonly shingle?: string;
  /** MinHash permutations. Default 128. */
  readonly numPerm?: number;
  /** Override the LSH layout (both or neither; bands × rows ≤ numPerm). Default: chosen by `optimalBands`. */
  readonly bands?: number;
  readonly rows?: number;
  /**
   * Weights for `optimalBands`. Default 0.05 : 0.95: every candidate is checked (exact Jaccard, or the signature
   * estimate without verification), so a false positive costs one check and a false negative a missed duplicate.
   */
  readonly weights?: LshWeights;
  /**
   * Check every LSH candidate by exact Jaccard on the shingle sets before calling it a duplicate (default true).
   * `false` compares MinHash signatures instead (an estimate; no shingle file, for very large corpora).
   */
  readonly verify?: boolean;
  /** `remove` (default) routes duplicates to the duplicates file; `flag` keeps them, tagged. */
  readonly mode?: DedupMode;
  /** Sketching threads. Default: the number of cores. 1 sketches in-process, with identical results. */
  readonly threads?: number;
  /** Records per batch sent to a worker. Default 256. Does not change results. */
  readonly batchSize?: number;
  /** What text to compare: `"text"` (training text, default), `"json"`, or field paths. */
  readonly key?: KeySpec;
  /** Seed of the MinHash permutations. Default 1. */
  readonly seed?: number;
  /** Where per-record shingles live: `"disk"` (a temp file, default: bounded RAM) or `"memory"`. */
  readonly store?: "disk" | "memory";
  /** Folder for the temp file. Default: the OS temp folder. */
  readonly tempDir?: string;
}

/** Near dedup's figures: the common ones plus the work its index did. */
export interface NearDedupStats extends DedupStats {
  /** Candidate pairs from LSH that were checked (exact Jaccard or signature). */
  candidatePairs: number;
  /** Bytes of shingles (or signatures) written to the temp file. */
  diskBytes: number;
  /** The LSH layout used. */
  bands: number;
  rows: number;
}

export type NearDedupStage = PreparedStage<BatchStage> & { readonly stats: NearDedupStats };

/** Newest records looked at per band and record: bounds the work of huge clusters (see `LshIndex.query`). */
const CANDIDATES_PER_BAND = 64;
/** Sketch batches in flight ahead of the one being decided: enough to keep 16 workers busy. */
const DECIDE_AHEAD = 32;

function integer(where: string, name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${where}: \`${name}\` must be a whole number from ${min} to ${max}, found ${String(value)}`);
  }
  return value;
}

/**
 * Parses a shingle spec: `word:N` or `char:N` (`word`/`char` alone mean N = 5).
 * @example parseShingle("char:7"); // { kind: "char", n: 7 }
 */
export function parseShingle(spec: string): { kind: ShingleKind; n: number } {
  const match = /^(word|char)(?::(\d+))?$/.exec(spec.trim());
  const n = match?.[2] === undefined ? 5 : Number(match[2]);
  if (!match || n < 1 || n > 64) {
    throw new UsageError(`shingle "${spec}" is not valid: expected word:N or char:N with N from 1 to 64, e.g. word:5`);
  }
  return { kind: match[1] as ShingleKind, n };
}

/** Union-find over record ids whose root is always the smallest id: the first record of a cluster in input order. */
class Clusters {
  private readonly parent = new Uint32Pages();
  private readonly sizes = new Uint32Pages();

  constructor(private readonly stats: DedupStats) {}

  add(id: number): void {
    this.parent.set(id, id);
    this.sizes.set(id, 1);
  }

  find(id: number): number {
    let x = id;
    for (let p = this.parent.get(x); p !== x; p = this.parent.get(x)) {
      const grand = this.parent.get(p);
      this.parent.set(x, grand); // path halving
      x = grand;
    }
    return x;
  }

  union(a: number, b: number): void {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return;
    if (rb < ra) [ra, rb] = [rb, ra];
    const sa = this.sizes.get(ra);
    const sb = this.sizes.get(rb);
    this.stats.clusters += 1 - (sa >= 2 ? 1 : 0) - (sb >= 2 ? 1 : 0);
    this.parent.set(rb, ra);
    this.sizes.set(ra, sa + sb);
    if (sa + sb > this.stats.largestCluster) this.stats.largestCluster = sa + sb;
  }

  get bytes(): number {
    return this.parent.bytes + this.sizes.bytes;
  }
}

/**
 * Near-duplicate dedup with MinHash LSH, streaming in input order: each record's band keys are looked up among
 * the earlier records, candidates are verified by exact Jaccard on their shingle sets, and a record that reaches
 * the threshold with any earlier record joins that record's cluster (union-find). The representative is the first
 * record of the cluster in input order, so a record can be decided when it arrives; removed records go to the
 * duplicates route with the kept record's source, the cluster id (the kept record's `file#record`), the measured
 * similarity, and `matched` when the record it matched is not the kept one. Every kept record carries its cluster
 * id in `meta.cluster`. A record that bridges two clusters merges them: records routed before the merge keep the
 * id they were given, and the merge is linked in `ctx.clusters`, through which split and the manifest resolve ids.
 *
 * Sketching runs on a worker pool, batched and in order; the decisions run in input order on the calling thread,
 * so any thread count gives the same output. Memory per record: ~24 bytes plus 15–25 bytes per band (≈260–430
 * bytes at 16 bands) in RAM; shingles (4 bytes each) go to a temp file.
 * @example await runPipeline(readInputs(["data.jsonl"]), [nearDedup({ threshold: 0.8, shingle: "word:5" })]);
 */
export function nearDedup(options: NearDedupOptions = {}): NearDedupStage {
  const where = "nearDedup()";
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  if (typeof threshold !== "number" || !(threshold > 0 && threshold <= 1)) {
    throw new UsageError(`${where}: \`threshold\` must be a number in (0, 1], found ${String(threshold)}`);
  }
  const { kind, n } = parseShingle(options.shingle ?? DEFAULT_SHINGLE);
  const numPerm = integer(where, "numPerm", options.numPerm ?? DEFAULT_NUM_PERM, 2, 8192);
  const verify = options.verify ?? true;
  const mode = checkMode(where, options.mode);
  const threads = integer(where, "threads", options.threads ?? availableParallelism(), 1, 256);
  const batchSize = integer(where, "batchSize", options.batchSize ?? 256, 1, 1 << 20);
  const seed = integer(where, "seed", options.seed ?? 1, 0, 2 ** 32 - 1);
  const key =
    options.key === undefined ? "text" : typeof options.key === "string" ? options.key : parseKey(options.key);
  const storeKind = options.store ?? "disk";
  if (storeKind !== "disk" && storeKind !== "memory") {
    throw new UsageError(`${where}: \`store\` must be "disk" or "memory", found ${String(storeKind)}`);
  }
  let bands: number;
  let rows: number;
  if (options.bands !== undefined || options.rows !== undefined) {
    bands = integer(where, "bands", options.bands, 1, numPerm);
    rows = integer(where, "rows", options.rows, 1, numPerm);
    if (bands * rows > numPerm) {
      throw new UsageError(`${where}: bands × rows must be ≤ numPerm (${numPerm}), found ${bands} × ${rows}`);
    }
  } else {
    const weights = options.weights ?? { falsePositive: 0.05, falseNegative: 0.95 };
    if (
      !(weights.falsePositive >= 0 && weights.falseNegative >= 0 && weights.falsePositive + weights.falseNegative > 0)
    ) {
      throw new UsageError(`${where}: \`weights\` must be two non-negative numbers, not both 0`);
    }
    ({ bands, rows } = optimalBands(threshold, numPerm, weights));
  }
  const params: SketchParams = { kind, n, numPerm, bands, rows, seed, payload: verify ? "shingles" : "signature" };
  const textOf = keyReader(key);
  const missingOf = missingKeyField(key);
  let missing = 0;
  // Shingles arrive in text order; only the records that are verified are sorted (into reused arrays): sorting every
  // record in the sketcher measured ~2.5 µs per record, and ~90% of records never meet a candidate.
  let mineScratch = new Uint32Array(1024);
  let theirsScratch = new Uint32Array(1024);
  const sortedMine = (values: Uint32Array): Uint32Array => {
    if (mineScratch.length < values.length) mineScratch = new Uint32Array(values.length * 2);
    return shingleSet(values, mineScratch);
  };
  const similarity = verify
    ? (mine: Uint32Array, other: Uint32Array): number => {
        if (theirsScratch.length < other.length) theirsScratch = new Uint32Array(other.length * 2);
        return jaccardSorted(mine, shingleSet(other, theirsScratch));
      }
    : signatureSimilarity;
  // Depth of the pipeline: batches sketched ahead of the one being decided, so workers stay busy while the main
  // thread reads and decides.
  // The same for every thread count, so that duplicates reach the route at the same points between the batches of
  // earlier stages, and duplicates.jsonl is byte-identical for --threads 1 and 2.
  const ahead = DECIDE_AHEAD;

  const emptyStats = (): NearDedupStats => ({ ...newStats(), candidatePairs: 0, diskBytes: 0, bands, rows });
  let stats = emptyStats();
  let shapes = new ShapeTally();
  let run: Run | undefined;

  interface Run {
    readonly sketch: (texts: string[]) => SketchBatch | Promise<SketchBatch>;
    readonly pool: SketchPool | undefined;
    readonly sources: SourceTable;
    readonly clusters: Clusters;
    readonly lsh: LshIndex;
    readonly store: SketchStore;
    readonly inFlight: { items: Envelope[]; sketches: SketchBatch | Promise<SketchBatch> }[];
  }

  function start(): Run {
    stats = emptyStats();
    shapes = new ShapeTally();
    const pool = threads > 1 ? new SketchPool(threads, params) : undefined;
    const sketcher = pool ? undefined : createSketcher(params);
    const store = storeKind === "disk" ? new FileSketchStore(options.tempDir) : new MemorySketchStore();
    return {
      sketch: pool ? (texts) => pool.sketch(texts) : (texts) => sketcher!.sketchBatch(texts),
      pool,
      sources: new SourceTable(),
      clusters: new Clusters(stats),
      lsh: new LshIndex(bands),
      store,
      inFlight: [],
    };
  }

  /**
   * Puts record `id` in the cluster of `other`. When `id` is already in another cluster, two clusters whose records
   * went downstream under different ids become one: the later one's id is linked to the earlier's in
   * `ctx.clusters`, which split resolves before assigning anything.
   */
  function join(r: Run, id: number, other: number, ctx: StageContext): void {
    const mine = r.clusters.find(id);
    const theirs = r.clusters.find(other);
    if (mine === theirs) return;
    if (mine !== id) {
      const [into, from] = mine < theirs ? [mine, theirs] : [theirs, mine];
      ctx.clusters?.link(clusterId(r.sources.get(from)), clusterId(r.sources.get(into)));
    }
    r.clusters.union(id, other);
  }

  function decide(r: Run, items: Envelope[], batch: SketchBatch, ctx: StageContext, out: Envelope[]): void {
    const candidates: number[] = [];
    const collect = (id: number) => candidates.push(id);
    for (let i = 0; i < batch.count; i++) {
      const item = items[i]!;
      const id = r.sources.add(item.source);
      r.clusters.add(id);
      stats.records++;
      if (batch.sizes[i] === 0) {
        // No words: nothing to compare (exact dedup handles empty records). Keep any cluster set upstream.
        r.store.append(id, new Uint32Array(0));
        out.push(item.meta?.cluster === undefined ? withOwnCluster(item) : item);
        continue;
      }
      const payload = batch.payload.subarray(batch.offsets[i]!, batch.offsets[i + 1]!);
      let mine: Uint32Array | undefined;
      candidates.length = 0;
      r.lsh.query(batch.bands, i * bands, CANDIDATES_PER_BAND, collect);
      if (candidates.length > 1) candidates.sort((a, b) => a - b);
      let matched = -1;
      let matchedSimilarity = 0;
      let identical = false;
      for (let c = 0; c < candidates.length; c++) {
        const other = candidates[c]!;
        if (c > 0 && other === candidates[c - 1]) continue;
        if (matched >= 0 && r.clusters.find(other) === r.clusters.find(id)) continue;
        mine ??= verify ? sortedMine(payload) : payload;
        const s = similarity(mine, r.store.get(other));
        stats.candidatePairs++;
        if (s < threshold) continue;
        if (matched < 0) {
          matched = other;
          matchedSimilarity = s;
        }
        if (s === 1) identical = true;
        join(r, id, other, ctx);
      }
      // An identical copy adds nothing a later record could match that its twin does not already offer.
      if (identical) r.store.append(id, new Uint32Array(0));
      else {
        r.lsh.insert(id, batch.bands, i * bands);
        r.store.append(id, payload);
      }
      if (matched < 0) {
        // Tagged in both modes: a later record may join this cluster to another, and split must then keep them
        // together even though the records that bridge them were removed.
        out.push(withOwnCluster(item));
        continue;
      }
      stats.duplicates++;
      const root = r.clusters.find(id);
      const kept = r.sources.get(root);
      const of = {
        source: kept,
        method: "near",
        similarity: Math.round(matchedSimilarity * 1e4) / 1e4,
        cluster: clusterId(kept),
        ...(matched === root ? {} : { matched: r.sources.get(matched) }),
      };
      if (mode === "remove") ctx.duplicate(item, of);
      else {
        const [flagged, issue] = flagDuplicate(item, of, "near_duplicate");
        ctx.warn(flagged, issue);
        out.push(flagged);
      }
    }
  }

  async function drain(r: Run, keep: number, ctx: StageContext): Promise<Envelope[]> {
    const out: Envelope[] = [];
    while (r.inFlight.length > keep) {
      const { items, sketches } = r.inFlight.shift()!;
      decide(r, items, sketches instanceof Promise ? await sketches : sketches, ctx, out);
    }
    return out;
  }

  /** Rejects the records that lack a key field (missing_key); the rest go on. */
  function withKey(items: Envelope[], ctx: StageContext): Envelope[] {
    const kept: Envelope[] = [];
    for (const item of items) {
      const lacks = missingOf!(item.data);
      if (lacks === undefined) kept.push(item);
      else {
        missing++;
        ctx.reject(item, missingKeyReason(lacks, key as readonly string[]));
      }
    }
    return kept;
  }

  // The shard phase sketches ahead: a record's fact is one view of a per-batch buffer holding its shingle count, its
  // band keys and its payload (shingles or signature), or null when it lacks a key field. A chunk whose records all
  // have facts is put back together into the batch the sketcher would have given; any other chunk is sketched here.
  const preparedKey = `nearDedup:${JSON.stringify([key, params])}`;
  let prepareSketcher: ReturnType<typeof createSketcher> | undefined;

  function fromFacts(facts: readonly Uint32Array[]): SketchBatch {
    const count = facts.length;
    const sizes = new Uint32Array(count);
    const offsets = new Uint32Array(count + 1);
    const bandKeys = new Uint32Array(count * bands);
    for (let i = 0; i < count; i++) {
      const fact = facts[i]!;
      sizes[i] = fact[0]!;
      bandKeys.set(fact.subarray(1, 1 + bands), i * bands);
      offsets[i + 1] = offsets[i]! + fact.length - 1 - bands;
    }
    const payload = new Uint32Array(offsets[count]!);
    for (let i = 0; i < count; i++) payload.set(facts[i]!.subarray(1 + bands), offsets[i]!);
    return { count, bands: bandKeys, sizes, offsets, payload };
  }

  function sketchOf(r: Run, chunk: readonly Envelope[]): SketchBatch | Promise<SketchBatch> {
    const facts: Uint32Array[] = [];
    for (const item of chunk) {
      const fact = takeFact<Uint32Array | null>(item.source, preparedKey);
      if (fact) facts.push(fact);
    }
    if (facts.length === chunk.length) return fromFacts(facts);
    return r.sketch(chunk.map((item) => textOf(item.data)));
  }

  const stage = batchStage("nearDedup", {
    batch(items, ctx) {
      run ??= start();
      if (missingOf) items = withKey(items, ctx);
      for (let at = 0; at < items.length; at += batchSize) {
        const chunk = items.slice(at, at + batchSize);
        if (key === "text") for (const item of chunk) shapes.note(item.data, item.source);
        const sketches = sketchOf(run, chunk);
        // Awaited later, in order; until then a failure must not count as an unhandled rejection.
        if (sketches instanceof Promise) sketches.catch(() => {});
        run.inFlight.push({ items: chunk, sketches });
      }
      return drain(run, ahead, ctx);
    },
    flush(ctx) {
      return run ? drain(run, 0, ctx) : [];
    },
    async close() {
      const lacked = missing;
      missing = 0;
      if (!run) return;
      const r = run;
      run = undefined;
      stats.indexBytes = r.sources.bytes + r.clusters.bytes + r.lsh.bytes + r.store.bytes;
      stats.diskBytes = r.store.diskBytes;
      const unrecognized = shapes.result();
      if (unrecognized !== undefined) stats.unrecognized = unrecognized;
      if (stats.largestCluster === 0 && stats.records > 0) stats.largestCluster = 1;
      r.store.close();
      await r.pool?.close();
      if (lacked > 0 && stats.records === 0) throw noRecordHasKey(key as readonly string[]);
    },
  });
  return withPreparer(
    withStats(stage, () => stats),
    {
      key: preparedKey,
      prepare(items) {
        prepareSketcher ??= createSketcher(params);
        const keyed = missingOf ? items.filter((item) => missingOf(item.data) === undefined) : items;
        const batch = prepareSketcher.sketchBatch(keyed.map((item) => textOf(item.data)));
        const block = new Uint32Array(batch.count * (1 + bands) + batch.payload.length);
        const facts = new Map<Envelope, Uint32Array>();
        let at = 0;
        for (let i = 0; i < batch.count; i++) {
          const payload = batch.payload.subarray(batch.offsets[i]!, batch.offsets[i + 1]!);
          const fact = block.subarray(at, at + 1 + bands + payload.length);
          fact[0] = batch.sizes[i]!;
          fact.set(batch.bands.subarray(i * bands, (i + 1) * bands), 1);
          fact.set(payload, 1 + bands);
          facts.set(keyed[i]!, fact);
          at += fact.length;
        }
        return items.map((item) => facts.get(item) ?? null);
      },
      pass: (item, fact) => (fact === null ? undefined : item),
    },
  ) as NearDedupStage;
}
