import { resolve } from "node:path";
import type { RunConfig } from "@curate/pipeline/config";
import type { Manifest } from "@curate/write";
import { type Command, Option } from "commander";
import {
  collect,
  createProgress,
  note,
  parseFraction,
  parseInteger,
  parsePositive,
  printJson,
  table,
  usage,
} from "../common.js";
import { version } from "../process.js";

const examples = `
Examples:
  $ curate run data/*.jsonl --out out/                        validate, exact dedup, split 90/5/5
  $ curate run data/ --dedup near --model gpt-4o-mini --max-tokens 4096 --split train=0.9,test=0.1 --out out/
  $ curate run data/ --against evals/*.jsonl --tokenizer llama3 --test-size 500 --out out/ --compress
  $ curate run --config curate.config.yaml                    everything from a file (flags override it)
  $ curate run data.jsonl --no-validate --dedup none --no-split --to chat --out out/

Stages, in order: read → validate → decontaminate (--against) → dedup (exact, then near) →
tokens (--tokenizer/--model) → split → write. Each can be switched off. The output folder gets one
JSONL file per split, rejects.jsonl (record, source file and line, code, issues), duplicates.jsonl
(record, source, the record it duplicates, method, similarity) and manifest.json, in which
records read = Σ splits + rejected + duplicates (checked before it is written).
Same input, options and seed give byte-identical files, whatever --threads is.
Exit codes: 0 written, 1 written but some records were rejected, 2 usage or internal error.`;

interface RunCommandOptions {
  config?: string;
  out?: string;
  force?: boolean;
  compress?: boolean;
  to?: string;
  seed?: string;
  threads?: number;
  maxLineBytes?: number;
  validate?: boolean;
  format?: string;
  schema?: string;
  strict?: boolean;
  rule?: string[];
  dedup?: string;
  threshold?: number;
  shingle?: string;
  numPerm?: number;
  verify?: boolean;
  key?: string[];
  normalize?: string;
  dedupMode?: "remove" | "flag";
  against?: string[];
  ngram?: number;
  contamination?: "remove" | "flag";
  tokenizer?: string;
  model?: string;
  maxTokens?: number;
  minTokens?: number;
  onOverflow?: "drop" | "truncate" | "keep" | "fail";
  split?: string | boolean;
  testSize?: number;
  validationSize?: number;
  splitKey?: string;
  stratifyBy?: string;
  groupBy?: string;
  json?: boolean;
  quiet?: boolean;
}

/**
 * `curate run`: the whole pipeline in one process, from flags or a config file, writing a dataset folder.
 * @example registerRun(program); // curate run data/ --dedup near --out out/
 */
