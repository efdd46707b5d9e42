/**
 * Word n-gram hashing and a compact index of held-out n-grams, for the leakage check after splitting.
 *
 * Minimal and local: @curate/dedup's decontamination index did not exist when this was written, and split does
 * not depend on dedup. Words are lowercased runs of letters and digits (punctuation and spacing never hide an
 * overlap); an n-gram is hashed to 64 bits as two independent 32-bit polynomial rolling hashes, so a record's
 * n-grams cost O(words), not O(words × n). A false match needs a 64-bit collision.
 */

const WORD = /[\p{L}\p{N}]+/gu;
/** Table slot never used. */
const EMPTY = -3;
/** Table slot whose documents were already handed out by `take`. */
const TAKEN = -2;
const BASE_A = 0x01000193;
const BASE_B = 0x5bd1e995;

/** Murmur3's finaliser: spreads the bits of a rolling hash before it picks a table slot. */
function mix(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Two 32-bit FNV-1a variants of one word. */
function wordHashes(word: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return [a >>> 0, b >>> 0];
}

function power(base: number, exponent: number): number {
  let result = 1;
  for (let i = 0; i < exponent; i++) result = Math.imul(result, base);
  return result;
}

/**
 * Calls `visit(hi, lo)` for every word n-gram of `text` (none when it has fewer than `n` words: short records
 * are covered by the exact check).
 * @example forEachNgram("a b c d", 3, (hi, lo) => seen.push(hi, lo)); // two 3-grams
 */
export function forEachNgram(text: string, n: number, visit: (hi: number, lo: number) => void): void {
  const words = text.toLowerCase().match(WORD);
  if (!words || words.length < n) return;
  const a = new Uint32Array(words.length);
  const b = new Uint32Array(words.length);
  for (let i = 0; i < words.length; i++) [a[i], b[i]] = wordHashes(words[i]!);
  const topA = power(BASE_A, n - 1);
  const topB = power(BASE_B, n - 1);
  let ha = 0;
  let hb = 0;
  for (let i = 0; i < words.length; i++) {
    if (i >= n) {
      ha = (ha - Math.imul(a[i - n]!, topA)) | 0;
      hb = (hb - Math.imul(b[i - n]!, topB)) | 0;
    }
    ha = (Math.imul(ha, BASE_A) + a[i]!) | 0;
    hb = (Math.imul(hb, BASE_B) + b[i]!) | 0;
    if (i >= n - 1) visit(mix(ha), mix(hb ^ 0x27d4eb2f));
  }
}

/**
 * An open-addressing table from 64-bit n-gram hashes to the documents (held-out records) that contain them, in
 * typed arrays: 12 bytes per slot at ≤ 50% load plus 8 bytes per posting, instead of ~80 bytes per Map entry.
 * `take` hands each n-gram's documents out once and then forgets them, so a boilerplate n-gram that occurs in
 * many training records costs its postings once.
 * @example const index = new NgramIndex(); index.add(hi, lo, 0); index.take(hi, lo, (doc) => leaked.add(doc));
 */
export class NgramIndex {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private head: Int32Array;
  private postDoc = new Int32Array(1024);
  private postNext = new Int32Array(1024);
  private posts = 0;
  private used = 0;
  private mask: number;

  constructor(capacity = 1024) {
    let size = 1024;
    while (size < capacity * 2) size *= 2;
    this.hi = new Uint32Array(size);
    this.lo = new Uint32Array(size);
    this.head = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
  }

  /** Distinct n-grams stored. */
  get size(): number {
    return this.used;
  }

  private slot(hi: number, lo: number): number {
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    while (this.head[i] !== EMPTY && (this.hi[i] !== hi || this.lo[i] !== lo)) i = (i + 1) & this.mask;
    return i;
  }

  /** Records that document `doc` contains the n-gram (hi, lo). Adding a document's n-grams together dedupes them. */
  add(hi: number, lo: number, doc: number): void {
    if ((this.used + 1) * 2 > this.head.length) this.grow();
    const i = this.slot(hi, lo);
    const first = this.head[i]!;
    if (first === EMPTY) {
      this.hi[i] = hi;
      this.lo[i] = lo;
      this.used++;
    } else if (first >= 0 && this.postDoc[first] === doc) {
      return;
    } else if (first === TAKEN) {
      return;
    }
    if (this.posts === this.postDoc.length) {
      const doc2 = new Int32Array(this.posts * 2);
      const next2 = new Int32Array(this.posts * 2);
      doc2.set(this.postDoc);
      next2.set(this.postNext);
      this.postDoc = doc2;
      this.postNext = next2;
    }
    this.postDoc[this.posts] = doc;
    this.postNext[this.posts] = first === EMPTY ? -1 : first;
    this.head[i] = this.posts++;
  }

  /** Calls `visit` for each document holding (hi, lo) the first time that n-gram is asked for; later calls see none. */
  take(hi: number, lo: number, visit: (doc: number) => void): void {
    const i = this.slot(hi, lo);
    let p = this.head[i]!;
    if (p < 0) return;
    this.head[i] = TAKEN;
    for (; p !== -1; p = this.postNext[p]!) visit(this.postDoc[p]!);
  }

  private grow(): void {
    const { hi, lo, head } = this;
    const size = head.length * 2;
    this.hi = new Uint32Array(size);
    this.lo = new Uint32Array(size);
    this.head = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
    for (let i = 0; i < head.length; i++) {
      if (head[i] === EMPTY) continue;
      const j = this.slot(hi[i]!, lo[i]!);
      this.hi[j] = hi[i]!;
      this.lo[j] = lo[i]!;
      this.head[j] = head[i]!;
    }
  }
}
