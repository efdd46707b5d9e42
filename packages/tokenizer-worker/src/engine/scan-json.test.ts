import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { corpus, randomTexts } from "../golden/texts.js";
import { resolveTokenizer } from "../resolve.js";
import type { TokenizerSpec } from "../types.js";
import { byteLevelAlphabet, HfEngine, type HfTables } from "./hf-engine.js";
import { scanTokenizerJson } from "./scan-json.js";

type Json = Record<string, unknown>;

function fileOf(name: string): string {
  const spec = resolveTokenizer(name) as Extract<TokenizerSpec, { kind: "huggingface" }>;
  return readFileSync(join(spec.dir, "tokenizer.json"), "utf8");
}

const texts = [...corpus, ...randomTexts(500, 5), "<|im_start|>user\nhi<|im_end|>", "<|eot_id|> x", ""];

/** Every observable of the tables: each vocabulary token's id and bytes, each id's length, each merge. */
function sameTables(json: Json, a: HfTables, b: HfTables): number {
  const model = json.model as { vocab: Record<string, number>; merges: (string | [string, string])[] };
  const charToByte = byteLevelAlphabet();
  const buf = new Uint8Array(4096);
  const outA = new Uint8Array(4096);
  const outB = new Uint8Array(4096);
  let mismatches = a.maxId === b.maxId && a.byteIds.join() === b.byteIds.join() ? 0 : 1;
  for (const [token, id] of Object.entries(model.vocab)) {
    let m = 0;
    for (let i = 0; i < token.length; i++) buf[m++] = charToByte[token.charCodeAt(i)] ?? -1;
    if (a.vocab.get(buf, 0, m) !== b.vocab.get(buf, 0, m)) mismatches++;
    const endA = a.vocab.copyBytes(id, outA, 0);
    if (endA !== b.vocab.copyBytes(id, outB, 0) || outA.subarray(0, endA).join() !== outB.subarray(0, endA).join())
      mismatches++;
  }
  for (let id = 0; id <= a.maxId + 10; id++) if (a.vocab.byteLength(id) !== b.vocab.byteLength(id)) mismatches++;
  for (const merge of model.merges) {
    const [left, right] = typeof merge === "string" ? merge.split(" ") : merge;
    const l = model.vocab[left!];
    const r = model.vocab[right!];
    if (l === undefined || r === undefined) continue;
    if (a.merges.rank(l, r) !== b.merges.rank(l, r) || a.merges.lastMerged !== b.merges.lastMerged) mismatches++;
  }
  return mismatches;
}

/** A small byte-level BPE tokenizer.json (Llama 3's settings) with merges over `words`, as JSON text. */
let llama3: Json | undefined;

function smallTokenizer(options: { arrays?: boolean; extraVocab?: Record<string, number> } = {}): Json {
  llama3 ??= JSON.parse(fileOf("llama3")) as Json;
  const base = llama3;
  const charToByte = byteLevelAlphabet();
  const chars: string[] = [];
  for (let c = 0; c < 512; c++) if (charToByte[c]! >= 0) chars[charToByte[c]!] = String.fromCharCode(c);
  const vocab: Record<string, number> = {};
  chars.forEach((c, b) => {
    vocab[c] = b;
  });
  const merges: (string | [string, string])[] = [];
  for (const word of ["Ġthe", "Ġquick", "ing", 'Ġ"q"', "\\\\", "ĊĊ", "é", "Ġ日本"]) {
    let left = word[0]!;
    for (const c of word.slice(1)) {
      // Characters outside the byte-level alphabet (日) make tokens the tables skip, as the reference does.
      merges.push(options.arrays ? [left, c] : `${left} ${c}`);
      left += c;
      vocab[left] ??= Object.keys(vocab).length;
    }
  }
  Object.assign(vocab, options.extraVocab);
  return { ...base, model: { ...(base.model as Json), vocab, merges } };
}

function engines(text: string): [HfEngine, HfEngine] {
  const scanned = scanTokenizerJson(text);
  if (scanned === undefined) throw new Error("scanTokenizerJson gave up");
  return [new HfEngine(JSON.parse(text) as Json), new HfEngine(scanned.json, {}, scanned.tables)];
}

