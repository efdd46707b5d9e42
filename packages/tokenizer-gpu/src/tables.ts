import { codePointClass, type TiktokenData } from "@curate/tokenizer-worker";

/**
 * The tables the GPU kernel reads, built once per tokenizer on the CPU and uploaded as two storage buffers.
 *
 * - Character classes: the same bits the CPU scanners use (`codePointClass`), for every code point, as a two-level
 *   table: `stage1[cp >> 8]` names a block of 256 class bytes, identical blocks stored once (1.1M code points → a few
 *   hundred distinct blocks, ~100 kB).
 * - Vocabulary: an open-addressing hash table (FNV-1a + murmur3's finalizer, linear probing) of the token byte
 *   strings, and a byte blob to compare candidates exactly. Tiktoken's BPE rule needs exactly this one lookup: the
 *   rank of a byte string is its id, and a pair merges by the rank of its concatenated bytes.
 */

/** Code points whose classes are computed; above them only planes 14 (tags, variation selectors) have any. */
const BLOCK = 256;

/** The class table: `words[0, 0x1100)` are block numbers, then the blocks' class bytes packed four to a word. */
export interface ClassTable {
  readonly words: Uint32Array;
  /** Where the packed class bytes start, in words. */
  readonly bytesBase: number;
}

/** Unicode planes 4–13 are unassigned and 15–16 private use: every code point there is "other" (class 0). */
function planeHasClasses(cp: number): boolean {
  return cp < 0x40000 || (cp >= 0xe0000 && cp < 0xf0000);
}

/**
 * Builds the two-level class table from the CPU engine's own classifier, so the GPU splits text exactly like it.
 * @example const { words } = buildClassTable(); // upload as a storage buffer
 */
export function buildClassTable(): ClassTable {
  const stage1 = new Uint32Array(0x110000 / BLOCK);
  const blocks: Uint8Array[] = [];
  const seen = new Map<string, number>();
  const zero = new Uint8Array(BLOCK);
  for (let b = 0; b < stage1.length; b++) {
    const base = b * BLOCK;
    let block = zero;
    if (planeHasClasses(base)) {
      block = new Uint8Array(BLOCK);
      // Surrogate code points never reach the kernel as such (pairs are combined, lone ones become U+FFFD).
      if (base < 0xd800 || base > 0xdfff) for (let i = 0; i < BLOCK; i++) block[i] = codePointClass(base + i);
    }
    const key = Buffer.from(block.buffer, block.byteOffset, BLOCK).toString("latin1");
    let index = seen.get(key);
    if (index === undefined) {
      index = blocks.length;
      blocks.push(block);
      seen.set(key, index);
    }
    stage1[b] = index;
  }
  const bytesBase = stage1.length;
  const words = new Uint32Array(bytesBase + (blocks.length * BLOCK) / 4);
  words.set(stage1);
  const bytes = new Uint8Array(words.buffer, bytesBase * 4);
  for (let i = 0; i < blocks.length; i++) bytes.set(blocks[i]!, i * BLOCK);
  return { words, bytesBase };
}

/** FNV-1a over bytes with murmur3's finalizer; the kernel computes the same function (`hashBytes` in WGSL). */
export function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The vocabulary as one array of words: `[0, slots)` hash slots (entry index + 1, 0 empty), then three words per
 * entry (blob start, byte length, id), then the blob, four bytes to a word.
 */
export interface VocabTable {
  readonly words: Uint32Array;
  readonly mask: number;
  readonly entriesBase: number;
  readonly blobBase: number;
  /** Token bytes by id, for decoding on the CPU. */
  readonly tokens: readonly (Uint8Array | undefined)[];
}

/**
 * Builds the hash table of an OpenAI encoding's ranks.
 * @example const vocab = buildVocabTable(loadTiktokenData("o200k_base"));
 */
export function buildVocabTable(data: TiktokenData): VocabTable {
  const tokens: Uint8Array[] = [];
  const { vocab } = data;
  let maxId = 0;
  let blobBytes = 0;
  const entries: [Uint8Array, number][] = [];
  for (let id = 0, found = 0; found < vocab.size; id++) {
    const length = vocab.byteLength(id);
    if (length < 0) continue;
    const bytes = new Uint8Array(length);
    vocab.copyBytes(id, bytes, 0);
    tokens[id] = bytes;
    entries.push([bytes, id]);
    blobBytes += length;
    maxId = id;
    found++;
  }
  let slots = 16;
  while (slots < entries.length * 2) slots <<= 1;
  const mask = slots - 1;
  const entriesBase = slots;
  const blobBase = entriesBase + entries.length * 3;
  const words = new Uint32Array(blobBase + Math.ceil(blobBytes / 4));
  const blob = new Uint8Array(words.buffer, blobBase * 4, blobBytes);
  let at = 0;
  entries.forEach(([bytes, id], index) => {
    blob.set(bytes, at);
    words[entriesBase + index * 3] = at;
    words[entriesBase + index * 3 + 1] = bytes.length;
    words[entriesBase + index * 3 + 2] = id;
    at += bytes.length;
    let slot = hashBytes(bytes) & mask;
    while (words[slot] !== 0) slot = (slot + 1) & mask;
    words[slot] = index + 1;
  });
  void maxId;
  return { words, mask, entriesBase, blobBase, tokens };
}
