/**
 * Pre-tokenizers: split text into the pieces that BPE encodes one by one, exactly as the tokenizer's regex would.
 *
 * Written by hand instead of running the tokenizers' regexes through JavaScript's `RegExp` for two reasons: speed (a
 * table lookup per code unit and no substring per match; the `RegExp` route measured 3× slower here) and
 * exactness. JavaScript's `\s` is not the `\s` of Rust's `regex` crate (tiktoken) or Oniguruma (Hugging Face
 * tokenizers): JavaScript adds U+FEFF and leaves out U+0085, so a `RegExp` port silently tokenizes those two
 * characters differently. Here whitespace is Unicode `White_Space`, the definition both reference engines use.
 */

// ---------------------------------------------------------------------------------------------------------------
// Character classes

/** `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`: o200k's "upper-ish" set. */
export const UPPISH = 1;
/** `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`: o200k's "lower-ish" set. */
export const LOWISH = 2;
/** `\p{L}` */
export const LETTER = 4;
/** `\p{N}` */
export const NUMBER = 8;
/** `\s`, as Unicode `White_Space` (Rust regex, Oniguruma), not JavaScript's `\s`. */
export const SPACE = 16;
/** `\r` or `\n` */
export const NEWLINE = 32;
/** Table entry not computed yet, or a surrogate: take the slow path. */
const SLOW = 64;

/** Not whitespace, not a letter, not a number: `[^\s\p{L}\p{N}]`. */
export function isOther(bits: number): boolean {
  return (bits & (SPACE | LETTER | NUMBER)) === 0;
}

const upRe = /[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]/u;
const loRe = /[\p{Ll}\p{Lm}\p{Lo}\p{M}]/u;
const letterRe = /\p{L}/u;
const numberRe = /\p{N}/u;

