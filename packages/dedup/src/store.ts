import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CurateError, makeTempDir, removeTempDir } from "@curate/core";
import { Uint32Pages } from "./pages.js";

/**
 * Per-record arrays near dedup verifies candidates against (sorted shingle hashes, or signatures), by record id.
 * Records are appended in id order; `get` returns a view that is only valid until the next call.
 */
export interface SketchStore {
  append(id: number, values: Uint32Array): void;
  get(id: number): Uint32Array;
  /** Bytes of RAM held. */
  readonly bytes: number;
  /** Bytes on disk (0 for the memory store). */
  readonly diskBytes: number;
  close(): void;
}

/** Word offsets as two 32-bit halves: a file of more than 16 GiB of shingles is possible on big runs. */
class Offsets {
  private readonly lo = new Uint32Pages();
  private readonly hi = new Uint32Pages();
  set(id: number, value: number): void {
    this.lo.set(id, value % 2 ** 32);
    this.hi.set(id, Math.floor(value / 2 ** 32));
  }
  get(id: number): number {
    return this.hi.get(id) * 2 ** 32 + this.lo.get(id);
  }
  get bytes(): number {
    return this.lo.bytes + this.hi.bytes;
  }
}

/**
 * Keeps the arrays in RAM (paged, so no copying on growth). For tests and small runs: 4 bytes per shingle.
 * @example const store = new MemorySketchStore(); store.append(0, Uint32Array.of(1, 2)); store.get(0);
 */
export class MemorySketchStore implements SketchStore {
  private readonly words = new Uint32Pages();
  private readonly starts = new Offsets();
  private readonly lengths = new Uint32Pages();
  private scratch = new Uint32Array(256);
  readonly diskBytes = 0;

  append(id: number, values: Uint32Array): void {
    const start = this.words.length;
    this.starts.set(id, start);
    this.lengths.set(id, values.length);
    for (let i = 0; i < values.length; i++) this.words.set(start + i, values[i]!);
  }

  get(id: number): Uint32Array {
    const start = this.starts.get(id);
    const length = this.lengths.get(id);
    if (this.scratch.length < length) this.scratch = new Uint32Array(length * 2);
    for (let i = 0; i < length; i++) this.scratch[i] = this.words.get(start + i);
    return this.scratch.subarray(0, length);
  }

  get bytes(): number {
    return this.words.bytes + this.starts.bytes + this.lengths.bytes;
  }

  close(): void {}
}

const BUFFER_BYTES = 1 << 20;

/**
 * Keeps the arrays in a temporary file, with 12 bytes per record in RAM (offset and length): this is what keeps
 * near dedup's memory per record bounded whatever the record length. Candidates are few, and recent records are
 * still in the write buffer or the OS page cache, so reads are cheap. The file is deleted on `close()`.
 * @example const store = new FileSketchStore(); store.append(0, Uint32Array.of(1, 2)); store.get(0); store.close();
 */
export class FileSketchStore implements SketchStore {
  private readonly dir: string;
  private fd: number | undefined;
  private readonly starts = new Offsets();
  private readonly lengths = new Uint32Pages();
  private buffer = new Uint8Array(BUFFER_BYTES);
  private buffered = 0;
  /** Bytes of the file before the write buffer. */
  private flushed = 0;
  private scratch = new Uint8Array(1024);

  constructor(parent: string = tmpdir()) {
    try {
      this.dir = makeTempDir("curate-near-", parent);
      this.fd = openSync(join(this.dir, "sketches.bin"), "w+");
    } catch (cause) {
      throw new CurateError(
        "CURATE_IO",
        `near dedup: cannot create its temporary file in ${parent}: ${String(cause)}`,
        {
          cause,
        },
      );
    }
  }

  append(id: number, values: Uint32Array): void {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    this.starts.set(id, this.flushed + this.buffered);
    this.lengths.set(id, values.length);
    if (this.buffered + bytes.length > this.buffer.length) this.flush();
    if (bytes.length > this.buffer.length) {
      this.writeAll(bytes);
      return;
    }
    this.buffer.set(bytes, this.buffered);
    this.buffered += bytes.length;
  }

  get(id: number): Uint32Array {
    const start = this.starts.get(id);
    const length = this.lengths.get(id) * 4;
    if (this.scratch.length < length) this.scratch = new Uint8Array(length * 2);
    if (start >= this.flushed) {
      const at = start - this.flushed;
      this.scratch.set(this.buffer.subarray(at, at + length));
    } else {
      let done = 0;
      while (done < length) {
        const n = readSync(this.fd!, this.scratch, done, length - done, start + done);
        if (n === 0) throw new CurateError("CURATE_IO", "near dedup: its temporary file ended early");
        done += n;
      }
    }
    return new Uint32Array(this.scratch.buffer, 0, length / 4);
  }

  private flush(): void {
    if (this.buffered === 0) return;
    this.writeAll(this.buffer.subarray(0, this.buffered));
    this.buffered = 0;
  }

  private writeAll(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd!, bytes, done, bytes.length - done, this.flushed + done);
    this.flushed += bytes.length;
  }

  get bytes(): number {
    return this.buffer.byteLength + this.scratch.byteLength + this.starts.bytes + this.lengths.bytes;
  }

  get diskBytes(): number {
    return this.flushed + this.buffered;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    removeTempDir(this.dir);
  }
}