describe("scanTokenizerJson", () => {
  it.each(["llama3", "qwen3"])("builds the same tables as JSON.parse + HfEngine (%s)", (name) => {
    const text = fileOf(name);
    const json = JSON.parse(text) as Json;
    const scanned = scanTokenizerJson(text);
    expect(scanned).toBeDefined();
    const { json: slim, tables } = scanned!;
    expect(slim).toEqual({ ...json, model: { ...(json.model as Json), vocab: {}, merges: [] } });
    expect(sameTables(json, new HfEngine(json).tables, tables)).toBe(0);
    const [reference, fast] = [new HfEngine(json), new HfEngine(slim, {}, tables)];
    expect(texts.map((t) => Array.from(fast.encode(t)))).toEqual(texts.map((t) => Array.from(reference.encode(t))));
  });

  it.each([
    ["compact, merges as strings", (json: Json) => JSON.stringify(json)],
    ["pretty-printed, merges as pairs", (json: Json) => JSON.stringify(json, null, 2), { arrays: true }],
    // JSON.stringify writes "Ġ" as is; the same file with \u escapes and escaped slashes must read the same.
    [
      "with \\u and \\/ escapes",
      (json: Json) =>
        JSON.stringify(json, null, "\t").replace(/Ġ/g, "\\u0120").replace(/Ċ/g, "\\u010A").replace(/\//g, "\\/"),
    ],
  ] as const)("reads a small tokenizer %s exactly as JSON.parse does", (_, write, options?: { arrays: boolean }) => {
    const json = smallTokenizer(options);
    const text = write(json);
    const [reference, fast] = engines(text);
    // The merges apply (so the comparison below is about them): " the" and "\\" are one token each, "日" three bytes.
    expect([fast.count(" the"), fast.count("\\"), fast.count("日")]).toEqual([1, 1, 3]);
    expect(sameTables(JSON.parse(text) as Json, reference.tables, fast.tables)).toBe(0);
    const inputs = [...texts, ' the quick "q" \\\\ thing\n\n é 日本', "the the the"];
    expect(inputs.map((t) => Array.from(fast.encode(t)))).toEqual(inputs.map((t) => Array.from(reference.encode(t))));
  });

  it.each([
    ["a duplicate vocabulary key", (t: string) => t.replace('"Ġt":', '"Ġt":100000,"Ġt":')],
    ["a duplicate id", (t: string) => t.replace('"Ġt":', '"Ġt":1,"zz":')],
    ["a non-integer id", (t: string) => t.replace(/"Ġt":(\d+)/, '"Ġt":$1.0')],
    ["an escaped key", (t: string) => t.replace('"vocab":', '"voc\\u0061b":')],
    [
      "merges before vocab",
      (t: string) => {
        const json = JSON.parse(t) as Json;
        const { vocab, merges, ...rest } = json.model as Json;
        return JSON.stringify({ ...json, model: { ...rest, merges, vocab } });
      },
    ],
    ["a merge without a space", (t: string) => t.replace('"Ġ t"', '"Ġt"')],
    ["a raw control character", (t: string) => t.replace('"Ġt":', '"Ġ\u0001t":')],
    ["invalid JSON", (t: string) => t.replace('"merges":[', '"merges":[,')],
  ])("leaves %s to JSON.parse (undefined)", (_, edit) => {
    const text = JSON.stringify(smallTokenizer());
    expect(scanTokenizerJson(text)).toBeDefined();
    expect(scanTokenizerJson(edit(text))).toBeUndefined();
  });

  it("never accepts what JSON.parse rejects: it gives up or throws the same SyntaxError", () => {
    const text = JSON.stringify(smallTokenizer());
    for (const bad of [
      `${text.slice(0, -1)},}`,
      `${text} x`,
      text.slice(0, -1),
      text.replace('"model":', '"model"'),
      "",
    ]) {
      expect(() => JSON.parse(bad)).toThrow(SyntaxError);
      let result: unknown;
      try {
        result = scanTokenizerJson(bad);
      } catch (error) {
        expect(error).toBeInstanceOf(SyntaxError);
        result = "threw";
      }
      expect(result === undefined || result === "threw").toBe(true);
    }
  });
});
