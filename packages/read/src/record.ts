import { describeValue, type Envelope, formatPath, type Issue, type RejectReason } from "@curate/core";
import { DEFAULT_MAX_DEPTH } from "./defaults.js";
import { scanJson } from "./json-scan.js";

/**
 * Reject codes the reader produces.
 * @example const code: ReadRejectCode = "duplicate_key";
 */
export type ReadRejectCode =
  | "invalid_json"
  | "not_an_object"
  | "invalid_utf8"
  | "line_too_long"
  | "truncated_line"
  | "duplicate_key"
  | "lone_surrogate"
  /** A gzip or zstd stream that is damaged or cut off: the rest of that input cannot be read. */
  | "corrupt_input"
  /** Nested deeper than `maxDepth` (default 512): later stages walk records recursively. */
  | "too_deep"
  /** A number JSON.parse turns into ±Infinity (`1e400`, a 400-digit integer), or a Parquet NaN: written as `null`. */
  | "number_out_of_range"
  /** A Parquet row group compressed with a codec curate cannot decode (LZO, for one). */
  | "unsupported_codec"
  /** A Parquet value with no JSON form (raw bytes that are not UTF-8 text). */
  | "unsupported_value";

/**
 * Warning codes the reader produces on records it keeps.
 * @example const code: ReadWarningCode = "unsafe_integer";
 */
export type ReadWarningCode = "unsafe_integer" | "unterminated_array" | "json_array_in_jsonl";

/**
 * Rejected records carry at most this much of their raw text (64 KiB), so the rejects file still holds the record.
 * @example (rejected.item.data as string).length <= MAX_REJECT_TEXT; // true
 */
export const MAX_REJECT_TEXT = 64 * 1024;
/**
 * Lines over the length bound keep only this much (1 KiB), since the whole line was never buffered.
 * @example new PendingBytes(1000).head.length <= TOO_LONG_HEAD; // true
 */
export const TOO_LONG_HEAD = 1024;

/**
 * A reject or warning waiting in a parsed chunk. The per-record source routes it when it reaches its position (file
 * order); the batch source routes a chunk's rejects and warnings before handing on its kept records.
 * @example out.push(new Routed(item, { code: "invalid_json", message: "…" }, undefined));
 */
export class Routed {
  constructor(
    readonly item: Envelope,
    readonly reason: RejectReason | undefined,
    readonly issue: Issue | undefined,
  ) {}
}

/**
 * What parsing a chunk produces: kept envelopes, with rejects and warnings in between.
 * @example const out: Entry[] = []; splitter.push(chunk, out);
 */
export type Entry = Envelope | Routed;

/**
 * Where a record's text starts, for envelopes and for turning offsets in the text into line and column.
 * @example const origin: Origin = { file: "a.jsonl", line: 3, column: 1, bytes: 42 };
 */
export interface Origin {
  readonly file: string;
  readonly line: number;
  /** 1-based column where the text starts (1 for JSONL; an array element may start further in). */
  readonly column: number;
  /** Byte length of the record's text (without the line terminator). */
  readonly bytes: number;
  /** Byte offset of the record's first byte in the input (0 where it is not known). */
  readonly offset: number;
  /** Set for array elements and JSON values, where one line can hold several records: the column is shown. */
  readonly element?: boolean;
}

/**
 * The envelope of a record read from `origin`.
 * @example envelope({ prompt: "hi" }, origin); // { data, source: { file, line }, meta: { bytes } }
 */
export function envelope(data: unknown, origin: Origin): Envelope {
  // `record` and `input` are filled in by the reader, which numbers records in input order (`numberEntries`).
  const source = origin.element
    ? { file: origin.file, line: origin.line, column: origin.column, record: 0, offset: origin.offset, input: 0 }
    : { file: origin.file, line: origin.line, record: 0, offset: origin.offset, input: 0 };
  return { data, source, meta: { bytes: origin.bytes } };
}

/**
 * Gives every record in `entries` its number in the input (`source.record`, from `first`) and the input's index;
 * returns the next number. Warnings are not records: they point at a record that is numbered where it is kept.
 * @example next = numberEntries(out, next, inputIndex);
 */
export function numberEntries(entries: readonly Entry[], first: number, input: number): number {
  let next = first;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry instanceof Routed && entry.reason === undefined) continue;
    const source = (entry instanceof Routed ? entry.item : entry).source as { record: number; input: number };
    source.record = next++;
    source.input = input;
  }
  return next;
}

