import type { Duplicate, Stage, Warning } from "@curate/core";
import type { DecontaminationStats, DedupStats, NearDedupStats, UnrecognizedShapes } from "@curate/dedup";
import { optionSpec } from "@curate/pipeline/options";
import type { Command } from "commander";
import {
  addIoOptions,
  type CommandRunResult,
  type IoOptions,
  note,
  openSink,
  optionFrom,
  printJson,
  runCommand,
  summaryJson,
  table,
} from "../common.js";
import { checkJsonStdout } from "../json-output.js";

const examples = `
Examples:
  $ curate dedup data/*.jsonl --out clean.jsonl --duplicates dups.jsonl     exact (the default)
  $ curate dedup data/ --near --threshold 0.85 --duplicates dups.jsonl      near-duplicates, MinHash LSH
  $ curate dedup data.jsonl --exact --near --against evals/*.jsonl --rejects rejects.jsonl
  $ curate dedup data.jsonl --key instruction --normalize nfkc,lower,punct,whitespace
  $ cat raw.jsonl | curate dedup --near --shingle char:5 --dedup-mode flag > flagged.jsonl

Exact dedup hashes each record's key (default: its training text, NFKC + whitespace-collapsed) with
MurmurHash3 x86_128 and keeps the first occurrence in input order. Near dedup (--near) compares word 5-gram
(or --shingle char:N) MinHash signatures in LSH buckets and verifies every candidate by exact Jaccard
(--no-verify trusts the signature estimate instead). --against rejects records sharing a 13-word
sequence (--ngram) with any eval record, with code "contaminated".

Every duplicate goes to --duplicates with its source, the kept record's source, method, similarity
and cluster id (the kept record's file#record); with --dedup-mode flag duplicates stay in the output and are
listed there with "flagged": true. Nothing is dropped: kept + duplicates + rejected = records read.
Exit codes: 0 ok, 1 some records were rejected (unreadable or contaminated), 2 usage or internal error.`;

interface DedupCommandOptions extends IoOptions {
  exact?: boolean;
  near?: boolean;
  against?: string[];
  ngram: number;
  threshold?: number;
  shingle?: string;
  numPerm?: number;
  verify: boolean;
  key?: string[];
  normalize?: string;
  dedupMode: "remove" | "flag";
  threads?: number;
}

/** The stages a dedup command runs, with their live stats (final once the run has ended). */
interface DedupStages {
  readonly stages: Stage[];
  readonly exact?: { readonly stats: DedupStats };
  readonly near?: { readonly stats: NearDedupStats };
  readonly decontaminate?: { readonly stats: DecontaminationStats };
}

/** The plan of `curate run` with only its dedup sections: the same stages, options and defaults. */
async function buildStages(options: DedupCommandOptions): Promise<DedupStages> {
  const [{ parseRunConfig }, { planStages }] = await Promise.all([
    import("@curate/pipeline/config"),
    import("@curate/pipeline/plan"),
  ]);
  const mode = options.dedupMode;
  const config = parseRunConfig(
    {
      ...(options.threads === undefined ? {} : { threads: options.threads }),
      validate: false,
      split: false,
      dedup: {
        exact: options.exact === true || options.near !== true,
        near: options.near === true,
        mode,
        verify: options.verify,
        ...(options.threshold === undefined ? {} : { threshold: options.threshold }),
        ...(options.shingle === undefined ? {} : { shingle: options.shingle }),
        ...(options.numPerm === undefined ? {} : { numPerm: options.numPerm }),
        ...(options.key === undefined ? {} : { key: options.key }),
        ...(options.normalize === undefined ? {} : { normalize: options.normalize.split(",").map((s) => s.trim()) }),
      },
      // Decontamination runs first: a contaminated record is rejected before it can lead a cluster.
      ...(options.against?.length ? { decontaminate: { against: options.against, n: options.ngram, mode } } : {}),
    },
    "command line",
  );
  const { stages } = await planStages(config);
  const named = <T>(name: string) => stages.find((stage) => stage.name === name) as T | undefined;
  const exact = named<{ stats: DedupStats }>("exactDedup");
  const near = named<{ stats: NearDedupStats }>("nearDedup");
  const contamination = named<{ stats: DecontaminationStats }>("decontaminate");
  return {
    stages,
    ...(exact ? { exact } : {}),
    ...(near ? { near } : {}),
    ...(contamination ? { decontaminate: contamination } : {}),
  };
}

const DUPLICATE_WARNINGS = new Set(["exact_duplicate", "near_duplicate"]);
const EXAMPLES = 5;

function summaryRows(result: CommandRunResult, built: DedupStages): (string | number)[][] {
  const rows: (string | number)[][] = [["records read", result.totals.read]];
  for (const c of result.counts) {
    for (const [code, n] of Object.entries(c.rejectedByCode).sort()) rows.push([`  rejected (${code})`, n]);
  }
  if (built.exact) {
    const s = built.exact.stats;
    rows.push(
      ["  exact duplicates", s.duplicates],
      ["    clusters", s.clusters],
      ["    largest cluster", s.largestCluster],
    );
  }
  if (built.near) {
    const s = built.near.stats;
    rows.push(
      ["  near duplicates", s.duplicates],
      ["    clusters", s.clusters],
      ["    largest cluster", s.largestCluster],
    );
  }
  rows.push(["kept", result.totals.kept]);
  return rows;
}

