/**
 * Compact lookup tables for BPE: token byte strings → id, and (for Hugging Face merges) token pair → merge rank and
 * merged id. Open addressing over typed arrays instead of `Map<string, number>`: no string is built per lookup (the
 * merge loop asks about many short byte ranges), and 200k tokens take ~3 MB instead of ~20 MB.
 */

/** FNV-1a with murmur3's finalizer: FNV alone leaves the low bits (the ones a power-of-two table uses) clustered. */
function fnv1a(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return mix(h);
}

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Copies `array` into a `SharedArrayBuffer` of the same type, so that other threads can read it without a copy. */
function shared<T extends Uint8Array | Uint32Array | Int32Array>(array: T, length = array.length): T {
  const Type = array.constructor as new (buffer: SharedArrayBuffer) => T;
  const copy = new Type(new SharedArrayBuffer(length * array.BYTES_PER_ELEMENT));
  copy.set(array.subarray(0, length));
  return copy;
}

/** A built `ByteTable` as plain typed arrays over `SharedArrayBuffer`s: what crosses to other threads (`share`). */
export interface ByteTableParts {
  readonly bytes: Uint8Array;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  readonly ids: Uint32Array;
  readonly slots: Int32Array;
  readonly count: number;
  readonly byId: Int32Array;
}

/** A built `PairTable` as typed arrays over `SharedArrayBuffer`s. */
export interface PairTableParts {
  readonly keys: Int32Array;
  readonly values: Int32Array;
}

function tableSize(entries: number): number {
  let size = 16;
  while (size < entries * 2) size <<= 1;
  return size;
}

/**
 * Token byte strings and their ids. Build with `add`, then look up any byte range of any buffer.
 * @example const t = new ByteTable(2); t.add(Uint8Array.of(104, 105), 42); t.get(Uint8Array.of(104, 105), 0, 2); // 42
 */
export class ByteTable {
  private bytes: Uint8Array;
  private used = 0;
  private starts: Uint32Array;
  private ends: Uint32Array;
  private ids: Uint32Array;
  private slots: Int32Array;
  private mask: number;
  private count = 0;
  /** The bytes of each id, for decoding: `[start, end)` into `bytes`; -1 start for ids not in the table. */
  private byId: Int32Array;

  /** An empty table for `capacity` tokens, or a built one from another thread's `share()` (read-only then). */
  constructor(capacity: number | ByteTableParts, maxId = typeof capacity === "number" ? capacity : 0) {
    if (typeof capacity !== "number") {
      this.bytes = capacity.bytes;
      this.used = capacity.bytes.length;
      this.starts = capacity.starts;
      this.ends = capacity.ends;
      this.ids = capacity.ids;
      this.slots = capacity.slots;
      this.mask = capacity.slots.length - 1;
      this.count = capacity.count;
      this.byId = capacity.byId;
      return;
    }
    this.bytes = new Uint8Array(capacity * 8);
    this.starts = new Uint32Array(capacity);
    this.ends = new Uint32Array(capacity);
    this.ids = new Uint32Array(capacity);
    const size = tableSize(capacity);
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    this.byId = new Int32Array((maxId + 1) * 2).fill(-1);
  }

  /**
   * Moves the built table into `SharedArrayBuffer`s (this table then reads them too, so the memory is not doubled)
   * and returns them, for `new ByteTable(parts)` on other threads. Call once building is done: `add` after `share`
   * would write into memory other threads read.
   * @example const parts = table.share(); worker.postMessage(parts); // there: new ByteTable(parts)
   */
  share(): ByteTableParts {
    this.bytes = shared(this.bytes, this.used);
    this.starts = shared(this.starts, this.count);
    this.ends = shared(this.ends, this.count);
    this.ids = shared(this.ids, this.count);
    this.slots = shared(this.slots);
    this.byId = shared(this.byId);
    const { bytes, starts, ends, ids, slots, count, byId } = this;
    return { bytes, starts, ends, ids, slots, count, byId };
  }

  get size(): number {
    return this.count;
  }