export function registerRun(program: Command): void {
  program
    .command("run")
    .summary("run the whole pipeline: validate, dedup, tokens, split, write with a manifest")
    .description(
      "Read → validate → decontaminate → dedup → count tokens → split → write, in one process, from flags or a " +
        "config file (JSON or YAML). Every input record ends in exactly one place: a split, rejects.jsonl or " +
        "duplicates.jsonl, and the manifest proves it.",
    )
    .argument("[inputs...]", "JSONL/JSON files, directories or globs (gzip/zstd ok); - or nothing reads stdin")
    .option("-c, --config <file>", "read options from a JSON or YAML file; flags override it")
    .option("-o, --out <dir>", "output folder (required); must be empty unless --force")
    .option("--force", "write into a non-empty folder, replacing curate's files there")
    .option("--compress", "write .jsonl.gz split files")
    .option("--to <format>", "convert records to this format on the way out (chat, alpaca, sharegpt, ...)")
    .option("--seed <seed>", "seed for the split (default 0)")
    .option("--threads <n>", "worker threads for near dedup and tokens (default: cores)", parsePositive)
    .option("--max-line-bytes <n>", "longest accepted input line in bytes (default 16 MiB)", parsePositive)
    .optionsGroup("Validate:")
    .option("--no-validate", "skip validation (records are still read and must be JSON objects)")
    .option("--format <name>", "auto (default) or chat, alpaca, prompt_completion, sharegpt, dpo, pairs")
    .option("--schema <file>", "also check against your JSON Schema or zod module")
    .option("--strict", "unknown keys are errors, not warnings")
    .option("--rule <code=level>", "set a validation rule to error, warn or off (repeatable)", collect)
    .optionsGroup("Dedup:")
    .addOption(new Option("--dedup <which>", "exact, near (exact then near), or none (default exact)"))
    .option("--threshold <j>", "near dedup: Jaccard similarity threshold (default 0.8)", parseFraction)
    .option("--shingle <spec>", "near dedup: word:N or char:N (default word:5)")
    .option("--num-perm <n>", "near dedup: MinHash permutations (default 128)", parsePositive)
    .option("--no-verify", "near dedup: trust the MinHash estimate instead of exact Jaccard")
    .option("--key <field>", "dedup key: text (default), json, or a field path (repeatable)", collect)
    .option("--normalize <list>", "exact dedup normalizations: nfkc,lower,punct,whitespace or none")
    .addOption(
      new Option("--dedup-mode <mode>", "remove duplicates, or flag them and keep").choices(["remove", "flag"]),
    )
    .option("--against <file>", "eval set to decontaminate against (file, folder or glob; repeatable)", collect)
    .option("--ngram <n>", "decontamination n-gram size in words (default 13)", parsePositive)
    .addOption(
      new Option("--contamination <mode>", "remove contaminated records, or flag and keep").choices(["remove", "flag"]),
    )
    .optionsGroup("Tokens:")
    .option("--tokenizer <name|dir>", "o200k_base, cl100k_base, llama3, qwen3, or a folder with tokenizer.json")
    .option("--model <name>", "OpenAI model whose encoding to use, e.g. gpt-4o-mini")
    .option("--max-tokens <n>", "longest record in tokens", parsePositive)
    .option("--min-tokens <n>", "shortest record in tokens", parseInteger)
    .addOption(
      new Option("--on-overflow <policy>", "records over --max-tokens (default drop)").choices([
        "drop",
        "truncate",
        "keep",
        "fail",
      ]),
    )
    .optionsGroup("Split:")
    .option("--split <ratios>", "split names and ratios (default train=0.9,validation=0.05,test=0.05)")
    .option("--no-split", "write every kept record to train.jsonl")
    .option("--test-size <n>", "exact number of test records (instead of ratios)", parseInteger)
    .option("--validation-size <n>", "exact number of validation records (instead of ratios)", parseInteger)
    .option("--split-key <path>", "field identifying a record for the split (default: content hash)")
    .option("--stratify-by <path>", "field to stratify by, e.g. category")
    .option("--group-by <path>", "field naming a group that must not straddle splits, e.g. conversation_id")
    .optionsGroup("Output:")
    .option("--json", "print a machine-readable summary (JSON) on stdout")
    .option("-q, --quiet", "no progress or summary on stderr")
    .addHelpText("after", examples)
    .action(async (inputs: string[], options: RunCommandOptions, command: Command) => {
      // The config schema is zod: loaded here, not at the top, so that other commands never build it.
      const { loadRunConfig, parseRunConfig } = await import("@curate/pipeline/config");
      const fromFile = options.config ? await loadRunConfig(options.config) : {};
      const config = parseRunConfig(mergeFlags(fromFile, inputs, options, command), "command line");
      await runConfigured(config, { json: options.json ?? false, quiet: options.quiet ?? false });
    });
}

