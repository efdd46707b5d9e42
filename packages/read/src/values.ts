import { isWs, JsonRecordSplitter, skipString } from "./array.js";
import { scanJson } from "./json-scan.js";
import { type Entry, Routed, rejectEntry } from "./record.js";

const LF = 10;
const QUOTE = 34;

const Phase = {
  /** Between values: whitespace, then the start of the next one. */
  Between: 0,
  /** Inside a value that started with `{`, `[` or `"`, until its closing bracket or quote at the top level. */
  Value: 1,
  /** Inside text that cannot start a value (a stray `,` or `}`, a bare word or number), until a newline, `{` or `[`. */
  Junk: 2,
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * Splits a `.json` file holding top-level JSON values one after another, separated only by whitespace, into the
 * records: one pretty-printed object, several (what `jq . data.jsonl > data.json` writes), or JSONL, which is such
 * a sequence with one value per line. Like `JsonArraySplitter` it tracks only string and nesting state to find where
 * each value ends, holds at most `maxRecordBytes` of one value, and lets `JSON.parse` parse and judge each value
 * alone, so a broken value is rejected with its line and column and reading goes on with the next one.
 *
 * Text between values that cannot start one (a `,` between objects, a stray `}`, a bare word) is rejected up to the
 * end of its line or the next `{` or `[`, so nothing is skipped silently. A value whose brackets never close takes
 * the rest of the input with it: it is rejected, saying where it broke (or, if nothing is wrong but its end, that
 * the file is cut off), and nothing after it becomes a record — the same as an unclosed element of a JSON array.
 * @example const s = new JsonValuesSplitter("a.json", 1 << 24, 1, 1); s.push(chunk, out); s.end(out);
 */
export class JsonValuesSplitter extends JsonRecordSplitter {
  private phase: Phase = Phase.Between;
  private depth = 0;
  private valueLine = 0;
  private valueColumn = 0;
  private valueOffset = 0;

  /** `line`, `column`, `offset`: where the first byte of `push`'s first chunk is (after a BOM and leading whitespace). */
  constructor(file: string, maxRecordBytes: number, line: number, column: number, offset: number) {
    super(file, maxRecordBytes, line, column, offset);
  }

  /** Splits off every value that ends in `chunk`, appending results to `out`; holds the unfinished one. */
  push(chunk: Buffer, out: Entry[]): void {
    this.startChunk(chunk);
    const n = chunk.length;
    let i = 0;
    let start = this.phase === Phase.Between ? -1 : 0;
    while (i < n) {
      if (this.phase === Phase.Value) {
        if (this.inString) {
          i = skipString(this, chunk, i, n);
          // A top-level string is a whole value (a not_an_object reject); a nested one just ends.
          if (!this.inString && this.depth === 0) {
            this.endValue(chunk, start, i, out);
            start = -1;
          }
          continue;
        }
        const c = chunk[i++]!;
        if (c === QUOTE) this.inString = true;
        else if (c === 123 || c === 91) this.depth++;
        else if ((c === 125 || c === 93) && --this.depth === 0) {
          this.endValue(chunk, start, i, out);
          start = -1;
        }
        continue;
      }
      const c = chunk[i]!;
      if (this.phase === Phase.Junk) {
        if (c === LF || c === 123 || c === 91) {
          this.endValue(chunk, start, i, out);
          start = -1;
        } else i++;
        continue;
      }
      // Phase.Between
      if (isWs(c)) {
        i++;
        continue;
      }
      this.advanceTo(i);
      this.valueLine = this.line;
      this.valueColumn = this.columnAt(i);
      this.valueOffset = this.offset + i;
      start = i++;
      if (c === 123 || c === 91) {
        this.phase = Phase.Value;
        this.depth = 1;
      } else if (c === QUOTE) {
        this.phase = Phase.Value;
        this.depth = 0;
        this.inString = true;
      } else this.phase = Phase.Junk;
    }
    if (start !== -1) this.pending.add(chunk, start, n);
    this.advanceTo(n);
    this.offset += n;
  }

  /** The input ended: text between values is rejected as it is; a value left open is reported as such. */
  end(out: Entry[]): void {
    if (this.phase === Phase.Junk) this.finish(out, false);
    else if (this.phase === Phase.Value) this.finish(out, true);
    this.phase = Phase.Between;
  }

  private endValue(chunk: Buffer, start: number, end: number, out: Entry[]): void {
    this.pending.add(chunk, start, end);
    this.phase = Phase.Between;
    this.finish(out, false);
  }

  private finish(out: Entry[], unclosed: boolean): void {
    const total = this.pending.total;
    const before = out.length;
    const parsed = this.takeRecord(this.valueLine, this.valueColumn, this.valueOffset, true, out);
    if (!unclosed) return;
    const entry = out[before];
    // Unbalanced text never parses; the guard only keeps a (impossible) kept record from being turned into a reject.
    if (!(entry instanceof Routed) || entry.reason === undefined || out.length !== before + 1) return;
    if (parsed !== undefined && scanJson(parsed.text).errorOffset >= parsed.text.length) {
      // Nothing is wrong with the value except that it stops: a cut-off file, not a syntax error.
      out[before] = rejectEntry(parsed.text, parsed.origin, {
        ...entry.reason,
        code: "truncated_line",
        message: `the input ends inside the JSON value that starts at line ${this.valueLine} column ${this.valueColumn} (it is never closed); the file may be cut off`,
      });
    } else out[before] = withNote(entry, this.unclosedNote(total));
  }

  /** What happened when a value's brackets never close: it took everything after it. */
  private unclosedNote(bytes: number): string {
    return `the value that starts at line ${this.valueLine} column ${this.valueColumn} never closes, so the reader took the rest of the input (${bytes} bytes) as part of it and rejects it whole: fix it where it breaks and read the file again to get the records after it`;
  }
}

/** The same reject with a sentence added to its message. */
function withNote(entry: Entry, note: string): Entry {
  if (!(entry instanceof Routed) || entry.reason === undefined) return entry;
  return new Routed(entry.item, { ...entry.reason, message: `${entry.reason.message}; ${note}` }, undefined);
}
