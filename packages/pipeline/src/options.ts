/**
 * Every option of a run, declared once: its flag, where it goes in the run configuration, the kind of value, its
 * help and its default (imported from the stage package that uses it). The CLI's flags (`curate run`, and the
 * options `curate dedup` and `curate split` share with it) and the configuration schema (`./config.ts`) are both
 * generated from this table, so a default lives in one place and a flag has one name everywhere.
 *
 * Plain data on purpose: the CLI reads it while registering commands, so it loads no zod and no stage code.
 */
import {
  DEFAULT_MODE,
  DEFAULT_NGRAM,
  DEFAULT_NORMALIZATION,
  DEFAULT_NUM_PERM,
  DEFAULT_SHINGLE,
  DEFAULT_THRESHOLD,
} from "@curate/dedup/defaults";
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_LINE_BYTES, MAX_MAX_DEPTH } from "@curate/read/defaults";
import { DEFAULT_LEAKAGE_NGRAM, DEFAULT_RATIOS, DEFAULT_SEED } from "@curate/split/defaults";

/** The kind of value an option takes, for the flag's parser and the config schema. */
export type OptionValue =
  | { readonly kind: "boolean" }
  | { readonly kind: "string" }
  /** A string given as a flag, `true`/`false` style seeds included: a string or a number in the config file. */
  | { readonly kind: "seed" }
  | { readonly kind: "int"; readonly min: number; readonly max?: number }
  | { readonly kind: "fraction"; readonly exclusiveMin?: boolean }
  | { readonly kind: "choice"; readonly choices: readonly string[] }
  /** Repeatable flag (`--key a --key b`); a list in the config file. */
  | { readonly kind: "list" }
  /** Comma-separated flag (`--normalize nfkc,lower`); a list in the config file. */
  | { readonly kind: "csv" };

/** The sections of the run configuration; `top` is the top level. */
export type Section = "top" | "validate" | "dedup" | "decontaminate" | "tokens" | "split";

export interface OptionSpec {
  /** camelCase name: commander's attribute name for the flag. */
  readonly name: string;
  /** The flag as commander takes it: `--threshold <j>`, `-o, --out <dir>`, `--no-verify`. */
  readonly flag: string;
  readonly help: string;
  readonly section: Section;
  /** The key in its section of the configuration; absent for flags that only the CLI reads. */
  readonly key?: string;
  readonly value: OptionValue;
  /** An environment variable that sets the flag when it is not given (the flag wins). */
  readonly env?: string;
  /** The default, shown in help; the stage applies it (the configuration leaves it out). */
  readonly default?: string | number | boolean | readonly string[];
}

const positive = { kind: "int", min: 1 } as const;

/**
 * The options of `curate run`, in help order. `curate dedup` and `curate split` pick theirs from here by name.
 * @example runOptions.find((o) => o.name === "threshold")?.default; // 0.8
 */
