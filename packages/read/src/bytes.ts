import { isUtf8 } from "node:buffer";
import type { Entry, Origin } from "./record.js";
import { rejectEntry, TOO_LONG_HEAD } from "./record.js";

type Utf8Slice = (this: Buffer, start: number, end: number) => string;
/**
 * Decodes with U+FFFD for bad bytes, no check. `Buffer#utf8Slice` is what `toString("utf8", start, end)` calls
 * after normalising its arguments; on short lines that normalising costs more than the decoding
 * (bench/read/checks.bench.mjs: 2.5x). It is undocumented, so fall back to `toString` if a Node version lacks it.
 * @example utf8Slice.call(Buffer.from("hi"), 0, 2); // "hi"
 */
export const utf8Slice: Utf8Slice =
  (Buffer.prototype as unknown as { utf8Slice?: Utf8Slice }).utf8Slice ??
  function (this: Buffer, start: number, end: number) {
    return this.toString("utf8", start, end);
  };

/**
 * Decodes `buf[start, end)` as UTF-8. Returns the text, or the byte offset (from `start`) of the first byte that is
 * not valid UTF-8. Decoding replaces bad bytes with U+FFFD, so the strict check runs only when the text holds one;
 * valid text pays for one `includes` (measured against a fatal TextDecoder and `isUtf8` on every line).
 * @example decodeUtf8(Buffer.from([0x61, 0xff]), 0, 2); // 1
 */
export function decodeUtf8(buf: Buffer, start: number, end: number): string | number {
  const text = utf8Slice.call(buf, start, end);
  if (!text.includes("\uFFFD")) return text;
  const bytes = buf.subarray(start, end);
  return isUtf8(bytes) ? text : firstInvalidUtf8(bytes);
}

/**
 * Offset of the first byte that starts no valid UTF-8 sequence (overlongs and surrogates included); slow path.
 * @example firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0xaf])); // 1
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min, cp] = [1, 0x80, b & 0x1f];
    else if (b >= 0xe0 && b <= 0xef) [need, min, cp] = [2, 0x800, b & 0x0f];
    else if (b >= 0xf0 && b <= 0xf4) [need, min, cp] = [3, 0x10000, b & 0x07];
    else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return i;
}

/**
 * The reject for bytes that are not UTF-8: the column counts the characters before the first bad byte on its line
 * (a pretty-printed record spans lines; then the message and `errorLine` name the line too).
 * @example out.push(invalidUtf8Entry(buf, start, end, bad, origin));
 */
export function invalidUtf8Entry(buf: Buffer, start: number, end: number, bad: number, origin: Origin): Entry {
  const before = buf.toString("utf8", start, start + bad);
  let line = origin.line;
  let lastNewline = -1;
  for (let i = before.indexOf("\n"); i !== -1; i = before.indexOf("\n", i + 1)) {
    line++;
    lastNewline = i;
  }
  const column = lastNewline === -1 ? origin.column + before.length : before.length - lastNewline;
  const where = line === origin.line ? `column ${column}` : `line ${line} column ${column}`;
  const hex = [...buf.subarray(start + bad, Math.min(end, start + bad + 4))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join(" ");
  return rejectEntry(buf.toString("utf8", start, end), origin, {
    code: "invalid_utf8",
    message: `invalid UTF-8 at ${where} (bytes ${hex}); re-encode the file as UTF-8`,
    column,
    ...(line === origin.line ? {} : { errorLine: line }),
    excerpt: `${before.slice(lastNewline + 1).slice(-24)}\uFFFD`,
  });
}

/**
 * Bytes of one record that spans chunks, held until its end is seen. Past `limit` bytes it stops holding them
 * (keeping only the first TOO_LONG_HEAD bytes) and just counts, so a file without newlines needs bounded memory.
 * @example const pending = new PendingBytes(1000); pending.add(chunk, 0, chunk.length); pending.overflow;
 */
export class PendingBytes {
  private parts: Buffer[] = [];
  private held = 0;
  /** Bytes seen since the last reset, held or not. */
  total = 0;
  /** Set once `total` passed the limit: only `head` is kept. */
  overflow = false;
  head: Buffer = Buffer.alloc(0);

  constructor(private readonly limit: number) {}

  /** Bytes held in memory now (never more than the limit). */
  get heldBytes(): number {
    return this.held;
  }

  add(chunk: Buffer, start: number, end: number): void {
    const length = end - start;
    if (length <= 0) return;
    this.total += length;
    if (this.overflow) {
      // Still filling the head when the line overflowed before its first KiB (limits under 1 KiB).
      if (this.head.length < TOO_LONG_HEAD) this.appendHead(chunk, start, end);
      return;
    }
    if (this.held + length > this.limit) {
      this.overflow = true;
      this.parts.push(chunk.subarray(start, Math.min(end, start + TOO_LONG_HEAD)));
      const all = Buffer.concat(this.parts);
      this.head = all.subarray(0, TOO_LONG_HEAD);
      this.parts = [];
      this.held = 0;
      return;
    }
    this.parts.push(chunk.subarray(start, end));
    this.held += length;
  }

  private appendHead(chunk: Buffer, start: number, end: number): void {
    const room = TOO_LONG_HEAD - this.head.length;
    this.head = Buffer.concat([this.head, chunk.subarray(start, Math.min(end, start + room))]);
  }

  /** The held bytes as one buffer (empty when overflowed), then resets. */
  take(): Buffer {
    const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.held);
    this.reset();
    return buf;
  }

  reset(): void {
    this.parts = [];
    this.held = 0;
    this.total = 0;
    this.overflow = false;
    this.head = Buffer.alloc(0);
  }
}

/**
 * The reject for a record over `maxLineBytes`; its data is the first KiB, decoded leniently.
 * @example out.push(tooLongEntry(pending.head, origin, 1 << 24, "line"));
 */
export function tooLongEntry(head: Buffer, origin: Origin, max: number, what: "line" | "record"): Entry {
  return rejectEntry(head.toString("utf8"), origin, {
    code: "line_too_long",
    message: `${what} is ${origin.bytes} bytes, over the limit of ${max} (maxLineBytes); only its first ${TOO_LONG_HEAD} bytes are kept here`,
    excerpt: head.toString("utf8", 0, Math.min(head.length, 48)),
  });
}

/**
 * True when `buf[start, end)` holds only JSON whitespace.
 * @example isBlank(Buffer.from(" \t\r"), 0, 3); // true
 */
export function isBlank(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c !== 32 && c !== 9 && c !== 13 && c !== 10) return false;
  }
  return true;
}
