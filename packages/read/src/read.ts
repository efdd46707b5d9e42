import { createHash } from "node:crypto";
import { fstatSync } from "node:fs";
import { resolve } from "node:path";
import { CurateError, type Envelope, type RecordSource, type StageContext, UsageError } from "@curate/core";
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_LINE_BYTES, MAX_MAX_DEPTH } from "./defaults.js";
import { checkText, Utf16Error } from "./encoding.js";
import { type ResolvedInput, resolveInputs, STDIN } from "./inputs.js";
import { PARQUET_FILE, readParquet } from "./parquet.js";
import { type Entry, numberEntries, Routed, rejectEntry, setMaxDepth } from "./record.js";
import { DecompressError, decompress, fileChunks, streamChunks } from "./source.js";
import { RecordSplitter } from "./splitter.js";
import type { InputStats, ReadOptions } from "./types.js";

/**
 * A record source that also reports, per input, what it read.
 * @example const source: ReadSource = readInputs(["data/"]); // later: source.stats[0].sha256
 */
export type ReadSource = RecordSource & { readonly stats: InputStats[] };

export { DEFAULT_MAX_LINE_BYTES };

interface Opened {
  readonly path: string;
  /** `chunkBytes` is a hint: files read in pieces of that size. */
  chunks(chunkBytes?: number): AsyncIterable<Buffer>;
  /** Whether the input can be read twice (a file), so its integrity can be checked before any record is used. */
  readonly rereadable: boolean;
  /** The file's absolute path, for readers that need random access (Parquet); absent for streams. */
  readonly absolute?: string;
}

function checkOptions(options: ReadOptions): { maxLineBytes: number; maxDepth: number } {
  const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new UsageError(`maxLineBytes must be a positive integer number of bytes, found ${String(max)}`, {
      code: "CURATE_INVALID_OPTION",
    });
  }
  const depth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  // Past a few thousand levels the recursive walks of later stages overflow the stack: the limit is the guard.
  if (!Number.isSafeInteger(depth) || depth < 1 || depth > MAX_MAX_DEPTH) {
    throw new UsageError(`maxDepth must be an integer from 1 to ${MAX_MAX_DEPTH}, found ${String(depth)}`, {
      code: "CURATE_INVALID_OPTION",
    });
  }
  return { maxLineBytes: max, maxDepth: depth };
}

/**
 * Input bytes parsed into one batch (~130 records of the bench corpus). Parsing a whole 1 MiB read at once kept
 * ~2,000 parsed records alive until the consumer was done with them, so young-generation GCs copied and promoted
 * them and V8 grew the young generation past the caches (`--trace-gc-nvp`, 100k bench corpus: 29.9 MB survived
 * scavenges and 15.0 MB promoted; 64 KiB batches: 6.8 MB and 1.6 MB; the ceiling loop, which drops each record
 * at once: 0.5 and 0.4). Smaller batches cost one more async step each: 32 KiB survived 4.6 MB, 16 KiB 3.4 MB.
 */
const BATCH_INPUT_BYTES = 64 * 1024;

/** Where the piece of `chunk` from `start` ends: just after the first newline past BATCH_INPUT_BYTES. */
function pieceEnd(chunk: Buffer, start: number): number {
  if (chunk.length - start <= BATCH_INPUT_BYTES) return chunk.length;
  const nl = chunk.indexOf(10, start + BATCH_INPUT_BYTES);
  return nl === -1 ? chunk.length : nl + 1;
}

/**
 * The stats of an input before anything of it is read (what the parallel reader starts from too).
 * @example stats.push(emptyStats("data.jsonl"));
 */
export function emptyStats(path: string): InputStats {
  return { path, bytes: 0, sha256: "", records: 0, blankLines: 0, compression: "none", container: "jsonl" };
}

/**
 * Parses inputs one after another into batches of entries (kept envelopes with their rejects and warnings in
 * place), filling `stats` as it goes. Both public forms, per record and per batch, are built on it.
 */
