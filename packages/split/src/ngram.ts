/**
 * Word n-gram hashing and a compact index of held-out n-grams, for the leakage check after splitting.
 *
 * Minimal and local: @curate/dedup's decontamination index did not exist when this was written, and split does
 * not depend on dedup. Words are lowercased runs of letters and digits (punctuation and spacing never hide an
 * overlap); an n-gram is hashed to 64 bits as two independent 32-bit polynomial rolling hashes, so a record's
 * n-grams cost O(words), not O(words × n). A false match needs a 64-bit collision.
 */

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

function power(base: number, exponent: number): number {
  let result = 1;
  for (let i = 0; i < exponent; i++) result = Math.imul(result, base);
  return result;
}

const WORD_CHAR = /^[\p{L}\p{N}]$/u;

/** ASCII code → its lowercase code if it is a letter or digit, else 0: one load instead of three range tests. */
const ASCII_WORD = new Uint8Array(128);
for (let c = 48; c <= 57; c++) ASCII_WORD[c] = c;
for (let c = 97; c <= 122; c++) ASCII_WORD[c] = c;
for (let c = 65; c <= 90; c++) ASCII_WORD[c] = c | 0x20;

/**
 * The n-gram hashes of one text, in order (`hi[k]`, `lo[k]` for k < `length`), in buffers that grow as needed and
 * are reused from text to text: a record's n-grams cost no allocation.
 * @example const hashes = new NgramHashes(); ngramHashes("a b c d", 3, hashes); hashes.length; // 2
 */
export class NgramHashes {
  hi = new Int32Array(512);
  lo = new Int32Array(512);
  length = 0;

  push(hi: number, lo: number): void {
    if (this.length === this.hi.length) {
      const size = this.length * 2;
      const his = new Int32Array(size);
      const los = new Int32Array(size);
      his.set(this.hi);
      los.set(this.lo);
      this.hi = his;
      this.lo = los;
    }
    this.hi[this.length] = hi;
    this.lo[this.length++] = lo;
  }
}

let ringA = new Int32Array(16);
let ringB = new Int32Array(16);

/**
 * Fills `out` with the word n-gram hashes of `text` (none when it has fewer than `n` words: short records are
 * covered by the exact check). Words are maximal runs of Unicode letters and digits, lowercased. One pass over
 * the characters, hashing as it goes (two FNV-1a variants per word, then two rolling hashes over the last `n`
 * words): no regex on ASCII text and no word strings. Returned as arrays rather than through a callback so that
 * the index's lookups run in one tight loop (`NgramIndex.takeAll`): with a callback per n-gram (and the branchy
 * character tests this replaced by a table) hashing and checking 90k training records took 2–3× as long (100k
 * bench corpus, 3 interleaved runs on a loaded machine).
 * @example const hashes = ngramHashes("one two three four", 3); hashes.length; // 2
 */
export function ngramHashes(text: string, n: number, out: NgramHashes = new NgramHashes()): NgramHashes {
  out.length = 0;
  if (ringA.length < n) {
    ringA = new Int32Array(n);
    ringB = new Int32Array(n);
  }
  const topA = power(BASE_A, n - 1);
  const topB = power(BASE_B, n - 1);
  let words = 0;
  let ha = 0;
  let hb = 0;
  const length = text.length;
  let i = 0;
  while (i < length) {
    let a = 0x811c9dc5 | 0;
    let b = 0x9747b28c | 0;
    let letters = 0;
    while (i < length) {
      const c = text.charCodeAt(i);
      if (c < 128) {
        const lower = ASCII_WORD[c]!;
        if (lower === 0) break;
        a = Math.imul(a ^ lower, 0x01000193);
        b = Math.imul(b ^ lower, 0x01000193) ^ (b >>> 15);
        i++;
      } else {
        const char = String.fromCodePoint(text.codePointAt(i)!);
        if (!WORD_CHAR.test(char)) break;
        const lower = char.toLowerCase();
        for (let k = 0; k < lower.length; k++) {
          const unit = lower.charCodeAt(k);
          a = Math.imul(a ^ unit, 0x01000193);
          b = Math.imul(b ^ unit, 0x01000193) ^ (b >>> 15);
        }
        i += char.length;
      }
      letters++;
    }
    if (letters === 0) {
      i++;
      continue;
    }
    const slot = words % n;
    if (words >= n) {
      ha = (ha - Math.imul(ringA[slot]!, topA)) | 0;
      hb = (hb - Math.imul(ringB[slot]!, topB)) | 0;
    }
    ringA[slot] = a;
    ringB[slot] = b;
    ha = (Math.imul(ha, BASE_A) + a) | 0;
    hb = (Math.imul(hb, BASE_B) + b) | 0;
    words++;
    if (words >= n) out.push(mix(ha), mix(hb ^ 0x27d4eb2f));
  }
  return out;
}

