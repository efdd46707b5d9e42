import { readFileSync } from "node:fs";
import { CurateError, formatPath } from "@curate/core";
import { z } from "zod";

/** A record's identity: input file, line (and column), record number in its input, byte offset, input index. */
const sourceSchema = z.object({
  file: z.string(),
  line: z.number(),
  column: z.number().optional(),
  record: z.number().optional(),
  offset: z.number().optional(),
  input: z.number().optional(),
});

/**
 * The manifest format version; bumped on incompatible changes so that `curate report` can refuse what it cannot
 * read instead of misreading it.
 * @example if (manifest.manifestVersion !== MANIFEST_VERSION) …
 */
export const MANIFEST_VERSION = 1;

const count = z.int().nonnegative();
const counts = z.record(z.string(), count);

/**
 * min / max / mean / p50 / p95 / sum of per-record token counts (nearest-rank percentiles).
 * @example tokenStatsSchema.parse({ records: 2, sum: 30, min: 10, max: 20, mean: 15, p50: 10, p95: 20 });
 */
export const tokenStatsSchema = z.object({
  records: count,
  sum: count,
  min: count,
  max: count,
  mean: z.number().nonnegative(),
  p50: count,
  p95: count,
});
export type TokenStats = z.infer<typeof tokenStatsSchema>;

/**
 * One split's token statistics, with a histogram whose bin edges are shared by all splits (so charts compare).
 * @example splitTokensSchema.shape.histogram;
 */
export const splitTokensSchema = tokenStatsSchema.extend({
  /** Records in the split that carried no token count (the tokens stage did not run on them). */
  missing: count,
  trainable: tokenStatsSchema.optional(),
  histogram: z.object({ edges: z.array(z.number()), counts: z.array(count) }),
});
export type SplitTokens = z.infer<typeof splitTokensSchema>;

/**
 * One input file as the reader saw it. Loose: the reader may add facts the manifest keeps without knowing them.
 * @example inputSchema.parse({ path: "data/raw.jsonl", bytes: 1024, sha256: "ab…", records: 10 });
 */
export const inputSchema = z.looseObject({
  path: z.string(),
  bytes: count.optional(),
  sha256: z.string().optional(),
  records: count.optional(),
  blankLines: count.optional(),
  compression: z.string().optional(),
  container: z.string().optional(),
});
export type InputSummary = z.infer<typeof inputSchema>;

/**
 * The core runner's per-stage counts.
 * @example stageCountsSchema.parse(run.counts[0]);
 */
export const stageCountsSchema = z.object({
  name: z.string(),
  in: count,
  out: count,
  rejected: count,
  duplicates: count,
  warnings: count,
  rejectedByCode: counts,
  duplicatesByMethod: counts,
  warningsByCode: counts,
  selfMs: z.number().nonnegative(),
});

/**
 * One file the run wrote, relative to the output folder, with its checksum.
 * @example outputFileSchema.parse({ path: "train.jsonl", role: "split", split: "train", records: 9, bytes: 900, sha256: "…", compression: "none" });
 */
export const outputFileSchema = z.object({
  path: z.string(),
  role: z.enum(["split", "rejects", "duplicates"]),
  split: z.string().optional(),
  records: count,
  bytes: count,
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  compression: z.enum(["none", "gzip"]),
});
export type OutputFile = z.infer<typeof outputFileSchema>;

const leakExampleSchema = z.object({
  kind: z.enum(["exact", "ngram"]),
  heldOut: sourceSchema,
  train: sourceSchema,
});

/**
 * Overlap between the training split and each held-out split, from the split stage's check.
 * @example leakageSchema.parse({ ngram: 13, train: "train", splits: { test: { records: 5, exact: 0, ngram: 0, examples: [] } } });
 */
export const leakageSchema = z.object({
  ngram: z.int().positive(),
  train: z.string(),
  splits: z.record(
    z.string(),
    z.object({ records: count, exact: count, ngram: count, examples: z.array(leakExampleSchema) }),
  ),
});

/**
 * The conservation law as checked before the manifest was written: every input record is in exactly one split,
 * the rejects file, or the duplicates file.
 * @example conservationSchema.parse({ law: "…", input: 10, splits: 7, rejected: 2, duplicates: 1, holds: true });
 */
export const conservationSchema = z.object({
  law: z.literal("input records = Σ splits + rejected + duplicates"),
  input: count,
  splits: count,
  rejected: count,
  duplicates: count,
  holds: z.literal(true),
});

/**
 * `manifest.json`: everything needed to know what a dataset is and how it was made.
 * @example const manifest = manifestSchema.parse(JSON.parse(readFileSync("out/manifest.json", "utf8")));
 */
export const manifestSchema = z.object({
  manifestVersion: z.literal(MANIFEST_VERSION),
  tool: z.object({ name: z.literal("curate"), version: z.string() }),
  createdAt: z.string(),
  /** The full configuration the run used, as given (options, config file), defaults filled in. */
  config: z.record(z.string(), z.unknown()),
  seed: z.union([z.string(), z.number(), z.null()]),
  inputs: z.array(inputSchema),
  stages: z.array(stageCountsSchema),
  splits: z.record(z.string(), z.object({ file: z.string(), records: count, tokens: splitTokensSchema.optional() })),
  rejects: z.object({ file: z.string().nullable(), total: count, byCode: counts }),
  duplicates: z.object({
    file: z.string().nullable(),
    total: count,
    byMethod: counts,
    /** Cluster size (kept record + its duplicates) → number of clusters of that size. */
    clusterSizes: counts,
  }),
  warnings: z.object({ total: count, byCode: counts }),
  leakage: leakageSchema.optional(),
  /** The split stage's full report (mode, targets, strata, units, memory); shape owned by @curate/split. */
  split: z.record(z.string(), z.unknown()).optional(),
  outputs: z.array(outputFileSchema),
  conservation: conservationSchema,
  wallMs: z.number().nonnegative(),
});

/**
 * The manifest's TypeScript type, inferred from the zod schema so the two cannot drift.
 * @example const total: number = manifest.conservation.input;
 */
export type Manifest = z.infer<typeof manifestSchema>;

/**
 * Reads and validates a `manifest.json`, with errors that name the file and the bad field.
 * @example const manifest = readManifest("out/manifest.json");
 */
export function readManifest(path: string): Manifest {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new CurateError(
      code === "ENOENT" ? "CURATE_INPUT_NOT_FOUND" : "CURATE_IO",
      `cannot read manifest ${path}: ${code === "ENOENT" ? "no such file" : (cause as Error).message}`,
      { cause },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CurateError("CURATE_DATA", `${path} is not JSON: ${(cause as Error).message}`, { cause, exitCode: 1 });
  }
  const version = (json as { manifestVersion?: unknown } | null)?.manifestVersion;
  if (version !== MANIFEST_VERSION) {
    throw new CurateError(
      "CURATE_DATA",
      `${path}: manifestVersion ${JSON.stringify(version)} is not one this curate reads (expected ${MANIFEST_VERSION}); is it a curate manifest?`,
      { exitCode: 1 },
    );
  }
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = formatPath(issue.path);
    throw new CurateError(
      "CURATE_DATA",
      `${path}: not a valid curate manifest at ${where || "(root)"}: ${issue.message}`,
      { exitCode: 1 },
    );
  }
  return result.data;
}
