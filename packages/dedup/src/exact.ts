import {
  type BatchStage,
  batchStage,
  type Envelope,
  type PreparedStage,
  type Source,
  takeFact,
  UsageError,
  withPreparer,
} from "@curate/core";
import {
  checkMode,
  type DedupMode,
  type DedupStats,
  flagDuplicate,
  newStats,
  withOwnCluster,
  withStats,
} from "./common.js";
import { type DedupIndex, MemoryDedupIndex } from "./dedup-index.js";
import {
  DEFAULT_NORMALIZATION,
  type KeySpec,
  keyHasher,
  missingKeyField,
  missingKeyReason,
  type Normalization,
  noRecordHasKey,
  parseKey,
  parseNormalization,
} from "./key.js";
import { clusterId } from "./pages.js";
import { ShapeTally } from "./shape.js";

export interface ExactDedupOptions {
  /** What makes two records the same: `"text"` (training text, default), `"json"`, or field paths. */
  readonly key?: KeySpec;
  /** Normalizations before hashing, as a list or `"nfkc,lower"`; default NFKC + whitespace collapsing. */
  readonly normalize?: readonly Normalization[] | string;
  /** `remove` (default) routes duplicates to the duplicates file; `flag` keeps them, tagged. */
  readonly mode?: DedupMode;
  /**
   * Where seen hashes live. Default: a fresh `MemoryDedupIndex` per run. A given index is shared by every run of
   * the stage (that is the point of an external one) and is not closed by it.
   */
  readonly index?: DedupIndex;
}

export type ExactDedupStage = PreparedStage<BatchStage> & { readonly stats: DedupStats };

function isThenable(value: unknown): value is PromiseLike<Source | undefined> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}

/**
 * Exact dedup: hashes each record's key (`keyHasher`: a 128-bit hash of the normalized training text by default)
 * and keeps the first record with each hash in input order. Every later one goes to the duplicates route naming the
 * kept record's file and line, with similarity 1 and the cluster id (the kept record's `file:line`). In `flag` mode
 * duplicates are kept with `meta.duplicateOf` and a warning, and every kept record gets `meta.cluster`.
 * @example await runPipeline(readInputs(["data/*.jsonl"]), [exactDedup({ normalize: "nfkc,lower,whitespace" })]);
 */
export function exactDedup(options: ExactDedupOptions = {}): ExactDedupStage {
  const mode = checkMode("exactDedup()", options.mode);
  const key =
    options.key === undefined ? "text" : typeof options.key === "string" ? options.key : parseKey(options.key);
  if (key !== "text" && key !== "json" && !Array.isArray(key)) {
    throw new UsageError(`exactDedup(): \`key\` must be "text", "json" or a list of field paths, found ${String(key)}`);
  }
  const steps = parseNormalization(options.normalize ?? DEFAULT_NORMALIZATION);
  if (options.index !== undefined && typeof options.index?.firstSeen !== "function") {
    throw new UsageError("exactDedup(): `index` must have a firstSeen(hash, source) method");
  }
  const hashOf = keyHasher(key, steps);
  const hash = new Uint32Array(4);
  // The shard phase hashes ahead: a record's fact is its 128-bit key hash (a view of one buffer per batch, so a
  // shard's hashes cross threads as one block), or null when it lacks a key field.
  const preparedKey = `exactDedup:${JSON.stringify([key, steps])}`;
  const missingOf = missingKeyField(key);
  let missing = 0;

  let index: DedupIndex | undefined;
  let stats = newStats();
  /** Members per cluster, by kept source; only records that have duplicates cost an entry. */
  let clusters = new Map<string, number>();
  let shapes = new ShapeTally();

  const stage = batchStage("exactDedup", {
    async batch(items, ctx) {
      if (index === undefined) {
        index = options.index ?? new MemoryDedupIndex();
        stats = newStats();
        clusters = new Map();
        missing = 0;
        shapes = new ShapeTally();
      }
      const out: Envelope[] = [];
      for (const item of items) {
        const fact = takeFact<Uint32Array | null>(item.source, preparedKey);
        const lacks = fact === null || fact === undefined ? missingOf?.(item.data) : undefined;
        if (lacks !== undefined) {
          missing++;
          ctx.reject(item, missingKeyReason(lacks, key as readonly string[]));
          continue;
        }
        stats.records++;
        if (key === "text") shapes.note(item.data, item.source);
        if (fact) hash.set(fact);
        else hashOf(item.data, hash);
        const found = index.firstSeen(hash, item.source);
        const kept = isThenable(found) ? await found : found;
        if (kept === undefined) {
          out.push(mode === "flag" ? withOwnCluster(item) : item);
          continue;
        }
        stats.duplicates++;
        const cluster = clusterId(kept);
        const size = (clusters.get(cluster) ?? 1) + 1;
        clusters.set(cluster, size);
        if (size > stats.largestCluster) stats.largestCluster = size;
        const of = { source: kept, method: "exact", similarity: 1, cluster };
        if (mode === "remove") ctx.duplicate(item, of);
        else {
          const [flagged, issue] = flagDuplicate(item, of, "exact_duplicate");
          ctx.warn(flagged, issue);
          out.push(flagged);
        }
      }
      return out;
    },
    async close() {
      const used: DedupIndex | undefined = index;
      if (used === undefined) return;
      index = undefined;
      stats.clusters = clusters.size;
      if (stats.largestCluster === 0 && stats.records > 0) stats.largestCluster = 1;
      if (used instanceof MemoryDedupIndex) stats.indexBytes = used.bytes;
      const unrecognized = shapes.result();
      if (unrecognized !== undefined) stats.unrecognized = unrecognized;
      if (used !== options.index) await used.close?.();
      clusters = new Map();
      if (missing > 0 && stats.records === 0) throw noRecordHasKey(key as readonly string[]);
    },
  });
  return withPreparer(
    withStats(stage, () => stats),
    {
      key: preparedKey,
      prepare(items) {
        const hashes = new Uint32Array(items.length * 4);
        return items.map((item, i) => {
          if (missingOf?.(item.data) !== undefined) return null;
          const view = hashes.subarray(i * 4, i * 4 + 4);
          hashOf(item.data, view);
          return view;
        });
      },
      pass: (item, fact) => (fact === null ? undefined : item),
    },
  );
}
