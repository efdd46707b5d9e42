/**
 * Batches in frame parts: what `count`, `encode`, `decode` and `countChats` send and answer. Typed arrays travel in the
 * machine's byte order (a Unix socket never leaves the machine). Chats use the pool's packed form (`packChats`), chat
 * counts its `Float64Array` (`packCounts`), so the service moves the same compact data a worker thread does.
 */
import {
  type ChatCount,
  type ChatInput,
  type PackedChats,
  packChats,
  packCounts,
  unpackChats,
  unpackCounts,
} from "@curate/tokenizer-worker";

/** A request or result body: header fields and binary parts. */
export interface Body {
  readonly header: Record<string, unknown>;
  readonly parts: Uint8Array[];
}

const utf8 = new TextDecoder("utf-8");

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** A typed array over `part`, copied when `part` is not aligned for it (a frame's parts lie at any offset). */
function view<T>(
  part: Uint8Array,
  size: number,
  make: (buffer: ArrayBufferLike, offset: number, length: number) => T,
): T {
  if (part.byteLength % size !== 0)
    throw new Error(`a part of ${part.byteLength} bytes is not a list of ${size}-byte numbers`);
  if (part.byteOffset % size === 0) return make(part.buffer, part.byteOffset, part.byteLength / size);
  const copy = new Uint8Array(part.byteLength);
  copy.set(part);
  return make(copy.buffer, 0, part.byteLength / size);
}

const u32 = (part: Uint8Array) => view(part, 4, (b, o, n) => new Uint32Array(b, o, n));
const i32 = (part: Uint8Array) => view(part, 4, (b, o, n) => new Int32Array(b, o, n));
const f64 = (part: Uint8Array) => view(part, 8, (b, o, n) => new Float64Array(b, o, n));

function json(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), "utf8");
}

function fromJson(part: Uint8Array | undefined): unknown {
  if (part === undefined) throw new Error("a part is missing");
  return JSON.parse(utf8.decode(part));
}

/**
 * Strings as two parts: their lengths and all of them as UTF-16 (little-endian, as JavaScript holds them). UTF-16
 * rather than UTF-8: it carries lone surrogates exactly (UTF-8 would turn them into U+FFFD), and writing and reading it
 * string by string is a copy: on the benchmark corpus (non-ASCII text), 16 MB packed in ~0.2 s and unpacked in 0.04 s,
 * where joining to one string, UTF-8 and decoding it whole took 0.4 s and 0.2–0.4 s (a loaded 2-core machine). The
 * socket carries more bytes; on one machine that costs less than the decoding did.
 * @example const { mode, parts } = packStrings(["hi", "été"]); unpackStrings(mode, parts); // ["hi", "été"]
 */
export function packStrings(strings: readonly string[]): { mode: "utf16"; parts: Uint8Array[] } {
  const lengths = new Uint32Array(strings.length);
  let units = 0;
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i];
    if (typeof s !== "string") throw new TypeError(`texts[${i}] is ${typeof s}, expected a string`);
    lengths[i] = s.length;
    units += s.length;
  }
  const text = Buffer.allocUnsafe(units * 2);
  let at = 0;
  for (const s of strings) at += text.write(s, at, "utf16le");
  return { mode: "utf16", parts: [bytesOf(lengths), text] };
}

/** The strings `packStrings` packed. */
export function unpackStrings(mode: unknown, parts: readonly Uint8Array[]): string[] {
  if (mode !== "utf16" || parts.length < 2) throw new Error(`strings must be packed as utf16, found ${String(mode)}`);
  const lengths = u32(parts[0]!);
  const raw = parts[1]!;
  const text = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: string[] = new Array(lengths.length);
  let at = 0;
  for (let i = 0; i < lengths.length; i++) {
    const end = at + 2 * lengths[i]!;
    if (end > text.byteLength) throw new Error("string lengths run past the text");
    out[i] = text.toString("utf16le", at, end);
    at = end;
  }
  if (at !== text.byteLength) throw new Error("string lengths do not cover the text");
  return out;
}

/** Id lists as two parts: their lengths and all ids. */
export function packIds(ids: readonly Uint32Array[]): Uint8Array[] {
  const lengths = new Uint32Array(ids.length);
  let total = 0;
  for (let i = 0; i < ids.length; i++) {
    lengths[i] = ids[i]!.length;
    total += ids[i]!.length;
  }
  const all = new Uint32Array(total);
  let at = 0;
  for (const a of ids) {
    all.set(a, at);
    at += a.length;
  }
  return [bytesOf(lengths), bytesOf(all)];
}

/** The id lists `packIds` packed (each its own array, as the pool returns them). */
export function unpackIds(parts: readonly Uint8Array[]): Uint32Array[] {
  if (parts.length < 2) throw new Error("ids need two parts: lengths and ids");
  const lengths = u32(parts[0]!);
  const all = u32(parts[1]!);
  const out: Uint32Array[] = new Array(lengths.length);
  let at = 0;
  for (let i = 0; i < lengths.length; i++) {
    const end = at + lengths[i]!;
    if (end > all.length) throw new Error("id lengths run past the ids");
    out[i] = all.slice(at, end);
    at = end;
  }
  return out;
}

/** Counts as one part. */
export function packCountsArray(counts: Uint32Array): Uint8Array[] {
  return [bytesOf(counts)];
}

export function unpackCountsArray(parts: readonly Uint8Array[]): Uint32Array {
  if (parts.length < 1) throw new Error("counts need one part");
  return u32(parts[0]!).slice();
}

/** Chats: the pool's packed form, its strings packed as above and the chats that are not plain as JSON. */
export function packChatsBody(chats: readonly ChatInput[]): Body {
  const packed = packChats(chats);
  const strings = packStrings(packed.strings);
  return {
    header: { strings: strings.mode },
    parts: [bytesOf(packed.layout), json(packed.other), ...strings.parts],
  };
}

export function unpackChatsBody(header: Record<string, unknown>, parts: readonly Uint8Array[]): ChatInput[] {
  if (parts.length < 3) throw new Error("chats need their layout, other chats and strings");
  const other = fromJson(parts[1]);
  if (!Array.isArray(other)) throw new Error("other chats must be a list");
  const packed: PackedChats = {
    layout: i32(parts[0]!),
    other: other as ChatInput[],
    strings: unpackStrings(header.strings, parts.slice(2)),
  };
  const plain = packed.layout.reduce((n, k) => (k >= 0 ? n + 2 * k : n), 0);
  if (plain !== packed.strings.length) throw new Error("chat layout does not match its strings");
  for (const k of packed.layout)
    if (k < 0 && -1 - k >= other.length) throw new Error("chat layout points past the other chats");
  return unpackChats(packed);
}

/** Chat counts: the pool's `Float64Array` (total, trainable, flags per chat) and the failed chats' messages. */
export function packChatCounts(counts: readonly ChatCount[]): Body {
  const packed = packCounts(counts);
  return { header: { errors: packed.errors }, parts: [bytesOf(packed.numbers)] };
}

export function unpackChatCounts(header: Record<string, unknown>, parts: readonly Uint8Array[]): ChatCount[] {
  if (parts.length < 1) throw new Error("chat counts need one part");
  return unpackCounts({ numbers: f64(parts[0]!), errors: (header.errors ?? []) as [number, string][] });
}
