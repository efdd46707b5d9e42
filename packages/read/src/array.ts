import { decodeUtf8, invalidUtf8Entry, PendingBytes, tooLongEntry } from "./bytes.js";
import { ChunkCursor } from "./cursor.js";
import { type Entry, type Origin, parseRecord, Routed, rejectEntry, TOO_LONG_HEAD } from "./record.js";

const QUOTE = 34;
const BACKSLASH = 92;

const Phase = {
  /** After `[` or `,`: whitespace, then an element, or `]`. */
  Between: 0,
  /** Inside an element, until a `,` or `]` at its top level. */
  Element: 1,
  /** After the closing `]`: only whitespace may follow. */
  After: 2,
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** JSON whitespace. */
export function isWs(c: number | undefined): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/**
 * Where a structural scanner is inside a JSON string: `escaped` carries a backslash that ended the previous chunk.
 * @example const state: StringState = { inString: true, escaped: false };
 */
export interface StringState {
  inString: boolean;
  escaped: boolean;
}

/**
 * In a string at `i`: jumps to just past the next unescaped quote with `indexOf` (clearing `inString`), or to `n`
 * when the chunk ends first, carrying a pending backslash across chunks in `state.escaped`.
 * @example i = skipString(this, chunk, i, chunk.length);
 */
export function skipString(state: StringState, chunk: Buffer, i: number, n: number): number {
  if (state.escaped) {
    state.escaped = false;
    i++;
  }
  for (;;) {
    const q = chunk.indexOf(QUOTE, i);
    const stop = q === -1 ? n : q;
    let k = stop - 1;
    while (k >= i && chunk[k] === BACKSLASH) k--;
    const odd = (stop - 1 - k) % 2 === 1;
    if (q === -1) {
      state.escaped = odd;
      return n;
    }
    if (!odd) {
      state.inString = false;
      return q + 1;
    }
    i = q + 1;
  }
}

/**
 * Splits a `.json` file holding one array of records into the records, one chunk at a time, so a huge array needs
 * no more memory than its largest element. It tracks only string and nesting state to find where each element
 * ends; `JSON.parse` then parses each element alone and reports its errors. Hand-rolled because streaming JSON
 * parsers on npm build values token by token in JS, which is many times slower than `JSON.parse` per element.
 * @example const s = new JsonArraySplitter("a.json", 1 << 24, 1, 2); s.push(afterBracket, out); s.end(out);
 */
/**
 * What the JSON array and JSON values splitters share: string state for `skipString`, the bytes held of the record
 * being read, and turning them into one entry when it ends (too long, invalid UTF-8, or parsed).
 */
export abstract class JsonRecordSplitter extends ChunkCursor {
  /** String state, read and written by `skipString`. */
  inString = false;
  escaped = false;
  records = 0;
  protected readonly pending: PendingBytes;

  constructor(
    protected readonly file: string,
    protected readonly maxRecordBytes: number,
    line: number,
    column: number,
    offset: number,
  ) {
    super(line, column, offset);
    this.pending = new PendingBytes(maxRecordBytes);
  }

  /**
   * Appends the held record (started at `line`, `column`) to `out` and counts it. Returns its text and origin when it
   * went to `parseRecord`, so a caller can refine the reject; `undefined` when it was too long or not UTF-8.
   */
  protected takeRecord(
    line: number,
    column: number,
    offset: number,
    terminated: boolean,
    out: Entry[],
  ): { text: string; origin: Origin } | undefined {
    this.records++;
    const total = this.pending.total;
    if (this.pending.overflow) {
      const head = this.pending.head;
      this.pending.reset();
      const origin: Origin = { file: this.file, line, column, bytes: total, offset, element: true };
      out.push(tooLongEntry(head, origin, this.maxRecordBytes, "record"));
      return undefined;
    }
    const buf = this.pending.take();
    let end = buf.length;
    while (end > 0 && isWs(buf[end - 1])) end--;
    const origin: Origin = { file: this.file, line, column, bytes: end, offset, element: true };
    const text = decodeUtf8(buf, 0, end);
    if (typeof text === "number") {
      out.push(invalidUtf8Entry(buf, 0, end, text, origin));
      return undefined;
    }
    parseRecord(text, origin, terminated, out);
    return { text, origin };
  }
}

export class JsonArraySplitter extends JsonRecordSplitter {
  private phase: Phase = Phase.Between;
  private afterComma = false;
  private depth = 0;
  private elementLine = 0;
  private elementColumn = 0;
  private elementOffset = 0;
  /** Content after the closing `]`: where it starts, and its first KiB. */
  private trailing: { line: number; column: number; offset: number; head: Buffer; bytes: number } | undefined;

  /** `line`, `column`, `offset`: where the byte after the opening `[` is. */
  constructor(file: string, maxRecordBytes: number, line: number, column: number, offset: number) {
    super(file, maxRecordBytes, line, column, offset);
  }

  push(chunk: Buffer, out: Entry[]): void {
    this.startChunk(chunk);
    const n = chunk.length;
    if (this.trailing) {
      this.trailingContent(chunk, 0, n);
      this.offset += n;
      return;
    }
    let i = 0;
    let elementStart = this.phase === Phase.Element ? 0 : -1;
    while (i < n) {
      if (this.phase === Phase.Element) {
        if (this.inString) {
          i = skipString(this, chunk, i, n);
          continue;
        }
        const c = chunk[i]!;
        if (c === QUOTE) this.inString = true;
        else if (c === 123 || c === 91) this.depth++;
        else if ((c === 125 || c === 93) && this.depth > 0) this.depth--;
        else if ((c === 44 || c === 93) && this.depth === 0) {
          // A `}` at depth 0 is left in the element for JSON.parse to report.
          this.pending.add(chunk, elementStart, i);
          this.finishElement(true, out);
          elementStart = -1;
          if (c === 44) {
            this.phase = Phase.Between;
            this.afterComma = true;
          } else this.phase = Phase.After;
        }
        i++;
        continue;
      }
      const c = chunk[i]!;
      if (isWs(c)) {
        i++;
        continue;
      }
      this.advanceTo(i);
      if (this.phase === Phase.After) {
        this.trailingContent(chunk, i, n);
        break;
      }
      // Phase.Between
      if (c === 44 || c === 93) {
        if (c === 44 || this.afterComma) {
          this.records++;
          const origin = this.here(i);
          const what = c === 44 ? "an empty element (a comma with no value before it)" : "a trailing comma before `]`";
          out.push(
            rejectEntry("", origin, {
              code: "invalid_json",
              message: `invalid JSON array at column ${origin.column}: ${what}`,
              column: origin.column,
              excerpt: chunk.toString("utf8", Math.max(0, i - 24), Math.min(n, i + 24)),
            }),
          );
        }
        if (c === 93) this.phase = Phase.After;
        this.afterComma = c === 44;
        i++;
        continue;
      }
      this.phase = Phase.Element;
      this.depth = 0;
      this.elementLine = this.line;
      this.elementColumn = this.columnAt(i);
      this.elementOffset = this.offset + i;
      elementStart = i;
    }
    if (this.phase === Phase.Element && elementStart !== -1) this.pending.add(chunk, elementStart, n);
    this.advanceTo(n);
    this.offset += n;
  }

  /**
   * A range of the array's elements ended (a shard cut just before an element, after the comma that ends the one
   * before): nothing is pending there. Anywhere else it is the input's end.
   */
  endRange(out: Entry[]): void {
    if (!(this.phase === Phase.Between && this.afterComma)) this.end(out);
  }

  /** The input ended. An array left open is reported: its last element as truncated or kept with a warning. */
  end(out: Entry[]): void {
    if (this.phase === Phase.Element) {
      const before = out.length;
      this.finishElement(false, out);
      const kept = out[out.length - 1];
      if (out.length > before && kept !== undefined && !(kept instanceof Routed)) {
        out.splice(
          out.length - 1,
          0,
          new Routed(kept, undefined, {
            code: "unterminated_array",
            severity: "warning",
            path: "",
            message: "the input ends inside the JSON array (no closing `]`); the file may be cut off",
          }),
        );
      }
    } else if (this.phase === Phase.Between) {
      this.records++;
      const origin = this.here(0);
      out.push(
        rejectEntry("", origin, {
          code: "truncated_line",
          message: "the input ends inside the JSON array (no closing `]`); the file may be cut off",
          column: origin.column,
        }),
      );
    } else if (this.trailing) {
      this.records++;
      const { line, column, offset, head, bytes } = this.trailing;
      const text = head.toString("utf8");
      out.push(
        rejectEntry(
          text,
          { file: this.file, line, column, bytes, offset, element: true },
          {
            code: "invalid_json",
            message: `unexpected content after the closing \`]\` of the JSON array at line ${line} column ${column}`,
            column,
            excerpt: text.slice(0, 48),
          },
        ),
      );
    }
  }

  private trailingContent(chunk: Buffer, i: number, n: number): void {
    if (!this.trailing) {
      const { line, column, offset } = this.here(i);
      this.trailing = { line, column, offset, head: Buffer.alloc(0), bytes: 0 };
    }
    const t = this.trailing;
    if (t.head.length < TOO_LONG_HEAD) {
      t.head = Buffer.concat([t.head, chunk.subarray(i, Math.min(n, i + TOO_LONG_HEAD - t.head.length))]);
    }
    t.bytes += n - i;
  }

  private finishElement(terminated: boolean, out: Entry[]): void {
    this.takeRecord(this.elementLine, this.elementColumn, this.elementOffset, terminated, out);
  }

  /** The origin of an empty record at `pos` in the current chunk (a stray comma, the end of input). */
  private here(pos: number): Origin {
    return {
      file: this.file,
      line: this.line,
      column: this.columnAt(pos),
      bytes: 0,
      offset: this.offset + pos,
      element: true,
    };
  }
}

/**
 * Finds where a JSON array's elements can be cut into shards without reading them: the same string, nesting and
 * phase rules as `JsonArraySplitter` (so both agree on every element boundary, malformed elements included), a cut
 * being the first byte of an element that follows a comma at the array's top level, at or after each target offset.
 * Each cut carries its line and byte column, so a shard's reader starts with the input's identities.
 * @example const scan = new ArrayCutScanner(1 << 26, 1, 2, 1); for (const chunk of chunks) scan.push(chunk); scan.cuts;
 */
export class ArrayCutScanner {
  inString = false;
  escaped = false;
  readonly cuts: { offset: number; line: number; column: number }[] = [];
  private phase: Phase = Phase.Between;
  private afterComma = false;
  private depth = 0;
  private next: number;

  /** `offset`, `line`, `lineStart`: the input offset of the byte after `[`, its line, and where that line starts. */
  constructor(
    private readonly target: number,
    private offset: number,
    private line: number,
    private lineStart: number,
  ) {
    this.next = offset + target;
  }

  push(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    let counted = 0;
    while (i < n && this.phase !== Phase.After) {
      if (this.phase === Phase.Element) {
        if (this.inString) {
          i = skipString(this, chunk, i, n);
          continue;
        }
        const c = chunk[i]!;
        if (c === QUOTE) this.inString = true;
        else if (c === 123 || c === 91) this.depth++;
        else if ((c === 125 || c === 93) && this.depth > 0) this.depth--;
        else if ((c === 44 || c === 93) && this.depth === 0) {
          this.phase = c === 44 ? Phase.Between : Phase.After;
          this.afterComma = c === 44;
        }
        i++;
        continue;
      }
      const c = chunk[i]!;
      if (isWs(c)) {
        i++;
        continue;
      }
      if (c === 44 || c === 93) {
        if (c === 93) this.phase = Phase.After;
        this.afterComma = c === 44;
        i++;
        continue;
      }
      if (this.afterComma && this.offset + i >= this.next) {
        counted = this.countLines(chunk, counted, i);
        this.cuts.push({ offset: this.offset + i, line: this.line, column: this.offset + i - this.lineStart + 1 });
        this.next = this.offset + i + this.target;
      }
      this.phase = Phase.Element;
      this.depth = 0;
    }
    this.countLines(chunk, counted, n);
    this.offset += n;
  }

  /** Moves the line count past the newlines in `chunk[from, to)`; returns `to`. */
  private countLines(chunk: Buffer, from: number, to: number): number {
    for (let nl = chunk.indexOf(10, from); nl !== -1 && nl < to; nl = chunk.indexOf(10, nl + 1)) {
      this.line++;
      this.lineStart = this.offset + nl + 1;
    }
    return to;
  }
}
