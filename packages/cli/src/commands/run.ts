import { resolve } from "node:path";
import type { RunConfig } from "@curate/pipeline/config";
import { runOptions, type Section } from "@curate/pipeline/options";
import { DEFAULT_SEED } from "@curate/split/defaults";
import type { Manifest } from "@curate/write";
import { type Command, Option } from "commander";
import { createProgress, note, optionFrom, printJson, table, usage } from "../common.js";
import { version } from "../process.js";

const examples = `
Examples:
  $ curate run data/*.jsonl --out out/                        validate, exact dedup, split 90/5/5
  $ curate run data/ --dedup near --model gpt-4o-mini --max-tokens 4096 --split train=0.9,test=0.1 --out out/
  $ curate run data/ --against evals/*.jsonl --tokenizer llama3 --test-size 500 --out out/ --compress
  $ curate run --config curate.config.yaml                    everything from a file (flags override it)
  $ curate run data.jsonl --no-validate --dedup none --no-split --to chat --out out/
  $ curate run hf-dataset/data/ --output-format parquet --out out/   Parquet shards in, Parquet splits out
  $ curate run /shared/data/ --queue redis://10.0.0.5:6379 --out /shared/out/   shards run by 'curate worker's
  $ curate run /shared/data/ --queue redis://10.0.0.5:6379 --out /shared/out/ --status

Stages, in order: read → validate → decontaminate (--against) → dedup (exact, then near) →
tokens (--tokenizer/--model) → split → write. Each can be switched off. The output folder gets one
JSONL file per split, rejects.jsonl (record, source file and line, code, issues), duplicates.jsonl
(record, source, the record it duplicates, method, similarity) and manifest.json, in which
records read = Σ splits + rejected + duplicates (checked before it is written).
Same input, options and seed give byte-identical files, whatever --threads is.
Exit codes: 0 written, 1 written but some records were rejected, 2 usage or internal error.`;

type RunCommandOptions = Record<string, unknown> & { config?: string; json?: boolean; quiet?: boolean };

/** Flags of `curate run` that are not configuration (or not only): the config file, the dedup switch, output. */
const DEDUP_SWITCH = "exact, near (exact then near), or none (default exact)";

/**
 * `curate run`: the whole pipeline in one process, from flags or a config file, writing a dataset folder. Its
 * flags come from @curate/pipeline's option table, which also generates the config schema.
 * @example registerRun(program); // curate run data/ --dedup near --out out/
 */
export function registerRun(program: Command): void {
  const command = program
    .command("run")
    .summary("run the whole pipeline: validate, dedup, tokens, split, write with a manifest")
    .description(
      "Read → validate → decontaminate → dedup → count tokens → split → write, in one process, from flags or a " +
        "config file (JSON or YAML). Every input record ends in exactly one place: a split, rejects.jsonl or " +
        "duplicates.jsonl, and the manifest proves it.",
    )
    .argument("[inputs...]", "JSONL/JSON files, directories or globs (gzip/zstd ok); - or nothing reads stdin")
    .option("-c, --config <file>", "read options from a JSON or YAML file; flags override it");
  const groups: Record<Section, string | undefined> = {
    top: undefined,
    validate: "Validate:",
    dedup: "Dedup:",
    decontaminate: "Decontaminate:",
    tokens: "Tokens:",
    split: "Split:",
  };
  let group: Section | undefined;
  for (const spec of runOptions) {
    if (spec.section !== group) {
      group = spec.section;
      const title = groups[group];
      if (title) command.optionsGroup(title);
      if (group === "validate")
        command.option("--no-validate", "skip validation (records are still read and must be JSON objects)");
      if (group === "dedup")
        command.addOption(new Option("--dedup <which>", DEDUP_SWITCH).choices(["exact", "near", "none"]));
      if (group === "split") command.option("--no-split", "write every kept record to train.jsonl");
    }
    command.addOption(optionFrom(spec));
  }
  command
    .optionsGroup("Output:")
    .option("--json", "print a machine-readable summary (JSON) on stdout")
    .option("-q, --quiet", "no progress or summary on stderr")
    .addHelpText("after", examples)
    .action(async (inputs: string[], options: RunCommandOptions, command: Command) => {
      // The config schema is zod: loaded here, not at the top, so that other commands never build it.
      const { loadRunConfig, parseRunConfig } = await import("@curate/pipeline/config");
      const fromFile = options.config ? await loadRunConfig(options.config) : {};
      const config = parseRunConfig(mergeFlags(fromFile, inputs, options, command), "command line");
      if (options.status) {
        await printQueueStatus(config, options.json ?? false);
        return;
      }
      await runConfigured(config, { json: options.json ?? false, quiet: options.quiet ?? false });
    });
}

