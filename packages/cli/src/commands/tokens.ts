import type { Command } from "commander";
import { InvalidArgumentError, Option } from "commander";
import {
  addIoOptions,
  type CommandRunResult,
  type IoOptions,
  note,
  parseInteger,
  parsePositive,
  printJson,
  runCommand,
  summaryJson,
  summaryTable,
  usage,
} from "../common.js";
import { checkJsonStdout } from "../json-output.js";

const examples = `
Examples:
  $ curate tokens data.jsonl --model gpt-4o-mini                 counts, histogram and fine-tuning cost
  $ curate tokens data/ --tokenizer llama3 --max-tokens 4096 --out fit.jsonl --rejects too-long.jsonl
  $ curate tokens data.jsonl --tokenizer ./models/qwen --max-tokens 2048 --on-overflow truncate > out.jsonl
  $ curate tokens data.jsonl --tokenizer o200k_base --min-tokens 8 --out kept.jsonl --json > stats.json
  $ cat raw.jsonl | curate tokens --model gpt-4.1-mini --price 5 --epochs 2 --out /dev/null
  $ curate tokens data.jsonl --tokenizer llama3 --tokenizer-service auto      through \`curate tokenizer serve\`
  $ curate tokens big.jsonl --model gpt-4o --device auto --out /dev/null   on the GPU when there is one

Tokenizers: OpenAI encodings (o200k_base, cl100k_base, p50k_base, r50k_base) or models (--model
gpt-4o-mini, gpt-4.1, gpt-3.5-turbo, ...); llama3 and qwen3 offline by name; or a folder holding a Hugging
Face tokenizer.json and tokenizer_config.json (download one with: huggingface-cli download ORG/NAME
tokenizer.json tokenizer_config.json --local-dir DIR). Nothing is downloaded at run time.

Chats are counted with the tokenizer's own chat template, so the count is what the trainer sees, and the
assistant (trainable) tokens are reported separately. OpenAI models use OpenAI's documented accounting (3
tokens per message, 1 per name, 3 to prime the reply; tools by the cookbook formula): an estimate.
Literal special-token strings such as <|endoftext|> are plain text for OpenAI encodings and special tokens
for Hugging Face tokenizers (what their trainers do).

Records pass through to stdout (or --out); the statistics go to stderr as a table or, with --json, to stdout as JSON (then --out FILE is needed for the records).
--on-overflow: drop (reject with too_many_tokens; default), keep, fail (stop, exit 1), or truncate the last
trainable text (alpaca output, completion, text, final assistant message; never preference records).
--annotate FIELD adds the counts to each record under FIELD: useful for inspection, but an extra key can
make trainers or the OpenAI API refuse the file.
--tokenizer-service PATH counts through the shared service (curate tokenizer serve) on that socket, which
loads each tokenizer once for every curate process on the machine; it must be running (else exit 2). auto: the
service on the default socket if one runs, else in-process threads (and a note says so). Default: in-process
threads, or $CURATE_TOKENIZER_SERVICE when set. Counts are the same either way.

--device gpu counts o200k_base and cl100k_base (gpt-4o, gpt-4, ...) on a GPU through WebGPU (the npm package
webgpu; without a GPU, Mesa's llvmpipe); other tokenizers stay on the CPU. auto: the GPU when an adapter is found.
The device and adapter are logged on stderr. Counts and ids are the same on every device.
Exit codes: 0 ok, 1 some records were rejected (unreadable, unknown shape, outside the limits), 2 usage error.`;

interface TokensCommandOptions extends IoOptions {
  tokenizer?: string;
  model?: string;
  maxTokens?: number;
  minTokens?: number;
  onOverflow: "drop" | "truncate" | "keep" | "fail";
  annotate?: string;
  threads?: number;
  price?: number;
  epochs?: number;
  engine?: "fast" | "reference";
  tokenizerService?: string;
  device: "cpu" | "gpu" | "auto";
}

function parsePrice(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`expected a price in USD per 1M training tokens (≥ 0), found "${value}"`);
  }
  return n;
}

/**
 * `curate tokens`: exact token counts, length policy, statistics and fine-tuning cost.
 * @example registerTokens(program); // curate tokens data.jsonl --model gpt-4o-mini --max-tokens 4096
 */
