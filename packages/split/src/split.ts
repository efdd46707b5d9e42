import { availableParallelism } from "node:os";
import {
  type ClusterLinks,
  CurateError,
  type Envelope,
  rememberJson,
  type Source,
  type Stage,
  type StageContext,
  UsageError,
} from "@curate/core";
import { trainingText } from "@curate/formats";
import { contentHash, contentHashOf, normalizeText, stableJson, unitPosition } from "./hash.js";
import { type LeakResponse, NgramWorker, TextBatch } from "./leak-pool.js";
import { NgramHashes, NgramIndex, ngramHashes } from "./ngram.js";
import { type FieldPath, parseFieldPath, valueAt } from "./path.js";
import { roundTable } from "./rounding.js";
import { checkRatios, checkSizes, parseRatios, type SplitTarget } from "./spec.js";
import { Spill, type SpilledRecord } from "./spill.js";

/**
 * The split used when none is given.
 * @example split({ ratios: DEFAULT_RATIOS });
 */
export const DEFAULT_RATIOS = "train=0.9,validation=0.05,test=0.05";

export interface SplitOptions {
  /**
   * Fractions per split, in order: `{ train: 0.9, validation: 0.05, test: 0.05 }` or `"train=0.9,test=0.1"`.
   * Default `train=0.9,validation=0.05,test=0.05`. Not together with `sizes`.
   */
  readonly ratios?: Readonly<Record<string, number>> | string;
  /** Absolute held-out sizes in records, e.g. `{ test: 500, validation: 500 }`; the training split gets the rest. */
  readonly sizes?: Readonly<Record<string, number>>;
  /** Name of the training split (default `train`; in ratio mode without a `train`, the first split). */
  readonly train?: string;
  /** Seed mixed into every position; another seed gives another, equally valid split. Default `0`. */
  readonly seed?: string | number;
  /** Field path whose value identifies a record (`id`, `meta.uid`). Default: the record's content hash. */
  readonly key?: string;
  /** Field path to stratify by: each stratum gets the split proportions within one record. */
  readonly stratifyBy?: string;
  /** Field path naming a group (`conversation_id`) that must never straddle two splits. */
  readonly groupBy?: string;
  /** Keep records that share `meta.cluster` (a near-duplicate cluster from dedup) in one split. Default true. */
  readonly keepClusters?: boolean;
  /**
   * Overlap check between the training split and each held-out split: exact (normalised content) and word
   * n-grams. Default `{ ngram: 13 }`; `false` turns it off.
   */
  readonly leakage?: false | { readonly ngram?: number; readonly examples?: number };
  /** Folder for the temp file that holds records between the two passes (default: the OS temp folder). */
  readonly tempDir?: string;
  /** Serialised bytes held in memory before records spill to the temp file (default 64 MiB). */
  readonly memoryBytes?: number;
  /**
   * Worker threads for the leakage check's n-gram work (hashing, index, lookups): 0 runs it on the calling thread,
   * 1 or more on one worker (the index is one table). Default: a worker when the machine has more than one core
   * and at least 5,000 records reach the stage. The output is the same either way.
   */
  readonly threads?: number;
  /** Called once with the report when the stage has yielded its last record. */
  readonly onReport?: (report: SplitReport) => void;
}

/** Per split: the target and what it got. */
export interface SplitSummary {
  readonly name: string;
  /** Ratio mode: the fraction. Size mode: the requested size (the training split: the records left over). */
  readonly target: number;
  readonly records: number;
  /** Assignment units (records, groups or clusters) in the split. */
  readonly units: number;
}

/** One stratum: its records and how they were divided, with the fractional targets they were rounded from. */
export interface StratumSummary {
  /** The stratum's value as text; null for records without the field. */
  readonly value: string | null;
  readonly records: number;
  readonly counts: Readonly<Record<string, number>>;
  readonly targets: Readonly<Record<string, number>>;
}

/** A held-out record that overlaps the training split, and one training record it overlaps. */
export interface LeakExample {
  readonly kind: "exact" | "ngram";
  readonly heldOut: Source;
  readonly train: Source;
}

/** Overlap between the training split and one held-out split. */
export interface SplitLeakage {
  readonly records: number;
  /** Held-out records whose normalised content equals a training record's. */
  readonly exact: number;
  /** Held-out records sharing at least one word n-gram with a training record (exact ones included). */
  readonly ngram: number;
  readonly examples: readonly LeakExample[];
}

export interface LeakageReport {
  readonly ngram: number;
  readonly train: string;
  readonly splits: Readonly<Record<string, SplitLeakage>>;
}

