import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ChatTemplate, compileTemplate, templateSources, tokenString } from "./chat-template.js";
import {
  type AddedToken,
  HfEngine,
  type HfTables,
  type SharedHfTables,
  shareTables,
  tablesFromShared,
  unsupportedReason,
} from "./engine/hf-engine.js";
import { scanTokenizerJson } from "./engine/scan-json.js";
import { tiktokenEngine } from "./engine/tiktoken-data.js";
import { fastRendererFor } from "./fast-templates.js";
import { contentText, openAiChatCount } from "./openai.js";
import type { ChatCount, ChatInput, OpenAiEncoding, TokenizerInfo, TokenizerSpec } from "./types.js";

/**
 * A loaded tokenizer, synchronous: what runs inside a worker thread (or in-process for one thread). The async
 * `Tokenizer` interface wraps it.
 */
export interface Backend {
  readonly info: TokenizerInfo;
  count(texts: readonly string[]): Uint32Array;
  encode(texts: readonly string[]): Uint32Array[];
  decode(ids: readonly Uint32Array[]): string[];
  countChats(chats: readonly ChatInput[]): ChatCount[];
  /**
   * What another thread needs to load this tokenizer without building it again (`loadBackend(spec, options, shared)`),
   * or undefined where loading is cheap or not shareable.
   */
  share?(): SharedBackend | undefined;
}

/**
 * A loaded Hugging Face fast engine, for other threads: `tokenizer.json` without `model.vocab` and `model.merges`
 * (a few kB: added tokens, pre-tokenizer, ...) and the tables built from those two, in shared memory. Loading Llama 3
 * from its 9 MB file costs each thread ~0.6 s of CPU (read, `JSON.parse`, building the tables) and ~60 MB of heap;
 * from this, a few milliseconds.
 */
export interface SharedBackend {
  readonly json: Json;
  readonly tables: SharedHfTables;
}

export interface BackendOptions {
  /** Piece-cache entries of the fast engine; 0 turns the cache off. */
  readonly cacheEntries?: number;
}

type Json = Record<string, unknown>;

const vocabSizes: Record<OpenAiEncoding, number> = {
  o200k_base: 200019,
  cl100k_base: 100277,
  p50k_base: 50281,
  r50k_base: 50257,
};

/**
 * Loads the tokenizer a spec names. Tokenizer libraries (`tiktoken`, `@huggingface/tokenizers`, `@huggingface/jinja`)
 * are imported here, on demand, never at module load: validating data must not pay for them. `shared` (from another
 * thread's `backend.share()` for the same spec) skips reading and building the tokenizer's tables.
 * @example const backend = await loadBackend({ kind: "openai", encoding: "o200k_base" }); backend.count(["hi"]);
 */
export async function loadBackend(
  spec: TokenizerSpec,
  options: BackendOptions = {},
  shared?: SharedBackend,
): Promise<Backend> {
  return spec.kind === "openai" ? loadOpenAi(spec, options) : loadHuggingFace(spec, options, shared);
}

function countAll(texts: readonly string[], count: (text: string) => number): Uint32Array {
  const out = new Uint32Array(texts.length);
  for (let i = 0; i < texts.length; i++) out[i] = count(texts[i]!);
  return out;
}

