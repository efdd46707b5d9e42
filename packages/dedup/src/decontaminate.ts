import { type BatchStage, batchStage, type Envelope, formatSource, type StageContext, UsageError } from "@curate/core";
import { trainingText } from "@curate/formats";
import { checkMode, type DedupMode } from "./common.js";
import { NgramIndex, type NgramMatch } from "./ngram.js";

export interface DecontaminateOptions {
  /** Eval sets: files, folders or globs read with @curate/read (not stdin), or an index built beforehand. */
  readonly against: readonly string[] | NgramIndex;
  /** Words per n-gram. Default 13. Ignored when `against` is an index (its own n applies). */
  readonly n?: number;
  /** `remove` (default): rejected with code `contaminated`; `flag`: kept with a warning and `meta.contamination`. */
  readonly mode?: DedupMode;
  /** Base folder for relative eval paths. Default `process.cwd()`. */
  readonly cwd?: string;
}

/** Figures of one decontamination run, read from `stage.stats` once the run has ended. */
export interface DecontaminationStats {
  records: number;
  contaminated: number;
  /** Eval records indexed, and how many of them were shorter than n words (not indexed). */
  evalRecords: number;
  evalTooShort: number;
  /** Eval lines that could not be read (invalid JSON and the like): their n-grams are missing from the index. */
  evalUnreadable: number;
  /** Distinct eval n-grams indexed. */
  evalNgrams: number;
}

export type DecontaminateStage = BatchStage & { readonly stats: DecontaminationStats };

/**
 * Loads eval records into an n-gram index (each record's training text, as `ngramWords` sees it).
 * @example const index = await loadNgramIndex(["evals/*.jsonl"], 13);
 */
export async function loadNgramIndex(
  patterns: readonly string[],
  n = 13,
  options: { cwd?: string } = {},
): Promise<NgramIndex & { unreadable: number }> {
  const { readInputs } = await import("@curate/read");
  const index = Object.assign(new NgramIndex(n), { unreadable: 0 });
  const source = readInputs(patterns, options.cwd === undefined ? {} : { cwd: options.cwd });
  // Eval lines that cannot be parsed are not training records: they are counted, not routed.
  const ctx: StageContext = {
    stage: "decontaminate (eval)",
    reject: () => void index.unreadable++,
    duplicate: () => {},
    warn: () => {},
  };
  for await (const item of source(ctx)) index.add(trainingText(item.data), item.source);
  return index;
}

function describe(match: NgramMatch, n: number): string {
  return `shares the ${n}-word sequence "${match.ngram}" with eval record ${formatSource(match.source)}`;
}

/**
 * Decontamination: rejects (or flags) training records that share any word n-gram (default 13 words, lowercased,
 * punctuation stripped) with an eval record. The reason names the eval file and line and the n-gram, so every
 * removal can be checked by hand.
 * @example await runPipeline(readInputs(["train.jsonl"]), [decontaminate({ against: ["evals/*.jsonl"] })]);
 */
export function decontaminate(options: DecontaminateOptions): DecontaminateStage {
  const where = "decontaminate()";
  const mode = checkMode(where, options?.mode);
  const given = options?.against;
  const prebuilt = given instanceof NgramIndex ? given : undefined;
  if (!prebuilt) {
    if (!Array.isArray(given) || given.length === 0 || given.some((p) => typeof p !== "string" || p.trim() === "")) {
      throw new UsageError(
        `${where}: \`against\` must list at least one eval file, folder or glob (e.g. evals/*.jsonl)`,
      );
    }
    if (given.some((p) => p === "-")) throw new UsageError(`${where}: eval sets cannot be read from stdin ("-")`);
  }
  const n = prebuilt?.n ?? options.n ?? 13;
  if (!Number.isSafeInteger(n) || n < 1 || n > 1000) {
    throw new UsageError(`${where}: \`n\` must be a whole number from 1 to 1000, found ${String(options.n)}`);
  }

  const fresh = (): DecontaminationStats => ({
    records: 0,
    contaminated: 0,
    evalRecords: 0,
    evalTooShort: 0,
    evalUnreadable: 0,
    evalNgrams: 0,
  });
  let stats = fresh();
  let index: NgramIndex | undefined;

  async function load(): Promise<NgramIndex> {
    if (index) return index;
    stats = fresh();
    const loaded =
      prebuilt ??
      (await loadNgramIndex(given as readonly string[], n, options.cwd === undefined ? {} : { cwd: options.cwd }));
    stats.evalRecords = loaded.documentCount;
    stats.evalTooShort = loaded.skipped;
    stats.evalUnreadable = "unreadable" in loaded ? (loaded.unreadable as number) : 0;
    stats.evalNgrams = loaded.size;
    index = loaded;
    return loaded;
  }

  const stage = batchStage("decontaminate", {
    async batch(items, ctx) {
      const ngrams = await load();
      const out: Envelope[] = [];
      for (const item of items) {
        stats.records++;
        const match = ngrams.find(trainingText(item.data));
        if (!match) {
          out.push(item);
          continue;
        }
        stats.contaminated++;
        const message = describe(match, n);
        if (mode === "remove") {
          ctx.reject(item, { code: "contaminated", message, eval: match.source, ngram: match.ngram });
        } else {
          const flagged = {
            ...item,
            meta: { ...item.meta, contamination: { eval: match.source, ngram: match.ngram } },
          };
          ctx.warn(flagged, { code: "contaminated", severity: "warning", path: "", message, found: match.ngram });
          out.push(flagged);
        }
      }
      return out;
    },
    async flush() {
      // Loads even on empty input, so that a missing eval file is an error whatever the input.
      await load();
      return [];
    },
    close() {
      // A prebuilt index belongs to the caller; a loaded one is rebuilt by the next run (files may have changed).
      index = undefined;
    },
  });
  Object.defineProperty(stage, "stats", { get: () => stats, enumerable: true });
  return stage as DecontaminateStage;
}
