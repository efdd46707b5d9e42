import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { BytePairEncoder } from "./bpe.js";
import { BpeEngine } from "./engine.js";
import { scannerFor } from "./pretokenize.js";
import { ByteTable } from "./tables.js";

/** The OpenAI encodings curate knows, all read from the files the `tiktoken` package ships. */
export type OpenAiEncoding = "o200k_base" | "cl100k_base" | "p50k_base" | "r50k_base";

export interface TiktokenData {
  readonly pattern: string;
  readonly specialTokens: Readonly<Record<string, number>>;
  readonly vocab: ByteTable;
}

/**
 * Reads an encoding's ranks from `tiktoken/encoders/<name>.json`, the same data the `tiktoken` package encodes with,
 * so the fast path and the reference cannot disagree about the vocabulary. The file is located, not imported: its
 * JavaScript wrapper would parse the 2 MB string a second time.
 * @example const { vocab } = loadTiktokenData("o200k_base"); vocab.size; // 199998
 */
export function loadTiktokenData(encoding: OpenAiEncoding): TiktokenData {
  const require = createRequire(import.meta.url);
  let path: string;
  try {
    path = require.resolve(`tiktoken/encoders/${encoding}.json`);
  } catch (cause) {
    // The bundled CLI (bundle/, installed with `npm install -g`) leaves tokenizer packages out: say what to install.
    throw new Error(
      `the OpenAI encoding ${encoding} comes from the npm package tiktoken, which is not installed: ` +
        "npm install tiktoken (beside a global curate: npm install -g tiktoken)",
      { cause },
    );
  }
  const json = JSON.parse(readFileSync(path, "utf8")) as {
    pat_str: string;
    special_tokens: Record<string, number>;
    bpe_ranks: string;
  };
  // Format: "! <first rank> <base64 token> <base64 token> ...", ranks consecutive from the first; "!" may restart.
  const parts = json.bpe_ranks.split(" ");
  const vocab = new ByteTable(parts.length);
  let rank = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === "!") {
      rank = Number(parts[++i]);
      continue;
    }
    vocab.add(Buffer.from(part, "base64"), rank++);
  }
  return { pattern: json.pat_str, specialTokens: json.special_tokens, vocab };
}

/**
 * The fast engine for an OpenAI encoding: the hand-written pre-tokenizer for its regex and tiktoken's BPE rule.
 * @example const engine = tiktokenEngine("o200k_base"); engine.count("hello world"); // 2
 */
export function tiktokenEngine(encoding: OpenAiEncoding, options: { cacheEntries?: number } = {}): BpeEngine {
  const data = loadTiktokenData(encoding);
  const scanner = scannerFor(data.pattern);
  if (scanner === undefined) throw new Error(`no pre-tokenizer for the ${encoding} pattern`);
  const bpe = new BytePairEncoder("ranks", data.vocab, undefined, undefined, true);
  return new BpeEngine({
    scanner,
    bpe,
    vocab: data.vocab,
    ...(options.cacheEntries === undefined ? {} : { cacheEntries: options.cacheEntries }),
  });
}
