import { optionSpec } from "@curate/pipeline/options";
import { DEFAULT_RATIOS } from "@curate/split/defaults";
import type { Command } from "commander";
import { optionFrom, usage } from "../common.js";

export { DEFAULT_RATIOS };

const examples = `
Examples:
  $ curate split data/clean.jsonl --out out/                  train/validation/test = 90/5/5 by content hash
  $ curate split data/ --split train=0.8,test=0.2 --seed 7 --out out/
  $ curate split data.jsonl --test-size 500 --validation-size 500 --out out/   exact held-out sizes
  $ curate split data.jsonl --stratify-by category --group-by conversation_id --out out/
  $ cat raw.jsonl | curate validate --out - | curate dedup --near | curate split --out out/ --compress
  $ curate split data/train-*.parquet --output-format parquet --out out/   train.parquet, test.parquet, ...

Writes DIR/train.jsonl, validation.jsonl, test.jsonl (.jsonl.gz with --compress, .parquet with
--output-format parquet), rejects.jsonl, duplicates.jsonl and manifest.json. A record's split depends only on (seed, key): adding records never
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
  splitKey?: string;
  stratifyBy?: string;
  groupBy?: string;
  leakageCheck: boolean;
  leakageNgram: number;
  to?: string;
  compress?: boolean;
  outputFormat?: "jsonl" | "parquet";
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
  maxLineBytes: number;
  maxDepth: number;
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
    .addOption(optionFrom(optionSpec("out")))
    .addOption(optionFrom(optionSpec("split"), "apply"))
    .addOption(optionFrom(optionSpec("testSize")))
    .addOption(optionFrom(optionSpec("validationSize")))
    .addOption(optionFrom(optionSpec("seed"), "apply"))
    .addOption(optionFrom(optionSpec("splitKey")))
    .addOption(optionFrom(optionSpec("stratifyBy")))
    .addOption(optionFrom(optionSpec("groupBy")))
    .addOption(optionFrom(optionSpec("leakageCheck")))
    .addOption(optionFrom(optionSpec("leakageNgram"), "apply"))
    .addOption(optionFrom(optionSpec("to")))
    .addOption(optionFrom(optionSpec("compress")))
    .addOption(optionFrom(optionSpec("outputFormat")))
    .addOption(optionFrom(optionSpec("force")))
    .option("--json", "print a machine-readable summary (JSON) on stdout")
    .option("-q, --quiet", "no progress or summary on stderr")
    .addOption(optionFrom(optionSpec("maxLineBytes"), "apply"))
    .addOption(optionFrom(optionSpec("maxDepth"), "apply"))
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
      maxDepth: options.maxDepth,
      ...(options.to !== undefined ? { to: options.to } : {}),
      compress: options.compress ?? false,
      ...(options.outputFormat !== undefined ? { outputFormat: options.outputFormat } : {}),
      force: options.force ?? false,
      validate: false,
      dedup: false,
      split: {
        ...(sized ? { sizes } : { ratios: parseRatios(options.split) }),
        ...(options.splitKey !== undefined ? { key: options.splitKey } : {}),
        ...(options.stratifyBy !== undefined ? { stratifyBy: options.stratifyBy } : {}),
        ...(options.groupBy !== undefined ? { groupBy: options.groupBy } : {}),
        leakage: options.leakageCheck ? { ngram: options.leakageNgram } : false,
      },
    },
    "command line",
  );
  await runConfigured(config, { json: options.json ?? false, quiet: options.quiet ?? false, command: "split" });
}