/**
 * Calls `visit(hi, lo)` for every word n-gram of `text`, in order: `ngramHashes` one at a time (hashes as
 * unsigned 32-bit numbers).
 * @example forEachNgram("a b c d", 3, (hi, lo) => seen.push(hi, lo)); // two 3-grams
 */
export function forEachNgram(text: string, n: number, visit: (hi: number, lo: number) => void): void {
  const hashes = ngramHashes(text, n);
  for (let k = 0; k < hashes.length; k++) visit(hashes.hi[k]! >>> 0, hashes.lo[k]! >>> 0);
}

/**
 * An open-addressing table from 64-bit n-gram hashes to the documents (held-out records) that contain them, in
 * one interleaved typed array (key high, key low, first document, head of the other documents' postings: 16 bytes
 * per slot at ≤ 75% load) plus 8 bytes per further posting, instead of ~80 bytes per Map entry. Interleaving keeps
 * a probe to one cache line: most lookups are misses (training n-grams that no held-out record has), and they
 * dominate the check's cost. The first document sits in the slot because most n-grams have one: with a posting
 * per document and ≤ 50% load the index took 2.0–2.5 KB per held-out record on the bench corpus (192 MiB for 99k
 * held-out records); now 1.0–2.0 KB (96 MiB for 99k), depending on where the table's doubling falls.
 * `take` hands each n-gram's documents out once and then forgets them, so a boilerplate n-gram that occurs in
 * many training records costs its postings once.
 * @example const index = new NgramIndex(); index.add(hi, lo, 0); index.take(hi, lo, (doc) => leaked.add(doc));
 */
export class NgramIndex {
  private table: Int32Array;
  private postDoc = new Int32Array(1024);
  private postNext = new Int32Array(1024);
  private posts = 0;
  private used = 0;
  private mask: number;
  /** One bit per 16 keys' worth of space, built at the first `take`: rules out most misses from L2 cache. */
  private filter: Int32Array | undefined;
  private filterMask = 0;

  constructor(capacity = 1024) {
    let size = 1024;
    while (size * 3 < capacity * 4) size *= 2;
    this.table = newTable(size);
    this.mask = size - 1;
  }

  /** Distinct n-grams stored. */
  get size(): number {
    return this.used;
  }

  /** Bytes held by the table and the postings (what the index costs in memory). */
  get bytes(): number {
    return this.table.byteLength + this.postDoc.byteLength + this.postNext.byteLength + (this.filter?.byteLength ?? 0);
  }

  /** The table offset of (hi, lo)'s slot, or of the empty slot where it would go. */
  private slot(hi: number, lo: number): number {
    const table = this.table;
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    while (true) {
      const at = i << 2;
      const first = table[at + 2]!;
      if (first === EMPTY || (table[at] === (hi | 0) && table[at + 1] === (lo | 0))) return at;
      i = (i + 1) & this.mask;
    }
  }