/**
 * A reject whose data is the raw text (cut at MAX_REJECT_TEXT), so the rejects file still holds the record.
 * @example out.push(rejectEntry(line, origin, { code: "not_an_object", message: "found an array of 2" }));
 */
export function rejectEntry(text: string, origin: Origin, reason: RejectReason): Routed {
  const data = text.length > MAX_REJECT_TEXT ? text.slice(0, MAX_REJECT_TEXT) : text;
  return new Routed(envelope(data, origin), reason, undefined);
}

/**
 * A short piece of `text` around `offset`, cut with an ellipsis.
 * @example excerpt("x".repeat(100), 50, 3); // "…xxxxxx…"
 */
export function excerpt(text: string, offset: number, radius = 24): string {
  const start = Math.max(0, offset - radius);
  const end = Math.min(text.length, offset + radius);
  return `${start > 0 ? "…" : ""}${text.slice(start, end)}${end < text.length ? "…" : ""}`;
}

/** Line and column of `offset` in a record's text, given where the text starts in its file. */
function locate(text: string, offset: number, origin: Origin): { line: number; column: number } {
  let line = origin.line;
  let lineStart = -1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i;
  }
  return { line, column: lineStart === -1 ? origin.column + offset : offset - lineStart };
}

/** V8's message without its position suffix or its echo of the input, which we report separately. */
function cleanParseMessage(message: string): string {
  return message
    .replace(/ in JSON at position \d+.*$/s, "")
    .replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, "")
    .replace(/^Unexpected end of JSON input$/, "unexpected end of input");
}

function parseFailure(text: string, error: unknown, origin: Origin, terminated: boolean): Routed {
  const message = error instanceof Error ? error.message : String(error);
  const position = /at position (\d+)/.exec(message);
  // V8 gives no position for "Unexpected token" errors (Node 20-22); find it with the grammar scanner.
  const offset = position ? Number(position[1]) : Math.max(0, scanJson(text).errorOffset);
  const at = locate(text, offset, origin);
  const what = cleanParseMessage(message);
  const where = at.line === origin.line ? `column ${at.column}` : `line ${at.line} column ${at.column}`;
  const reason: RejectReason = terminated
    ? {
        code: "invalid_json",
        message: `invalid JSON at ${where}: ${what}`,
        column: at.column,
        excerpt: excerpt(text, offset),
      }
    : {
        code: "truncated_line",
        message: `the input ends without a newline in the middle of a record (cut off?): ${what} at ${where}`,
        column: at.column,
        excerpt: excerpt(text, offset),
      };
  if (at.line !== origin.line) return rejectEntry(text, origin, { ...reason, errorLine: at.line });
  return rejectEntry(text, origin, reason);
}

// Cheap pre-tests; the precise (slow) checks run only when one fires. Costs per line, next to JSON.parse's, are in
// bench/read/checks.bench.mjs: the tree walk about a fifth of JSON.parse, the colon count under a tenth.
/** Every key token: a `"`, optional whitespace, then `:`. A regex count is sound but costs half a JSON.parse. */
const KEY_TOKEN = /"\s*:/g;

/** Key tokens in `text` (matches of KEY_TOKEN), counted without building the array of matches `match` returns. */
function countKeyTokens(text: string): number {
  KEY_TOKEN.lastIndex = 0;
  let count = 0;
  while (KEY_TOKEN.exec(text) !== null) count++;
  return count;
}
/** A high surrogate escape not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE_ESCAPE =
  /\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}/;

/**
 * Counts the `:` that may end a key token, giving up once past `limit`: those right after a `"` or a JSON whitespace
 * character (a key token is `"`, optional whitespace, `:`). A native `indexOf` per colon. Colons in prose follow a
 * letter, so this count matches the tree's key count far more often than counting every colon did (on the bench
 * corpus the regex fallback ran for 269 records in 100k instead of 27,297; the whole pre-test cost 20 ms instead
 * of 52 ms per 100k records).
 */
function countKeyColons(text: string, limit: number): number {
  let count = 0;
  for (let i = text.indexOf(":"); i !== -1; i = text.indexOf(":", i + 1)) {
    const before = text.charCodeAt(i - 1);
    if (before === 34 || before === 32 || before === 10 || before === 13 || before === 9) {
      if (++count > limit) break;
    }
  }
  return count;
}

/** Set by `countKeys` when it meets a number beyond ±(2^53-1); read right after. */
let sawUnsafeNumber = false;