/** What the split stage did, for the manifest. */
export interface SplitReport {
  readonly mode: "ratio" | "size";
  readonly seed: string;
  /** `content` (the content hash) or the key's field path. */
  readonly key: string;
  readonly stratifyBy?: string;
  readonly groupBy?: string;
  readonly keepClusters: boolean;
  readonly train: string;
  readonly records: number;
  /** Assignment units: records, or groups and clusters, each placed whole. */
  readonly units: number;
  readonly splits: readonly SplitSummary[];
  /** Records whose key, stratum or group field was missing (they fell back to the content hash / own stratum). */
  readonly missing: { readonly key: number; readonly stratum: number; readonly group: number };
  /** Units (records, copies or groups) folded into another because they shared a near-duplicate cluster. */
  readonly joinedByClusters: number;
  /** Per stratum (first 1,000 by value), when stratified. */
  readonly strata?: readonly StratumSummary[];
  readonly strataCount?: number;
  readonly leakage?: LeakageReport;
  /**
   * Memory held per record between the passes (typed arrays), bytes spilled to disk, and the leakage check's
   * n-gram index at its largest (it grows with the held-out splits: 1–2 KB per held-out record of English prose).
   */
  readonly memory: { readonly bytesPerRecord: number; readonly spillBytes: number; readonly leakageIndexBytes: number };
}

/** The split stage: a Stage that also tells the writer its split names and, after a run, its report. */
export interface SplitStage extends Stage {
  /** Split names in file order (the training split first). */
  readonly splits: readonly string[];
  /** The training split's name. */
  readonly train: string;
  /** The last finished run's report (undefined before a run completes). */
  readonly report: SplitReport | undefined;
}

const MAX_STRATA_IN_REPORT = 1000;

/** A growable typed array: 8 bytes per value, not the 16+ of a JS array that has held a non-integer. */
class Float64Column {
  values = new Float64Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const next = new Float64Array(this.values.length * 2);
      next.set(this.values);
      this.values = next;
    }
    this.values[this.length++] = value;
  }
}

class Int32Column {
  values = new Int32Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const next = new Int32Array(this.values.length * 2);
      next.set(this.values);
      this.values = next;
    }
    this.values[this.length++] = value;
  }
}

function label(value: unknown): string {
  return typeof value === "string" ? value : stableJson(value);
}

/**
 * Assigns every record to a split, deterministically from a hash of (seed, key), and yields it with
 * `meta.split` set. Nothing is rejected or dropped: every record comes out with a split.
 *
 * A unit is what is placed whole: a record, all records with the same key (by default: exact copies of one
 * text), or a group (`groupBy`); units whose records share a near-duplicate cluster (`meta.cluster`) are joined
 * and take a position hashed from their smallest member's (cluster names and clusters of one change nothing).
 *
 * - Ratio mode: a unit's split is decided by its position alone, so adding records never moves an existing one
 *   (append-stable); each split's size is its ratio up to sampling noise (binomial, ±2√(n·p·(1−p))).
 * - Stratified (`stratifyBy`): per stratum, targets are rounded consistently (every cell its target rounded down
 *   or up, split totals too); each held-out split then takes the stratum's units by position, skipping a unit
 *   that would overflow it, and the training split takes the rest. With single-record units every stratum is
 *   within one record of its target; multi-record units are absorbed by smaller ones where any exist.
 *   Appending can move old units that sit next to a cut; typically O(√new) per cut and stratum.
 * - Size mode (`sizes`): the same, with one stratum (or the strata) and exact held-out sizes, filled in the
 *   order given; the training split gets the rest. With single-record units, appending never moves an old
 *   training record into a held-out split and moves held-out records only later in that order (test →
 *   validation → train), at most as many as were added; a multi-record unit near a cut can move either way.
 *
 * The split a record gets does not depend on input order (positions are hashes, ties are whole units, strata
 * are ordered by value); the order of records within each split follows the input. Two passes: records spill
 * to a temp file (past `memoryBytes`) while typed arrays hold 9 bytes per record (position, split), +4 with
 * strata, +4 when ranking is needed (stratified or size mode), +16 per record with a cluster; the leakage check
 * indexes held-out records only (1–2 KB per held-out record of English prose, `report.memory.leakageIndexBytes`),
 * its n-gram work on a worker thread (`threads`) with the same result as in-thread.
 * @example
 * await pipeline([readInputs(["data.jsonl"]), split({ ratios: "train=0.9,test=0.1", seed: 7, groupBy: "conversation_id" })])
 *   .run({ out: "out" });
 */
