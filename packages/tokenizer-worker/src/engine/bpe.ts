import type { ByteTable, PairTable } from "./tables.js";

/**
 * Byte-pair encoding of one pre-tokenized piece, in the two flavours in use:
 *
 * - `ranks` (tiktoken): two adjacent parts merge if their concatenated bytes are a token; the token's id is its rank.
 * - `merges` (Hugging Face `BPE` model): two adjacent parts merge if the pair is in the `merges` list; its index there
 *   is the rank and the vocabulary gives the merged id.
 *
 * Both repeatedly merge the lowest-ranked pair, the leftmost on ties (tiktoken scans left to right for a strictly
 * smaller rank; Hugging Face orders its heap by rank, then position), so one loop serves both. Short pieces use
 * arrays and a linear scan like tiktoken's; long ones (runs of CJK text, base64, repeated characters) a heap with
 * lazy deletion, so a 100 kB word costs O(n log n) instead of O(n²).
 */
export type BpeMode = "ranks" | "merges";

const HEAP_THRESHOLD = 64;

export class BytePairEncoder {
  /** The ids of the last `encode` call, in `ids[0, length)`. */
  ids = new Uint32Array(256);
  length = 0;

  private start = new Int32Array(HEAP_THRESHOLD + 2);
  private part = new Int32Array(HEAP_THRESHOLD + 1);
  private pairRank = new Int32Array(HEAP_THRESHOLD + 1);
  private pairMerged = new Int32Array(HEAP_THRESHOLD + 1);

  constructor(
    private readonly mode: BpeMode,
    private readonly vocab: ByteTable,
    private readonly merges: PairTable | undefined,
    /** For `merges` mode: the id of each single byte. */
    private readonly byteIds: Int32Array | undefined,
    /** Emit a piece that is itself a token as that token, without merging (tiktoken always; HF `ignore_merges`). */
    private readonly wholePieceFirst: boolean,
  ) {}

  /**
   * Encodes `buf[0, m)` into `ids[0, length)`.
   * @example bpe.encode(Buffer.from(" hello"), 6); bpe.ids.subarray(0, bpe.length);
   */
  encode(buf: Uint8Array, m: number): void {
    this.length = 0;
    if (m === 0) return;
    if (this.wholePieceFirst || m === 1) {
      const whole = m === 1 && this.mode === "merges" ? this.byteIds![buf[0]!]! : this.vocab.get(buf, 0, m);
      if (whole >= 0) {
        this.push(whole);
        return;
      }
    }
    if (m <= HEAP_THRESHOLD) this.encodeSmall(buf, m);
    else this.encodeLarge(buf, m);
  }

  private push(id: number): void {
    if (this.length === this.ids.length) {
      const grown = new Uint32Array(this.ids.length * 2);
      grown.set(this.ids);
      this.ids = grown;
    }
    this.ids[this.length++] = id;
  }

  private byteId(buf: Uint8Array, i: number): number {
    if (this.mode === "merges") return this.byteIds![buf[i]!]!;
    return this.vocab.get(buf, i, i + 1);
  }

  /** Rank of merging the parts spanning `[a, b)` and `[b, c)` with ids `left`, `right`; sets `merged`. -1: no merge. */
  private rankOf(buf: Uint8Array, a: number, c: number, left: number, right: number): number {
    if (this.mode === "ranks") {
      const rank = this.vocab.get(buf, a, c);
      this.merged = rank;
      return rank;
    }
    const rank = this.merges!.rank(left, right);
    this.merged = this.merges!.lastMerged;
    return rank;
  }

  private merged = -1;

