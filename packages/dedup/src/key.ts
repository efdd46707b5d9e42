import { UsageError } from "@curate/core";
import { trainingText } from "@curate/formats";

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
export const DEFAULT_NORMALIZATION: readonly Normalization[] = ["nfkc", "whitespace"];

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

/**
 * JSON with object keys sorted at every level, so that field order never makes two records differ; `mapString`
 * is applied to every string value (not to keys).
 * @example canonicalJson({ b: 1, a: "X" }); // '{"a":"X","b":1}'
 */
export function canonicalJson(value: unknown, mapString: (text: string) => string = (text) => text): string {
  if (typeof value === "string") return JSON.stringify(mapString(value));
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, mapString)).join(",")}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k], mapString)}`).join(",")}}`;
}

function fieldValue(record: unknown, path: readonly string[]): unknown {
  let value = record;
  for (const part of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
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
  return keyReader(key, normalizer(steps));
}