/** Unicode White_Space (PropList.txt): what `\s` means to Rust's regex crate and to Oniguruma. */
export function isWhiteSpace(cp: number): boolean {
  return (
    (cp >= 0x09 && cp <= 0x0d) ||
    cp === 0x20 ||
    cp === 0x85 ||
    cp === 0xa0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

/**
 * The class bits (`UPPISH | LOWISH | LETTER | NUMBER | SPACE | NEWLINE`) of one code point, as the scanners see it:
 * what a GPU pre-tokenizer's lookup table must hold to split exactly like them.
 * @example codePointClass(0x41); // UPPISH | LETTER
 */
export function codePointClass(cp: number): number {
  const s = String.fromCodePoint(cp);
  let bits = 0;
  if (upRe.test(s)) bits |= UPPISH;
  if (loRe.test(s)) bits |= LOWISH;
  if (letterRe.test(s)) bits |= LETTER;
  if (numberRe.test(s)) bits |= NUMBER;
  if (isWhiteSpace(cp)) bits |= SPACE;
  if (cp === 0x0a || cp === 0x0d) bits |= NEWLINE;
  return bits;
}

// One byte per BMP code unit, filled lazily (the whole table would cost ~40 ms of regex tests at start-up).
const table = new Uint8Array(0x10000).fill(SLOW);
for (let c = 0; c < 0x80; c++) table[c] = codePointClass(c);
const astral = new Map<number, number>();

/**
 * Width in UTF-16 code units of the code point last classified by `classAt` (1, or 2 for a surrogate pair). A module
 * variable rather than a returned pair, so the scanners' hot loops allocate nothing.
 */
let width = 1;

function slowClass(text: string, i: number, n: number, c: number): number {
  if (c >= 0xd800 && c <= 0xdfff) {
    const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
    if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      const cp = ((c - 0xd800) << 10) + (next - 0xdc00) + 0x10000;
      let bits = astral.get(cp);
      if (bits === undefined) {
        bits = codePointClass(cp);
        astral.set(cp, bits);
      }
      width = 2;
      return bits;
    }
    // A lone surrogate reaches tiktoken as U+FFFD (UTF-8 encoding replaces it), a symbol: "other".
    width = 1;
    return 0;
  }
  const bits = codePointClass(c);
  table[c] = bits;
  width = 1;
  return bits;
}

/**
 * The class bits of the code point starting at `text[i]`; sets `width`.
 * @example const bits = classAt("Hé", 1, 2); // LOWISH | LETTER, width 1
 */
export function classAt(text: string, i: number, n: number): number {
  const c = text.charCodeAt(i);
  const bits = table[c]!;
  if (bits & SLOW) return slowClass(text, i, n, c);
  width = 1;
  return bits;
}

// ---------------------------------------------------------------------------------------------------------------
// Scanners. Each returns the end of the piece that starts at `pos`, following the regex's alternatives in order with
// its backtracking worked out by hand (the comments give the alternative each branch implements).

/** Finds where the piece starting at `pos` ends; `n` is `text.length`. */
export type Scanner = (text: string, pos: number, n: number) => number;

/**
 * `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `i`: the end of the contraction, or `i` when there is none. Case-insensitive
 * matching follows Unicode simple case folding as the reference engines do, so `'ſ` (U+017F, long s) counts as `'s`.
 */
function contractionCi(text: string, i: number, n: number): number {
  if (i + 1 >= n || text.charCodeAt(i) !== 39) return i;
  const a = text.charCodeAt(i + 1);
  const c1 = a === 0x17f ? 0x73 : a | 0x20; // `| 0x20` lower-cases A-Z and maps nothing else onto a-z
  if (c1 === 0x73 || c1 === 0x74 || c1 === 0x6d || c1 === 0x64) return i + 2; // s t m d
  if (i + 2 >= n) return i;
  const c2 = text.charCodeAt(i + 2) | 0x20;
  if ((c1 === 0x72 && c2 === 0x65) || (c1 === 0x76 && c2 === 0x65) || (c1 === 0x6c && c2 === 0x6c)) return i + 3; // re ve ll
  return i;
}

/** `'s|'t|'re|'ve|'m|'ll|'d`, case-sensitive (GPT-2 family). */
function contractionCs(text: string, i: number, n: number): number {
  if (i + 1 >= n || text.charCodeAt(i) !== 39) return i;
  const c1 = text.charCodeAt(i + 1);
  if (c1 === 0x73 || c1 === 0x74 || c1 === 0x6d || c1 === 0x64) return i + 2;
  if (i + 2 >= n) return i;
  const c2 = text.charCodeAt(i + 2);
  if ((c1 === 0x72 && c2 === 0x65) || (c1 === 0x76 && c2 === 0x65) || (c1 === 0x6c && c2 === 0x6c)) return i + 3;
  return i;
}

/**
 * The whitespace alternatives shared by every pattern, at a whitespace character:
 * `\s*[\r\n]+` (only with `newlines`), then `\s+(?!\S)`, then `\s+`. Whitespace code points are all in the BMP.
 */
function spaces(text: string, pos: number, n: number, newlines: boolean): number {
  let i = pos;
  let lastNewline = -1;
  while (i < n) {
    const bits = classAt(text, i, n);
    if (!(bits & SPACE)) break;
    if (bits & NEWLINE) lastNewline = i;
    i++;
  }
  // `\s*[\r\n]+`: backtracking leaves the match ending just after the run's last newline.
  if (newlines && lastNewline >= 0) return lastNewline + 1;
  // `\s+(?!\S)`: at the end of the text the whole run; before a non-space, the run minus its last character.
  if (i >= n) return i;
  if (i - pos >= 2) return i - 1;
  return i; // `\s+`
}

/** o200k `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+` at `q`: its end, or -1. */
function upperThenLower(text: string, q: number, n: number): number {
  let i = q;
  let lastLower = -1;
  while (i < n) {
    const bits = classAt(text, i, n);
    if (!(bits & UPPISH)) break;
    i += width;
    if (bits & LOWISH) lastLower = i;
  }
  if (i < n && classAt(text, i, n) & LOWISH) {
    i += width;
    while (i < n && classAt(text, i, n) & LOWISH) i += width;
    return i;
  }
  // The upper-ish run swallowed the only lower-ish characters: backtracking ends the match after the last of them.
  return lastLower;
}

/** o200k `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*` at `q`: its end, or -1. */
function upperRunThenLower(text: string, q: number, n: number): number {
  let i = q;
  while (i < n && classAt(text, i, n) & UPPISH) i += width;
  if (i === q) return -1;
  while (i < n && classAt(text, i, n) & LOWISH) i += width;
  return i;
}

/**
 * o200k_base: `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
 * |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
 * |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
 */
export const scanO200k: Scanner = (text, pos, n) => {
  const b0 = classAt(text, pos, n);
  const w0 = width;
  const prefixable = (b0 & (NEWLINE | LETTER | NUMBER)) === 0 && pos + w0 < n;
  let end: number;
  // Alternative 1, with the optional prefix character, then without it.
  if (prefixable) {
    end = upperThenLower(text, pos + w0, n);
    if (end >= 0) return contractionCi(text, end, n);
  }
  if (b0 & (UPPISH | LOWISH)) {
    end = upperThenLower(text, pos, n);
    if (end >= 0) return contractionCi(text, end, n);
  }
  // Alternative 2, likewise.
  if (prefixable) {
    end = upperRunThenLower(text, pos + w0, n);
    if (end >= 0) return contractionCi(text, end, n);
  }
  if (b0 & UPPISH) {
    end = upperRunThenLower(text, pos, n);
    if (end >= 0) return contractionCi(text, end, n);
  }
  // `\p{N}{1,3}`
  if (b0 & NUMBER) return digits(text, pos + w0, n, 2);
  // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
  const q = otherStart(text, pos, n, b0);
  if (q >= 0) {
    let i = q;
    while (i < n && isOther(classAt(text, i, n))) i += width;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 13 && c !== 10 && c !== 47) break;
      i++;
    }
    return i;
  }
  return spaces(text, pos, n, true);
};

