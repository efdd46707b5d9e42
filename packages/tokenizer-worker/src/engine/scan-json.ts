import { byteLevelAlphabet, type HfTables } from "./hf-engine.js";
import { ByteTable, PairTable } from "./tables.js";

type Json = Record<string, unknown>;

/**
 * Reads a byte-level BPE `tokenizer.json` without `JSON.parse` on its two big members: `model.vocab` and
 * `model.merges` (Llama 3: 128k tokens and 280k merges, 9 MB) go straight from the text into the fast engine's tables,
 * and only the rest (a few kB) is parsed as JSON. Parsing the whole file made 400k strings and a 128k-key object that
 * building the tables then walked: `JSON.parse` 140–240 ms + `Object.keys` and lookups 60–90 ms per load, for tables
 * that this builds directly. Hand-written because no JSON library streams members of an object into typed arrays.
 *
 * Anything this strict reader is not sure about (escapes in keys, duplicate keys or ids, numbers that are not plain
 * integers, merges without exactly one space, `merges` before `vocab`, malformed text) gives `undefined`, and the
 * caller parses the file with `JSON.parse` as before, so results (and errors) are those of the reference path.
 * @example const scanned = scanTokenizerJson(readFileSync("tokenizer.json", "utf8")); // { json, tables } | undefined
 */
export function scanTokenizerJson(text: string): { json: Json; tables: HfTables } | undefined {
  try {
    return scan(text);
  } catch (error) {
    if (error === BAIL) return undefined;
    throw error;
  }
}

const BAIL = Symbol("bail");

function bail(): never {
  throw BAIL;
}

function skipWs(text: string, i: number): number {
  while (true) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else return i;
  }
}

function expect(text: string, i: number, c: number): number {
  if (text.charCodeAt(i) !== c) bail();
  return i + 1;
}

/** A key without escapes; returns its end (after the closing quote). */
function keyAt(text: string, i: number): [string, number] {
  i = expect(text, i, 34);
  const end = text.indexOf('"', i);
  if (end < 0) bail();
  const key = text.slice(i, end);
  if (key.includes("\\")) bail();
  return [key, end + 1];
}

/** The end of the JSON value at `i` (its validity is left to `JSON.parse` of the rest). */
function skipValue(text: string, i: number): number {
  let depth = 0;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      if (depth === 0) return i;
      if (--depth === 0) return i + 1;
    } else if (depth === 0 && (c === 44 || c === 32 || c === 10 || c === 13 || c === 9)) return i;
  }
  return depth === 0 && !inString ? i : bail();
}

/**
 * Decodes the JSON string at `i` into byte-level bytes in `state.bytes` from `state.used`; `state.valid` is false if a
 * character is outside the byte-level alphabet, `state.space` the byte offset of the first space (-1 if none).
 * Returns the index after the closing quote.
 */
function stringAt(text: string, i: number, state: StringState, charToByte: Int16Array, allowSpace: boolean): number {
  i = expect(text, i, 34);
  state.valid = true;
  state.space = -1;
  while (true) {
    let c = text.charCodeAt(i++);
    if (c === 34) return i;
    if (c < 0x20 || Number.isNaN(c)) bail();
    if (c === 92) {
      const e = text.charCodeAt(i++);
      if (e === 34 || e === 92 || e === 47) c = e;
      else if (e === 98) c = 8;
      else if (e === 102) c = 12;
      else if (e === 110) c = 10;
      else if (e === 114) c = 13;
      else if (e === 116) c = 9;
      else if (e === 117) {
        const hex = text.slice(i, i + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) bail();
        c = Number.parseInt(hex, 16);
        i += 4;
      } else bail();
    }
    if (c === 32 && allowSpace && state.space < 0) {
      state.space = state.used;
      continue;
    }
    const b = c < 512 ? charToByte[c]! : -1;
    if (b < 0) state.valid = false;
    else {
      if (state.used === state.bytes.length) {
        const grown = new Uint8Array(state.bytes.length * 2);
        grown.set(state.bytes);
        state.bytes = grown;
      }
      state.bytes[state.used++] = b;
    }
  }
}

