/**
 * A small JSON grammar scanner for the slow path only: it runs when `JSON.parse` failed without saying where
 * (V8 reports "Unexpected token 'x', ... is not valid JSON" with no position) or when the cheap duplicate-key
 * pre-test fired. No npm parser reports duplicate keys with their paths and a parse error's offset in one pass
 * without building its own tree, so this is hand-written; it never runs on clean records.
 */

/** One key that occurs more than once in the same object; `path` ends with the key. */
export interface DuplicateKey {
  readonly path: readonly (string | number)[];
  readonly key: string;
}

export interface ScanResult {
  /** Offset (UTF-16 code units) of the first character that breaks the grammar; -1 when the text is valid JSON. */
  readonly errorOffset: number;
  /** Keys repeated within one object, in text order (each repeat once). */
  readonly duplicates: readonly DuplicateKey[];
}

interface Frame {
  readonly isObject: boolean;
  readonly keys: Set<string> | undefined;
  key: string;
  index: number;
}

/** Thrown inside the scanner only; carries the offset of the offending character. */
class ScanError {
  constructor(readonly offset: number) {}
}

const QUOTE = 34;
const BACKSLASH = 92;

function skipWs(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else return i;
  }
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** `i` is at the opening quote; returns the offset after the closing quote. */
function scanString(text: string, i: number): number {
  let j = i + 1;
  for (;;) {
    if (j >= text.length) throw new ScanError(text.length);
    const c = text.charCodeAt(j);
    if (c === QUOTE) return j + 1;
    if (c < 0x20) throw new ScanError(j);
    if (c === BACKSLASH) {
      const e = text.charCodeAt(j + 1);
      if (e === 117 /* u */) {
        for (let k = 2; k < 6; k++)
          if (!isHex(text.charCodeAt(j + k))) throw new ScanError(Math.min(j + k, text.length));
        j += 6;
      } else if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
        j += 2;
      } else throw new ScanError(Math.min(j + 1, text.length));
    } else j++;
  }
}

function scanDigits(text: string, i: number): number {
  const start = i;
  while (text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  if (i === start) throw new ScanError(i);
  return i;
}

function scanNumber(text: string, i: number): number {
  if (text.charCodeAt(i) === 45 /* - */) i++;
  if (text.charCodeAt(i) === 48 /* 0 */) i++;
  else i = scanDigits(text, i);
  if (text.charCodeAt(i) === 46 /* . */) i = scanDigits(text, i + 1);
  const e = text.charCodeAt(i);
  if (e === 101 || e === 69) {
    i++;
    const sign = text.charCodeAt(i);
    if (sign === 43 || sign === 45) i++;
    i = scanDigits(text, i);
  }
  return i;
}

function scanLiteral(text: string, i: number, word: string): number {
  for (let k = 0; k < word.length; k++) if (text.charCodeAt(i + k) !== word.charCodeAt(k)) throw new ScanError(i + k);
  return i + word.length;
}

function decodeKey(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end - 1);
  // Escapes make `"a"` and `"\u0061"` the same key, as JSON.parse sees them.
  return raw.includes("\\") ? (JSON.parse(text.slice(start, end)) as string) : raw;
}

/**
 * Scans `text` as one JSON value: finds the first grammar error and, when `findDuplicates` is set, every key that
 * repeats within an object. Iterative, so deeply nested input cannot overflow the stack.
 * @example scanJson('{"a":1,"a":2}', true); // { errorOffset: -1, duplicates: [{ path: ["a"], key: "a" }] }
 */
export function scanJson(text: string, findDuplicates = false): ScanResult {
  const duplicates: DuplicateKey[] = [];
  const stack: Frame[] = [];
  const path = (key: string): (string | number)[] => [
    ...stack.slice(0, -1).map((f) => (f.isObject ? f.key : f.index)),
    key,
  ];
  let i = skipWs(text, 0);
  // Three states: expecting a value, expecting an object key, after a value.
  let state: "value" | "key" | "after" = "value";
  try {
    for (;;) {
      if (state === "value") {
        const c = text.charCodeAt(i);
        if (c === 123 /* { */) {
          i = skipWs(text, i + 1);
          if (text.charCodeAt(i) === 125 /* } */) {
            i++;
            state = "after";
          } else {
            stack.push({ isObject: true, keys: findDuplicates ? new Set() : undefined, key: "", index: 0 });
            state = "key";
          }
          continue;
        }
        if (c === 91 /* [ */) {
          i = skipWs(text, i + 1);
          if (text.charCodeAt(i) === 93 /* ] */) {
            i++;
            state = "after";
          } else stack.push({ isObject: false, keys: undefined, key: "", index: 0 });
          continue;
        }
        if (c === QUOTE) i = scanString(text, i);
        else if (c === 45 || (c >= 48 && c <= 57)) i = scanNumber(text, i);
        else if (c === 116) i = scanLiteral(text, i, "true");
        else if (c === 102) i = scanLiteral(text, i, "false");
        else if (c === 110) i = scanLiteral(text, i, "null");
        else throw new ScanError(Math.min(i, text.length));
        state = "after";
        continue;
      }
      if (state === "key") {
        if (text.charCodeAt(i) !== QUOTE) throw new ScanError(Math.min(i, text.length));
        const end = scanString(text, i);
        const frame = stack[stack.length - 1]!;
        if (frame.keys) {
          const key = decodeKey(text, i, end);
          if (frame.keys.has(key)) duplicates.push({ path: path(key), key });
          else frame.keys.add(key);
          frame.key = key;
        }
        i = skipWs(text, end);
        if (text.charCodeAt(i) !== 58 /* : */) throw new ScanError(Math.min(i, text.length));
        i = skipWs(text, i + 1);
        state = "value";
        continue;
      }
      // state === "after"
      i = skipWs(text, i);
      const frame = stack[stack.length - 1];
      if (frame === undefined) {
        if (i < text.length) throw new ScanError(i);
        return { errorOffset: -1, duplicates };
      }
      const c = text.charCodeAt(i);
      if (c === 44 /* , */) {
        i = skipWs(text, i + 1);
        if (frame.isObject) state = "key";
        else {
          frame.index++;
          state = "value";
        }
      } else if (c === (frame.isObject ? 125 : 93)) {
        stack.pop();
        i++;
      } else throw new ScanError(Math.min(i, text.length));
    }
  } catch (error) {
    if (error instanceof ScanError) return { errorOffset: error.offset, duplicates };
    throw error;
  }
}
