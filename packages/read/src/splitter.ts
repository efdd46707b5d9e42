import { JsonArraySplitter } from "./array.js";
import { JsonlSplitter } from "./jsonl.js";
import { type Entry, Routed } from "./record.js";
import { JsonValuesSplitter } from "./values.js";

/**
 * How an input holds its records: one per line, one JSON array, or JSON values one after another (a `.json` file of
 * one or more pretty-printed objects).
 * @example const container: Container = "json-array";
 */
export type Container = "jsonl" | "json-array" | "json-values";

/** Names whose content, unless it is an array, is read as JSON values rather than lines. */
const JSON_NAME = /\.json(?:\.(?:gz|zst|zstd))?$/i;

/**
 * Turns one input's decompressed bytes into records: strips a UTF-8 BOM, then picks the container from the content
 * and name: first non-whitespace byte `[` → one JSON array, whatever the name (so stdin and misnamed files work);
 * otherwise a `.json` name (optionally `.gz`/`.zst`) → JSON values one after another (pretty-printed objects, or
 * JSONL, which is one value per line), anything else → JSONL. Only the name can tell `jq .` output from a broken
 * JSONL file, so stdin and `.jsonl` stay line-based, and their rejects say when the text looks pretty-printed.
 * Leading whitespace is skipped without being held, however long it is.
 * @example const s = new RecordSplitter("a.jsonl", 1 << 24); s.push(chunk, out); s.end(out);
 */
export class RecordSplitter {
  container: Container | undefined;
  private head: Buffer | undefined;
  private bomChecked = false;
  private inner: JsonlSplitter | JsonArraySplitter | JsonValuesSplitter | undefined;
  private readonly jsonName: boolean;
  // Position while still looking for the first non-whitespace byte.
  private lineBeforeContent = 1;
  private column = 1;
  private leadingBlankLines = 0;
  /** Bytes before the content (a BOM, leading whitespace): where the first record's offset counts from. */
  private consumed = 0;

  constructor(
    private readonly file: string,
    private readonly maxLineBytes: number,
  ) {
    this.jsonName = JSON_NAME.test(file);
  }

  /** Decompressed bytes pushed so far (where a damaged stream stopped). */
  bytesRead = 0;

  get records(): number {
    return this.inner?.records ?? 0;
  }

  /** The line the reader has reached (after `end`, the last line). */
  get line(): number {
    return this.inner ? this.inner.currentLine : this.lineBeforeContent;
  }

  get blankLines(): number {
    return this.leadingBlankLines + (this.inner instanceof JsonlSplitter ? this.inner.blankLines : 0);
  }

  push(chunk: Buffer, out: Entry[]): void {
    this.pushBytes(chunk, out);
    if (!this.noted && this.container === "json-array" && LINES_NAME.test(this.file)) this.noted = noteArray(out);
  }

  /** Whether a `.jsonl` file's array has had its `json_array_in_jsonl` warning. */
  private noted = false;

  private pushBytes(chunk: Buffer, out: Entry[]): void {
    this.bytesRead += chunk.length;
    if (this.inner) {
      this.inner.push(chunk, out);
      return;
    }
    if (!this.bomChecked) {
      // The BOM may arrive split over tiny chunks (stdin); hold up to 3 bytes until it can be checked.
      if (this.head) chunk = Buffer.concat([this.head, chunk]);
      if (chunk.length < 3) {
        this.head = chunk;
        return;
      }
      this.head = undefined;
      this.bomChecked = true;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
        chunk = chunk.subarray(3);
        this.consumed = 3;
      }
    }
    this.detect(chunk, out);
  }

  private detect(chunk: Buffer, out: Entry[]): void {
    let i = 0;
    for (; i < chunk.length; i++) {
      const c = chunk[i];
      if (c === 10) {
        this.lineBeforeContent++;
        this.column = 1;
        this.leadingBlankLines++;
      } else if (c === 32 || c === 9 || c === 13) this.column++;
      else break;
    }
    this.consumed += i;
    if (i === chunk.length) return;
    const [line, column, offset] = [this.lineBeforeContent, this.column, this.consumed];
    if (chunk[i] === 91 /* [ */) {
      this.container = "json-array";
      // Newlines before the array are not blank lines of a JSONL file.
      this.leadingBlankLines = 0;
      this.inner = new JsonArraySplitter(this.file, this.maxLineBytes, line, column + 1, offset + 1);
      this.inner.push(chunk.subarray(i + 1), out);
    } else if (this.jsonName) {
      this.container = "json-values";
      this.leadingBlankLines = 0;
      this.inner = new JsonValuesSplitter(this.file, this.maxLineBytes, line, column, offset);
      this.inner.push(chunk.subarray(i), out);
    } else {
      this.container = "jsonl";
      this.inner = new JsonlSplitter(this.file, this.maxLineBytes, line, column, offset);
      this.inner.push(chunk.subarray(i), out);
    }
  }

  /** A shard of the input ended (see `JsonArraySplitter.endRange`); for JSONL, the same as `end`. */
  endRange(out: Entry[]): void {
    if (this.inner instanceof JsonArraySplitter) this.inner.endRange(out);
    else this.endBytes(out);
    if (!this.noted && this.container === "json-array" && LINES_NAME.test(this.file)) this.noted = noteArray(out);
  }

  /** The input ended: flushes the last record. An input of only whitespace is JSONL with blank lines (no records in a `.json` file). */
  end(out: Entry[]): void {
    this.endBytes(out);
    if (!this.noted && this.container === "json-array" && LINES_NAME.test(this.file)) this.noted = noteArray(out);
  }

  private endBytes(out: Entry[]): void {
    if (!this.bomChecked && this.head) {
      const head = this.head;
      this.head = undefined;
      this.bomChecked = true;
      this.detect(head, out);
    }
    if (this.inner) this.inner.end(out);
    else if (this.jsonName) {
      this.container = "json-values";
      this.leadingBlankLines = 0;
    } else {
      this.container = "jsonl";
      if (this.column > 1) this.leadingBlankLines++;
    }
  }
}

/** Names that promise one record per line. */
const LINES_NAME = /\.(?:jsonl|ndjson)(?:\.(?:gz|zst|zstd))?$/i;

/**
 * A `.jsonl` file holding one pretty-printed JSON array (`jq . data.json > data.jsonl`) is read as the array it is, but not
 * silently: its first record gets a `json_array_in_jsonl` warning. Returns whether a record was there to carry it.
 */
export function noteArray(out: Entry[]): boolean {
  const at = out.findIndex((entry) => !(entry instanceof Routed) || entry.reason !== undefined);
  if (at === -1) return false;
  const first = out[at]!;
  const item = first instanceof Routed ? first.item : first;
  // A one-line array is a line like any other; a pretty-printed one (records from line 2 on) is not JSONL.
  if (item.source.line === 1) return true;
  out.splice(
    at,
    0,
    new Routed(item, undefined, {
      code: "json_array_in_jsonl",
      severity: "warning",
      path: "",
      message:
        "this .jsonl file holds one JSON array, not a record per line; it was read as an array. Rename it .json, or convert it with jq -c '.[]'",
    }),
  );
  return true;
}