async function* entryBatches(
  inputs: () => Promise<Opened[]>,
  stats: InputStats[],
  { maxLineBytes, maxDepth }: { maxLineBytes: number; maxDepth: number },
  onBytes: ((bytes: number) => void) | undefined,
): AsyncGenerator<Entry[]> {
  stats.length = 0;
  const opened = await inputs();
  for (let index = 0; index < opened.length; index++) {
    const input = opened[index]!;
    let next = 1;
    const stat = emptyStats(input.path);
    stats.push(stat);
    if (input.absolute !== undefined && PARQUET_FILE.test(input.path)) {
      yield* readParquet(input.absolute, input.path, index, stat, onBytes);
      continue;
    }
    const hash = createHash("sha256");
    let complete = false;
    async function* raw(): AsyncGenerator<Buffer> {
      for await (const chunk of input.chunks()) {
        stat.bytes += chunk.length;
        hash.update(chunk);
        onBytes?.(chunk.length);
        if (!failed) yield chunk;
        // Damaged: small pieces, since node:zlib drops the output of the write in which it finds the damage.
        else
          for (let at = 0; at < chunk.length; at += QUARANTINE_FEED_BYTES)
            yield chunk.subarray(at, at + QUARANTINE_FEED_BYTES);
      }
      complete = true;
    }
    const splitter = new RecordSplitter(input.path, maxLineBytes);
    // A compressed file whose checksum fails is read again for what it holds, but nothing from it is kept.
    const failed = input.rereadable ? await integrity(input) : undefined;
    const quarantine = failed && quarantined(input.path, failed);
    let damage: DecompressError | undefined;
    let encoding: Utf16Error | undefined;
    try {
      for await (const chunk of checkText(decompress(raw(), (c) => (stat.compression = c)))) {
        for (let start = 0; start < chunk.length; ) {
          const end = pieceEnd(chunk, start);
          const out: Entry[] = [];
          setMaxDepth(maxDepth);
          splitter.push(start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end), out);
          stat.records = splitter.records;
          stat.blankLines = splitter.blankLines;
          if (splitter.container) stat.container = splitter.container;
          if (out.length > 0) {
            next = numberEntries(out, next, index);
            yield quarantine ? quarantine(out) : out;
          }
          start = end;
        }
      }
    } catch (error) {
      if (error instanceof Utf16Error) encoding = error;
      else if (!(error instanceof DecompressError)) throw error;
      else damage = error;
    }
    const out: Entry[] = [];
    setMaxDepth(maxDepth);
    splitter.end(out);
    let records = splitter.records;
    if (encoding) {
      records++;
      out.push(
        rejectEntry(
          "",
          { file: input.path, line: 1, column: 1, bytes: 0, offset: 0 },
          {
            code: "invalid_utf8",
            message: `${encoding.message}: nothing in it was read. Convert it first, e.g. iconv -f UTF-16${encoding.endian} -t UTF-8 ${input.path} > converted.jsonl`,
          },
        ),
      );
    }
    if (damage && !input.rereadable) {
      // Records from this stream were passed on before its check failed; it cannot be read again to quarantine them.
      throw new CurateError(
        "CURATE_CORRUPT_INPUT",
        `${input.path}: ${damage.message}. The records before the damage were already passed on unverified, so the run is refused; save the input to a file to have its records quarantined as corrupt_input rejects`,
        { exitCode: 2, cause: damage },
      );
    }
    if (damage) {
      // What the damaged stream still held was read above; the rest cannot be, and that is a reject, not a crash.
      records++;
      out.push(
        rejectEntry(
          "",
          { file: input.path, line: splitter.line, column: 1, bytes: 0, offset: splitter.bytesRead },
          {
            code: "corrupt_input",
            message: `${damage.message} after ${stat.bytes} compressed bytes; the records before this point were read, the rest of the file could not be`,
          },
        ),
      );
    }
    stat.records = records;
    stat.blankLines = splitter.blankLines;
    stat.container = splitter.container ?? "jsonl";
    if (complete) stat.sha256 = hash.digest("hex");
    if (out.length > 0) {
      numberEntries(out, next, index);
      yield quarantine ? quarantine(out) : out;
    }
  }
}

/** Piece size fed to the decoder on a damaged file's second read (see `raw` in `entryBatches`). */
const QUARANTINE_FEED_BYTES = 512;

/**
 * Reads a compressed file once through, discarding what it decodes, to find a failing checksum (gzip CRC-32 and
 * length, zstd XXH64) before any of its records is used: both formats check only at the end of a member or frame,
 * and a member can be the whole file. Plain files stop at the first chunk. Costs one extra decompression per
 * compressed file, in constant memory.
 */
async function integrity(input: Opened): Promise<DecompressError | undefined> {
  let compressed = false;
  try {
    for await (const _ of decompress(input.chunks(), (c) => (compressed = c !== "none"))) {
      if (!compressed) return undefined;
    }
  } catch (error) {
    if (error instanceof DecompressError) return error;
    throw error;
  }
  return undefined;
}

/** Turns the kept records of a chunk into `corrupt_input` rejects (warnings on them go with them). */
function quarantined(path: string, failed: DecompressError): (entries: Entry[]) => Entry[] {
  const reason = {
    code: "corrupt_input",
    message: `quarantined: read from ${path}, which fails its ${failed.compression} integrity check (${failed.message}), so this record cannot be trusted`,
  };
  return (entries) => {
    const out: Entry[] = [];
    for (const entry of entries) {
      if (!(entry instanceof Routed)) out.push(new Routed(entry, reason, undefined));
      else if (entry.reason) out.push(entry);
    }
    return out;
  };
}