/**
 * Flags the user typed override the config file; defaults never do. Every option with a config key lands at its
 * place in the table; the few that map otherwise (the --dedup switch, --no-validate, --no-split, --model, --rule,
 * sizes, leakage) are handled by name. Returns the unchecked result.
 */
function mergeFlags(base: RunConfig, inputs: string[], o: RunCommandOptions, command: Command): unknown {
  const given = (name: string) => {
    const source = command.getOptionValueSource(name);
    return source !== undefined && source !== "default";
  };
  const config: Record<string, unknown> = structuredClone(base) as Record<string, unknown>;
  if (inputs.length > 0) config.inputs = inputs;
  /** The section object of `section` (a copy), creating it; `undefined` when a flag turned the section off. */
  const sections = new Map<Section, Record<string, unknown>>();
  const open = (section: Exclude<Section, "top">): Record<string, unknown> => {
    let object = sections.get(section);
    if (!object) {
      const current = config[section];
      object = { ...(typeof current === "object" && current !== null ? current : {}) };
      sections.set(section, object);
      config[section] = object;
    }
    return object;
  };

  if (given("dedup") && o.dedup === "none") config.dedup = false;
  else if (given("dedup")) Object.assign(open("dedup"), { exact: true, near: o.dedup === "near" });
  if (given("validate") && o.validate === false) config.validate = false;
  if (given("split") && o.split === false) config.split = false;
  if (given("tokenizer") && given("model")) usage("give --tokenizer or --model, not both");
  if ((given("testSize") || given("validationSize")) && given("split")) {
    usage("give either --split ratios or --test-size/--validation-size, not both");
  }

  // The environment's service applies to runs that count tokens; it does not ask for a tokenizer.
  const tokensOn = given("tokenizer") || given("model") || (typeof base.tokens === "object" && base.tokens !== null);
  for (const spec of runOptions) {
    if (!given(spec.name)) continue;
    if (spec.env !== undefined && command.getOptionValueSource(spec.name) === "env" && !tokensOn) continue;
    const value = o[spec.name];
    if (spec.section === "top") {
      if (spec.key) config[spec.key] = value;
      continue;
    }
    if (config[spec.section] === false) continue; // a section switched off by --no-validate / --dedup none / --no-split
    const section = open(spec.section);
    if (spec.key)
      section[spec.key] =
        spec.value.kind === "csv"
          ? String(value)
              .split(",")
              .map((s) => s.trim())
          : value;
    else if (spec.name === "rule") section.rules = { ...(section.rules as object), ...parseRules(value as string[]) };
    else if (spec.name === "model") section.tokenizer = value;
    else if (spec.name === "testSize" || spec.name === "validationSize") {
      delete section.ratios;
      section.sizes = { ...(section.sizes as object), [spec.name === "testSize" ? "test" : "validation"]: value };
    } else if (spec.name === "leakageNgram") section.leakage = { ngram: value };
    else if (spec.name === "leakageCheck" && value === false) section.leakage = false;
  }
  const tokens = config.tokens;
  if (typeof tokens === "object" && tokens !== null && (tokens as { tokenizer?: unknown }).tokenizer === undefined) {
    usage("--max-tokens, --min-tokens and --on-overflow need a tokenizer: add --model NAME or --tokenizer NAME|DIR");
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
  const { stages, splitStage } = await planStages(config, {
    notice: output.quiet ? () => {} : note,
    onDevice: (line) => {
      if (!output.quiet) note(line);
    },
  });
  // The shard phase's threads (reading, validation verdicts, dedup hashes and sketches, token counts); the stages'
  // own threads (--threads) serve the records that come without that work. In-process by default: on the shared
  // 2-core machine the shard phase on 2 threads has not yet beaten it (bench/RESULTS.md, run:all-w1 and -w2).
  const workers = config.workers ?? 1;
  const resolved = await resolveInputs(inputs);
  const progress = createProgress(
    resolved.reduce((sum, input) => sum + (input.bytes ?? 0), 0),
    output.quiet || output.json,
  );
  if (config.queue && (inputs.length === 0 || inputs.includes("-"))) {
    usage(
      "--queue needs input files that the workers can read (stdin cannot be shared): give paths on a shared folder",
    );
  }
  if (config.queue && workers > 1)
    usage("give --queue or --workers, not both: with --queue, `curate worker` processes run the shards");
  const readOptions = {
    ...(config.maxLineBytes !== undefined ? { maxLineBytes: config.maxLineBytes } : {}),
    ...(config.maxDepth !== undefined ? { maxDepth: config.maxDepth } : {}),
    ...(config.shardBytes !== undefined ? { shardBytes: config.shardBytes } : {}),
    config,
    onBytes: progress.bytes,
  };
  // The queue (BullMQ, ioredis) loads only for a distributed run.
  const queued = config.queue
    ? (await import("@curate/queue")).queueSource(inputs, { ...readOptions, url: config.queue, out: config.out! })
    : undefined;
  let manifest: Manifest;
  const mix = new (await import("../format-mix.js")).FormatMix();
  try {
    manifest = await runDataset({
      dir: config.out!,
      splits: splitStage ? splitStage.splits : ["train"],
      compress: config.compress ?? false,
      ...(config.outputFormat !== undefined ? { format: config.outputFormat } : {}),
      force: config.force ?? false,
      inputs,
      source: queued
        ? queued.source
        : workers > 1
          ? (await import("@curate/pipeline/shards")).workersSource(inputs, { ...readOptions, workers })
          : readInputs(inputs, {
              ...(config.maxLineBytes !== undefined ? { maxLineBytes: config.maxLineBytes } : {}),
              ...(config.maxDepth !== undefined ? { maxDepth: config.maxDepth } : {}),
              onBytes: progress.bytes,
            }),
      stages,
      // Not a transform: it counts the formats of the records written (the data goes out as it is).
      transform: (item) => {
        mix.add(item);
        return item.data;
      },
      config: { command: output.command ?? "run", ...recorded(config), inputs: inputs.length > 0 ? inputs : ["-"] },
      seed: config.seed ?? DEFAULT_SEED,
      toolVersion: version,
      onRecords: progress.records,
    });
    await queued?.finish();
  } finally {
    progress.done();
    await queued?.close();
  }
  const mixed = mix.warning();
  if (output.json)
    printJson({ out: resolve(config.out!), ...manifestSummaryJson(manifest), ...(mixed ? { warnings: [mixed] } : {}) });
  else if (!output.quiet) {
    if (mixed) note(mixed);
    note(table(summaryRows(manifest)));
    for (const line of summaryNotes(manifest)) note(line);
    note(`wrote ${manifest.outputs.map((o) => o.path).join(", ")} and manifest.json to ${config.out}`);
  }
  if (manifest.conservation.rejected > 0) process.exitCode = 1;
  return manifest;
}

/** The configuration as the manifest records it: where tokens were counted (a service's socket) changes no byte. */
function recorded(config: RunConfig): RunConfig {
  if (typeof config.tokens !== "object" || config.tokens.service === undefined) return config;
  const { service: _, ...tokens } = config.tokens;
  return { ...config, tokens };
}

/** `curate run ... --queue URL --status`: where the run with these inputs and options stands. */
async function printQueueStatus(config: RunConfig, json: boolean): Promise<void> {
  if (!config.queue)
    usage("--status shows a distributed run: add --queue redis://HOST:PORT (and the run's inputs and options)");
  const inputs = config.inputs ?? [];
  if (inputs.length === 0 || inputs.includes("-"))
    usage("--status needs the run's input files (stdin is never queued)");
  const { runStatus } = await import("@curate/queue");
  const status = await runStatus(inputs, {
    url: config.queue,
    out: config.out!,
    ...(config.maxLineBytes !== undefined ? { maxLineBytes: config.maxLineBytes } : {}),
    ...(config.shardBytes !== undefined ? { shardBytes: config.shardBytes } : {}),
    config,
  });
  if (json) {
    printJson(status);
    return;
  }
  const rows = table([
    ["shards", status.shards],
    ["done", status.done],
    ["running", status.running],
    ["waiting", status.waiting],
    ["failed", status.failed],
    ["not queued", status.notQueued],
  ]);
  process.stdout.write(`run ${status.run.slice(0, 12)} on ${config.queue}\n${rows}\n`);
  for (const f of status.failures) process.stdout.write(`failed: shard ${f.shard} (${f.path}): ${f.reason}\n`);
}
