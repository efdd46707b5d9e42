import { BytePairEncoder } from "./bpe.js";
import { BpeEngine, IdBuffer } from "./engine.js";
import { isWhiteSpace, type Scanner, scannerFor } from "./pretokenize.js";
import { ByteTable, type ByteTableParts, PairTable, type PairTableParts } from "./tables.js";

/** An added token from `tokenizer.json` (`<|im_start|>`, `<|eot_id|>`, ...). */
export interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly special: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly single_word: boolean;
  readonly normalized: boolean;
}

type Json = Record<string, unknown>;

/**
 * GPT-2's byte ↔ printable-character table, which byte-level BPE vocabularies are written in: `charToByte[c]` is the
 * byte that character code `c` stands for, or -1.
 * @example byteLevelAlphabet()["Ġ".charCodeAt(0)]; // 32
 */
export function byteLevelAlphabet(): Int16Array {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const chars = [...bytes];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + extra++);
    }
  }
  const charToByte = new Int16Array(512).fill(-1);
  bytes.forEach((b, i) => {
    charToByte[chars[i]!] = b;
  });
  return charToByte;
}

/**
 * Writes the bytes of byte-level token `token[from, to)` into `out` at `at`; returns the new end, or -1 if it is not
 * written in the byte-level alphabet.
 */
function tokenBytes(token: string, charToByte: Int16Array, out: Uint8Array, at: number, from = 0, to = token.length) {
  for (let i = from; i < to; i++) {
    const c = token.charCodeAt(i);
    const b = c < 512 ? charToByte[c]! : -1;
    if (b < 0) return -1;
    out[at++] = b;
  }
  return at;
}

/**
 * Why the fast engine cannot run this `tokenizer.json` (the caller then uses `@huggingface/tokenizers`), or undefined
 * when it can. Supported: byte-level BPE with a `Split` regex this package implements (the Llama 3, Qwen 2/3,
 * cl100k and GPT-2 patterns), an optional NFC normalizer, and added tokens without `single_word`.
 */
export function unsupportedReason(json: Json): string | undefined {
  const normalizer = json.normalizer as Json | null | undefined;
  if (normalizer != null && normalizer.type !== "NFC") return `normalizer ${String(normalizer.type)}`;
  if (pattern(json) === undefined) return "pre-tokenizer";
  const model = json.model as Json | undefined;
  if (model?.type !== "BPE") return `model ${String(model?.type)}`;
  if (model.dropout != null && model.dropout !== 0) return "BPE dropout";
  if (model.byte_fallback === true) return "byte_fallback";
  if (model.continuing_subword_prefix) return "continuing_subword_prefix";
  if (model.end_of_word_suffix) return "end_of_word_suffix";
  const added = (json.added_tokens ?? []) as AddedToken[];
  if (added.some((t) => t.single_word)) return "single_word added tokens";
  if (added.some((t) => t.normalized && normalizer != null && /[^\x20-\x7e]/.test(t.content)))
    return "normalized non-ASCII added tokens";
  return undefined;
}

/** The `Split` regex of a `Sequence[Split, ByteLevel(use_regex: false)]` pre-tokenizer, or GPT-2's for `ByteLevel`. */
function pattern(json: Json): Scanner | undefined {
  const pre = json.pre_tokenizer as Json | null | undefined;
  if (pre == null) return undefined;
  if (pre.type === "ByteLevel") {
    if (pre.add_prefix_space !== false || pre.use_regex === false) return undefined;
    return scannerFor("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");
  }
  if (pre.type !== "Sequence") return undefined;
  const steps = pre.pretokenizers as Json[];
  if (steps.length !== 2) return undefined;
  const [split, byteLevel] = steps as [Json, Json];
  if (split.type !== "Split" || split.behavior !== "Isolated" || split.invert !== false) return undefined;
  if (byteLevel.type !== "ByteLevel" || byteLevel.add_prefix_space !== false || byteLevel.use_regex !== false)
    return undefined;
  const regex = (split.pattern as Json | undefined)?.Regex;
  return typeof regex === "string" ? scannerFor(regex) : undefined;
}

/** The `model` of a byte-level BPE `tokenizer.json`. */
type ModelJson = { vocab: Record<string, number>; merges: (string | [string, string])[] } & Json;

/**
 * The fast engine's lookup tables, built from `model.vocab` and `model.merges`: the expensive part of loading (for
 * Llama 3, parsing the 9 MB file and building these take ~0.5 s of CPU). Built once, they can be shared with other
 * threads (`shareTables`) instead of being built again in each.
 */
export interface HfTables {
  readonly vocab: ByteTable;
  readonly merges: PairTable;
  /** The id of each single byte. */
  readonly byteIds: Int32Array;
  /** The largest id in `model.vocab`. */
  readonly maxId: number;
}