/** Flags the user typed override the config file; defaults never do. Returns the unchecked result. */
function mergeFlags(base: RunConfig, inputs: string[], o: RunCommandOptions, command: Command): unknown {
  const given = (name: string) => {
    const source = command.getOptionValueSource(name);
    return source !== undefined && source !== "default";
  };
  const config: Record<string, unknown> = structuredClone(base);
  if (inputs.length > 0) config.inputs = inputs;
  for (const name of ["out", "force", "compress", "to", "seed", "threads", "maxLineBytes"] as const) {
    if (given(name)) config[name] = o[name];
  }

  if (given("validate") && o.validate === false) config.validate = false;
  else if (["format", "schema", "strict", "rule"].some(given)) {
    const validate = { ...(typeof base.validate === "object" ? base.validate : {}) } as Record<string, unknown>;
    if (given("format")) validate.format = o.format;
    if (given("schema")) validate.schema = o.schema;
    if (given("strict")) validate.strict = o.strict;
    if (given("rule")) validate.rules = { ...(validate.rules as object), ...parseRules(o.rule ?? []) };
    config.validate = validate;
  }

  const dedupFlags = ["threshold", "shingle", "numPerm", "verify", "key", "normalize", "dedupMode"];
  if (given("dedup") || dedupFlags.some(given)) {
    const which = o.dedup ?? "exact";
    if (!["exact", "near", "none"].includes(which)) usage(`--dedup must be exact, near or none, found "${which}"`);
    if (which === "none") config.dedup = false;
    else {
      const dedup = { ...(typeof base.dedup === "object" ? base.dedup : {}) } as Record<string, unknown>;
      if (given("dedup")) {
        dedup.exact = true;
        dedup.near = which === "near";
      }
      if (given("threshold")) dedup.threshold = o.threshold;
      if (given("shingle")) dedup.shingle = o.shingle;
      if (given("numPerm")) dedup.numPerm = o.numPerm;
      if (given("verify")) dedup.verify = o.verify;
      if (given("key")) dedup.key = o.key;
      if (given("normalize")) dedup.normalize = o.normalize?.split(",").map((s) => s.trim());
      if (given("dedupMode")) dedup.mode = o.dedupMode;
      config.dedup = dedup;
    }
  }

  if (given("against") || given("ngram") || given("contamination")) {
    const decontaminate = { ...(base.decontaminate ?? {}) } as Record<string, unknown>;
    if (given("against")) decontaminate.against = o.against;
    if (given("ngram")) decontaminate.n = o.ngram;
    if (given("contamination")) decontaminate.mode = o.contamination;
    config.decontaminate = decontaminate;
  }

  if (given("tokenizer") && given("model")) usage("give --tokenizer or --model, not both");
  if (["tokenizer", "model", "maxTokens", "minTokens", "onOverflow"].some(given)) {
    const tokens = { ...(typeof base.tokens === "object" ? base.tokens : {}) } as Record<string, unknown>;
    if (given("tokenizer")) tokens.tokenizer = o.tokenizer;
    if (given("model")) tokens.tokenizer = o.model;
    if (given("maxTokens")) tokens.maxTokens = o.maxTokens;
    if (given("minTokens")) tokens.minTokens = o.minTokens;
    if (given("onOverflow")) tokens.onOverflow = o.onOverflow;
    if (tokens.tokenizer === undefined) {
      usage("--max-tokens, --min-tokens and --on-overflow need a tokenizer: add --model NAME or --tokenizer NAME|DIR");
    }
    config.tokens = tokens;
  }

  if (given("split") && o.split === false) config.split = false;
  else if (["split", "testSize", "validationSize", "splitKey", "stratifyBy", "groupBy"].some(given)) {
    const split = { ...(typeof base.split === "object" ? base.split : {}) } as Record<string, unknown>;
    if (given("split")) split.ratios = o.split;
    if (given("testSize") || given("validationSize")) {
      if (given("split")) usage("give either --split ratios or --test-size/--validation-size, not both");
      delete split.ratios;
      split.sizes = {
        ...(given("testSize") ? { test: o.testSize } : {}),
        ...(given("validationSize") ? { validation: o.validationSize } : {}),
      };
    }
    if (given("splitKey")) split.key = o.splitKey;
    if (given("stratifyBy")) split.stratifyBy = o.stratifyBy;
    if (given("groupBy")) split.groupBy = o.groupBy;
    config.split = split;
  }
  return config;
}

function parseRules(specs: readonly string[]): Record<string, string> {
  const rules: Record<string, string> = {};
  for (const spec of specs) {
    const [code, level] = spec.split("=");
    if (!code || !level || !["error", "warn", "off"].includes(level)) {
      usage(`--rule takes code=error|warn|off, found "${spec}"`);
    }
    rules[code] = level;
  }
  return rules;
}

/**
 * Runs a checked configuration and writes the dataset folder; prints the summary. `curate split` is this with
 * validation and dedup off. The plan and the run are @curate/pipeline's: this only adds progress and printing.
 */
export async function runConfigured(
  config: RunConfig,
  output: { json: boolean; quiet: boolean; command?: string },
): Promise<Manifest> {
  if (!config.out) usage('curate run needs an output folder: --out DIR (or "out" in the config file)');
  const inputs = config.inputs ?? [];
  const [
    { planStages },
    { runDataset },
    { manifestSummaryJson, summaryNotes, summaryRows },
    { readInputs, resolveInputs },
  ] = await Promise.all([
    import("@curate/pipeline/plan"),
    import("@curate/pipeline"),
    import("@curate/write"),
    import("@curate/read"),
  ]);
  const { stages, splitStage } = await planStages(config);
  const resolved = await resolveInputs(inputs);
  const progress = createProgress(
    resolved.reduce((sum, input) => sum + (input.bytes ?? 0), 0),
    output.quiet || output.json,
  );
  let manifest: Manifest;
  try {
    manifest = await runDataset({
      dir: config.out!,
      splits: splitStage ? splitStage.splits : ["train"],
      compress: config.compress ?? false,
      force: config.force ?? false,
      source: readInputs(inputs, {
        ...(config.maxLineBytes !== undefined ? { maxLineBytes: config.maxLineBytes } : {}),
        onBytes: progress.bytes,
      }),
      stages,
      config: { command: output.command ?? "run", ...config, inputs: inputs.length > 0 ? inputs : ["-"] },
      seed: config.seed ?? 0,
      toolVersion: version,
      onRecords: progress.records,
    });
  } finally {
    progress.done();
  }
  if (output.json) printJson({ out: resolve(config.out!), ...manifestSummaryJson(manifest) });
  else if (!output.quiet) {
    note(table(summaryRows(manifest)));
    for (const line of summaryNotes(manifest)) note(line);
    note(`wrote ${manifest.outputs.map((o) => o.path).join(", ")} and manifest.json to ${config.out}`);
  }
  if (manifest.conservation.rejected > 0) process.exitCode = 1;
  return manifest;
}
