import { type Command, Option } from "commander";
import { parseInteger, parsePositive, usage } from "../common.js";

/**
 * @curate/split's `DEFAULT_RATIOS`, repeated here so that registering the command (and `curate --help`) does not
 * load the split package; split.test.ts checks that the two agree.
 */
export const DEFAULT_RATIOS = "train=0.9,validation=0.05,test=0.05";

const examples = `
Examples:
  $ curate split data/clean.jsonl --out out/                  train/validation/test = 90/5/5 by content hash
  $ curate split data/ --split train=0.8,test=0.2 --seed 7 --out out/
  $ curate split data.jsonl --test-size 500 --validation-size 500 --out out/   exact held-out sizes
  $ curate split data.jsonl --stratify-by category --group-by conversation_id --out out/
  $ cat raw.jsonl | curate validate | curate dedup --near | curate split --out out/ --compress

Writes DIR/train.jsonl, validation.jsonl, test.jsonl (.jsonl.gz with --compress), rejects.jsonl,
duplicates.jsonl and manifest.json. A record's split depends only on (seed, key): adding records never
moves an existing one (ratio mode), and identical input, options and seed give byte-identical files.
Input order decides only the order of lines within each file, never which split a record lands in.
With --stratify-by, every stratum is split within one record of the ratios; records near a cut may move
when records are appended. With --test-size, appending never moves a training record into a held-out split
(a group or copies of one text next to the cut excepted). --group-by and the default key (exact copies of
a text share one) place units whole.`;

interface SplitCommandOptions {
  out?: string;
  split: string;
  testSize?: number;
  validationSize?: number;
  seed: string;
  key?: string;
  stratifyBy?: string;
  groupBy?: string;
  leakageCheck: boolean;
  ngram: number;
  to?: string;
  compress?: boolean;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
  maxLineBytes: number;
}

/**
 * `curate split`: reads records (files, folders, globs or stdin) and writes a dataset folder with one file per
 * split, the rejects and duplicates files and a manifest.
 * @example registerSplit(program); // curate split data.jsonl --out out/
 */
export function registerSplit(program: Command): void {
  program
    .command("split")
    .summary("split records into train/validation/test files with a manifest")
    .description(
      "Assign every record to a split, deterministically from a hash of (seed, key), check train against the " +
        "held-out splits for exact and n-gram overlap, and write a dataset folder with a manifest.",
    )
    .argument("[inputs...]", "JSONL/JSON files, directories or globs (gzip/zstd ok); - or nothing reads stdin")
    .option("-o, --out <dir>", "output folder (required); must be empty unless --force")
    .option("--split <ratios>", "split names and ratios, in order", DEFAULT_RATIOS)
    .option("--test-size <n>", "exact number of test records (instead of ratios)", parseInteger)
    .option("--validation-size <n>", "exact number of validation records (instead of ratios)", parseInteger)
    .option("--seed <seed>", "seed mixed into every record's position", "0")
    .option("--key <path>", "field identifying a record, e.g. id (default: the content hash)")
    .option("--stratify-by <path>", "field to stratify by, e.g. category or meta.lang")
    .option("--group-by <path>", "field naming a group that must not straddle splits, e.g. conversation_id")
    .option("--no-leakage-check", "skip the exact and n-gram overlap check between train and held-out splits")
    .addOption(new Option("--ngram <n>", "word n-gram size of the leakage check").argParser(parsePositive).default(13))
    .option("--to <format>", "convert records to this format on the way out (chat, alpaca, sharegpt, ...)")
    .option("--compress", "write .jsonl.gz split files")
    .option("--force", "write into a non-empty folder, replacing curate's files there")
    .option("--json", "print a machine-readable summary (JSON) on stdout")
    .option("-q, --quiet", "no progress or summary on stderr")
    .addOption(
      new Option("--max-line-bytes <n>", "longest accepted input line in bytes (longer: rejected)")
        .argParser(parsePositive)
        .default(16 * 1024 * 1024, "16 MiB"),
    )
    .addHelpText("after", examples)
    .action(async (inputs: string[], options: SplitCommandOptions, command: Command) => {
      await runSplit(inputs, options, command.getOptionValueSource("split") !== "default");
    });
}

async function runSplit(inputs: string[], options: SplitCommandOptions, ratiosGiven: boolean): Promise<void> {
  if (options.out === undefined || options.out === "") {
    usage("curate split needs --out DIR: it writes one file per split plus a manifest (e.g. --out out/)");
  }
  const sized = options.testSize !== undefined || options.validationSize !== undefined;
  if (sized && ratiosGiven) usage("give either --split ratios or --test-size/--validation-size, not both");
  const [{ parseRatios }, { parseRunConfig }, { runConfigured }] = await Promise.all([
    import("@curate/split"),
    import("@curate/pipeline/config"),
    import("./run.js"),
  ]);
  const sizes: Record<string, number> = {};
  if (options.testSize !== undefined) sizes.test = options.testSize;
  if (options.validationSize !== undefined) sizes.validation = options.validationSize;
  // The same engine as `curate run`, with validation and dedup off: one writer loop, one manifest.
  const config = parseRunConfig(
    {
      inputs,
      out: options.out,
      seed: options.seed,
      maxLineBytes: options.maxLineBytes,
      ...(options.to !== undefined ? { to: options.to } : {}),
      compress: options.compress ?? false,
      force: options.force ?? false,
      validate: false,
      dedup: false,
      split: {
        ...(sized ? { sizes } : { ratios: parseRatios(options.split) }),
        ...(options.key !== undefined ? { key: options.key } : {}),
        ...(options.stratifyBy !== undefined ? { stratifyBy: options.stratifyBy } : {}),
        ...(options.groupBy !== undefined ? { groupBy: options.groupBy } : {}),
        leakage: options.leakageCheck ? { ngram: options.ngram } : false,
      },
    },
    "command line",
  );
  await runConfigured(config, { json: options.json ?? false, quiet: options.quiet ?? false, command: "split" });
}