function safely(count: () => ChatCount): ChatCount {
  try {
    return count();
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

async function loadOpenAi(spec: Extract<TokenizerSpec, { kind: "openai" }>, options: BackendOptions): Promise<Backend> {
  const engine = spec.engine ?? "fast";
  let countOne: (text: string) => number;
  let encodeOne: (text: string) => Uint32Array;
  let decodeOne: (ids: Uint32Array) => string;
  const decoder = new TextDecoder();
  if (engine === "fast") {
    const fast = tiktokenEngine(
      spec.encoding,
      options.cacheEntries === undefined ? {} : { cacheEntries: options.cacheEntries },
    );
    countOne = (text) => fast.count(text);
    encodeOne = (text) => fast.encode(text);
    decodeOne = (ids) => decoder.decode(fast.decodeBytes(ids));
  } else {
    const tiktoken = await importOrExplain<typeof import("tiktoken")>("tiktoken", () => import("tiktoken"));
    const encoder = tiktoken.get_encoding(spec.encoding);
    // `encode_ordinary`: special-token strings in the text are plain text (see TokenizerInfo.specialTokensInText).
    countOne = (text) => encoder.encode_ordinary(text).length;
    encodeOne = (text) => encoder.encode_ordinary(text);
    decodeOne = (ids) => decoder.decode(encoder.decode(ids));
  }
  const info: TokenizerInfo = {
    name: spec.encoding,
    kind: "openai",
    engine,
    ...(spec.model === undefined ? {} : { model: spec.model }),
    vocabSize: vocabSizes[spec.encoding],
    chatAccounting: "openai-estimate",
    specialTokensInText: "ordinary",
    sequenceOverhead: 0,
  };
  return {
    info,
    count: (texts) => countAll(texts, countOne),
    encode: (texts) => texts.map(encodeOne),
    decode: (ids) => ids.map(decodeOne),
    countChats: (chats) => chats.map((chat) => safely(() => openAiChatCount(chat, countOne, spec.encoding))),
  };
}

/** Imports an optional dependency, turning "not installed" into a message that says what to install. */
async function importOrExplain<T>(name: string, load: () => Promise<unknown>): Promise<T> {
  try {
    return (await load()) as T;
  } catch (cause) {
    const error = new Error(
      `the tokenizer library "${name}" could not be loaded; install it with: npm install ${name} (beside a global curate: npm install -g ${name})`,
      {
        cause,
      },
    );
    error.name = "MissingDependency";
    throw error;
  }
}

/** Tokens the post-processor adds around one sequence (`add_special_tokens`): BOS for Llama, CLS/SEP for BERT. */
function postProcessorSpecials(processor: unknown): number {
  if (typeof processor !== "object" || processor === null) return 0;
  const p = processor as Json;
  switch (p.type) {
    case "TemplateProcessing":
      return Array.isArray(p.single) ? p.single.filter((part) => "SpecialToken" in (part as Json)).length : 0;
    case "BertProcessing":
    case "RobertaProcessing":
      return 2;
    case "Sequence":
      return Array.isArray(p.processors) ? p.processors.reduce((n: number, q) => n + postProcessorSpecials(q), 0) : 0;
    default:
      return 0;
  }
}

/** Finds special tokens (`special: true` added tokens) in rendered text, to locate where a chat turn ends. */
function specialFinder(
  added: readonly AddedToken[],
): (text: string, from: number) => readonly [number, number] | undefined {
  const specials = added.filter((t) => t.special && t.content !== "").map((t) => t.content);
  const firstChars = [...new Set(specials.map((s) => s[0]!))];
  return (text, from) => {
    let best: [number, number] | undefined;
    for (const c of firstChars) {
      let i = text.indexOf(c, from);
      while (i >= 0 && (best === undefined || i < best[0])) {
        let longest = 0;
        for (const s of specials) if (s.length > longest && text.startsWith(s, i)) longest = s.length;
        if (longest > 0) {
          best = [i, i + longest];
          break;
        }
        i = text.indexOf(c, i + 1);
      }
    }
    return best;
  };
}

async function loadHuggingFace(
  spec: Extract<TokenizerSpec, { kind: "huggingface" }>,
  options: BackendOptions,
  shared: SharedBackend | undefined,
): Promise<Backend> {
  let json: Json;
  let tables: HfTables | undefined;
  const requested = spec.engine ?? "fast";
  if (shared !== undefined) {
    json = shared.json;
    tables = tablesFromShared(shared.tables);
  } else {
    const text = readFileSync(join(spec.dir, "tokenizer.json"), "utf8");
    // The fast engine's tables straight from the text (see scan-json.ts); anything else parses the whole file.
    const scanned = requested === "fast" ? scanTokenizerJson(text) : undefined;
    if (scanned !== undefined && unsupportedReason(scanned.json) === undefined) ({ json, tables } = scanned);
    else json = JSON.parse(text) as Json;
  }
  const configPath = join(spec.dir, "tokenizer_config.json");
  const config = (existsSync(configPath) ? JSON.parse(readFileSync(configPath, "utf8")) : {}) as Json;
  const jinjaPath = join(spec.dir, "chat_template.jinja");
  const jinjaFile = existsSync(jinjaPath) ? readFileSync(jinjaPath, "utf8") : undefined;
  const added = (json.added_tokens ?? []) as AddedToken[];

  // The fast engine covers byte-level BPE tokenizers (Llama 3, Qwen, GPT-2 style); anything else uses the library.
  const engine = requested === "fast" && unsupportedReason(json) === undefined ? "fast" : "reference";
  let countOne: (text: string) => number;
  let encodeOne: (text: string) => Uint32Array;
  let decodeOne: (ids: Uint32Array) => string;
  let vocabSize = 0;
  let share: (() => SharedBackend) | undefined;
  if (engine === "fast") {
    const fast = new HfEngine(
      json,
      options.cacheEntries === undefined ? {} : { cacheEntries: options.cacheEntries },
      tables,
    );
    countOne = (text) => fast.count(text);
    encodeOne = (text) => fast.encode(text);
    decodeOne = (ids) => fast.decode(ids);
    // The engine knows the largest vocabulary id: walking the 128k-key `model.vocab` again cost 70–100 ms.
    vocabSize = fast.vocabSize;
    let sharing: SharedBackend | undefined = shared;
    share = () => {
      if (sharing === undefined) {
        const model = { ...(json.model as Json) };
        delete model.vocab;
        delete model.merges;
        sharing = { json: { ...json, model }, tables: shareTables(fast.tables) };
      }
      return sharing;
    };
  } else {
    const { Tokenizer } = await importOrExplain<typeof import("@huggingface/tokenizers")>(
      "@huggingface/tokenizers",
      () => import("@huggingface/tokenizers"),
    );
    const tokenizer = new Tokenizer(json, config);
    countOne = (text) => tokenizer.encode(text, { add_special_tokens: false }).ids.length;
    encodeOne = (text) => Uint32Array.from(tokenizer.encode(text, { add_special_tokens: false }).ids);
    decodeOne = (ids) => tokenizer.decode([...ids], { skip_special_tokens: false });
  }

  const sources = templateSources(config, jinjaFile);
  let template: ChatTemplate | undefined;
  if (sources.default !== undefined) {
    const jinja = await importOrExplain<typeof import("@huggingface/jinja")>(
      "@huggingface/jinja",
      () => import("@huggingface/jinja"),
    );
    template = new ChatTemplate(
      compileTemplate(jinja, sources.default),
      sources.tools === undefined ? undefined : compileTemplate(jinja, sources.tools),
      config,
      specialFinder(added),
      engine === "fast" ? fastRendererFor(sources.default) : undefined,
    );
  }
  const eosToken = tokenString(config.eos_token);
  const bosToken = tokenString(config.bos_token);
  const sequenceOverhead = postProcessorSpecials(json.post_processor) + (eosToken === undefined ? 0 : 1);
  if (engine === "reference") {
    const model = json.model as { vocab?: Record<string, number> } | undefined;
    for (const id of Object.values(model?.vocab ?? {})) vocabSize = Math.max(vocabSize, id + 1);
  }
  for (const token of added) vocabSize = Math.max(vocabSize, token.id + 1);
  const info: TokenizerInfo = {
    name: spec.name,
    kind: "huggingface",
    engine,
    vocabSize,
    chatAccounting: template === undefined ? "plain" : "chat-template",
    specialTokensInText: "special",
    sequenceOverhead,
    ...(bosToken === undefined ? {} : { bosToken }),
    ...(eosToken === undefined ? {} : { eosToken }),
  };
  const plainChat = (chat: ChatInput): ChatCount => {
    // No template (a base model): "role: content" blocks, an estimate of what a user-chosen format would cost.
    let total = sequenceOverhead;
    let trainable = 0;
    for (const message of chat.messages) {
      const text = contentText(message.content);
      total += countOne(`${message.role}: ${text}\n\n`);
      if (message.role === "assistant" && message.weight !== 0) trainable += countOne(text);
    }
    return { total, trainable, exact: false };
  };
  return {
    info,
    count: (texts) => countAll(texts, countOne),
    encode: (texts) => texts.map(encodeOne),
    decode: (ids) => ids.map(decodeOne),
    countChats: (chats) =>
      chats.map((chat) => safely(() => (template === undefined ? plainChat(chat) : template.count(chat, countOne)))),
    ...(share === undefined ? {} : { share }),
  };
}