function route(entry: Routed, ctx: StageContext): void {
  if (entry.reason) ctx.reject(entry.item, entry.reason);
  else if (entry.issue) ctx.warn(entry.item, entry.issue);
}

function makeSource(inputs: () => Promise<Opened[]>, options: ReadOptions): ReadSource {
  const limits = checkOptions(options);
  const stats: InputStats[] = [];
  const onBytes = options.onBytes;

  // One async step per record: the plain RecordSource form. Rejects are routed when the reader reaches them.
  async function* read(ctx: StageContext): AsyncGenerator<Envelope> {
    for await (const batch of entryBatches(inputs, stats, limits, onBytes)) {
      for (let i = 0; i < batch.length; i++) {
        const entry = batch[i]!;
        if (entry instanceof Routed) route(entry, ctx);
        else yield entry;
      }
    }
  }

  // One async step per batch (about 64 KiB of input, BATCH_INPUT_BYTES): what the runner uses. Rejects in a chunk are routed before
  // its kept records are handed on, in file order among themselves.
  async function* batches(ctx: StageContext): AsyncGenerator<Envelope[]> {
    for await (const batch of entryBatches(inputs, stats, limits, onBytes)) {
      const kept: Envelope[] = [];
      for (let i = 0; i < batch.length; i++) {
        const entry = batch[i]!;
        if (entry instanceof Routed) route(entry, ctx);
        else kept.push(entry);
      }
      if (kept.length > 0) yield kept;
    }
  }

  return Object.assign(read, { batches, stats });
}

/** process.stdin, unless it is a folder (`curate validate < data/`), which reads as nothing at all on Linux. */
function openStdin(): NodeJS.ReadableStream {
  let folder = false;
  try {
    folder = fstatSync(0).isDirectory();
  } catch {
    // No stdin at all: reading it gives nothing, as before.
  }
  if (folder) {
    throw new CurateError("CURATE_IO", "standard input is a folder, not data: name the folder as an input instead", {
      exitCode: 2,
    });
  }
  return process.stdin;
}

/**
 * Reads records from files, directories, globs and stdin (see `resolveInputs`), in order: JSONL, one JSON array, or
 * (`.json` files) JSON values one after another, such as pretty-printed objects, per input (see `RecordSplitter`),
 * gzip or zstd or plain, each record as `{ data, source: { file, line }, meta: { bytes } }`; `.parquet` files
 * row by row, one row group at a time (see `readParquet`: each row is the JSON record a JSONL file would hold). Lines and values that
 * cannot be records are rejects (`invalid_json`, `not_an_object`, `invalid_utf8`, `line_too_long`,
 * `truncated_line`, `duplicate_key`, `lone_surrogate`, `corrupt_input`); integers past 2^53 are `unsafe_integer`
 * warnings. Memory stays bounded by `maxLineBytes` whatever the input.
 * @example
 * const source = readInputs(["data/*.jsonl.gz"]);
 * const run = runPipeline(source, [validate()]);
 * for await (const record of run.records) write(record);
 * console.log(source.stats); // [{ path: "data/a.jsonl.gz", records: 1000, compression: "gzip", ... }]
 */
export function readInputs(patterns: readonly string[], options: ReadOptions = {}): ReadSource {
  const cwd = options.cwd ?? process.cwd();
  const open = async (): Promise<Opened[]> => {
    const resolved: ResolvedInput[] = await resolveInputs(patterns, { cwd });
    return resolved.map((input) =>
      input.path === STDIN
        ? { path: STDIN, chunks: () => streamChunks(options.stdin ?? openStdin()), rereadable: false }
        : {
            path: input.path,
            chunks: (chunkBytes?: number) => fileChunks(resolve(cwd, input.path), input.path, chunkBytes),
            rereadable: true,
            absolute: resolve(cwd, input.path),
          },
    );
  };
  return makeSource(open, options);
}

/**
 * Reads records from one stream (a socket, a child process, a test's `Readable`), named `file` in sources and
 * stats. Same formats, checks and rejects as `readInputs`.
 * @example
 * const source = readStream(Readable.from(['{"prompt":"hi","completion":"hello"}\n']), "inline.jsonl");
 */
export function readStream(stream: NodeJS.ReadableStream, file: string, options: ReadOptions = {}): ReadSource {
  return makeSource(async () => [{ path: file, chunks: () => streamChunks(stream), rereadable: false }], options);
}