  private encodeSmall(buf: Uint8Array, m: number): void {
    const { start, part, pairRank, pairMerged } = this;
    let count = m;
    for (let k = 0; k < m; k++) {
      start[k] = k;
      part[k] = this.byteId(buf, k);
    }
    start[m] = m;
    for (let k = 0; k + 1 < count; k++) {
      pairRank[k] = this.rankOf(buf, start[k]!, start[k + 2]!, part[k]!, part[k + 1]!);
      pairMerged[k] = this.merged;
    }
    while (true) {
      let best = -1;
      let bestRank = 0x7fffffff;
      for (let k = 0; k + 1 < count; k++) {
        const r = pairRank[k]!;
        if (r >= 0 && r < bestRank) {
          bestRank = r;
          best = k;
        }
      }
      if (best < 0) break;
      part[best] = pairMerged[best]!;
      // Remove part best+1.
      for (let k = best + 1; k < count - 1; k++) {
        start[k] = start[k + 1]!;
        part[k] = part[k + 1]!;
        pairRank[k] = pairRank[k + 1]!;
        pairMerged[k] = pairMerged[k + 1]!;
      }
      count--;
      start[count] = m;
      if (best + 1 < count) {
        pairRank[best] = this.rankOf(buf, start[best]!, start[best + 2]!, part[best]!, part[best + 1]!);
        pairMerged[best] = this.merged;
      } else pairRank[best] = -1;
      if (best > 0) {
        pairRank[best - 1] = this.rankOf(buf, start[best - 1]!, start[best + 1]!, part[best - 1]!, part[best]!);
        pairMerged[best - 1] = this.merged;
      }
    }
    for (let k = 0; k < count; k++) this.push(part[k]!);
  }

  private encodeLarge(buf: Uint8Array, m: number): void {
    // Parts are a linked list over byte positions; a part is named by the position where it starts.
    const next = new Int32Array(m + 1);
    const prev = new Int32Array(m + 1);
    const id = new Int32Array(m);
    const version = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
      id[i] = this.byteId(buf, i);
    }
    const heap = new Heap(m * 2);
    const offer = (left: number) => {
      const right = next[left]!;
      if (right >= m) return;
      const rank = this.rankOf(buf, left, next[right]!, id[left]!, id[right]!);
      if (rank >= 0) heap.push(rank, left, right, version[left]!, version[right]!, this.merged);
    };
    for (let i = 0; i + 1 < m; i++) offer(i);
    while (heap.size > 0) {
      heap.pop();
      const { left, right } = heap;
      // Stale entries: a part that has since merged (changed version) or been absorbed (no longer next).
      if (next[left] !== right || version[left] !== heap.leftVersion || version[right] !== heap.rightVersion) continue;
      id[left] = heap.merged;
      version[left]!++;
      version[right]!++;
      const after = next[right]!;
      next[left] = after;
      if (after < m) prev[after] = left;
      if (prev[left]! >= 0) offer(prev[left]!);
      offer(left);
    }
    for (let i = 0; i < m; i = next[i]!) this.push(id[i]!);
  }
}

/** A binary min-heap on (rank, left position), with the entry's payload read back from fields after `pop`. */
class Heap {
  size = 0;
  left = 0;
  right = 0;
  leftVersion = 0;
  rightVersion = 0;
  merged = 0;
  private key: Float64Array;
  private data: Int32Array;

  constructor(capacity: number) {
    this.key = new Float64Array(capacity + 1);
    this.data = new Int32Array((capacity + 1) * 5);
  }

  push(rank: number, left: number, right: number, lv: number, rv: number, merged: number): void {
    if (this.size === this.key.length) {
      const key = new Float64Array(this.key.length * 2);
      key.set(this.key);
      const data = new Int32Array(this.data.length * 2);
      data.set(this.data);
      this.key = key;
      this.data = data;
    }
    // Rank first, then position: the leftmost of equal ranks wins, as in both references.
    const k = rank * 4294967296 + left;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.key[parent]! <= k) break;
      this.move(parent, i);
      i = parent;
    }
    this.key[i] = k;
    const d = i * 5;
    this.data[d] = left;
    this.data[d + 1] = right;
    this.data[d + 2] = lv;
    this.data[d + 3] = rv;
    this.data[d + 4] = merged;
  }

  private move(from: number, to: number): void {
    this.key[to] = this.key[from]!;
    this.data.copyWithin(to * 5, from * 5, from * 5 + 5);
  }

  pop(): void {
    const d = 0;
    this.left = this.data[d]!;
    this.right = this.data[d + 1]!;
    this.leftVersion = this.data[d + 2]!;
    this.rightVersion = this.data[d + 3]!;
    this.merged = this.data[d + 4]!;
    const last = --this.size;
    if (last === 0) return;
    const k = this.key[last]!;
    let i = 0;
    while (true) {
      let child = i * 2 + 1;
      if (child >= last) break;
      if (child + 1 < last && this.key[child + 1]! < this.key[child]!) child++;
      if (this.key[child]! >= k) break;
      this.move(child, i);
      i = child;
    }
    this.key[i] = k;
    this.data.copyWithin(i * 5, last * 5, last * 5 + 5);
  }
}