export const runOptions: readonly OptionSpec[] = [
  {
    name: "out",
    flag: "-o, --out <dir>",
    section: "top",
    key: "out",
    value: { kind: "string" },
    help: "output folder (required); must be empty unless --force",
  },
  {
    name: "force",
    flag: "--force",
    section: "top",
    key: "force",
    value: { kind: "boolean" },
    help: "write into a non-empty folder, replacing curate's files there",
  },
  {
    name: "compress",
    flag: "--compress",
    section: "top",
    key: "compress",
    value: { kind: "boolean" },
    help: "write .jsonl.gz split files",
  },
  {
    name: "outputFormat",
    flag: "--output-format <format>",
    section: "top",
    key: "outputFormat",
    value: { kind: "choice", choices: ["jsonl", "parquet"] },
    default: "jsonl",
    help: "write records (splits, rejects, duplicates, --out) as JSONL or Parquet files",
  },
  {
    name: "to",
    flag: "--to <format>",
    section: "top",
    key: "to",
    value: { kind: "string" },
    help: "convert records to this format on the way out (chat, alpaca, sharegpt, ...)",
  },
  {
    name: "extra",
    flag: "--extra <mode>",
    section: "top",
    key: "extra",
    value: { kind: "choice", choices: ["error", "keep", "drop"] },
    default: "error",
    help: "with --to: keys the target format has no place for are an error, kept or dropped",
  },
  {
    name: "seed",
    flag: "--seed <seed>",
    section: "top",
    key: "seed",
    value: { kind: "seed" },
    default: DEFAULT_SEED,
    help: "seed for the split",
  },
  {
    name: "threads",
    flag: "--threads <n>",
    section: "top",
    key: "threads",
    value: { kind: "int", min: 1, max: 256 },
    help: "worker threads for near dedup and tokens (default: cores)",
  },
  {
    name: "workers",
    flag: "--workers <n>",
    section: "top",
    key: "workers",
    value: { kind: "int", min: 1, max: 256 },
    default: 1,
    help: "threads for the shard phase (reading, validation, dedup hashes and sketches, token counts); output byte-identical for any n (1: in-process)",
  },
  {
    name: "shardBytes",
    flag: "--shard-bytes <n>",
    section: "top",
    key: "shardBytes",
    value: { kind: "int", min: 1 },
    default: 64 * 1024 * 1024,
    help: "bytes per shard of a big JSONL file or JSON array, for --workers",
  },
  {
    name: "queue",
    flag: "--queue <url>",
    section: "top",
    key: "queue",
    value: { kind: "string" },
    help: "run the shard phase on `curate worker` processes through Redis (redis://HOST:PORT); --out must be a folder they all see",
  },
  {
    name: "status",
    flag: "--status",
    section: "top",
    value: { kind: "boolean" },
    help: "with --queue: show how far this run's shards are (done, running, waiting, failed) and exit",
  },
  {
    name: "maxLineBytes",
    flag: "--max-line-bytes <n>",
    section: "top",
    key: "maxLineBytes",
    value: positive,
    default: DEFAULT_MAX_LINE_BYTES,
    help: "longest accepted input line in bytes (longer: rejected)",
  },
  {
    name: "maxDepth",
    flag: "--max-depth <n>",
    section: "top",
    key: "maxDepth",
    value: { kind: "int", min: 1, max: MAX_MAX_DEPTH },
    default: DEFAULT_MAX_DEPTH,
    help: `deepest nesting of objects and arrays a record may have, at most ${MAX_MAX_DEPTH} (deeper: rejected, too_deep)`,
  },

  {
    name: "format",
    flag: "--format <name>",
    section: "validate",
    key: "format",
    value: { kind: "string" },
    default: "auto",
    help: "auto, or chat, alpaca, prompt_completion, sharegpt, dpo, pairs",
  },
  {
    name: "schema",
    flag: "--schema <file>",
    section: "validate",
    key: "schema",
    value: { kind: "string" },
    help: "also check against your JSON Schema or zod module",
  },
  {
    name: "strict",
    flag: "--strict",
    section: "validate",
    key: "strict",
    value: { kind: "boolean" },
    help: "unknown keys are errors, not warnings",
  },
  {
    name: "rule",
    flag: "--rule <code=level>",
    section: "validate",
    value: { kind: "list" },
    help: "set a validation rule to error, warn or off (repeatable)",
  },

  {
    name: "threshold",
    flag: "--threshold <j>",
    section: "dedup",
    key: "threshold",
    value: { kind: "fraction", exclusiveMin: true },
    default: DEFAULT_THRESHOLD,
    help: "near dedup: Jaccard similarity threshold",
  },
  {
    name: "shingle",
    flag: "--shingle <spec>",
    section: "dedup",
    key: "shingle",
    value: { kind: "string" },
    default: DEFAULT_SHINGLE,
    help: "near dedup: word:N or char:N",
  },
  {
    name: "numPerm",
    flag: "--num-perm <n>",
    section: "dedup",
    key: "numPerm",
    value: { kind: "int", min: 16, max: 1024 },
    default: DEFAULT_NUM_PERM,
    help: "near dedup: MinHash permutations",
  },
  {
    name: "verify",
    flag: "--no-verify",
    section: "dedup",
    key: "verify",
    value: { kind: "boolean" },
    help: "near dedup: trust the MinHash estimate instead of exact Jaccard (no temp file)",
  },
  {
    name: "key",
    flag: "--key <field>",
    section: "dedup",
    key: "key",
    value: { kind: "list" },
    default: "text",
    help: "dedup key: text, json, or a field path (repeatable)",
  },
  {
    name: "normalize",
    flag: "--normalize <list>",
    section: "dedup",
    key: "normalize",
    value: { kind: "csv" },
    default: DEFAULT_NORMALIZATION.join(","),
    help: "exact dedup normalizations: nfkc,lower,punct,whitespace or none",
  },
  {
    name: "dedupMode",
    flag: "--dedup-mode <mode>",
    section: "dedup",
    key: "mode",
    value: { kind: "choice", choices: ["remove", "flag"] },
    default: DEFAULT_MODE,
    help: "remove duplicates, or flag them and keep them",
  },

  {
    name: "against",
    flag: "--against <file>",
    section: "decontaminate",
    key: "against",
    value: { kind: "list" },
    help: "eval set to decontaminate against (file, folder or glob; repeatable)",
  },
  {
    name: "ngram",
    flag: "--ngram <n>",
    section: "decontaminate",
    key: "n",
    value: { kind: "int", min: 1, max: 100 },
    default: DEFAULT_NGRAM,
    help: "decontamination n-gram size in words",
  },
  {
    name: "contamination",
    flag: "--contamination <mode>",
    section: "decontaminate",
    key: "mode",
    value: { kind: "choice", choices: ["remove", "flag"] },
    default: DEFAULT_MODE,
    help: "remove contaminated records, or flag and keep them",
  },

  {
    name: "tokenizer",
    flag: "--tokenizer <name|dir>",
    section: "tokens",
    key: "tokenizer",
    value: { kind: "string" },
    help: "o200k_base, cl100k_base, llama3, qwen3, or a folder with tokenizer.json",
  },
  {
    name: "model",
    flag: "--model <name>",
    section: "tokens",
    value: { kind: "string" },
    help: "OpenAI model whose encoding to use, e.g. gpt-4o-mini",
  },
  {
    name: "maxTokens",
    flag: "--max-tokens <n>",
    section: "tokens",
    key: "maxTokens",
    value: positive,
    help: "longest record in tokens",
  },
  {
    name: "minTokens",
    flag: "--min-tokens <n>",
    section: "tokens",
    key: "minTokens",
    value: { kind: "int", min: 0 },
    help: "shortest record in tokens",
  },
  {
    name: "onOverflow",
    flag: "--on-overflow <policy>",
    section: "tokens",
    key: "onOverflow",
    value: { kind: "choice", choices: ["drop", "truncate", "keep", "fail"] },
    default: "drop",
    help: "records over --max-tokens",
  },
  {
    name: "tokenizerService",
    flag: "--tokenizer-service <path|auto>",
    section: "tokens",
    key: "service",
    value: { kind: "string" },
    env: "CURATE_TOKENIZER_SERVICE",
    help: "count through `curate tokenizer serve` on this socket; auto: if one runs, else in-process",
  },
  {
    name: "device",
    flag: "--device <device>",
    section: "tokens",
    key: "device",
    value: { kind: "choice", choices: ["cpu", "gpu", "auto"] },
    default: "cpu",
    help: "count tokens on the cpu, the gpu (WebGPU; o200k/cl100k), or auto (the GPU when an adapter is found)",
  },

  {
    name: "split",
    flag: "--split <ratios>",
    section: "split",
    key: "ratios",
    value: { kind: "string" },
    default: DEFAULT_RATIOS,
    help: "split names and ratios, in order",
  },
  {
    name: "testSize",
    flag: "--test-size <n>",
    section: "split",
    value: { kind: "int", min: 0 },
    help: "exact number of test records (instead of ratios)",
  },
  {
    name: "validationSize",
    flag: "--validation-size <n>",
    section: "split",
    value: { kind: "int", min: 0 },
    help: "exact number of validation records (instead of ratios)",
  },
  {
    name: "splitKey",
    flag: "--split-key <path>",
    section: "split",
    key: "key",
    value: { kind: "string" },
    help: "field identifying a record for the split, e.g. id (default: the content hash)",
  },
  {
    name: "stratifyBy",
    flag: "--stratify-by <path>",
    section: "split",
    key: "stratifyBy",
    value: { kind: "string" },
    help: "field to stratify by, e.g. category or meta.lang",
  },
  {
    name: "groupBy",
    flag: "--group-by <path>",
    section: "split",
    key: "groupBy",
    value: { kind: "string" },
    help: "field naming a group that must not straddle splits, e.g. conversation_id",
  },
  {
    name: "leakageNgram",
    flag: "--leakage-ngram <n>",
    section: "split",
    value: { kind: "int", min: 1, max: 100 },
    default: DEFAULT_LEAKAGE_NGRAM,
    help: "word n-gram size of the train/held-out leakage check",
  },
  {
    name: "leakageCheck",
    flag: "--no-leakage-check",
    section: "split",
    value: { kind: "boolean" },
    help: "skip the exact and n-gram overlap check between train and held-out splits",
  },
];

/**
 * The spec of option `name`.
 * @example optionSpec("dedupMode").flag; // "--dedup-mode <mode>"
 */
export function optionSpec(name: string): OptionSpec {
  const spec = runOptions.find((o) => o.name === name);
  if (!spec) throw new Error(`no run option named "${name}"`);
  return spec;
}
