import { type DuplicateOf, type Envelope, formatSource, type Issue, UsageError } from "@curate/core";
import { clusterId } from "./pages.js";

/**
 * What happens to a duplicate: `remove` routes it to the duplicates file; `flag` keeps it, with `meta.cluster` and
 * `meta.duplicateOf` set and a warning, for pipelines that want to decide later (the split stage keeps a cluster
 * in one split).
 */
export type DedupMode = "remove" | "flag";

/** Figures of one run of a dedup stage, read from `stage.stats` once the run has ended. */
export interface DedupStats {
  /** Records that entered the stage. */
  records: number;
  /** Records found to duplicate an earlier one (routed in `remove` mode, flagged in `flag` mode). */
  duplicates: number;
  /** Clusters with at least two records. */
  clusters: number;
  /** Records in the largest cluster (1 when there are no duplicates, 0 for no input). */
  largestCluster: number;
  /** Bytes held by the in-memory index at the end of the run (0 for an external index). */
  indexBytes: number;
}

export function newStats(): DedupStats {
  return { records: 0, duplicates: 0, clusters: 0, largestCluster: 0, indexBytes: 0 };
}

export function checkMode(where: string, mode: unknown): DedupMode {
  if (mode === undefined) return "remove";
  if (mode === "remove" || mode === "flag") return mode;
  throw new UsageError(`${where}: \`mode\` must be "remove" or "flag", found ${JSON.stringify(mode)}`);
}

/** A kept record that leads (or may later lead) a cluster, tagged for `flag` mode. */
export function withOwnCluster<T>(item: Envelope<T>): Envelope<T> {
  return { ...item, meta: { ...item.meta, cluster: clusterId(item.source) } };
}

/**
 * A duplicate kept in `flag` mode: tagged with its cluster and what it duplicates, with a warning. Stages pass the
 * tagged envelope to `ctx.warn`, so that a warning sink can write `meta.duplicateOf` out.
 */
export function flagDuplicate<T>(item: Envelope<T>, of: DuplicateOf, code: string): [Envelope<T>, Issue] {
  const similarity =
    of.similarity === undefined || of.similarity === 1 ? "" : ` (similarity ${of.similarity.toFixed(3)})`;
  const issue: Issue = {
    code,
    severity: "warning",
    path: "",
    message: `${of.method} duplicate of ${formatSource(of.source)}${similarity}; kept because mode is "flag"`,
  };
  const meta = { ...item.meta, cluster: of.cluster ?? clusterId(of.source), duplicateOf: of };
  return [{ ...item, meta }, issue];
}

/** Attaches a live `stats` getter to a stage function. */
export function withStats<S extends object>(stage: S, read: () => DedupStats): S & { readonly stats: DedupStats } {
  Object.defineProperty(stage, "stats", { get: read, enumerable: true });
  return stage as S & { readonly stats: DedupStats };
}
