/**
 * MinHash sketching: text → shingle hashes → signature → LSH band keys. Plain JavaScript (typed by
 * sketch-kernel.d.mts) because worker threads cannot load .ts files at run time: the worker and the in-process
 * path import this one file, which is what makes 1 thread and N threads give identical results. TypeScript code
 * imports it as "../src/sketch-kernel.mjs" so that the same path resolves from src/ (vitest) and dist/ (the CLI).
 *
 * Hashing is hand-written over UTF-16 code units with Math.imul: a native hash call per shingle (~0.3 µs of
 * call overhead) would cost more than the whole shingle, and nothing here needs to match another tool's hashes.
 */

import { createSimdSigner } from "./sketch-simd.mjs";

const WORD = /[\p{L}\p{N}]+/gu;
const NON_ASCII = /[^\x00-\x7f]/;
/** XOR with this flips the sign bit, so signed int32 order equals unsigned order of the original value. */
const SIGN = -0x80000000;

/** Murmur3's 32-bit finaliser: a bijection that spreads every input bit over the output. */
export function fmix32(h) {
  let x = h | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** FNV-1a over the code units of `text` from `start` to `end`, finalised with fmix32. */
function hashRange(text, start, end) {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

/**
 * A deterministic stream of 32-bit values (splitmix32), so permutations depend only on the seed.
 * @example const next = splitmix32(1); next(); // the same number on every machine
 */
export function splitmix32(seed) {
  let state = seed | 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * The words of `text` as near dedup sees them: NFKC, lowercased, runs of letters and digits (punctuation and
 * spacing never hide a match).
 * @example words("Hello, World!"); // ["hello", "world"]
 */
export function words(text) {
  return nfkc(text).toLowerCase().match(WORD) ?? [];
}

/** NFKC, skipped for ASCII (which it never changes): the test is ~3× cheaper than normalize(). */
function nfkc(text) {
  return NON_ASCII.test(text) ? text.normalize("NFKC") : text;
}

/**
 * The text char shingles are taken from: NFKC, lowercased, whitespace runs collapsed to one space, trimmed.
 * @example charText("  A\n\nb "); // "a b"
 */
export function charText(text) {
  return nfkc(text)
    .toLowerCase()
    .replace(/\s{2,}|[^\S ]/g, " ")
    .trim();
}

/**
 * The distinct values of `values` in ascending order, as a new array (or in `into` when it is large enough).
 * @example shingleSet(Uint32Array.of(3, 1, 3)); // Uint32Array [1, 3]
 */
export function shingleSet(values, into) {
  const out =
    into !== undefined && into.length >= values.length
      ? into.subarray(0, values.length)
      : new Uint32Array(values.length);
  out.set(values);
  out.sort();
  let n = 0;
  for (let i = 0; i < out.length; i++) {
    if (i === 0 || out[i] !== out[n - 1]) out[n++] = out[i];
  }
  return out.subarray(0, n);
}

/** Per UTF-16 code unit: 0 not classified yet, 1 part of a word, 2 not, 3 a surrogate (classified by code point). */
const UNIT_CLASS = new Uint8Array(65536);
for (let c = 0; c < 128; c++)
  UNIT_CLASS[c] = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) ? 1 : 2;
UNIT_CLASS.fill(3, 0xd800, 0xe000);
const WORD_CHAR = /^[\p{L}\p{N}]$/u;

/** Classifies a BMP code unit with the regex once, then from the table. */
function unitClass(c) {
  let k = UNIT_CLASS[c];
  if (k === 0) {
    k = WORD_CHAR.test(String.fromCharCode(c)) ? 1 : 2;
    UNIT_CLASS[c] = k;
  }
  return k;
}

let wordScratch = new Int32Array(4096);

/**
 * The hashes of the words of `t` (already NFKC-normalized and lowercased, except that ASCII A–Z is folded here) into
 * `wordScratch`, returning their count: the same words as `words()` and the same hashes as hashing each of them,
 * without making a string per word (measured 2.5× faster than match() + hashing on the benchmark corpus).
 */
function wordHashes(t) {
  const len = t.length;
  // Words are separated by at least one other code unit: at most ⌈len / 2⌉ of them.
  if (wordScratch.length < (len >>> 1) + 1) wordScratch = new Int32Array((len >>> 1) + 4096);
  const out = wordScratch;
  let count = 0;
  let h = 0x811c9dc5;
  let inWord = false;
  for (let i = 0; i < len; i++) {
    let c = t.charCodeAt(i);
    let k = c < 128 ? UNIT_CLASS[c] : unitClass(c);
    if (k === 3) {
      // A surrogate pair is one code point, a word character or not as a whole; a lone surrogate never is.
      const d = i + 1 < len ? t.charCodeAt(i + 1) : 0;
      k = 2;
      if (c < 0xdc00 && d >= 0xdc00 && d < 0xe000) {
        if (WORD_CHAR.test(t.slice(i, i + 2))) {
          if (!inWord) {
            h = 0x811c9dc5;
            inWord = true;
          }
          h = Math.imul(h ^ c, 0x01000193);
          c = d;
          k = 1;
        }
        i++;
      }
    }
    if (k === 1) {
      if (!inWord) {
        h = 0x811c9dc5;
        inWord = true;
      }
      if (c <= 90 && c >= 65) c += 32;
      h = Math.imul(h ^ c, 0x01000193);
    } else if (inWord) {
      out[count++] = fmix32(h);
      inWord = false;
    }
  }
  if (inWord) out[count++] = fmix32(h);
  return count;
}

/**
 * Computes the shingle hashes of `text` in text order (repeats included) into `reserve(max)` from index 0 (a buffer
 * of at least `max` values) and returns their count. See shingleHashes for what a shingle is.
 */
function shingleInto(text, kind, n, reserve) {
  if (kind === "char") {
    const t = charText(text);
    if (t.length === 0) return 0;
    if (t.length <= n) {
      reserve(1)[0] = hashRange(t, 0, t.length);
      return 1;
    }
    const count = t.length - n + 1;
    const out = reserve(count);
    for (let i = 0; i < count; i++) out[i] = hashRange(t, i, i + n);
    return count;
  }
  const count = wordHashes(NON_ASCII.test(text) ? text.normalize("NFKC").toLowerCase() : text);
  if (count === 0) return 0;
  const hashes = wordScratch;
  const width = Math.min(count, n);
  const start = Math.imul(width, 0x9e3779b1);
  const shingles = count - width + 1;
  const out = reserve(shingles);
  for (let i = 0; i < shingles; i++) {
    // Order matters ("a b" ≠ "b a"): rotate-multiply mixing over the window, then the finaliser.
    let h = start;
    for (let j = 0; j < width; j++) {
      h = Math.imul(h ^ hashes[i + j], 0x85ebca6b);
      h = (h << 13) | (h >>> 19);
    }
    out[i] = fmix32(h);
  }
  return shingles;
}

let shingleScratch = new Uint32Array(4096);

function reserveScratch(count) {
  if (shingleScratch.length < count) shingleScratch = new Uint32Array(count * 2);
  return shingleScratch;
}

/**
 * The distinct shingle hashes of `text`, sorted ascending. Word shingles are runs of `n` consecutive words; a text
 * with fewer than `n` words (but at least one) is one shingle of all its words. Char shingles work the same on
 * `charText(text)`. Empty text has no shingles.
 * @example shingleHashes("a b c d e f", "word", 5).length; // 2
 */
export function shingleHashes(text, kind, n) {
  const count = shingleInto(text, kind, n, reserveScratch);
  return shingleSet(shingleScratch.subarray(0, count));
}

/**
 * Exact Jaccard similarity of two sorted sets of distinct values: |a ∩ b| / |a ∪ b| (1 when both are empty).
 * @example jaccardSorted(Uint32Array.of(1, 2, 3), Uint32Array.of(2, 3, 4)); // 0.5
 */
export function jaccardSorted(a, b) {
  if (a.length === 0 && b.length === 0) return 1;
  let i = 0;
  let j = 0;
  let common = 0;
  while (i < a.length && j < b.length) {
    const x = a[i];
    const y = b[j];
    if (x === y) {
      common++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return common / (a.length + b.length - common);
}

/**
 * Fraction of equal positions of two MinHash signatures: the MinHash estimate of Jaccard similarity.
 * @example signatureSimilarity(Uint32Array.of(1, 2), Uint32Array.of(1, 3)); // 0.5
 */
export function signatureSimilarity(a, b) {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return a.length === 0 ? 0 : same / a.length;
}

/**
 * Makes a sketcher for fixed parameters. Permutation k is x ↦ a_k·x + b_k mod 2³² with odd a_k (a bijection on
 * well-mixed 32-bit shingle hashes; its estimates matched the √(J(1−J)/k) standard error in our checks), two
 * operations per shingle instead of a full hash. The signature loop runs as WebAssembly SIMD where available
 * (sketch-simd.mjs) and in JavaScript otherwise (`{ simd: false }` forces it); both give the same values.
 * @example createSketcher(params).sketchBatch(["some text"]).bands;
 */
export function createSketcher(params, options = {}) {
  const { kind, n, numPerm, bands, rows, seed, payload } = params;
  const next = splitmix32(seed);
  const mulA = new Int32Array(numPerm);
  const addB = new Int32Array(numPerm);
  for (let k = 0; k < numPerm; k++) {
    mulA[k] = next() | 1;
    addB[k] = next() | 0;
  }
  const simd = options.simd === false ? undefined : createSimdSigner(mulA, addB);
  const jsSignature = new Int32Array(numPerm);
  let jsShingles = new Uint32Array(4096);

  // Four permutations per pass over the shingles: each shingle is loaded once per four minima, and the four
  // independent compare chains overlap. Measured 2× the one-permutation loop.
  function sign(shingles, m) {
    const signature = jsSignature;
    let k = 0;
    for (; k + 4 <= numPerm; k += 4) {
      const a0 = mulA[k];
      const b0 = addB[k];
      const a1 = mulA[k + 1];
      const b1 = addB[k + 1];
      const a2 = mulA[k + 2];
      const b2 = addB[k + 2];
      const a3 = mulA[k + 3];
      const b3 = addB[k + 3];
      let m0 = 0x7fffffff;
      let m1 = 0x7fffffff;
      let m2 = 0x7fffffff;
      let m3 = 0x7fffffff;
      for (let i = 0; i < m; i++) {
        const x = shingles[i];
        let v = (Math.imul(a0, x) + b0) ^ SIGN;
        if (v < m0) m0 = v;
        v = (Math.imul(a1, x) + b1) ^ SIGN;
        if (v < m1) m1 = v;
        v = (Math.imul(a2, x) + b2) ^ SIGN;
        if (v < m2) m2 = v;
        v = (Math.imul(a3, x) + b3) ^ SIGN;
        if (v < m3) m3 = v;
      }
      signature[k] = m0;
      signature[k + 1] = m1;
      signature[k + 2] = m2;
      signature[k + 3] = m3;
    }
    for (; k < numPerm; k++) {
      const a = mulA[k];
      const b = addB[k];
      let min = 0x7fffffff;
      for (let i = 0; i < m; i++) {
        const v = (Math.imul(a, shingles[i]) + b) ^ SIGN;
        if (v < min) min = v;
      }
      signature[k] = min;
    }
  }

  function bandKeys(signature, out, at) {
    for (let band = 0; band < bands; band++) {
      let h = Math.imul(band + 1, 0x9e3779b1);
      for (let r = band * rows, end = r + rows; r < end; r++) {
        h = Math.imul(h ^ signature[r], 0x85ebca6b);
        h = (h << 13) | (h >>> 19);
      }
      out[at + band] = fmix32(h);
    }
  }

  // Shingles are written straight where the signature loop reads them: WebAssembly memory, or a reused array.
  let shingles = simd ? simd.shingles(0) : jsShingles;
  const reserve = (count) => {
    if (simd) shingles = simd.shingles(count);
    else {
      if (jsShingles.length < count) jsShingles = new Uint32Array(count * 2);
      shingles = jsShingles;
    }
    return shingles;
  };

  return {
    sketchBatch(texts) {
      const count = texts.length;
      const bandOut = new Uint32Array(count * bands);
      const sizes = new Uint32Array(count);
      const offsets = new Uint32Array(count + 1);
      // Payloads go into one growing array (no array per record); its unused tail is left as a view's slack.
      let out = new Uint32Array(payload === "signature" ? count * numPerm : 1024 + count * 64);
      let total = 0;
      for (let i = 0; i < count; i++) {
        offsets[i] = total;
        const m = shingleInto(texts[i], kind, n, reserve);
        sizes[i] = m;
        if (m === 0) continue;
        let signature = jsSignature;
        if (simd) {
          simd.sign(m);
          signature = simd.signature;
        } else sign(shingles, m);
        bandKeys(signature, bandOut, i * bands);
        const part = payload === "signature" ? signature : shingles.subarray(0, m);
        if (total + part.length > out.length) {
          const bigger = new Uint32Array(Math.max(out.length * 2, total + part.length));
          bigger.set(out.subarray(0, total));
          out = bigger;
        }
        out.set(part, total);
        total += part.length;
      }
      offsets[count] = total;
      return { count, bands: bandOut, sizes, offsets, payload: out.subarray(0, total) };
    },
  };
}