/** `HfTables` as typed arrays over `SharedArrayBuffer`s: structured cloning passes them to a worker without a copy. */
export interface SharedHfTables {
  readonly vocab: ByteTableParts;
  readonly merges: PairTableParts;
  readonly byteIds: Int32Array;
  readonly maxId: number;
}

/**
 * Moves built tables into `SharedArrayBuffer`s (the tables keep working on them) for `tablesFromShared` in other
 * threads; the tables must not change afterwards (they do not: nothing adds to them once built).
 * @example worker.postMessage(shareTables(engine.tables)); // there: new HfEngine(json, {}, tablesFromShared(data))
 */
export function shareTables(tables: HfTables): SharedHfTables {
  const byteIds = new Int32Array(new SharedArrayBuffer(tables.byteIds.byteLength));
  byteIds.set(tables.byteIds);
  return { vocab: tables.vocab.share(), merges: tables.merges.share(), byteIds, maxId: tables.maxId };
}

/**
 * Tables over shared memory received from another thread's `shareTables`.
 * @example const engine = new HfEngine(slimJson, {}, tablesFromShared(message.tables));
 */
export function tablesFromShared(shared: SharedHfTables): HfTables {
  return {
    vocab: new ByteTable(shared.vocab),
    merges: new PairTable(shared.merges),
    byteIds: shared.byteIds,
    maxId: shared.maxId,
  };
}

function buildTables(model: ModelJson): HfTables {
  const charToByte = byteLevelAlphabet();
  // Everything below goes through the byte table, not the 128k-key vocabulary object: lookups on that object and
  // string concatenation per merge made loading Llama 3 take 2.5 s; this takes under 1 s.
  const tokens = Object.keys(model.vocab);
  const ids = new Int32Array(tokens.length);
  let maxId = 0;
  for (let i = 0; i < tokens.length; i++) {
    ids[i] = model.vocab[tokens[i]!]!;
    maxId = Math.max(maxId, ids[i]!);
  }
  const vocab = new ByteTable(tokens.length, maxId);
  let scratch = new Uint8Array(1024);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.length * 2 > scratch.length) scratch = new Uint8Array(token.length * 2);
    const end = tokenBytes(token, charToByte, scratch, 0);
    if (end >= 0) vocab.add(scratch.subarray(0, end), ids[i]!);
  }
  const byteIds = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    scratch[0] = b;
    const id = vocab.get(scratch, 0, 1);
    if (id < 0) throw new Error(`byte ${b} is not in the vocabulary`);
    byteIds[b] = id;
  }
  const merges = new PairTable(model.merges.length);
  for (let rank = 0; rank < model.merges.length; rank++) {
    const merge = model.merges[rank]!;
    // "a b" (byte-level tokens never contain a space: it is written "Ġ") or ["a", "b"]; no substrings are made.
    const text = typeof merge === "string" ? merge : `${merge[0]} ${merge[1]}`;
    const space = text.indexOf(" ");
    if (text.length * 2 > scratch.length) scratch = new Uint8Array(text.length * 2);
    const mid = tokenBytes(text, charToByte, scratch, 0, 0, space);
    const end = mid < 0 ? -1 : tokenBytes(text, charToByte, scratch, mid, space + 1, text.length);
    if (end < 0) continue;
    const left = vocab.get(scratch, 0, mid);
    const right = vocab.get(scratch, mid, end);
    const merged = vocab.get(scratch, 0, end);
    if (left >= 0 && right >= 0 && merged >= 0) merges.add(left, right, rank, merged);
  }
  return { vocab, merges, byteIds, maxId };
}

/**
 * The fast engine for a byte-level BPE `tokenizer.json`: added tokens split out first (leftmost-longest, as the
 * reference's Aho-Corasick matcher does), NFC where the normalizer asks for it, then the same pre-tokenizer, piece
 * cache and BPE loop as the OpenAI path, run in Hugging Face's `merges` mode.
 * `tables`, when given (from another thread), replace `model.vocab` and `model.merges`, which `json` may then lack.
 * @example const hf = new HfEngine(JSON.parse(readFileSync("tokenizer.json", "utf8"))); hf.count("<|im_start|>user");
 */
export class HfEngine {
  readonly vocabSize: number;
  readonly added: readonly AddedToken[];
  /** The lookup tables (for `shareTables`). */
  readonly tables: HfTables;
  private readonly engine: BpeEngine;
  private readonly nfc: boolean;
  /** Distinct lengths (longest first) of the added tokens starting with each character. */
  private readonly lengthsByStart = new Map<number, number[]>();
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly addedById = new Map<number, AddedToken>();
  private readonly starts: number[];
  private readonly out = new IdBuffer();

