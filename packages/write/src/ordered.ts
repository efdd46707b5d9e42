import { closeSync, openSync, readSync, rmSync } from "node:fs";
import type { Source } from "@curate/core";
import { AtomicFileWriter } from "./atomic.js";

/**
 * A JSONL file whose lines end up in input order (by the record identity each line names: input, then record
 * number), whatever order they were written in. Rejects and duplicates are routed by several stages at moments that
 * depend on batching (a shard's read rejects come before its kept records reach validate; near dedup decides some
 * batches late), so their order would otherwise depend on how the input was cut into shards or batches. Lines go to
 * a temp file as they come, with 20 bytes each in memory (key, position, length); `close()` keeps the file as it is
 * when it was already in order (the usual single-process case) and otherwise rewrites it sorted, reading each line
 * back by its position.
 * @example const rejects = new OrderedJsonlWriter(join(dir, "rejects.jsonl")); rejects.write(item.source, line);
 */
export class OrderedJsonlWriter {
  private readonly unsorted: AtomicFileWriter;
  private keys = new Float64Array(1024);
  private positions = new Float64Array(1024);
  private lengths = new Uint32Array(1024);
  private count = 0;
  private position = 0;
  private inOrder = true;
  private result: AtomicFileWriter | undefined;

  constructor(readonly path: string) {
    this.unsorted = new AtomicFileWriter(`${path}.unsorted`);
  }

  /** Appends `line` (ending in a newline) for the record at `source`. */
  write(source: Source, line: string): void {
    if (this.count === this.keys.length) this.grow();
    const key = orderKey(source);
    if (this.count > 0 && key < this.keys[this.count - 1]!) this.inOrder = false;
    const bytes = Buffer.byteLength(line);
    this.keys[this.count] = key;
    this.positions[this.count] = this.position;
    this.lengths[this.count] = bytes;
    this.count++;
    this.position += bytes;
    this.unsorted.write(line);
  }

  private grow(): void {
    const size = this.keys.length * 2;
    const keys = new Float64Array(size);
    keys.set(this.keys);
    const positions = new Float64Array(size);
    positions.set(this.positions);
    const lengths = new Uint32Array(size);
    lengths.set(this.lengths);
    [this.keys, this.positions, this.lengths] = [keys, positions, lengths];
  }

  /** Finishes the file under `path` (still inside the writer's temp folder); returns it for its size and sha256. */
  close(): AtomicFileWriter {
    this.unsorted.close();
    const out = new AtomicFileWriter(this.path);
    this.result = out;
    const fd = openSync(this.unsorted.path, "r");
    try {
      const order = Array.from({ length: this.count }, (_, i) => i);
      // Stable: lines of one record (none today) keep the order they were written in.
      if (!this.inOrder) order.sort((a, b) => this.keys[a]! - this.keys[b]! || a - b);
      let buffer = Buffer.alloc(64 * 1024);
      for (const i of order) {
        const length = this.lengths[i]!;
        if (length > buffer.length) buffer = Buffer.alloc(length);
        readSync(fd, buffer, 0, length, this.positions[i]!);
        out.write(buffer.toString("utf8", 0, length));
      }
    } finally {
      closeSync(fd);
      rmSync(this.unsorted.path, { force: true });
    }
    out.close();
    return out;
  }

  abort(): void {
    this.unsorted.abort();
    this.result?.abort();
  }
}

/**
 * A number that orders sources in input order: input index, then record number (or line, for sources without one),
 * exact below 2^21 inputs and 2^32 records per input.
 */
function orderKey(source: Source): number {
  return (source.input ?? 0) * 2 ** 32 + (source.record ?? source.line);
}
