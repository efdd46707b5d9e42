import { type Issue, UsageError } from "@curate/core";
import { canonicalJson, type TextSink, textShape, trainingText, writeTrainingText } from "@curate/formats";
import * as DEFAULTS from "./defaults.js";
import { type Hash128, hash128, hashBytes, hashFolded, writeText } from "./hash.js";

/**
 * Text normalizations applied before hashing, always in this order whatever order they are given in:
 * - `nfkc`: Unicode NFKC (full-width letters, ligatures and compatibility forms become their plain form);
 * - `lower`: lowercase (`toLowerCase`, locale-independent; JavaScript has no full case folding, so `ß` stays `ß`);
 * - `punct`: removes punctuation (Unicode category P), so "don't" and "dont" match;
 * - `whitespace`: every run of whitespace becomes one space, and the ends are trimmed.
 */
export type Normalization = "nfkc" | "lower" | "punct" | "whitespace";

export const NORMALIZATIONS: readonly Normalization[] = ["nfkc", "lower", "punct", "whitespace"];

/** The default: NFKC and whitespace collapsing. Case and punctuation still count. */
export const DEFAULT_NORMALIZATION: readonly Normalization[] = DEFAULTS.DEFAULT_NORMALIZATION;

/**
 * What a record's dedup key is made of: `"text"` (its training text, the default), `"json"` (the whole record as
 * canonical JSON with sorted keys), or a list of field paths (`["instruction"]`, `["meta.id", "output"]`).
 */
export type KeySpec = "text" | "json" | readonly string[];

/**
 * Parses a normalization list: an array, or a comma-separated string such as `"nfkc,lower"`; `"none"` or `""` is
 * no normalization.
 * @example parseNormalization("nfkc,lower,whitespace"); // ["nfkc", "lower", "whitespace"]
 */
export function parseNormalization(spec: string | readonly string[]): Normalization[] {
  const parts = typeof spec === "string" ? spec.split(",") : [...spec];
  const out: Normalization[] = [];
  for (const raw of parts) {
    const part = raw.trim().toLowerCase();
    if (part === "" || part === "none") continue;
    if (!(NORMALIZATIONS as readonly string[]).includes(part)) {
      throw new UsageError(
        `unknown normalization "${raw.trim()}": expected a comma-separated list of ${NORMALIZATIONS.join(", ")} (or none), e.g. --normalize nfkc,lower,whitespace`,
      );
    }
    if (!out.includes(part as Normalization)) out.push(part as Normalization);
  }
  return out;
}

/**
 * Parses `--key` values: none, or `text`, gives the training text; `json` the canonical JSON; anything else is a
 * list of field paths (dots for nesting).
 * @example parseKey(["instruction", "input"]); // ["instruction", "input"]
 */
export function parseKey(values: readonly string[] | string | undefined): KeySpec {
  const list = values === undefined ? [] : typeof values === "string" ? [values] : values;
  if (list.length === 0) return "text";
  if (list.length === 1 && (list[0] === "text" || list[0] === "json")) return list[0];
  for (const field of list) {
    if (field === "text" || field === "json") {
      throw new UsageError(`--key ${field} cannot be combined with field names; use it alone`);
    }
    if (field.trim() === "" || field.split(".").some((part) => part === "")) {
      throw new UsageError(`--key "${field}" is not a field path: expected e.g. instruction or meta.id`);
    }
  }
  return list;
}

const WHITESPACE = /\s{2,}|[^\S ]/g;
const NON_ASCII = /[^\x00-\x7f]/;
const PUNCTUATION = /\p{P}+/gu;

/**
 * A function applying `steps` to a string (in the canonical order of `Normalization`).
 * @example normalizer(["lower", "whitespace"])("  Hello\n World "); // "hello world"
 */
export function normalizer(steps: readonly Normalization[]): (text: string) => string {
  const nfkc = steps.includes("nfkc");
  const lower = steps.includes("lower");
  const punct = steps.includes("punct");
  const whitespace = steps.includes("whitespace");
  return (text) => {
    let out = text;
    // ASCII is NFKC-stable, and the test is ~3× cheaper than normalize() on the mostly-ASCII text of datasets.
    if (nfkc && NON_ASCII.test(out)) out = out.normalize("NFKC");
    if (lower) out = out.toLowerCase();
    if (punct) out = out.replace(PUNCTUATION, "");
    // Only runs of 2+ and non-space whitespace are replaced: `/\s+/g` also "replaces" every single space and
    // measured 4× slower on ordinary prose.
    if (whitespace) out = out.replace(WHITESPACE, " ").trim();
    return out;
  };
}

