/**
 * MinHash sketching: text → shingle hashes → signature → LSH band keys. Plain JavaScript (typed by
 * sketch-kernel.d.mts) because worker threads cannot load .ts files at run time: the worker and the in-process
 * path import this one file, which is what makes 1 thread and N threads give identical results. TypeScript code
 * imports it as "../src/sketch-kernel.mjs" so that the same path resolves from src/ (vitest) and dist/ (the CLI).
 *
 * Hashing is hand-written over UTF-16 code units with Math.imul: a native hash call per shingle (~0.3 µs of
 * call overhead) would cost more than the whole shingle, and nothing here needs to match another tool's hashes.
 */

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

/** Sorts and removes repeats in place; returns the distinct prefix. */
function distinctSorted(values) {
  values.sort();
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (i === 0 || values[i] !== values[n - 1]) values[n++] = values[i];
  }
  return values.subarray(0, n);
}

/**
 * The distinct shingle hashes of `text`, sorted ascending. Word shingles are runs of `n` consecutive words; a text
 * with fewer than `n` words (but at least one) is one shingle of all its words. Char shingles work the same on
 * `charText(text)`. Empty text has no shingles.
 * @example shingleHashes("a b c d e f", "word", 5).length; // 2
 */
export function shingleHashes(text, kind, n) {
  if (kind === "char") {
    const t = charText(text);
    if (t.length === 0) return new Uint32Array(0);
    if (t.length <= n) return Uint32Array.of(hashRange(t, 0, t.length));
    const out = new Uint32Array(t.length - n + 1);
    for (let i = 0; i < out.length; i++) out[i] = hashRange(t, i, i + n);
    return distinctSorted(out);
  }
  const list = words(text);
  if (list.length === 0) return new Uint32Array(0);
  const hashes = new Uint32Array(list.length);
  for (let i = 0; i < list.length; i++) hashes[i] = hashRange(list[i], 0, list[i].length);
  const width = Math.min(n, list.length);
  const out = new Uint32Array(list.length - width + 1);
  for (let i = 0; i < out.length; i++) {
    // Order matters ("a b" ≠ "b a"): rotate-multiply mixing over the window, then the finaliser.
    let h = Math.imul(width, 0x9e3779b1);
    for (let j = 0; j < width; j++) {
      h = Math.imul(h ^ hashes[i + j], 0x85ebca6b);
      h = (h << 13) | (h >>> 19);
    }
    out[i] = fmix32(h);
  }
  return distinctSorted(out);
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
 * operations per shingle instead of a full hash.
 * @example createSketcher(params).sketchBatch(["some text"]).bands;
 */
export function createSketcher(params) {
  const { kind, n, numPerm, bands, rows, seed, payload } = params;
  const next = splitmix32(seed);
  const mulA = new Int32Array(numPerm);
  const addB = new Int32Array(numPerm);
  for (let k = 0; k < numPerm; k++) {
    mulA[k] = next() | 1;
    addB[k] = next() | 0;
  }
  const signature = new Int32Array(numPerm);

  // Four permutations per pass over the shingles: each shingle is loaded once per four minima, and the four
  // independent compare chains overlap. Measured 2× the one-permutation loop.
  function sign(shingles) {
    const m = shingles.length;
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

  function bandKeys(out, at) {
    for (let band = 0; band < bands; band++) {
      let h = Math.imul(band + 1, 0x9e3779b1);
      for (let r = band * rows, end = r + rows; r < end; r++) {
        h = Math.imul(h ^ signature[r], 0x85ebca6b);
        h = (h << 13) | (h >>> 19);
      }
      out[at + band] = fmix32(h);
    }
  }

  return {
    sketchBatch(texts) {
      const count = texts.length;
      const bandOut = new Uint32Array(count * bands);
      const sizes = new Uint32Array(count);
      const offsets = new Uint32Array(count + 1);
      const parts = [];
      let total = 0;
      for (let i = 0; i < count; i++) {
        const shingles = shingleHashes(texts[i], kind, n);
        sizes[i] = shingles.length;
        let part = shingles;
        if (shingles.length > 0) {
          sign(shingles);
          bandKeys(bandOut, i * bands);
          if (payload === "signature") part = new Uint32Array(signature);
        }
        parts.push(part);
        offsets[i] = total;
        total += part.length;
      }
      offsets[count] = total;
      const all = new Uint32Array(total);
      for (let i = 0; i < count; i++) all.set(parts[i], offsets[i]);
      return { count, bands: bandOut, sizes, offsets, payload: all };
    },
  };
}
