import { ngramWords, type Source } from "@curate/core";
import { fmix32 } from "../src/sketch-kernel.mjs";
import { DEFAULT_NGRAM } from "./defaults.js";

// The words n-gram matching compares are defined once, in @curate/core, for this and split's leakage check.
export { ngramWords };

/** Two independent 32-bit FNV-1a variants of a word, the inputs of the rolling n-gram hashes. */
function wordHash(word: string, basis: number): number {
  let h = basis;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193);
  return h;
}

const BASE_A = 0x01000193;
const BASE_B = 0x5bd1e995;

function power(base: number, exponent: number): number {
  let result = 1;
  for (let i = 0; i < exponent; i++) result = Math.imul(result, base);
  return result;
}

/**
 * Calls `visit(hi, lo, start)` for each n-gram of `words` with its 64-bit hash (two rolling polynomial hashes,
 * O(1) per position) and the index of its first word.
 */
function forEachHash(
  words: readonly string[],
  n: number,
  visit: (hi: number, lo: number, start: number) => boolean | undefined,
): void {
  if (words.length < n) return;
  const topA = power(BASE_A, n - 1);
  const topB = power(BASE_B, n - 1);
  const a = new Int32Array(words.length);
  const b = new Int32Array(words.length);
  for (let i = 0; i < words.length; i++) {
    a[i] = wordHash(words[i]!, 0x811c9dc5);
    b[i] = wordHash(words[i]!, 0x9747b28c);
  }
  let ha = 0;
  let hb = 0;
  for (let i = 0; i < words.length; i++) {
    if (i >= n) {
      ha = (ha - Math.imul(a[i - n]!, topA)) | 0;
      hb = (hb - Math.imul(b[i - n]!, topB)) | 0;
    }
    ha = (Math.imul(ha, BASE_A) + a[i]!) | 0;
    hb = (Math.imul(hb, BASE_B) + b[i]!) | 0;
    if (i >= n - 1 && visit(fmix32(ha), fmix32(hb ^ 0x27d4eb2f), i - n + 1) === false) return;
  }
}

/** One n-gram a text shares with an indexed document. */
export interface NgramMatch {
  /** The indexed document's source (for eval sets: the eval file and line). */
  readonly source: Source;
  /** The shared n-gram, as normalized words joined by spaces. */
  readonly ngram: string;
  /** Index of the n-gram's first word in the queried text's `ngramWords`. */
  readonly start: number;
  /**
   * True when the document is shorter than n words (it has no n-grams) and the text equals it word for word
   * (`ngram` is then the whole normalised text).
   */
  readonly exact?: boolean;
}

const MAX_LOAD = 0.75;

/**
 * An index of the word n-grams of a set of documents (eval records), answering "does this text share an n-gram
 * with any of them, and which?". Keys are 64-bit hashes in an open-addressing table (16 bytes per slot: the hash,
 * the document and the position of its first occurrence); every hit is confirmed by comparing the words
 * themselves, so a hash collision can never produce a false match. Documents shorter than n words have no
 * n-grams; they are counted in `skipped`.
 * @example
 * const index = new NgramIndex(13);
 * index.add(evalText, { file: "eval.jsonl", line: 4 });
 * index.find(trainText); // { source: { file: "eval.jsonl", line: 4 }, ngram: "the quick ...", start: 17 }
 */
export class NgramIndex {
  private hi = new Uint32Array(1024);
  private lo = new Uint32Array(1024);
  /** Document id + 1 (0 = empty slot). */
  private docs = new Uint32Array(1024);
  private starts = new Uint32Array(1024);
  private count = 0;
  private readonly documents: { source: Source; words: string[] }[] = [];
  /** Documents added with fewer than n words: they have no n-grams and are matched as whole texts instead. */
  skipped = 0;
  /** Short documents (fewer than n words) by their words joined with spaces: the exact-match fallback. */
  private readonly short = new Map<string, Source>();

  constructor(readonly n = DEFAULT_NGRAM) {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`NgramIndex: n must be a whole number ≥ 1, found ${n}`);
  }

  /** Distinct n-grams indexed. */
  get size(): number {
    return this.count;
  }

  /** Documents added (including skipped ones). */
  get documentCount(): number {
    return this.documents.length + this.skipped;
  }

  /** Indexes the n-grams of `text` as belonging to the document at `source`. */
  add(text: string, source: Source): void {
    const words = ngramWords(text);
    if (words.length < this.n) {
      this.skipped++;
      const whole = words.join(" ");
      if (words.length > 0 && !this.short.has(whole)) this.short.set(whole, source);
      return;
    }
    const doc = this.documents.length;
    this.documents.push({ source, words });
    forEachHash(words, this.n, (hi, lo, start) => {
      if (this.count >= this.hi.length * MAX_LOAD) this.grow();
      const pos = this.slot(hi, lo);
      if (this.docs[pos] === 0) {
        this.hi[pos] = hi;
        this.lo[pos] = lo;
        this.docs[pos] = doc + 1;
        this.starts[pos] = start;
        this.count++;
      }
      return undefined;
    });
  }

  /**
   * Calls `visit` for each n-gram of `text` found in the index, in text order; return `false` to stop.
   * @example index.forEachMatch(text, (match) => void hits.push(match.source));
   */
  forEachMatch(text: string, visit: (match: NgramMatch) => boolean | undefined): void {
    if (this.count === 0) return;
    const words = ngramWords(text);
    forEachHash(words, this.n, (hi, lo, start) => {
      const pos = this.slot(hi, lo);
      if (this.docs[pos] === 0) return undefined;
      const doc = this.documents[this.docs[pos]! - 1]!;
      const at = this.starts[pos]!;
      for (let k = 0; k < this.n; k++) if (doc.words[at + k] !== words[start + k]) return undefined;
      return visit({ source: doc.source, ngram: words.slice(start, start + this.n).join(" "), start });
    });
  }

  /**
   * The first n-gram of `text` that an indexed document shares, or the short document `text` equals (`exact`), or
   * undefined.
   * @example index.find("no overlap here"); // undefined
   */
  find(text: string): NgramMatch | undefined {
    if (this.short.size > 0) {
      // An eval record shorter than n words has no n-gram to share: a text equal to it, word for word, matches.
      const words = ngramWords(text);
      if (words.length < this.n && words.length > 0) {
        const whole = words.join(" ");
        const source = this.short.get(whole);
        if (source !== undefined) return { source, ngram: whole, start: 0, exact: true };
      }
    }
    let found: NgramMatch | undefined;
    this.forEachMatch(text, (match) => {
      found = match;
      return false;
    });
    return found;
  }

  private slot(hi: number, lo: number): number {
    const mask = this.hi.length - 1;
    let pos = lo & mask;
    while (this.docs[pos] !== 0 && (this.hi[pos] !== hi || this.lo[pos] !== lo)) pos = (pos + 1) & mask;
    return pos;
  }

  private grow(): void {
    const { hi, lo, docs, starts } = this;
    const capacity = hi.length * 2;
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.docs = new Uint32Array(capacity);
    this.starts = new Uint32Array(capacity);
    for (let i = 0; i < hi.length; i++) {
      if (docs[i] === 0) continue;
      const pos = this.slot(hi[i]!, lo[i]!);
      this.hi[pos] = hi[i]!;
      this.lo[pos] = lo[i]!;
      this.docs[pos] = docs[i]!;
      this.starts[pos] = starts[i]!;
    }
  }
}