/** Up to `more` further `\p{N}` code points from `i`. */
function digits(text: string, i: number, n: number, more: number): number {
  let end = i;
  for (let k = 0; k < more && end < n && classAt(text, end, n) & NUMBER; k++) end += width;
  return end;
}

/** Where ` ?[^\s\p{L}\p{N}]+` starts its `+` run at `pos` (after the optional space), or -1 if it does not match. */
function otherStart(text: string, pos: number, n: number, b0: number): number {
  if (text.charCodeAt(pos) === 32 && pos + 1 < n && isOther(classAt(text, pos + 1, n))) return pos + 1;
  return isOther(b0) ? pos : -1;
}

/**
 * cl100k_base and Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
 * | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`; `maxDigits` is 1 for Qwen's `\p{N}` variant.
 */
export function cl100kScanner(maxDigits: number): Scanner {
  return function scanCl100k(text, pos, n) {
    const contraction = contractionCi(text, pos, n);
    if (contraction > pos) return contraction;
    const b0 = classAt(text, pos, n);
    const w0 = width;
    // `[^\r\n\p{L}\p{N}]?\p{L}+`, with the prefix first.
    if ((b0 & (NEWLINE | LETTER | NUMBER)) === 0 && pos + w0 < n && classAt(text, pos + w0, n) & LETTER) {
      let i = pos + w0 + width;
      while (i < n && classAt(text, i, n) & LETTER) i += width;
      return i;
    }
    if (b0 & LETTER) {
      let i = pos + w0;
      while (i < n && classAt(text, i, n) & LETTER) i += width;
      return i;
    }
    if (b0 & NUMBER) return digits(text, pos + w0, n, maxDigits - 1);
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    const q = otherStart(text, pos, n, b0);
    if (q >= 0) {
      let i = q;
      while (i < n && isOther(classAt(text, i, n))) i += width;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c !== 13 && c !== 10) break;
        i++;
      }
      return i;
    }
    return spaces(text, pos, n, true);
  };
}

/** r50k_base, p50k_base (GPT-2): `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` */
export const scanGpt2: Scanner = (text, pos, n) => {
  const contraction = contractionCs(text, pos, n);
  if (contraction > pos) return contraction;
  let start = pos;
  let bits = classAt(text, pos, n);
  // ` ?` in front of letters, numbers and others: take the space when the next character starts one of those runs.
  if (text.charCodeAt(pos) === 32 && pos + 1 < n) {
    const next = classAt(text, pos + 1, n);
    if (next & (LETTER | NUMBER) || isOther(next)) {
      start = pos + 1;
      bits = next;
    }
  }
  const run = bits & LETTER ? LETTER : bits & NUMBER ? NUMBER : isOther(bits) ? -1 : 0;
  if (run === 0) return spaces(text, pos, n, false);
  let i = start;
  if (run === -1) while (i < n && isOther(classAt(text, i, n))) i += width;
  else while (i < n && classAt(text, i, n) & run) i += width;
  return i;
};

/** The pre-tokenizer patterns implemented here, by their exact regex source in tiktoken and `tokenizer.json`. */
const known: Record<string, Scanner> = {
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+":
    scanO200k,
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+":
    cl100kScanner(3),
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+":
    cl100kScanner(1),
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+": scanGpt2,
};

/**
 * The hand-written scanner for a pre-tokenizer regex, or undefined when the pattern is not one implemented here
 * (the caller then falls back to a reference library).
 * @example scannerFor(encoderJson.pat_str); // scanO200k for o200k_base
 */
export function scannerFor(pattern: string): Scanner | undefined {
  return known[pattern];
}
