import type { Compression } from "./source.js";
import type { Container } from "./splitter.js";

/**
 * Options of `readInputs`, `readStream` and `resolveInputs`.
 * @example readInputs(["-"], { stdin: socket, maxLineBytes: 1 << 20, onBytes: (n) => bar.tick(n) });
 */
export interface ReadOptions {
  /** Longest line accepted, in bytes (default 16 MiB). Longer lines become `line_too_long` rejects without buffering them whole. */
  maxLineBytes?: number;
  /** Deepest nesting of objects and arrays a record may have (default 512, at most 2000); deeper is `too_deep`. */
  maxDepth?: number;
  /** Stream used for "-" (default process.stdin). */
  stdin?: NodeJS.ReadableStream;
  /** Called with raw (on-disk, possibly compressed) bytes as they are read, for progress bars. */
  onBytes?: (bytes: number) => void;
  /** Base for relative paths and globs (default `process.cwd()`). */
  cwd?: string;
}

/**
 * Per-input statistics, filled while reading, final when the source is exhausted.
 * @example for (const s of source.stats) console.error(`${s.path}: ${s.records} records, sha256 ${s.sha256}`);
 */
export interface InputStats {
  path: string;
  /** Raw bytes read (compressed size for compressed inputs). */
  bytes: number;
  /** Hex SHA-256 of the raw file bytes; empty until the input has been read to its end. */
  sha256: string;
  /** Records read: kept and rejected, not counting blank lines. */
  records: number;
  blankLines: number;
  compression: Compression;
  container: Container;
}
