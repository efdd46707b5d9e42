import type { Source } from "@curate/core";
import type { Hash128 } from "./hash.js";
import { SourceTable } from "./pages.js";

/**
 * Where exact dedup remembers which hashes it has seen, and where. Small on purpose: a sharded run can implement
 * it over a shared store (Redis `SET key source NX GET` answers it in one round trip), and the stage awaits the
 * result only when it is a promise, so the in-memory index pays nothing for that.
 * @example
 * const index: DedupIndex = new MemoryDedupIndex();
 * index.firstSeen(hash128("a"), { file: "x.jsonl", line: 1 }); // undefined: first time, now recorded
 * index.firstSeen(hash128("a"), { file: "x.jsonl", line: 9 }); // { file: "x.jsonl", line: 1 }
 */
export interface DedupIndex {
  /**
   * Returns the source first recorded with `hash`, or records `source` as that first one and returns undefined.
   * `hash` is reused by the caller after the call returns: copy it if you keep it.
   */
  firstSeen(hash: Hash128, source: Source): Source | undefined | PromiseLike<Source | undefined>;
  /** Releases connections or memory at the end of a run. */
  close?(): void | Promise<void>;
}

export interface MemoryDedupIndexOptions {
  /** Distinct records expected; sizes the table up front to skip rehashing. */
  readonly expected?: number;
}

const MAX_LOAD = 0.8;
/** Hashes per page of `hashes`: 4096 × 16 bytes = 64 KiB. */
const PAGE_BITS = 12;
const PAGE_MASK = (1 << PAGE_BITS) - 1;

/**
 * The in-memory exact-dedup index: an open-addressing table of 128-bit hashes in typed arrays.
 *
 * Layout, per distinct record: the 16-byte hash and the 20-byte source (line, column, record number, byte offset;
 * see `SourceTable`) sit in paged arrays in insertion order (36 bytes; the file name is one entry per run of records
 * from the same file), and the probe table holds one 32-bit word per slot at ≤ 80% load (5–10 bytes per record
 * between growths): 41–46 bytes in all plus at most
 * one 64 KiB page of slack per array, against ~80+ for a `Map` keyed by a hex string. Linear probing at 80% load
 * is cheap here because slots are 4 bytes (16 per cache line) and the tag bits skip most hash comparisons. A slot packs the record's id+1 in its low log2(capacity) bits and the
 * top bits of the hash's second word above them, so a probe touches the paged hash only when those bits agree.
 * @example const index = new MemoryDedupIndex({ expected: 1_000_000 });
 */
export class MemoryDedupIndex implements DedupIndex {
  private table: Uint32Array;
  private mask: number;
  private limit: number;
  /** The 128-bit hashes in insertion order, four words each, in fixed pages (growing never copies). */
  private readonly hashes: Uint32Array[] = [];
  private readonly sources = new SourceTable();

  constructor(options: MemoryDedupIndexOptions = {}) {
    let capacity = 1024;
    while (capacity * MAX_LOAD < (options.expected ?? 0)) capacity *= 2;
    this.table = new Uint32Array(capacity);
    this.mask = capacity - 1;
    this.limit = Math.floor(capacity * MAX_LOAD);
  }

  /** Distinct hashes recorded. */
  get size(): number {
    return this.sources.size;
  }

  /** Bytes held by the table, the hashes and the sources. */
  get bytes(): number {
    return this.table.byteLength + this.hashes.length * (16 << PAGE_BITS) + this.sources.bytes;
  }

  firstSeen(hash: Hash128, source: Source): Source | undefined {
    if (this.sources.size >= this.limit) this.grow();
    const h0 = hash[0]!;
    const h1 = hash[1]!;
    const mask = this.mask;
    const high = ~mask;
    const tag = h1 & high;
    const table = this.table;
    let pos = h0 & mask;
    for (let slot = table[pos]!; slot !== 0; slot = table[pos]!) {
      if ((slot & high) === tag) {
        const id = (slot & mask) - 1;
        const page = this.hashes[id >>> PAGE_BITS]!;
        const at = (id & PAGE_MASK) << 2;
        if (page[at] === h0 && page[at + 1] === h1 && page[at + 2] === hash[2] && page[at + 3] === hash[3]) {
          return this.sources.get(id);
        }
      }
      pos = (pos + 1) & mask;
    }
    const id = this.sources.add(source);
    if ((id & PAGE_MASK) === 0) this.hashes.push(new Uint32Array(4 << PAGE_BITS));
    const page = this.hashes[id >>> PAGE_BITS]!;
    const at = (id & PAGE_MASK) << 2;
    page[at] = h0;
    page[at + 1] = h1;
    page[at + 2] = hash[2]!;
    page[at + 3] = hash[3]!;
    table[pos] = tag | (id + 1);
    return undefined;
  }

  /** Nothing to release: the arrays go with the object. */
  close(): void {}

  /** Doubles the table and re-places every record from the paged hashes (the tag bits change with the size). */
  private grow(): void {
    const capacity = this.table.length * 2;
    const table = new Uint32Array(capacity);
    const mask = capacity - 1;
    const high = ~mask;
    for (let id = 0; id < this.sources.size; id++) {
      const page = this.hashes[id >>> PAGE_BITS]!;
      const at = (id & PAGE_MASK) << 2;
      let pos = page[at]! & mask;
      while (table[pos] !== 0) pos = (pos + 1) & mask;
      table[pos] = (page[at + 1]! & high) | (id + 1);
    }
    this.table = table;
    this.mask = mask;
    this.limit = Math.floor(capacity * MAX_LOAD);
  }
}
