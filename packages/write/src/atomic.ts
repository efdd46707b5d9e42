import { createHash, type Hash } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { onInterrupt } from "@curate/core";
import { ioError } from "./lock.js";

export interface AtomicWriterOptions {
  /** gzip the output (level 6). */
  readonly gzip?: boolean;
  /** Bytes buffered before a write to disk. */
  readonly bufferBytes?: number;
}

/**
 * Writes a file atomically: bytes go to a hidden temp file beside the target, which is renamed over the target on
 * `close()`. A crash or `abort()` leaves no file under the final name. Writes are synchronous and buffered, so
 * memory stays bounded however fast records arrive.
 * @example const out = new AtomicFileWriter("out/train.jsonl"); out.write("{}\n"); out.close();
 */
export class AtomicFileWriter {
  readonly path: string;
  readonly tempPath: string;
  private fd: number | undefined;
  private chunks: string[] = [];
  private pending = 0;
  private readonly limit: number;
  private readonly gzip: boolean;
  private readonly hash: Hash = createHash("sha256");
  private digest: string | undefined;
  private forget: () => void = () => {};
  /** Bytes written to disk so far (compressed bytes for gzip). */
  bytesWritten = 0;

  constructor(path: string, options: AtomicWriterOptions = {}) {
    this.path = path;
    this.tempPath = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
    this.limit = options.bufferBytes ?? 1 << 20;
    this.gzip = options.gzip ?? false;
    try {
      this.fd = openSync(this.tempPath, "w");
      this.forget = onInterrupt(this.tempPath, () => this.abort());
    } catch (cause) {
      throw ioError("write", path, cause);
    }
  }

  write(text: string): void {
    this.chunks.push(text);
    this.pending += text.length;
    if (this.pending >= this.limit) this.flush();
  }

  private flush(): void {
    if (this.chunks.length === 0 || this.fd === undefined) return;
    const buffer = Buffer.from(this.chunks.join(""), "utf8");
    this.chunks = [];
    this.pending = 0;
    if (this.gzip) {
      // Kept whole per flush: each flush is one gzip member, and concatenated members are a valid gzip file.
      this.writeBytes(gzipSync(buffer, { level: 6 }));
    } else {
      this.writeBytes(buffer);
    }
  }

  private writeBytes(buffer: Buffer): void {
    let offset = 0;
    try {
      while (offset < buffer.length) offset += writeSync(this.fd!, buffer, offset);
    } catch (cause) {
      // Disk full (ENOSPC), file too large (EFBIG), quota (EDQUOT), I/O errors: the path and the reason, exit 2.
      throw ioError("write", this.path, cause);
    }
    // Hashed as written, so the manifest's checksum costs no second read of the file.
    this.hash.update(buffer);
    this.bytesWritten += buffer.length;
  }

  /** Flushes, syncs and renames the temp file over the target. */
  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    // An empty .gz file is not valid gzip (gunzip and zcat fail on it): write one empty member.
    if (this.gzip && this.bytesWritten === 0) this.writeBytes(gzipSync(Buffer.alloc(0)));
    try {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = undefined;
      renameSync(this.tempPath, this.path);
      this.forget();
    } catch (cause) {
      throw ioError("write", this.path, cause);
    }
    this.digest = this.hash.digest("hex");
  }

  /** SHA-256 (hex) of the file's bytes as written to disk; available after `close()`. */
  get sha256(): string | undefined {
    return this.digest;
  }

  /** Discards everything written; the target is left as it was. */
  abort(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // Closing a file being thrown away can fail the same way its writes did (ENOSPC on NFS); it goes anyway.
      }
    }
    this.fd = undefined;
    rmSync(this.tempPath, { force: true });
    this.forget();
  }
}