// Canonical JSON lives in @curate/formats: the training text of a record of unknown shape is its canonical JSON.
export { canonicalJson };

const isObject = (value: unknown): boolean => typeof value === "object" && value !== null && !Array.isArray(value);

/** Own properties only: `constructor` or `__proto__` must not find Object.prototype's and make every key equal. */
function fieldValue(record: unknown, path: readonly string[]): unknown {
  let value = record;
  for (const part of path) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * For a key of field paths, a function naming the first field a record lacks (or that is null), `undefined` when
 * it has them all; `undefined` itself for the `text` and `json` keys, which every record has. A record without its
 * key is a `missing_key` reject: giving every such record the same "missing" key made 999 of 1,000 records
 * duplicates of the first.
 * @example missingKeyField(["id"])!({ text: "hi" }); // "id"
 */
export function missingKeyField(key: KeySpec): ((record: unknown) => string | undefined) | undefined {
  if (key === "text" || key === "json") return undefined;
  const fields = key.map((field) => ({ field, path: field.split(".") }));
  return (record) => {
    for (const { field, path } of fields) {
      const value = fieldValue(record, path);
      if (value === undefined || value === null) return field;
    }
    return undefined;
  };
}

/**
 * The `missing_key` reject of a record lacking `field` of `key`.
 * @example ctx.reject(item, missingKeyReason("id", ["id"]));
 */
export function missingKeyReason(
  field: string,
  key: readonly string[],
): { code: "missing_key"; message: string; issues: Issue[] } {
  return {
    code: "missing_key",
    message: `the dedup key (--key ${key.join(" ")}) needs field ${field}, which this record does not have`,
    issues: [
      {
        path: field,
        message: "missing or null",
        expected: "a value",
        found: "undefined",
        code: "missing_key",
        severity: "error",
      },
    ],
  };
}

/**
 * The usage error for a run in which no record had the key: a typo, most likely.
 * @example if (stats.records > 0 && missing === stats.records) throw noRecordHasKey(["id"]);
 */
export function noRecordHasKey(key: readonly string[]): UsageError {
  return new UsageError(
    `--key ${key.join(" ")}: no record has ${key.length === 1 ? "that field" : "all of those fields"} (check the spelling; nested fields use dots, e.g. meta.id). Every record was rejected as missing_key`,
  );
}

/**
 * Makes a function reading a record's key: the key spec's text with `mapString` applied to every string in it.
 * Fields are joined with U+001F; a missing field is U+0000 so that it never equals an empty string; non-string
 * fields are canonical JSON.
 * @example keyReader(["instruction"])({ instruction: "Hi", output: "Hello" }); // "Hi"
 */
export function keyReader(
  key: KeySpec,
  mapString: (text: string) => string = (text) => text,
): (record: unknown) => string {
  if (key === "text") return (record) => mapString(trainingText(record));
  if (key === "json") return (record) => canonicalJson(record, mapString);
  const fields = key.map((field) => field.split("."));
  return (record) => {
    let out = "";
    for (let i = 0; i < fields.length; i++) {
      const value = fieldValue(record, fields[i]!);
      if (i > 0) out += "\u001f";
      if (value === undefined) out += "\u0000";
      else out += typeof value === "string" ? mapString(value) : canonicalJson(value, mapString);
    }
    return out;
  };
}

/**
 * Makes the key function exact dedup hashes: the key spec's text, normalized.
 * @example keyFunction("text", ["nfkc", "whitespace"])({ prompt: "Hi  there", completion: "!" }); // "Hi there!"
 */
export function keyFunction(key: KeySpec, steps: readonly Normalization[]): (record: unknown) => string {
  const normalize = normalizer(steps);
  const read = keyReader(key, normalize);
  if (key !== "text") return read;
  // A record of a shape curate does not recognise is keyed by all of it (canonical JSON): keying GPTeacher's
  // instruction/input/response by instruction + input called records with different answers exact duplicates.
  return (record) =>
    textShape(record) === undefined && isObject(record) ? canonicalJson(record, normalize) : read(record);
}

/** Whitespace beyond ASCII (`\s` but not 9–13 or 32): held text turns it into spaces, ASCII is folded on bytes. */
const WIDE_SPACE = /[^\S\t-\r ]/;
const WIDE_SPACES = /[^\S\t-\r ]/g;

/** Pieces shorter than this (separators, role tags) are copied, and folded, by a JS loop; longer ones natively. */
const SHORT = 16;

/** `replace(/\s{2,}|[^\S ]/g, " ").trim()` on UTF-8 bytes in place, for text whose only whitespace is ASCII. */
function foldBytes(bytes: Uint8Array, length: number): number {
  let n = 0;
  for (let i = 0; i < length; i++) {
    const b = bytes[i]!;
    if (b === 32 || (b <= 13 && b >= 9)) {
      if (n !== 0 && bytes[n - 1] !== 32) bytes[n++] = 32;
    } else bytes[n++] = b;
  }
  return n !== 0 && bytes[n - 1] === 32 ? n - 1 : n;
}

/**
 * Builds a key's bytes (UTF-8, or WTF-8 for lone surrogates: see `writeWtf8`) from text written to it in pieces,
 * doing the key steps on the way, and hashes them: `hash()` gives `hash128` of the normalized joined text without
 * that string ever being built.
 * - `whitespace` (`fold`): short pieces are folded as they are copied; long ones are copied as they are (natively),
 *   and `hash()` checks the bytes four at a time while hashing them (`hashFolded`), folding them in place and
 *   hashing again in the rare case they are not folded yet. Non-ASCII whitespace becomes a space as held text is
 *   written (below), so the bytes' only whitespace is ASCII and folding them equals the `whitespace` step's
 *   `replace(/\s{2,}|[^\S ]/g, " ").trim()` on the string.
 * - `nfkc` (`prepare`): ASCII pieces are NFKC already. A piece with non-ASCII text is held, together with the
 *   pieces after it until one starts with an ASCII character, and the held text is normalized as one string. This
 *   is exact because no ASCII character combines with what comes before it: NFKC(a + b) = NFKC(a) + NFKC(b) when
 *   b starts with ASCII (the key tests check it). A held piece that starts with non-ASCII after earlier text could
 *   combine with it (e + U+0301 → é), so that case stops the builder (`stopped`) and the caller builds the whole
 *   string instead (0.5% of the benchmark's records).
 * - `lower`: ASCII pieces are lowercased; `toLowerCase` is context-sensitive beyond ASCII (Greek final sigma looks
 *   at the letters around it), so with `lower` any non-ASCII piece stops the builder.
 * Native `Buffer#write` copies long pieces and tells ASCII from not by its byte count. A JS loop over every
 * character measured slower than building the string and running the regexes (~5 ns a character here, against
 * ~1 ns for `Buffer#write`).
 * @example
 * const b = new KeyBytes(true, false, (t) => t.normalize("NFKC"));
 * b.write("Hi \n"); b.write("  there"); b.hash(new Uint32Array(4)); // true: the hash is hash128("Hi there")
 */
export class KeyBytes implements TextSink {
  bytes = KeyBytes.alloc(4096);
  length = 0;
  stopped = false;
  /** Non-ASCII text waiting for a piece that starts with ASCII (see above), or "". */
  private held = "";
  /** Whether any text (even whitespace) has been written: a held piece starting with non-ASCII must be the first. */
  private started = false;

  constructor(
    private readonly fold: boolean,
    private readonly lower: boolean,
    private readonly prepare: (text: string) => string,
  ) {}

  private static alloc(size: number): Buffer {
    // Its own ArrayBuffer: offset 0, as `hashBytes` needs.
    return Buffer.from(new ArrayBuffer(size));
  }

  reset(): void {
    this.length = 0;
    this.stopped = false;
    this.held = "";
    this.started = false;
  }

  write(part: string): void {
    const length = part.length;
    if (length === 0 || this.stopped) return;
    if (this.held !== "") {
      if (part.charCodeAt(0) >= 128) {
        this.held += part;
        return;
      }
      this.release();
    }
    this.ensure(length * 3);
    const bytes = this.bytes;
    const start = this.length;
    if (length < SHORT) {
      const fold = this.fold;
      const lower = this.lower;
      let n = start;
      for (let i = 0; i < length; i++) {
        let c = part.charCodeAt(i);
        if (c >= 128) {
          this.hold(part);
          return;
        }
        if (fold && (c === 32 || (c <= 13 && c >= 9))) {
          if (n !== 0 && bytes[n - 1] !== 32) bytes[n++] = 32;
          continue;
        }
        if (lower && c <= 90 && c >= 65) c |= 32;
        bytes[n++] = c;
      }
      this.length = n;
    } else {
      if (this.lower) part = part.toLowerCase();
      if (bytes.write(part, start) !== length) {
        this.hold(part);
        return;
      }
      this.length = start + length;
    }
    this.started = true;
  }

  /**
   * Ends the key and hashes it into `out`; returns false, leaving `out` alone, when the builder stopped (the caller
   * must then build the key string).
   */
  hash(out: Hash128): boolean {
    if (this.held !== "" && !this.stopped) this.release();
    if (this.stopped) return false;
    if (!this.fold) {
      hashBytes(this.bytes, this.length, out);
      return true;
    }
    if (this.length !== 0 && this.bytes[this.length - 1] === 32) this.length--;
    if (!hashFolded(this.bytes, this.length, out)) {
      this.length = foldBytes(this.bytes, this.length);
      hashBytes(this.bytes, this.length, out);
    }
    return true;
  }

  /** A piece with non-ASCII text, not yet written. */
  private hold(part: string): void {
    if (this.lower || (this.started && part.charCodeAt(0) >= 128)) this.stopped = true;
    else this.held = part;
    this.started = true;
  }

  /** Writes the held text, normalized, with non-ASCII whitespace as spaces (ASCII whitespace is folded at the end). */
  private release(): void {
    let text = this.prepare(this.held);
    this.held = "";
    if (this.fold && WIDE_SPACE.test(text)) text = text.replace(WIDE_SPACES, " ");
    this.ensure(text.length * 3);
    this.length = writeText(text, this.bytes, this.length);
  }

  private ensure(extra: number): void {
    if (this.bytes.length >= this.length + extra) return;
    const bytes = KeyBytes.alloc(Math.max(this.length + extra, this.bytes.length * 2));
    bytes.set(this.bytes.subarray(0, this.length));
    this.bytes = bytes;
  }
}

/**
 * Makes the function exact dedup hashes records with: `hash128(keyFunction(key, steps)(record))`, the same value,
 * computed without building the key string where it can.
 *
 * For the training-text key with steps among `nfkc`, `lower`, `whitespace` (the default is `nfkc,whitespace`), the
 * record's text pieces (`writeTrainingText`) go straight into a byte buffer (`KeyBytes`) that is hashed in place;
 * when `KeyBytes` stops (non-ASCII text it cannot normalize piece by piece) the key string is built. Other keys
 * and `punct` build the key string and hash it.
 * @example const h = keyHasher("text", ["nfkc", "whitespace"])({ instruction: "Hi  there", output: "!" }); // = hash128("Hi there !")
 */
export function keyHasher(key: KeySpec, steps: readonly Normalization[]): (record: unknown, out?: Hash128) => Hash128 {
  const keyOf = keyFunction(key, steps);
  const fast = key === "text" && steps.every((step) => step === "nfkc" || step === "lower" || step === "whitespace");
  if (!fast) return (record, out = new Uint32Array(4)) => hash128(keyOf(record), out);
  const nfkc = steps.includes("nfkc");
  const builder = new KeyBytes(steps.includes("whitespace"), steps.includes("lower"), (text) =>
    nfkc ? text.normalize("NFKC") : text,
  );
  return (record, out = new Uint32Array(4)) => {
    if (textShape(record) === undefined) return hash128(keyOf(record), out);
    builder.reset();
    writeTrainingText(record, builder);
    return builder.hash(out) ? out : hash128(keyOf(record), out);
  };
}