  /** Records that document `doc` contains the n-gram (hi, lo). Adding a document's n-grams together dedupes them. */
  add(hi: number, lo: number, doc: number): void {
    if ((this.used + 1) * 4 > (this.mask + 1) * 3) this.grow();
    const table = this.table;
    const at = this.slot(hi, lo);
    const first = table[at + 2]!;
    if (first === EMPTY) {
      table[at] = hi;
      table[at + 1] = lo;
      table[at + 2] = doc;
      table[at + 3] = -1;
      this.used++;
      if (this.filter) this.mark(hi);
      return;
    }
    const more = table[at + 3]!;
    // The latest document is the postings' head, or the first one: the same n-gram twice in a document is stored once.
    if (first === TAKEN || (more === -1 ? first : this.postDoc[more]) === doc) return;
    if (this.posts === this.postDoc.length) {
      const docs = new Int32Array(this.posts * 2);
      const next = new Int32Array(this.posts * 2);
      docs.set(this.postDoc);
      next.set(this.postNext);
      this.postDoc = docs;
      this.postNext = next;
    }
    this.postDoc[this.posts] = doc;
    this.postNext[this.posts] = more;
    table[at + 3] = this.posts++;
  }

  /** `add` for every n-gram of one document. */
  addAll(hashes: NgramHashes, doc: number): void {
    const { hi, lo, length } = hashes;
    for (let k = 0; k < length; k++) this.add(hi[k]!, lo[k]!, doc);
  }

  /**
   * `take` for every n-gram in `hashes`, in order. The filter test is inlined in one loop over typed arrays:
   * lookups are independent, so the CPU overlaps their cache misses (most n-grams of a training record are in no
   * held-out record and stop at the filter).
   */
  takeAll(hashes: NgramHashes, visit: (doc: number) => void): void {
    if (!this.filter) this.buildFilter();
    const filter = this.filter!;
    const filterMask = this.filterMask;
    const { hi, lo, length } = hashes;
    for (let k = 0; k < length; k++) {
      const h = hi[k]!;
      const bit = h & filterMask;
      if ((filter[bit >>> 5]! & (1 << (bit & 31))) !== 0) this.handOut(this.slot(h, lo[k]!), visit);
    }
  }

  /** Calls `visit` for each document holding (hi, lo) the first time that n-gram is asked for; later calls see none. */
  take(hi: number, lo: number, visit: (doc: number) => void): void {
    if (!this.filter) this.buildFilter();
    const bit = hi & this.filterMask;
    if ((this.filter![bit >>> 5]! & (1 << (bit & 31))) === 0) return;
    this.handOut(this.slot(hi, lo), visit);
  }

  /** Visits the documents of the slot at `at` (latest first), once: the slot is marked taken. */
  private handOut(at: number, visit: (doc: number) => void): void {
    const table = this.table;
    const first = table[at + 2]!;
    if (first < 0) return;
    table[at + 2] = TAKEN;
    for (let p = table[at + 3]!; p !== -1; p = this.postNext[p]!) visit(this.postDoc[p]!);
    visit(first);
  }

  private mark(hi: number): void {
    const bit = hi & this.filterMask;
    this.filter![bit >>> 5]! |= 1 << (bit & 31);
  }

  private buildFilter(): void {
    let bits = 1 << 15;
    while (bits < this.used * 16) bits *= 2;
    this.filter = new Int32Array(bits >>> 5);
    this.filterMask = bits - 1;
    for (let at = 0; at < this.table.length; at += 4) if (this.table[at + 2] !== EMPTY) this.mark(this.table[at]!);
  }

  private grow(): void {
    const old = this.table;
    const size = (this.mask + 1) * 2;
    this.table = newTable(size);
    this.mask = size - 1;
    for (let at = 0; at < old.length; at += 4) {
      if (old[at + 2] === EMPTY) continue;
      const to = this.slot(old[at]!, old[at + 1]!);
      this.table[to] = old[at]!;
      this.table[to + 1] = old[at + 1]!;
      this.table[to + 2] = old[at + 2]!;
      this.table[to + 3] = old[at + 3]!;
    }
  }
}

function newTable(slots: number): Int32Array {
  const table = new Int32Array(slots * 4);
  for (let at = 2; at < table.length; at += 4) table[at] = EMPTY;
  return table;
}