/** The warning for records no known format fits: how they were keyed, and how to choose the key. */
function unrecognizedNote(u: UnrecognizedShapes): string {
  const fields = u.keys.filter((k) => k !== "id");
  return (
    `warning: ${u.records} record(s) fit no known format (keys ${u.keys.join(", ")}; first at ${u.first.file}:${u.first.line}). ` +
    "Exact dedup keyed each by the whole record (canonical JSON), near dedup by all its text fields. " +
    `To say which fields make two records the same, use --key, e.g. ${fields
      .slice(0, 3)
      .map((k) => `--key ${k}`)
      .join(" ")}`
  );
}

function jsonSummary(result: CommandRunResult, built: DedupStages): Record<string, unknown> {
  return {
    ...summaryJson(result),
    ...(built.exact ? { exact: built.exact.stats } : {}),
    ...(built.near ? { near: built.near.stats } : {}),
    ...(built.decontaminate ? { decontamination: built.decontaminate.stats } : {}),
  };
}

/**
 * `curate dedup`: exact and near-duplicate removal and decontamination against eval sets.
 * @example registerDedup(program); // curate dedup data.jsonl --near --duplicates dups.jsonl
 */
export function registerDedup(program: Command): void {
  const command = program
    .command("dedup")
    .summary("remove exact and near-duplicate records, and records that overlap eval sets")
    .description(
      "Remove duplicates (exact by default, --near for near-duplicates) and, with --against, records that share an n-gram with an eval set. Every removal names the record it duplicates.",
    )
    .option("--exact", "exact dedup on the normalized key (the default unless --near is given)")
    .option("--near", "near-duplicate dedup: MinHash LSH, candidates verified by exact Jaccard")
    .addOption(optionFrom(optionSpec("against")))
    .addOption(optionFrom(optionSpec("ngram"), "apply"))
    .addOption(optionFrom(optionSpec("threshold")))
    .addOption(optionFrom(optionSpec("shingle")))
    .addOption(optionFrom(optionSpec("numPerm")))
    .addOption(optionFrom(optionSpec("verify")))
    .addOption(optionFrom(optionSpec("key")))
    .addOption(optionFrom(optionSpec("normalize")))
    .addOption(optionFrom(optionSpec("dedupMode"), "apply"))
    .addOption(optionFrom(optionSpec("threads")));
  addIoOptions(command, { duplicates: true });
  command.addHelpText("after", examples).action(async (inputs: string[], options: DedupCommandOptions) => {
    checkJsonStdout("dedup", options.json, options.out ?? "-");
    const built = await buildStages(options);
    const { duplicateLine } = await import("@curate/write");
    // Flagged duplicates stay in the output; they are listed in --duplicates too, marked as flagged.
    const flaggedSink =
      options.dedupMode === "flag" ? await openSink(options.duplicates, options.outputFormat, ["record"]) : undefined;
    const contaminated: Warning[] = [];
    const rejectedContaminated: string[] = [];
    let result: CommandRunResult;
    try {
      result = await runCommand({
        outputFormat: options.outputFormat,
        inputs,
        stages: built.stages,
        out: options.out ?? "-",
        rejects: options.rejects,
        duplicates: options.dedupMode === "flag" ? undefined : options.duplicates,
        quiet: options.quiet,
        maxLineBytes: options.maxLineBytes,
        maxDepth: options.maxDepth,
        onWarning(warning) {
          if (DUPLICATE_WARNINGS.has(warning.issue.code) && flaggedSink) {
            const of = warning.item.meta?.duplicateOf as Duplicate["of"] | undefined;
            if (of)
              flaggedSink.write(
                duplicateLine({ stage: warning.stage, item: warning.item, of: { ...of, flagged: true } }),
              );
          } else if (warning.issue.code === "contaminated" && contaminated.length < EXAMPLES) {
            contaminated.push(warning);
          }
        },
        onReject(rejected) {
          if (rejected.reason.code === "contaminated" && rejectedContaminated.length < EXAMPLES) {
            rejectedContaminated.push(
              `${rejected.item.source.file}:${rejected.item.source.line} ${rejected.reason.message}`,
            );
          }
        },
      });
      flaggedSink?.close();
    } catch (error) {
      flaggedSink?.abort();
      throw error;
    }

    if (result.totals.rejected > 0) process.exitCode = 1;
    if (options.json) {
      printJson(jsonSummary(result, built));
      return;
    }
    if (options.quiet) return;
    note(table(summaryRows(result, built)));
    const unknown = built.exact?.stats.unrecognized ?? built.near?.stats.unrecognized;
    if (unknown !== undefined) note(unrecognizedNote(unknown));
    const d = built.decontaminate?.stats;
    if (d) {
      const lines = [
        ...rejectedContaminated,
        ...contaminated.map((w) => `${w.item.source.file}:${w.item.source.line} ${w.issue.message}`),
      ];
      note(
        `decontamination: ${d.contaminated} record(s) share a ${options.ngram}-word sequence with ${d.evalRecords} eval record(s)` +
          (d.evalTooShort > 0
            ? ` (${d.evalTooShort} eval record(s) shorter than ${options.ngram} words checked by exact match of the normalised text: ${d.exactMatches} training record(s) matched one)`
            : "") +
          (d.evalUnreadable > 0 ? `; ${d.evalUnreadable} eval line(s) could not be read` : ""),
      );
      for (const line of lines) note(`  ${line}`);
      if (d.contaminated > lines.length) note(`  … and ${d.contaminated - lines.length} more`);
    }
  });
}