  constructor(json: Json, options: { cacheEntries?: number } = {}, tables?: HfTables) {
    const reason = unsupportedReason(json);
    if (reason !== undefined) throw new Error(`fast engine does not support ${reason}`);
    const model = json.model as Json;
    this.tables = tables ?? buildTables(model as ModelJson);
    const { vocab, merges, byteIds, maxId } = this.tables;
    const bpe = new BytePairEncoder("merges", vocab, merges, byteIds, model.ignore_merges === true);
    this.engine = new BpeEngine({
      scanner: pattern(json)!,
      bpe,
      vocab,
      ...(options.cacheEntries === undefined ? {} : { cacheEntries: options.cacheEntries }),
    });
    this.vocabSize = maxId + 1;
    this.nfc = (json.normalizer as Json | null)?.type === "NFC";
    this.added = (json.added_tokens ?? []) as AddedToken[];
    for (const token of this.added) {
      if (token.content === "") continue;
      const first = token.content.charCodeAt(0);
      const lengths = this.lengthsByStart.get(first) ?? [];
      if (!lengths.includes(token.content.length)) lengths.push(token.content.length);
      this.lengthsByStart.set(first, lengths);
      if (!this.addedByContent.has(token.content)) this.addedByContent.set(token.content, token);
      this.addedById.set(token.id, token);
    }
    for (const lengths of this.lengthsByStart.values()) lengths.sort((a, b) => b - a);
    this.starts = [...this.lengthsByStart.keys()];
  }

  get cacheStats(): { hits: number; misses: number; entries: number } {
    return this.engine.cacheStats;
  }

  /**
   * Calls `onText(start, end)` for ordinary text and `onAdded(token)` for each added token, in order. Whitespace next to
   * an `lstrip`/`rstrip` token belongs to the token, as in the reference.
   */
  private split(text: string, onText: (start: number, end: number) => void, onAdded: (token: AddedToken) => void) {
    const n = text.length;
    let textStart = 0;
    let pos = this.nextCandidate(text, 0);
    while (pos >= 0 && pos < n) {
      const token = this.matchAt(text, pos);
      if (token === undefined) {
        pos = this.nextCandidate(text, pos + 1);
        continue;
      }
      let textEnd = pos;
      if (token.lstrip) while (textEnd > textStart && isWhiteSpace(text.charCodeAt(textEnd - 1))) textEnd--;
      if (textEnd > textStart) onText(textStart, textEnd);
      onAdded(token);
      let after = pos + token.content.length;
      if (token.rstrip) while (after < n && isWhiteSpace(text.charCodeAt(after))) after++;
      textStart = after;
      pos = this.nextCandidate(text, after);
    }
    if (textStart < n) onText(textStart, n);
  }

  private nextCandidate(text: string, from: number): number {
    let best = -1;
    for (const c of this.starts) {
      const i = text.indexOf(String.fromCharCode(c), from);
      if (i >= 0 && (best < 0 || i < best)) best = i;
    }
    return best;
  }

  /** The longest added token at `pos` (Llama 3 has 256, in ~10 distinct lengths: one map lookup per length). */
  private matchAt(text: string, pos: number): AddedToken | undefined {
    const lengths = this.lengthsByStart.get(text.charCodeAt(pos));
    if (lengths === undefined) return undefined;
    for (const length of lengths) {
      if (pos + length > text.length) continue;
      const token = this.addedByContent.get(text.slice(pos, pos + length));
      if (token !== undefined) return token;
    }
    return undefined;
  }

  /**
   * Tokens in `text` as the reference encodes it without `add_special_tokens`: added-token strings in the text are
   * recognised as those tokens (what a trainer does with a rendered chat template).
   */
  count(text: string): number {
    let total = 0;
    if (this.starts.length === 0 || this.nextCandidate(text, 0) < 0) return this.countText(text, 0, text.length);
    this.split(
      text,
      (s, e) => {
        total += this.countText(text, s, e);
      },
      () => {
        total++;
      },
    );
    return total;
  }

  private countText(text: string, start: number, end: number): number {
    if (this.nfc) {
      const part = start === 0 && end === text.length ? text : text.slice(start, end);
      const normalized = part.normalize("NFC");
      return this.engine.count(normalized, 0, normalized.length);
    }
    return this.engine.count(text, start, end);
  }

  /** The ids of `text`, as `count` counts them. */
  encode(text: string): Uint32Array {
    const out = this.out;
    this.split(
      text,
      (s, e) => {
        if (this.nfc) this.engine.encodeInto(text.slice(s, e).normalize("NFC"), out);
        else this.engine.encodeInto(text, out, s, e);
      },
      (token) => out.push(token.id),
    );
    return out.take();
  }

  /** Text of `ids`: added tokens as their content, the rest as UTF-8 (invalid sequences become U+FFFD). */
  decode(ids: ArrayLike<number>): string {
    const decoder = new TextDecoder();
    let text = "";
    let run: number[] = [];
    const flush = () => {
      if (run.length > 0) text += decoder.decode(this.engine.decodeBytes(run));
      run = [];
    };
    for (let i = 0; i < ids.length; i++) {
      const token = this.addedById.get(ids[i]!);
      if (token === undefined) run.push(ids[i]!);
      else {
        flush();
        text += token.content;
      }
    }
    flush();
    return text;
  }
}
