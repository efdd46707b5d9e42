import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { type Envelope, type RecordSource, type StageContext, UsageError } from "@curate/core";
import { type ResolvedInput, resolveInputs, STDIN } from "./inputs.js";
import { type Entry, numberEntries, Routed, rejectEntry } from "./record.js";
import { DecompressError, decompress, fileChunks, streamChunks } from "./source.js";
import { RecordSplitter } from "./splitter.js";
import type { InputStats, ReadOptions } from "./types.js";

/**
 * A record source that also reports, per input, what it read.
 * @example const source: ReadSource = readInputs(["data/"]); // later: source.stats[0].sha256
 */
export type ReadSource = RecordSource & { readonly stats: InputStats[] };

/**
 * The default `maxLineBytes`: 16 MiB, far above any real record, low enough to bound memory.
 * @example readInputs(["big.jsonl"], { maxLineBytes: 4 * DEFAULT_MAX_LINE_BYTES });
 */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

interface Opened {
  readonly path: string;
  chunks(): AsyncIterable<Buffer>;
}

function checkOptions(options: ReadOptions): number {
  const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new UsageError(`maxLineBytes must be a positive integer number of bytes, found ${String(max)}`, {
      code: "CURATE_INVALID_OPTION",
    });
  }
  return max;
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
 * Parses inputs one after another into batches of entries (kept envelopes with their rejects and warnings in
 * place), filling `stats` as it goes. Both public forms, per record and per batch, are built on it.
 */
async function* entryBatches(
  inputs: () => Promise<Opened[]>,
  stats: InputStats[],
  maxLineBytes: number,
  onBytes: ((bytes: number) => void) | undefined,
): AsyncGenerator<Entry[]> {
  stats.length = 0;
  const opened = await inputs();
  for (let index = 0; index < opened.length; index++) {
    const input = opened[index]!;
    let next = 1;
    const stat: InputStats = {
      path: input.path,
      bytes: 0,
      sha256: "",
      records: 0,
      blankLines: 0,
      compression: "none",
      container: "jsonl",
    };
    stats.push(stat);
    const hash = createHash("sha256");
    let complete = false;
    async function* raw(): AsyncGenerator<Buffer> {
      for await (const chunk of input.chunks()) {
        stat.bytes += chunk.length;
        hash.update(chunk);
        onBytes?.(chunk.length);
        yield chunk;
      }
      complete = true;
    }
    const splitter = new RecordSplitter(input.path, maxLineBytes);
    let damage: DecompressError | undefined;
    try {
      for await (const chunk of decompress(raw(), (c) => (stat.compression = c))) {
        for (let start = 0; start < chunk.length; ) {
          const end = pieceEnd(chunk, start);
          const out: Entry[] = [];
          splitter.push(start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end), out);
          stat.records = splitter.records;
          stat.blankLines = splitter.blankLines;
          if (splitter.container) stat.container = splitter.container;
          if (out.length > 0) {
            next = numberEntries(out, next, index);
            yield out;
          }
          start = end;
        }
      }
    } catch (error) {
      if (!(error instanceof DecompressError)) throw error;
      damage = error;
    }
    const out: Entry[] = [];
    splitter.end(out);
    let records = splitter.records;
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
      yield out;
    }
  }
}

function route(entry: Routed, ctx: StageContext): void {
  if (entry.reason) ctx.reject(entry.item, entry.reason);
  else if (entry.issue) ctx.warn(entry.item, entry.issue);
}

function makeSource(inputs: () => Promise<Opened[]>, options: ReadOptions): ReadSource {
  const maxLineBytes = checkOptions(options);
  const stats: InputStats[] = [];
  const onBytes = options.onBytes;

  // One async step per record: the plain RecordSource form. Rejects are routed when the reader reaches them.
  async function* read(ctx: StageContext): AsyncGenerator<Envelope> {
    for await (const batch of entryBatches(inputs, stats, maxLineBytes, onBytes)) {
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
    for await (const batch of entryBatches(inputs, stats, maxLineBytes, onBytes)) {
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

/**
 * Reads records from files, directories, globs and stdin (see `resolveInputs`), in order: JSONL, one JSON array, or
 * (`.json` files) JSON values one after another, such as pretty-printed objects, per input (see `RecordSplitter`),
 * gzip or zstd or plain, each record as `{ data, source: { file, line }, meta: { bytes } }`. Lines and values that
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
        ? { path: STDIN, chunks: () => streamChunks(options.stdin ?? process.stdin) }
        : { path: input.path, chunks: () => fileChunks(resolve(cwd, input.path), input.path) },
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
  return makeSource(async () => [{ path: file, chunks: () => streamChunks(stream) }], options);
}