export function split(options: SplitOptions = {}): SplitStage {
  if (options.ratios !== undefined && options.sizes !== undefined) {
    throw new UsageError("split(): give either ratios (--split) or absolute sizes (--test-size …), not both");
  }
  const mode: "ratio" | "size" = options.sizes !== undefined ? "size" : "ratio";
  let targets: SplitTarget[];
  let train: string;
  if (mode === "size") {
    train = options.train ?? "train";
    targets = checkSizes(options.sizes!, train);
  } else {
    const ratios = options.ratios ?? DEFAULT_RATIOS;
    targets = checkRatios(typeof ratios === "string" ? parseRatios(ratios) : ratios);
    train = options.train ?? (targets.some((t) => t.name === "train") ? "train" : targets[0]!.name);
    if (!targets.some((t) => t.name === train)) {
      throw new UsageError(
        `split(): the training split "${train}" is not among ${targets.map((t) => t.name).join(", ")}`,
      );
    }
  }
  const seed = String(options.seed ?? 0);
  const keyPath = options.key === undefined ? undefined : parseFieldPath(options.key, "--key");
  const stratumPath =
    options.stratifyBy === undefined ? undefined : parseFieldPath(options.stratifyBy, "--stratify-by");
  const groupPath = options.groupBy === undefined ? undefined : parseFieldPath(options.groupBy, "--group-by");
  const keepClusters = options.keepClusters ?? true;
  const leakage = options.leakage === false ? undefined : { ngram: 13, examples: 5, ...options.leakage };
  if (leakage && (!Number.isSafeInteger(leakage.ngram) || leakage.ngram < 1)) {
    throw new UsageError(`split(): leakage.ngram must be a whole number ≥ 1, found ${String(leakage.ngram)}`);
  }
  if (options.threads !== undefined && !(Number.isSafeInteger(options.threads) && options.threads >= 0)) {
    throw new UsageError(`split(): threads must be a whole number ≥ 0, found ${String(options.threads)}`);
  }
  if (options.memoryBytes !== undefined && !(options.memoryBytes >= 0)) {
    throw new UsageError(`split(): memoryBytes must be ≥ 0, found ${String(options.memoryBytes)}`);
  }

  const settings: Settings = {
    mode,
    targets,
    train,
    seed,
    keyPath,
    stratumPath,
    groupPath,
    keepClusters,
    leakage,
    options,
  };
  const state: { report: SplitReport | undefined } = { report: undefined };
  const stage = async function* split(source: AsyncIterable<Envelope>, ctx: StageContext) {
    const report = yield* runSplit(settings, source, ctx);
    state.report = report;
    options.onReport?.(report);
  };
  // Files are written training split first, then the held-out splits in the order given.
  const names = [train, ...targets.map((t) => t.name).filter((n) => n !== train)];
  return Object.defineProperties(stage, {
    splits: { value: names, enumerable: true },
    train: { value: train, enumerable: true },
    report: { get: () => state.report, enumerable: true },
  }) as unknown as SplitStage;
}

interface Settings {
  readonly mode: "ratio" | "size";
  readonly targets: readonly SplitTarget[];
  readonly train: string;
  readonly seed: string;
  readonly keyPath: FieldPath | undefined;
  readonly stratumPath: FieldPath | undefined;
  readonly groupPath: FieldPath | undefined;
  readonly keepClusters: boolean;
  readonly leakage: { readonly ngram: number; readonly examples: number } | undefined;
  readonly options: SplitOptions;
}

function missingIssue(code: string, option: string, path: string, fallback: string) {
  return {
    code,
    severity: "warning" as const,
    path,
    message: `${option} ${path}: field missing; ${fallback}`,
    expected: "a value",
    found: "nothing (field missing)",
  };
}