/** The depth limit `parseRecord` applies; the reader sets it before each synchronous parse (`setMaxDepth`). */
let maxDepth = DEFAULT_MAX_DEPTH;

/**
 * Sets the nesting limit for the `parseRecord` calls that follow (the reader calls it before each chunk it parses;
 * parsing a chunk is synchronous, so readers running side by side never see each other's limit).
 * @example setMaxDepth(64); splitter.push(chunk, out);
 */
export function setMaxDepth(depth: number): void {
  maxDepth = depth;
}

/** Thrown by the key walk when a record nests deeper than `maxDepth`. */
class TooDeep {}
const TOO_DEEP = new TooDeep();

function isUnsafeNumber(value: unknown): boolean {
  return typeof value === "number" && (value > Number.MAX_SAFE_INTEGER || value < -Number.MAX_SAFE_INTEGER);
}

/**
 * Recursive `for...in` walk: the fastest form measured (an iterative walk with `Object.keys` cost 2.5x as much over
 * JSON.parse, mostly in garbage collection of the key arrays). `hasOwn` keeps the count exact even if someone added
 * enumerable properties to Object.prototype. Throws TOO_DEEP past `maxDepth`, which also bounds the recursion.
 */
function countKeysRecursive(value: object, depth: number): number {
  if (depth > maxDepth) throw TOO_DEEP;
  let count = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i];
      if (typeof child === "object") {
        if (child !== null) count += countKeysRecursive(child, depth + 1);
      } else if (isUnsafeNumber(child)) sawUnsafeNumber = true;
    }
    return count;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    count++;
    const child: unknown = (value as Record<string, unknown>)[key];
    if (typeof child === "object") {
      if (child !== null) count += countKeysRecursive(child, depth + 1);
    } else if (isUnsafeNumber(child)) sawUnsafeNumber = true;
  }
  return count;
}

/**
 * Counts the keys of every object in a parsed tree, and notes numbers too big to be exact (`sawUnsafeNumber`);
 * `undefined` when the tree nests deeper than `maxDepth` (JSON.parse itself accepts any depth).
 */
function countKeys(root: object): number | undefined {
  try {
    return countKeysRecursive(root, 1);
  } catch (error) {
    if (error === TOO_DEEP) return undefined;
    throw error;
  }
}

/**
 * Whether `text` may hold two equal keys in one object. Every key token ends with one `:` right after its closing
 * `"` or after whitespace, and a few more such colons may sit inside strings, so `key colons ≥ key tokens ≥ keys in
 * the tree`, with equality only when nothing was dropped. The colon count is the cheapest; when strings hold such
 * colons, the key-token regex decides.
 */
function mayHaveDuplicateKeys(text: string, keys: number): boolean {
  if (countKeyColons(text, keys) === keys) return false;
  return countKeyTokens(text) !== keys;
}

type Path = (string | number)[];

/** Visits every key (flagged) and leaf value of a tree, depth first in key order, with its path; slow path only. */
function walk(root: unknown, visit: (value: unknown, path: Path, isKey: boolean) => void): void {
  const stack: [unknown, Path][] = [[root, []]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], [...path, i]]);
    } else if (typeof value === "object" && value !== null) {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        visit(key, [...path, key], true);
        stack.push([(value as Record<string, unknown>)[key], [...path, key]]);
      }
    } else visit(value, path, false);
  }
}

/** Reports at most this many issues of one kind per record. */
const MAX_ISSUES = 10;

/** `String.prototype.isWellFormed` (Node 20+, ES2024); the repo's TypeScript lib is ES2023. */
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function loneSurrogateIssues(data: object): Issue[] {
  const issues: Issue[] = [];
  walk(data, (value, path, isKey) => {
    if (issues.length >= MAX_ISSUES || typeof value !== "string" || isWellFormed(value)) return;
    let index = 0;
    for (; index < value.length; index++) {
      const c = value.charCodeAt(index);
      if (c >= 0xd800 && c <= 0xdbff) {
        const next = value.charCodeAt(index + 1);
        if (next >= 0xdc00 && next <= 0xdfff) index++;
        else break;
      } else if (c >= 0xdc00 && c <= 0xdfff) break;
    }
    const unit = `\\u${value.charCodeAt(index).toString(16).padStart(4, "0")}`;
    issues.push({
      code: "lone_surrogate",
      severity: "error",
      path: formatPath(path),
      message: `${isKey ? "key" : "string"} holds a lone UTF-16 surrogate ${unit} at index ${index}; it is not valid Unicode and tokenizers fail on it`,
      found: unit,
    });
  });
  return issues;
}