export function registerTokens(program: Command): void {
  const command = program
    .command("tokens")
    .summary("count tokens as the trainer sees them; length limits, statistics and cost")
    .description(
      "Count each record's tokens with an OpenAI encoding or a Hugging Face tokenizer (chats through the tokenizer's chat template), apply --max-tokens/--min-tokens, and print statistics with a histogram and, for OpenAI models, a fine-tuning cost estimate.",
    )
    .option("--tokenizer <name>", "o200k_base, cl100k_base, an OpenAI model, llama3, qwen3, or a tokenizer folder")
    .option("--model <name>", "OpenAI model: its tokenizer, message accounting, price and context limit")
    .addOption(new Option("--max-tokens <n>", "records with more tokens go by --on-overflow").argParser(parsePositive))
    .addOption(new Option("--min-tokens <n>", "reject records with fewer tokens").argParser(parsePositive))
    .addOption(
      new Option("--on-overflow <policy>", "over --max-tokens: drop, truncate, keep or fail")
        .choices(["drop", "truncate", "keep", "fail"])
        .default("drop"),
    )
    .option("--annotate <field>", "add { total, trainable, fields, exact } to each record under this key")
    .addOption(
      new Option("--threads <n>", "tokenizer threads (default: cores; 0 or 1 runs in-process)").argParser(parseInteger),
    )
    .addOption(
      new Option(
        "--tokenizer-service <path|auto>",
        "count through `curate tokenizer serve` on this socket (auto: if one runs)",
      ).env("CURATE_TOKENIZER_SERVICE"),
    )
    .addOption(
      new Option("--device <device>", "count on the cpu, the gpu (WebGPU), or auto (the GPU when one is found)")
        .choices(["cpu", "gpu", "auto"])
        .default("cpu"),
    )
    .addOption(new Option("--price <usd>", "price per 1M training tokens for the cost estimate").argParser(parsePrice))
    .addOption(
      new Option("--epochs <n>", "epochs for the cost estimate (default: OpenAI's rule)").argParser(parsePositive),
    )
    .addOption(
      new Option(
        "--engine <engine>",
        "fast (curate's, golden-tested) or reference (tiktoken / @huggingface/tokenizers)",
      )
        .choices(["fast", "reference"])
        .default("fast")
        .hideHelp(),
    );
  addIoOptions(command);
  command.addHelpText("after", examples).action(async (inputs: string[], options: TokensCommandOptions) => {
    await runTokens(inputs, options);
  });
}

async function runTokens(inputs: string[], options: TokensCommandOptions): Promise<void> {
  checkJsonStdout("tokens", options.json, options.out ?? "-");
  if (options.tokenizer === undefined && options.model === undefined) {
    usage("curate tokens needs --tokenizer NAME|DIR or --model NAME (e.g. --model gpt-4o-mini, --tokenizer llama3)");
  }
  // Loaded here, not at the top: other commands never pay for the tokens package (and it loads tokenizers lazily).
  const {
    closeSharedPool,
    closestOpenAiModels,
    countTokens,
    encodingForModel,
    estimateCost,
    renderStats,
    resolveTokenizer,
    statsJson,
  } = await import("@curate/tokens");
  if (options.model !== undefined && encodingForModel(options.model) === undefined) {
    usage(
      `--model ${options.model} is not an OpenAI model curate knows (closest: ${closestOpenAiModels(options.model).join(", ")}); use --tokenizer for other tokenizers, --price to price an unlisted model`,
    );
  }
  const engine = options.engine === undefined ? {} : { engine: options.engine };
  const spec = resolveTokenizer(options.tokenizer ?? options.model!, engine);
  // --model names the model for the accounting and the cost even when --tokenizer picks the encoding.
  const withModel = options.model !== undefined && spec.kind === "openai" ? { ...spec, model: options.model } : spec;
  const stage = countTokens({
    tokenizer: withModel,
    onOverflow: options.onOverflow,
    ...(options.maxTokens === undefined ? {} : { maxTokens: options.maxTokens }),
    ...(options.minTokens === undefined ? {} : { minTokens: options.minTokens }),
    ...(options.annotate === undefined ? {} : { annotate: options.annotate }),
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.tokenizerService ? { service: options.tokenizerService, onNotice: note } : {}),
    device: options.device,
    onDevice: (line) => {
      if (!options.quiet) note(line);
    },
  });

  let result: CommandRunResult;
  try {
    result = await runCommand({
      outputFormat: options.outputFormat,
      inputs,
      stages: [stage],
      out: options.out ?? "-",
      rejects: options.rejects,
      quiet: options.quiet,
      maxLineBytes: options.maxLineBytes,
      maxDepth: options.maxDepth,
    });
  } finally {
    await closeSharedPool();
  }

  if (result.totals.rejected > 0) process.exitCode = 1;
  const summary = stage.stats.summary();
  const info = stage.info();
  const model = withModel.kind === "openai" ? withModel.model : undefined;
  const cost =
    model !== undefined || options.price !== undefined
      ? estimateCost(stage.stats.keptLengths(), {
          ...(model === undefined ? {} : { model }),
          ...(options.price === undefined ? {} : { price: options.price }),
          ...(options.epochs === undefined ? {} : { epochs: options.epochs }),
        })
      : undefined;
  const context = { ...(info === undefined ? {} : { info }), ...(cost === undefined ? {} : { cost }) };
  if (options.json) {
    printJson({ ...summaryJson(result), tokens: statsJson(summary, context) });
    return;
  }
  if (options.quiet) return;
  note(summaryTable(result));
  note("");
  note(renderStats(summary, { ...context, width: 40 }).trimEnd());
}