async function* runSplit(
  settings: Settings,
  source: AsyncIterable<Envelope>,
  ctx: StageContext,
): AsyncGenerator<Envelope, SplitReport> {
  const { targets, seed, keyPath, stratumPath, groupPath } = settings;
  // Ratio mode needs no state across records (a unit's split is its position's), so shards agree by
  // construction; ranking needs every record, so the other modes refuse to run on one shard of many.
  if (ctx.shard && ctx.shard.count > 1 && (settings.mode === "size" || stratumPath)) {
    throw new UsageError(
      "split: stratified and absolute-size splits rank all records together and cannot run sharded; use ratio mode without --stratify-by on shards",
    );
  }
  const spill = new Spill({
    ...(settings.options.tempDir !== undefined ? { dir: settings.options.tempDir } : {}),
    ...(settings.options.memoryBytes !== undefined ? { memoryBytes: settings.options.memoryBytes } : {}),
  });
  const positions = new Float64Column();
  const strata = stratumPath ? new Int32Column() : undefined;
  const strataIds = new Map<string, number>();
  const strataLabels: (string | null)[] = [];
  // Per record with a near-duplicate cluster: the cluster's hash and the record's own unit position. Typed
  // arrays (16 bytes per clustered record), because dedup's flag mode gives every record a cluster of its own.
  const clusterHashes = new Float64Column();
  const clusterOwners = new Float64Column();
  const missing = { key: 0, stratum: 0, group: 0 };
  const keyName = settings.options.key ?? "content";
  let check: LeakageCheck | undefined;

  try {
    // Pass 1: store every record, remember only its unit's position (and stratum).
    for await (const item of source) {
      const data = item.data;
      let recordKey: string | undefined;
      let hash: string | undefined;
      if (keyPath) {
        const value = valueAt(data, keyPath);
        if (value === undefined || value === null) {
          missing.key++;
          ctx.warn(item, missingIssue("split_key_missing", "--key", keyName, "the content hash is used instead"));
        } else recordKey = `r:${stableJson(value)}`;
      }
      if (recordKey === undefined) {
        hash = contentHash(data);
        recordKey = `r:${hash}`;
      }
      // The content hash travels with the record, for the leakage check's exact comparison in pass 2.
      spill.append(item, hash);

      const cluster = settings.keepClusters ? item.meta?.cluster : undefined;
      const clusterKey = typeof cluster === "string" || typeof cluster === "number" ? `m:${cluster}` : undefined;
      let groupKey: string | undefined;
      if (groupPath) {
        const value = valueAt(data, groupPath);
        if (value === undefined || value === null) {
          missing.group++;
          ctx.warn(
            item,
            missingIssue("split_group_missing", "--group-by", settings.options.groupBy!, "the record is its own group"),
          );
        } else groupKey = `g:${stableJson(value)}`;
      }
      // A cluster never gives a position of its own (its id names the kept record's file and line, which
      // depend on input order and file names): it only joins the units of its members.
      const position = unitPosition(seed, groupKey ?? recordKey);
      if (clusterKey !== undefined) {
        clusterHashes.push(unitPosition("", clusterKey));
        clusterOwners.push(position);
      }
      positions.push(position);

      if (strata) {
        const value = valueAt(data, stratumPath!);
        let id: number | undefined;
        const mapKey = value === undefined || value === null ? "" : `=${label(value)}`;
        id = strataIds.get(mapKey);
        if (id === undefined) {
          id = strataLabels.length;
          strataIds.set(mapKey, id);
          strataLabels.push(mapKey === "" ? null : mapKey.slice(1));
        }
        if (mapKey === "") {
          missing.stratum++;
          ctx.warn(
            item,
            missingIssue(
              "split_stratum_missing",
              "--stratify-by",
              settings.options.stratifyBy!,
              "the record joins the stratum of records without it",
            ),
          );
        }
        strata.push(id);
      }
    }

    const n = spill.count;
    const pos = positions.values.subarray(0, n);
    // Clusters that merged after some of their records passed (A~B, C~D, then E~B and E~D): every record goes by
    // the id its cluster has now, before a single record is assigned, so no cluster straddles two splits.
    if (ctx.clusters && ctx.clusters.size > 0 && clusterHashes.length > 0) {
      resolveClusters(clusterHashes.values.subarray(0, clusterHashes.length), ctx.clusters);
    }
    const joinedByClusters =
      clusterHashes.length > 0
        ? joinClusters(
            pos,
            clusterHashes.values.subarray(0, clusterHashes.length),
            clusterOwners.values.subarray(0, clusterOwners.length),
          )
        : 0;

    // Strata are numbered by value, not by first appearance, so that input order cannot matter.
    let stratumOf: Int32Array | undefined;
    let sortedLabels: (string | null)[] = [];
    if (strata) {
      const order = strataLabels.map((_, i) => i).sort((a, b) => compareLabels(strataLabels[a]!, strataLabels[b]!));
      const rank = new Int32Array(order.length);
      order.forEach((id, r) => {
        rank[id] = r;
      });
      sortedLabels = order.map((id) => strataLabels[id]!);
      stratumOf = strata.values.subarray(0, n).map((id) => rank[id]!);
    }

    const assignment = assign(settings, pos, stratumOf, sortedLabels.length);
    const { splitOf } = assignment;
    const trainIndex = targets.findIndex((t) => t.name === settings.train);
    const perSplit = targets.map(() => 0);
    for (let i = 0; i < n; i++) perSplit[splitOf[i]!]!++;

    // Pass 2: yield every record with its split. With the leakage check on, held-out records come first (they
    // fill the index that training records are checked against); each split's records stay in input order.
    // The record read back is this stage's own: its envelope is built once, with the split, and its data's JSON
    // (as stored) goes to the writer, which then need not serialise the record again.
    const tag = (record: SpilledRecord, j: number): Envelope => {
      rememberJson(record.data, record.json);
      return { data: record.data, source: record.source, meta: { ...record.meta, split: targets[j]!.name } };
    };
    let leakageReport: LeakageReport | undefined;
    let leakageIndexBytes = 0;
    const heldOutCount = n - perSplit[trainIndex]!;
    if (settings.leakage && heldOutCount > 0 && perSplit[trainIndex]! > 0) {
      const { ngram, examples } = settings.leakage;
      const worker = leakageOnWorker(settings.options.threads, n)
        ? await NgramWorker.start(ngram, leakageCapacity(heldOutCount))
        : undefined;
      check = new LeakageCheck(ngram, examples, heldOutCount, worker);
      for (const record of spill.records((i) => splitOf[i] !== trainIndex)) {
        const wait = check.addHeldOut(record, splitOf[record.index]!);
        if (wait) await wait;
        yield tag(record, splitOf[record.index]!);
      }
      for (const record of spill.records((i) => splitOf[i] === trainIndex)) {
        const wait = check.checkTrain(record);
        if (wait) await wait;
        yield tag(record, trainIndex);
      }
      await check.finish();
      leakageReport = check.report(targets, trainIndex, perSplit);
      leakageIndexBytes = check.indexBytes;
    } else {
      for (const record of spill.records()) yield tag(record, splitOf[record.index]!);
      if (settings.leakage) leakageReport = emptyLeakage(settings, targets, trainIndex, perSplit);
    }

    const perRecord = 8 + 1 + (strata ? 4 : 0) + (assignment.sorted ? 4 : 0);
    const bytesPerRecord = n === 0 ? perRecord : Math.round((perRecord + (16 * clusterHashes.length) / n) * 10) / 10;
    return {
      mode: settings.mode,
      seed,
      key: keyName,
      ...(settings.options.stratifyBy !== undefined ? { stratifyBy: settings.options.stratifyBy } : {}),
      ...(settings.options.groupBy !== undefined ? { groupBy: settings.options.groupBy } : {}),
      keepClusters: settings.keepClusters,
      train: settings.train,
      records: n,
      units: assignment.units,
      splits: targets.map((t, j) => ({
        name: t.name,
        target: t.value < 0 ? n - targets.reduce((sum, x) => sum + Math.max(0, x.value), 0) : t.value,
        records: perSplit[j]!,
        units: assignment.unitsPerSplit[j]!,
      })),
      missing,
      joinedByClusters,
      ...(strata
        ? {
            strata: assignment.strata.slice(0, MAX_STRATA_IN_REPORT).map((s, index) => ({
              value: sortedLabels[index]!,
              records: s.records,
              counts: Object.fromEntries(targets.map((t, j) => [t.name, s.counts[j]!])),
              targets: Object.fromEntries(targets.map((t, j) => [t.name, round6(s.targets[j]!)])),
            })),
            strataCount: sortedLabels.length,
          }
        : {}),
      ...(leakageReport ? { leakage: leakageReport } : {}),
      memory: { bytesPerRecord, spillBytes: spill.diskBytes, leakageIndexBytes },
    } satisfies SplitReport;
  } finally {
    spill.dispose();
    await check?.close();
  }
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Orders stratum labels by value; records without the field (null) come first. */
function compareLabels(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** Rewrites each cluster hash of a merged cluster to the hash of the cluster it merged into. */
function resolveClusters(hashes: Float64Array, links: ClusterLinks): void {
  const renamed = new Map<number, number>();
  for (const [id, root] of links.aliases()) renamed.set(unitPosition("", `m:${id}`), unitPosition("", `m:${root}`));
  for (let i = 0; i < hashes.length; i++) {
    const to = renamed.get(hashes[i]!);
    if (to !== undefined) hashes[i] = to;
  }
}

/**
 * Joins the units of each near-duplicate cluster (union–find over unit positions): every record of a joined
 * component takes the component's smallest unit position, so the result depends on which records share a
 * cluster, never on the cluster's name or on input order, and a cluster of one changes nothing. Returns how
 * many units were folded into another.
 */
function joinClusters(pos: Float64Array, clusters: Float64Array, owners: Float64Array): number {
  const order = new Uint32Array(clusters.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => clusters[a]! - clusters[b]! || owners[a]! - owners[b]!);
  const parent = new Map<number, number>();
  const find = (x: number): number => {
    let root = x;
    while (parent.get(root) !== root) root = parent.get(root)!;
    let node = x;
    while (node !== root) {
      const up = parent.get(node)!;
      parent.set(node, root);
      node = up;
    }
    return root;
  };
  for (let r = 1; r < order.length; r++) {
    const i = order[r]!;
    const previous = order[r - 1]!;
    if (clusters[i] !== clusters[previous] || owners[i] === owners[previous]) continue;
    for (const p of [owners[i]!, owners[previous]!]) if (!parent.has(p)) parent.set(p, p);
    const a = find(owners[i]!);
    const b = find(owners[previous]!);
    // The smaller position becomes the root, so a component's root is its smallest member's position.
    if (a < b) parent.set(b, a);
    else if (b < a) parent.set(a, b);
  }
  if (parent.size === 0) return 0;
  // A component goes by a hash of its smallest member's position, not by that position itself: the minimum of k
  // uniform positions is skewed towards 0, which put ~97% of five-record clusters in the first split.
  const roots = new Map<number, number>();
  for (const p of parent.keys()) {
    const root = find(p);
    if (!roots.has(root)) roots.set(root, unitPosition("", `j:${root}`));
  }
  for (let i = 0; i < pos.length; i++) {
    if (parent.has(pos[i]!)) pos[i] = roots.get(find(pos[i]!))!;
  }
  return parent.size - roots.size;
}

interface Assignment {
  readonly splitOf: Uint8Array;
  readonly units: number;
  readonly unitsPerSplit: number[];
  readonly strata: { records: number; counts: number[]; targets: number[] }[];
  /** Whether an order array (4 bytes per record) was needed. */
  readonly sorted: boolean;
}

function assign(
  settings: Settings,
  pos: Float64Array,
  stratumOf: Int32Array | undefined,
  strataCount: number,
): Assignment {
  const { targets, mode } = settings;
  const n = pos.length;
  const splitOf = new Uint8Array(n);
  const unitsPerSplit = targets.map(() => 0);

  if (mode === "ratio" && !stratumOf) {
    // Fixed thresholds on the position: append-stable by construction.
    const bounds: number[] = [];
    let cumulative = 0;
    for (const t of targets) {
      cumulative += t.value;
      bounds.push(cumulative);
    }
    bounds[bounds.length - 1] = Number.POSITIVE_INFINITY;
    const splitAt = (p: number) => {
      let j = 0;
      while (p >= bounds[j]!) j++;
      return j;
    };
    for (let i = 0; i < n; i++) splitOf[i] = splitAt(pos[i]!);
    // Units are distinct positions; a sorted copy counts them without a Set (8 transient bytes per record).
    const sorted = Float64Array.from(pos).sort();
    let units = 0;
    for (let r = 0; r < n; r++) {
      if (r > 0 && sorted[r] === sorted[r - 1]) continue;
      units++;
      unitsPerSplit[splitAt(sorted[r]!)]!++;
    }
    return { splitOf, units, unitsPerSplit, strata: [], sorted: false };
  }

  // Rank records by position; a unit is a run of equal positions.
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => pos[a]! - pos[b]! || a - b);
  const unitStart: number[] = [];
  for (let r = 0; r < n; r++) if (r === 0 || pos[order[r]!] !== pos[order[r - 1]!]) unitStart.push(r);
  const unitCount = unitStart.length;
  unitStart.push(n);

  // A unit's stratum: the most common among its records, ties to the smallest value — order-independent.
  const strataTotal = Math.max(1, strataCount);
  const unitStratum = new Int32Array(unitCount);
  if (stratumOf) {
    for (let u = 0; u < unitCount; u++) {
      const from = unitStart[u]!;
      const to = unitStart[u + 1]!;
      if (to - from === 1) {
        unitStratum[u] = stratumOf[order[from]!]!;
        continue;
      }
      const tally = new Map<number, number>();
      for (let r = from; r < to; r++) {
        const s = stratumOf[order[r]!]!;
        tally.set(s, (tally.get(s) ?? 0) + 1);
      }
      let best = -1;
      let bestCount = 0;
      for (const [s, c] of tally) if (c > bestCount || (c === bestCount && s < best)) [best, bestCount] = [s, c];
      unitStratum[u] = best;
    }
  }

  const records = new Array<number>(strataTotal).fill(0);
  for (let u = 0; u < unitCount; u++) records[unitStratum[u]!]! += unitStart[u + 1]! - unitStart[u]!;

  // Fractional targets per stratum and split, then one consistent whole-number rounding of the table.
  let shares: number[];
  if (mode === "ratio") {
    shares = targets.map((t) => t.value);
  } else {
    const heldOut = targets.reduce((sum, t) => sum + Math.max(0, t.value), 0);
    if (heldOut > n && n > 0) {
      const asked = targets
        .filter((t) => t.value >= 0)
        .map((t) => `${t.name} ${t.value}`)
        .join(" + ");
      throw new CurateError(
        "CURATE_SPLIT_SIZE",
        `split: the held-out sizes (${asked} = ${heldOut}) exceed the ${n} records that reached the split stage`,
        { exitCode: 2 },
      );
    }
    shares = targets.map((t) => (n === 0 ? 0 : (t.value < 0 ? n - heldOut : t.value) / n));
  }
  const table = records.map((r) => cellTargets(r, shares));
  const counts = roundTable(table, records);

  // Fill each stratum's held-out splits, in the order given, with its units in position order, skipping a unit
  // that would overflow the split's count (a group, or copies of one text) so that smaller units behind it can
  // fill the split exactly; the training split takes every unit left. With single-record units this is a cut
  // at the rounded counts.
  const trainIndex = targets.findIndex((t) => t.name === settings.train);
  const byStratum: number[][] = Array.from({ length: strataTotal }, () => []);
  for (let u = 0; u < unitCount; u++) byStratum[unitStratum[u]!]!.push(u);
  const unitSplit = new Int8Array(unitCount).fill(-1);
  byStratum.forEach((units, s) => {
    targets.forEach((_, j) => {
      if (j === trainIndex) return;
      let room = counts[s]![j]!;
      for (let k = 0; k < units.length && room > 0; k++) {
        const u = units[k]!;
        const size = unitStart[u + 1]! - unitStart[u]!;
        if (unitSplit[u] !== -1 || size > room) continue;
        unitSplit[u] = j;
        room -= size;
      }
    });
  });
  for (let u = 0; u < unitCount; u++) {
    const j = unitSplit[u] === -1 ? trainIndex : unitSplit[u]!;
    unitsPerSplit[j]!++;
    for (let r = unitStart[u]!; r < unitStart[u + 1]!; r++) splitOf[order[r]!] = j;
  }

  const strata = records.map((r, s) => {
    const got = targets.map(() => 0);
    return { records: r, counts: got, targets: table[s]! };
  });
  for (let i = 0; i < n; i++) strata[stratumOf ? stratumOf[i]! : 0]!.counts[splitOf[i]!]!++;
  return { splitOf, units: unitCount, unitsPerSplit, strata, sorted: true };
}

/** `records × share` per split, built from cumulative shares so the row sums to `records` exactly. */
function cellTargets(records: number, shares: readonly number[]): number[] {
  const cells: number[] = [];
  let cumulative = 0;
  let previous = 0;
  shares.forEach((share, j) => {
    cumulative += share;
    const upTo = j === shares.length - 1 ? records : Math.min(records, records * cumulative);
    cells.push(Math.max(0, upTo - previous));
    previous = upTo;
  });
  return cells;
}

function emptyLeakage(
  settings: Settings,
  targets: readonly SplitTarget[],
  trainIndex: number,
  perSplit: readonly number[],
): LeakageReport {
  const splits: Record<string, SplitLeakage> = {};
  targets.forEach((t, j) => {
    if (j !== trainIndex) splits[t.name] = { records: perSplit[j]!, exact: 0, ngram: 0, examples: [] };
  });
  return { ngram: settings.leakage!.ngram, train: settings.train, splits };
}

/** What the leakage check reads of a record: its data and source, and its content hash if pass 1 computed it. */
interface LeakageItem {
  readonly data: unknown;
  readonly source: Source;
  /** The content hash (`contentHash(data)`), or "" to compute it here. */
  readonly note?: string;
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Texts per message to the leakage worker, and messages in flight before the main thread waits for the oldest:
 * enough to keep the worker busy while the main thread writes, few enough that queued texts stay a few MB.
 */
const WORKER_BATCH = 256;
const WORKER_BATCH_BYTES = 512 << 10;
const WORKER_IN_FLIGHT = 8;
/** Below this many records a worker's start-up (~30–50 ms) costs more than the n-gram work it takes over. */
const WORKER_MIN_RECORDS = 5000;

/** A batch sent to the worker, with what its results are applied to when they come back (in send order). */
interface InFlight {
  readonly promise: Promise<LeakResponse>;
  /** For a training batch: each record's source and exact-copy documents; undefined for a held-out batch. */
  readonly sources?: readonly Source[];
  readonly exactDocs?: readonly (readonly number[] | undefined)[];
}

/**
 * Exact and n-gram overlap between held-out records (indexed first) and training records (checked after).
 * Memory grows with the held-out splits only: one Map entry per held-out record, and the n-gram table.
 *
 * The n-gram work (hashing every record, the index, the lookups: ~10% of `curate run`'s main thread at 100k
 * records) runs on a worker thread when one is given, so it overlaps the main thread reading records back and
 * writing them; the exact check and all bookkeeping stay here, and the worker's results are applied record by
 * record in input order, so the report is the same as in-thread, whatever the timing.
 */
class LeakageCheck {
  private readonly exactIndex = new Map<string, number[]>();
  private readonly ngrams: NgramIndex | undefined;
  private readonly hashes = new NgramHashes();
  private readonly heldSplit: Uint8Array;
  private readonly heldSource: Source[] = [];
  private readonly exact: Uint8Array;
  private readonly overlap: Uint8Array;
  /** Per held-out split: up to `maxExamples` examples, one per held-out record (an exact copy wins over an n-gram). */
  private readonly examples: { doc: number; example: LeakExample }[][] = [];
  private count = 0;
  /** In-thread: the documents one training record's n-grams hand out. */
  private readonly found: number[] = [];
  private readonly collect = (doc: number): void => {
    this.found.push(doc);
  };
  // Worker mode: the batch being filled and the batches sent.
  private readonly texts = new TextBatch();
  private sources: Source[] = [];
  private exactDocs: (readonly number[] | undefined)[] = [];
  private indexing = true;
  private readonly inFlight: InFlight[] = [];
  /** Bytes of the n-gram index, known after `finish`. */
  indexBytes = 0;

  constructor(
    private readonly n: number,
    private readonly maxExamples: number,
    heldOut: number,
    private readonly worker: NgramWorker | undefined,
  ) {
    if (!worker) this.ngrams = new NgramIndex(leakageCapacity(heldOut));
    this.heldSplit = new Uint8Array(heldOut);
    this.exact = new Uint8Array(heldOut);
    this.overlap = new Uint8Array(heldOut);
  }

  /** Indexes one held-out record. A promise means: await it before the next call (the worker is behind). */
  addHeldOut(item: LeakageItem, split: number): Promise<void> | undefined {
    const doc = this.count++;
    this.heldSplit[doc] = split;
    this.heldSource.push(item.source);
    const raw = trainingText(item.data);
    const hash = this.hashOf(item, raw);
    const docs = this.exactIndex.get(hash);
    if (docs) docs.push(doc);
    else this.exactIndex.set(hash, [doc]);
    if (!this.worker) {
      this.ngrams!.addAll(this.hashes, doc);
      return undefined;
    }
    this.texts.push(raw);
    return this.texts.count === WORKER_BATCH || this.texts.size >= WORKER_BATCH_BYTES ? this.sendAndPace() : undefined;
  }

  /** Checks one training record. A promise means: await it before the next call (the worker is behind). */
  checkTrain(item: LeakageItem): Promise<void> | undefined {
    if (this.indexing) {
      // The last held-out batch goes before the first training one: the worker answers in order.
      if (this.worker && this.texts.count > 0) this.send();
      this.indexing = false;
    }
    const raw = trainingText(item.data);
    const exactDocs = this.exactIndex.get(this.hashOf(item, raw));
    if (!this.worker) {
      this.found.length = 0;
      this.ngrams!.takeAll(this.hashes, this.collect);
      this.settle(item.source, exactDocs, this.found, 0, this.found.length);
      return undefined;
    }
    this.texts.push(raw);
    this.sources.push(item.source);
    this.exactDocs.push(exactDocs);
    return this.texts.count === WORKER_BATCH || this.texts.size >= WORKER_BATCH_BYTES ? this.sendAndPace() : undefined;
  }

  /** Sends the batch being filled; returns a wait when too many batches are in flight. */
  private sendAndPace(): Promise<void> | undefined {
    this.send();
    return this.inFlight.length > WORKER_IN_FLIGHT ? this.applyOldest() : undefined;
  }

  /** Sends the batch being filled. */
  private send(): void {
    const first = this.count - this.texts.count;
    const texts = this.texts.take();
    if (this.indexing) this.inFlight.push({ promise: this.worker!.add(texts, first) });
    else {
      this.inFlight.push({ promise: this.worker!.check(texts), sources: this.sources, exactDocs: this.exactDocs });
      this.sources = [];
      this.exactDocs = [];
    }
  }

  /** Waits for the oldest batch in flight and applies its results. */
  private async applyOldest(): Promise<void> {
    const batch = this.inFlight.shift()!;
    const { offsets, docs } = await batch.promise;
    const { sources, exactDocs } = batch;
    if (!sources || !exactDocs) return;
    for (let k = 0; k < sources.length; k++) {
      this.settle(sources[k]!, exactDocs[k], docs!, offsets![k]!, offsets![k + 1]!);
    }
  }

  /** Applies what the worker still has in flight and reads the index's size; call once, after the last record. */
  async finish(): Promise<void> {
    if (this.worker) {
      if (this.texts.count > 0) this.send();
      while (this.inFlight.length > 0) await this.applyOldest();
      this.indexBytes = await this.worker.bytes();
    } else this.indexBytes = this.ngrams!.bytes;
  }

  /** Stops the worker, if any; safe after an early exit. */
  async close(): Promise<void> {
    this.inFlight.length = 0;
    await this.worker?.close();
  }

  /**
   * One training record's results, in the in-thread order: its exact copies first, then the documents its n-grams
   * handed out (`docs[from, to)`), each noted once.
   */
  private settle(
    train: Source,
    exactDocs: readonly number[] | undefined,
    docs: ArrayLike<number>,
    from: number,
    to: number,
  ): void {
    if (exactDocs) {
      for (const doc of exactDocs) {
        if (this.exact[doc]) continue;
        this.exact[doc] = 1;
        this.note(doc, "exact", train);
      }
    }
    for (let k = from; k < to; k++) {
      const doc = docs[k]!;
      if (this.overlap[doc]) continue;
      this.overlap[doc] = 1;
      if (!this.exact[doc]) this.note(doc, "ngram", train);
    }
  }

  /**
   * The record's content hash (from pass 1 when it was computed there); in-thread, also fills `this.hashes` with
   * its n-grams. N-grams are taken from the NFC form only: words are runs of letters and digits, so collapsing
   * whitespace and trimming (the rest of `normalizeText`) cannot change them, and skipping it saved ~1 µs per
   * record. The worker does the same with the raw text it is sent.
   */
  private hashOf(item: LeakageItem, raw: string): string {
    if (item.note) {
      if (!this.worker) ngramHashes(NON_ASCII.test(raw) ? raw.normalize("NFC") : raw, this.n, this.hashes);
      return item.note;
    }
    const text = normalizeText(raw);
    if (!this.worker) ngramHashes(text, this.n, this.hashes);
    return contentHashOf(item.data, text);
  }

  private note(doc: number, kind: LeakExample["kind"], train: Source): void {
    const split = this.heldSplit[doc]!;
    const list = this.examples[split] ?? [];
    this.examples[split] = list;
    const example = { kind, heldOut: this.heldSource[doc]!, train };
    const known = list.find((e) => e.doc === doc);
    if (known) known.example = example;
    else if (list.length < this.maxExamples) list.push({ doc, example });
  }

  report(targets: readonly SplitTarget[], trainIndex: number, perSplit: readonly number[]): LeakageReport {
    const splits: Record<string, SplitLeakage> = {};
    targets.forEach((t, j) => {
      if (j === trainIndex) return;
      let exact = 0;
      let ngram = 0;
      for (let doc = 0; doc < this.count; doc++) {
        if (this.heldSplit[doc] !== j) continue;
        // An exact copy overlaps in every n-gram; counting it here keeps "ngram" ⊇ "exact" for short records too.
        if (this.exact[doc]) exact++;
        if (this.overlap[doc] || this.exact[doc]) ngram++;
      }
      splits[t.name] = {
        records: perSplit[j]!,
        exact,
        ngram,
        examples: (this.examples[j] ?? []).map((e) => e.example),
      };
    });
    return { ngram: this.n, train: targets[trainIndex]!.name, splits };
  }
}

/** The n-gram index's starting size for `heldOut` held-out records (it doubles as needed). */
function leakageCapacity(heldOut: number): number {
  return Math.min(heldOut * 16, 1 << 20);
}

/** Whether the leakage check's n-gram work runs on a worker thread (see `SplitOptions.threads`). */
function leakageOnWorker(threads: number | undefined, records: number): boolean {
  if (threads !== undefined) return threads > 0;
  return records >= WORKER_MIN_RECORDS && availableParallelism() > 1;
}