function unsafeIntegerIssues(data: object): Issue[] {
  const issues: Issue[] = [];
  walk(data, (value, path, isKey) => {
    if (
      issues.length >= MAX_ISSUES ||
      isKey ||
      typeof value !== "number" ||
      !Number.isInteger(value) ||
      Number.isSafeInteger(value)
    )
      return;
    issues.push({
      code: "unsafe_integer",
      severity: "warning",
      path: formatPath(path),
      message: `number beyond ±(2^53-1) cannot be exact: an integer here may have lost digits when parsed (read as ${value}); store ids as strings`,
      found: String(value),
    });
  });
  return issues;
}

function outOfRangeIssues(data: object): Issue[] {
  const issues: Issue[] = [];
  walk(data, (value, path, isKey) => {
    if (issues.length >= MAX_ISSUES || isKey || typeof value !== "number" || Number.isFinite(value)) return;
    issues.push({
      code: "number_out_of_range",
      severity: "error",
      path: formatPath(path),
      message: "number beyond ±1.8e308: JSON.parse reads it as Infinity and JSON writes that as null",
      found: value > 0 ? "> 1.8e308" : "< -1.8e308",
    });
  });
  return issues;
}

/**
 * Parses one record's text and appends what happens to it to `out`: the kept envelope (after its warnings), or one
 * reject. `terminated` is false for the last line of an input that has no newline.
 * @example const out: Entry[] = []; parseRecord('{"a":1,"a":2}', origin, true, out); // a duplicate_key reject
 */
export function parseRecord(text: string, origin: Origin, terminated: boolean, out: Entry[]): void {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    out.push(parseFailure(text, error, origin, terminated));
    return;
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    out.push(
      rejectEntry(text, origin, {
        code: "not_an_object",
        message: `expected a JSON object per record, found ${data === null ? "null" : Array.isArray(data) ? describeValue(data) : `${typeof data} ${describeValue(data)}`}`,
      }),
    );
    return;
  }

  // Duplicate keys: JSON.parse keeps the last value silently.
  sawUnsafeNumber = false;
  const keys = countKeys(data);
  if (keys === undefined) {
    out.push(
      rejectEntry(text, origin, {
        code: "too_deep",
        message: `the record nests objects and arrays more than ${maxDepth} levels deep (--max-depth)`,
      }),
    );
    return;
  }
  const unsafeNumbers = sawUnsafeNumber;
  if (mayHaveDuplicateKeys(text, keys)) {
    const { duplicates } = scanJson(text, true);
    if (duplicates.length > 0) {
      const first = duplicates[0]!;
      out.push(
        rejectEntry(text, origin, {
          code: "duplicate_key",
          message: `duplicate key ${JSON.stringify(first.key)} at ${formatPath(first.path)}: JSON.parse would keep only the last value`,
          issues: duplicates.map((d) => ({
            code: "duplicate_key",
            severity: "error" as const,
            path: formatPath(d.path),
            message: `key ${JSON.stringify(d.key)} appears more than once in the same object`,
            found: JSON.stringify(d.key),
          })),
        }),
      );
      return;
    }
  }

  if ((text.indexOf("\\ud") !== -1 || text.indexOf("\\uD") !== -1) && LONE_SURROGATE_ESCAPE.test(text)) {
    const issues = loneSurrogateIssues(data);
    if (issues.length > 0) {
      out.push(
        rejectEntry(text, origin, {
          code: "lone_surrogate",
          message: `lone UTF-16 surrogate escape at ${issues[0]!.path || "(record)"}: not valid Unicode`,
          issues,
        }),
      );
      return;
    }
  }

  if (unsafeNumbers) {
    const issues = outOfRangeIssues(data);
    if (issues.length > 0) {
      out.push(
        rejectEntry(text, origin, {
          code: "number_out_of_range",
          message: `number at ${issues[0]!.path || "(record)"} is beyond what a double can hold (${issues[0]!.found}); it would be written as null. Store it as a string`,
          issues,
        }),
      );
      return;
    }
  }

  const item = envelope(data, origin);
  if (unsafeNumbers) {
    for (const issue of unsafeIntegerIssues(data)) out.push(new Routed(item, undefined, issue));
  }
  out.push(item);
}