  /** Adds `token` with `id`; a byte string already present keeps its first id. */
  add(token: Uint8Array, id: number): void {
    if (this.get(token, 0, token.length) >= 0) return;
    if (this.count === this.ids.length) throw new Error("ByteTable: capacity exceeded");
    if (this.used + token.length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.used + token.length));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes.set(token, this.used);
    const index = this.count++;
    this.starts[index] = this.used;
    this.ends[index] = this.used + token.length;
    this.ids[index] = id;
    this.used += token.length;
    if (id * 2 + 1 >= this.byId.length) {
      const grown = new Int32Array(Math.max(this.byId.length * 2, id * 2 + 2)).fill(-1);
      grown.set(this.byId);
      this.byId = grown;
    }
    this.byId[id * 2] = this.starts[index]!;
    this.byId[id * 2 + 1] = this.ends[index]!;
    let slot = fnv1a(token, 0, token.length) & this.mask;
    while (this.slots[slot] !== -1) slot = (slot + 1) & this.mask;
    this.slots[slot] = index;
  }

  /** The id of the bytes `buf[start, end)`, or -1. */
  get(buf: Uint8Array, start: number, end: number): number {
    const length = end - start;
    const bytes = this.bytes;
    let slot = fnv1a(buf, start, end) & this.mask;
    while (true) {
      const index = this.slots[slot]!;
      if (index === -1) return -1;
      const s = this.starts[index]!;
      if (this.ends[index]! - s === length) {
        let i = 0;
        while (i < length && bytes[s + i] === buf[start + i]) i++;
        if (i === length) return this.ids[index]!;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  /** Appends the bytes of token `id` to `out` at `at`; returns the new end, or -1 for an unknown id. */
  copyBytes(id: number, out: Uint8Array, at: number): number {
    const s = id * 2 < this.byId.length ? this.byId[id * 2]! : -1;
    if (s < 0) return -1;
    const e = this.byId[id * 2 + 1]!;
    out.set(this.bytes.subarray(s, e), at);
    return at + (e - s);
  }

  /** Byte length of token `id`, or -1 for an unknown id. */
  byteLength(id: number): number {
    const s = id * 2 < this.byId.length ? this.byId[id * 2]! : -1;
    return s < 0 ? -1 : this.byId[id * 2 + 1]! - s;
  }
}

/**
 * Hugging Face BPE merges: (left id, right id) → merge rank and merged id.
 * @example const m = new PairTable(1); m.add(5, 6, 0, 77); m.rank(5, 6); // 0; m.merged(5, 6) → 77
 */
export class PairTable {
  private keys: Int32Array;
  private values: Int32Array;
  private mask: number;

  /** An empty table for `capacity` merges, or a built one from another thread's `share()` (read-only then). */
  constructor(capacity: number | PairTableParts) {
    if (typeof capacity !== "number") {
      this.keys = capacity.keys;
      this.values = capacity.values;
      this.mask = capacity.keys.length / 2 - 1;
      return;
    }
    const size = tableSize(capacity);
    this.keys = new Int32Array(size * 2).fill(-1);
    this.values = new Int32Array(size * 2);
    this.mask = size - 1;
  }

  /**
   * Moves the built table into `SharedArrayBuffer`s and returns them, for `new PairTable(parts)` on other threads.
   * @example const parts = merges.share(); // another thread: new PairTable(parts)
   */
  share(): PairTableParts {
    this.keys = shared(this.keys);
    this.values = shared(this.values);
    return { keys: this.keys, values: this.values };
  }

  private slotOf(left: number, right: number): number {
    let slot = mix(Math.imul(left, 0x9e3779b1) ^ right) & this.mask;
    while (true) {
      const k = this.keys[slot * 2]!;
      if (k === -1 || (k === left && this.keys[slot * 2 + 1] === right)) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Adds a merge; the first (lowest-rank) occurrence of a pair wins, as in the reference. */
  add(left: number, right: number, rank: number, merged: number): void {
    const slot = this.slotOf(left, right);
    if (this.keys[slot * 2] !== -1) return;
    this.keys[slot * 2] = left;
    this.keys[slot * 2 + 1] = right;
    this.values[slot * 2] = rank;
    this.values[slot * 2 + 1] = merged;
  }

  /** Merge rank of the pair, or -1 when the pair never merges. Sets `lastMerged`. */
  rank(left: number, right: number): number {
    const slot = this.slotOf(left, right);
    if (this.keys[slot * 2] === -1) return -1;
    this.lastMerged = this.values[slot * 2 + 1]!;
    return this.values[slot * 2]!;
  }

  /** The merged id of the pair passed to the last successful `rank` call. */
  lastMerged = -1;
}