interface StringState {
  bytes: Uint8Array;
  used: number;
  valid: boolean;
  space: number;
}

/** A non-negative integer in plain JSON form (no sign, fraction, exponent or leading zero). */
function integerAt(text: string, i: number): [number, number] {
  const start = i;
  let value = 0;
  while (true) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
    i++;
  }
  const length = i - start;
  if (length === 0 || length > 9 || (length > 1 && text.charCodeAt(start) === 48)) bail();
  const next = text.charCodeAt(i);
  if (next === 46 || next === 101 || next === 69) bail();
  return [value, i];
}

function scan(text: string): { json: Json; tables: HfTables } {
  const charToByte = byteLevelAlphabet();
  const state: StringState = { bytes: new Uint8Array(1 << 20), used: 0, valid: true, space: -1 };
  // The slim text: the file with `model.vocab` → {} and `model.merges` → [].
  const cuts: [number, number, string][] = [];
  let tables: HfTables | undefined;
  let vocab: ByteTable | undefined;
  let maxId = 0;
  let sawModel = false;

  let i = expect(text, skipWs(text, 0), 123);
  i = skipWs(text, i);
  if (text.charCodeAt(i) === 125) bail();
  while (true) {
    const [key, afterKey] = keyAt(text, i);
    i = skipWs(text, expect(text, skipWs(text, afterKey), 58));
    if (key === "model") {
      if (sawModel) bail();
      sawModel = true;
      i = skipWs(text, expect(text, i, 123));
      const seen = new Set<string>();
      while (text.charCodeAt(i) !== 125) {
        const [member, afterMember] = keyAt(text, i);
        if (seen.has(member)) bail();
        seen.add(member);
        i = skipWs(text, expect(text, skipWs(text, afterMember), 58));
        const valueStart = i;
        if (member === "vocab") {
          ({ vocab, maxId, end: i } = vocabAt(text, i, state, charToByte));
          cuts.push([valueStart, i, "{}"]);
        } else if (member === "merges") {
          if (vocab === undefined) bail();
          let merges: PairTable;
          ({ merges, end: i } = mergesAt(text, i, state, charToByte, vocab));
          tables = { vocab, merges, byteIds: byteIdsOf(vocab), maxId };
          cuts.push([valueStart, i, "[]"]);
        } else i = skipValue(text, i);
        i = skipWs(text, i);
        if (text.charCodeAt(i) === 44) i = skipWs(text, i + 1);
        else if (text.charCodeAt(i) !== 125) bail();
      }
      i++;
    } else i = skipValue(text, i);
    i = skipWs(text, i);
    if (text.charCodeAt(i) === 44) i = skipWs(text, i + 1);
    else if (text.charCodeAt(i) === 125) break;
    else bail();
  }
  if (tables === undefined) bail();
  let slim = "";
  let from = 0;
  for (const [start, end, empty] of cuts) {
    slim += text.slice(from, start) + empty;
    from = end;
  }
  slim += text.slice(from);
  // Parsing the rest checks the whole file's syntax around the two members (trailing text included).
  return { json: JSON.parse(slim) as Json, tables };
}

function vocabAt(
  text: string,
  i: number,
  state: StringState,
  charToByte: Int16Array,
): { vocab: ByteTable; maxId: number; end: number } {
  // Collect first (the table's size must be known), then insert.
  state.used = 0;
  let starts = new Int32Array(1 << 17);
  let ends = new Int32Array(1 << 17);
  let ids = new Int32Array(1 << 17);
  let n = 0;
  let maxId = 0;
  i = skipWs(text, expect(text, i, 123));
  if (text.charCodeAt(i) === 125) bail();
  while (true) {
    const start = state.used;
    i = stringAt(text, i, state, charToByte, false);
    i = skipWs(text, expect(text, skipWs(text, i), 58));
    const [id, afterId] = integerAt(text, i);
    i = skipWs(text, afterId);
    if (n === starts.length) {
      starts = grow(starts);
      ends = grow(ends);
      ids = grow(ids);
    }
    // A token outside the byte-level alphabet is not added (as `buildTables` does): marked by a negative start.
    if (state.valid) starts[n] = start;
    else {
      starts[n] = -1;
      state.used = start;
    }
    ends[n] = state.used;
    ids[n++] = id;
    if (id > maxId) maxId = id;
    const c = text.charCodeAt(i);
    if (c === 125) break;
    if (c !== 44) bail();
    i = skipWs(text, i + 1);
  }
  // Duplicate ids would make decoding depend on key order (JavaScript puts integer-like keys first): leave those to
  // JSON.parse. Duplicate keys likewise (JSON.parse keeps the last value).
  const seenIds = new Uint8Array(maxId + 1);
  for (let k = 0; k < n; k++) {
    if (seenIds[ids[k]!]) bail();
    seenIds[ids[k]!] = 1;
  }
  const vocab = new ByteTable(n, maxId);
  for (let k = 0; k < n; k++) {
    const s = starts[k]!;
    if (s < 0) continue;
    const token = state.bytes.subarray(s, ends[k]!);
    if (vocab.get(token, 0, token.length) >= 0) bail();
    vocab.add(token, ids[k]!);
  }
  return { vocab, maxId, end: i + 1 };
}

function mergesAt(
  text: string,
  i: number,
  state: StringState,
  charToByte: Int16Array,
  vocab: ByteTable,
): { merges: PairTable; end: number } {
  // Merges are counted first: the pair table's size follows the count, as in `buildTables`.
  const open = expect(text, i, 91);
  let count = 0;
  let scanEnd = open;
  {
    let j = skipWs(text, open);
    if (text.charCodeAt(j) === 93) bail();
    while (true) {
      j = skipWs(text, skipValue(text, j));
      count++;
      const c = text.charCodeAt(j);
      if (c === 93) {
        scanEnd = j + 1;
        break;
      }
      if (c !== 44) bail();
      j = skipWs(text, j + 1);
    }
  }
  const merges = new PairTable(count);
  i = skipWs(text, open);
  for (let rank = 0; rank < count; rank++) {
    state.used = 0;
    let mid: number;
    let valid: boolean;
    if (text.charCodeAt(i) === 91) {
      // ["a", "b"]: joined with a space by `buildTables`, so a space inside either side would split differently.
      i = skipWs(text, i + 1);
      i = stringAt(text, i, state, charToByte, true);
      if (state.space >= 0) bail();
      valid = state.valid;
      mid = state.used;
      i = skipWs(text, expect(text, skipWs(text, i), 44));
      i = stringAt(text, i, state, charToByte, true);
      if (state.space >= 0) bail();
      valid &&= state.valid;
      i = expect(text, skipWs(text, i), 93);
    } else {
      i = stringAt(text, i, state, charToByte, true);
      if (state.space < 0) bail();
      valid = state.valid;
      mid = state.space;
    }
    i = skipWs(text, i);
    i = skipWs(text, i + 1); // past "," or the closing "]"
    if (!valid) continue;
    const bytes = state.bytes;
    const end = state.used;
    const left = vocab.get(bytes, 0, mid);
    const right = vocab.get(bytes, mid, end);
    const merged = vocab.get(bytes, 0, end);
    if (left >= 0 && right >= 0 && merged >= 0) merges.add(left, right, rank, merged);
  }
  return { merges, end: scanEnd };
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(array.length * 2);
  grown.set(array);
  return grown;
}

function byteIdsOf(vocab: ByteTable): Int32Array {
  const byteIds = new Int32Array(256);
  const one = new Uint8Array(1);
  for (let b = 0; b < 256; b++) {
    one[0] = b;
    const id = vocab.get(one, 0, 1);
    if (id < 0) bail(); // not a byte-level vocabulary: `JSON.parse`, and the usual checks, decide what to do
    byteIds[b] = id;
  }
  return byteIds;
}
