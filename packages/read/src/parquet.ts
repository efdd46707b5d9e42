/**
 * Parquet input: a `.parquet` file read one row group at a time with hyparquet (pure JS; codecs from
 * hyparquet-compressors), each row turned into the JSON record a JSONL file would hold. Record identity is
 * (input, row): `source.record` is the 1-based row number in the file, `source.line` repeats it (a Parquet file has
 * no lines; tools that print `file:line` then still point at the row), and `formatSource` shows `file.parquet row N`.
 *
 * Memory is bounded by one row group: hyparquet decodes the row groups asked for and nothing else, and the reader
 * hands rows on before it asks for the next group.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { resolve } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { CurateError, describeValue, type Envelope, formatPath, type Issue, type RejectReason } from "@curate/core";
import type { AsyncBuffer, Compressors, FileMetaData } from "hyparquet";
import { type Entry, Routed } from "./record.js";
import { type ShardResult, type ShardSpec, toShardEntry } from "./shards.js";
import type { InputStats, ReadOptions } from "./types.js";

/**
 * Names read as Parquet (in folders, globs and when named): `train-00000-of-00003.parquet`.
 * @example PARQUET_FILE.test("data/train-00000-of-00003.parquet"); // true
 */
export const PARQUET_FILE = /\.parquet$/i;

/** Rows handed on per batch of entries. */
const BATCH_ROWS = 512;

type Hyparquet = typeof import("hyparquet");
let modules: Promise<{ hyparquet: Hyparquet; compressors: Compressors }> | undefined;

/**
 * hyparquet and its codecs, loaded on the first Parquet file: someone who reads only JSONL does not pay for them.
 * gzip and brotli use node:zlib (native) rather than the pure-JS decoders of hyparquet-compressors; snappy (hysnappy,
 * WASM), zstd (fzstd), lz4 come from hyparquet-compressors.
 */
function load(): Promise<{ hyparquet: Hyparquet; compressors: Compressors }> {
  modules ??= Promise.all([import("hyparquet"), import("hyparquet-compressors")]).then(
    ([hyparquet, codecs]) => ({
      hyparquet,
      compressors: {
        ...codecs.compressors,
        GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)),
        BROTLI: (input: Uint8Array) => new Uint8Array(brotliDecompressSync(input)),
      },
    }),
    (cause: unknown) => {
      modules = undefined;
      // The pre-commit hook's bundle leaves them out (scripts/bundle.mjs): say what to install, not a stack trace.
      throw new CurateError(
        "CURATE_MISSING_DEPENDENCY",
        `reading Parquet needs hyparquet and hyparquet-compressors (${(cause as Error).message}): npm install hyparquet hyparquet-compressors, or use the curate command`,
        { exitCode: 2, cause },
      );
    },
  );
  return modules;
}

/** Byte ranges of an open file, as hyparquet reads them. */
function fileBuffer(handle: FileHandle, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? size, size);
      const length = Math.max(0, stop - start);
      const bytes = new Uint8Array(length);
      for (let at = 0; at < length; ) {
        const { bytesRead } = await handle.read(bytes, at, length - at, start + at);
        if (bytesRead === 0) throw new Error(`the file ends at byte ${start + at}, before byte ${stop}`);
        at += bytesRead;
      }
      return bytes.buffer;
    },
  };
}

/** The source of row `row` (1-based) of `file`. */
function rowSource(file: string, row: number, input: number): Envelope["source"] {
  return { file, line: row, record: row, input };
}

/** A reject for a row (or for the whole file, as row 1) that could not be read; its data is empty, as for damaged JSONL. */
function rowReject(file: string, row: number, input: number, reason: RejectReason): Routed {
  return new Routed({ data: "", source: rowSource(file, row, input) }, reason, undefined);
}

/** What converting a row found: rejects (the row cannot be a record) and warnings (kept, with a note). */
interface RowProblems {
  errors: Issue[];
  warnings: Issue[];
}

/**
 * A Parquet value as the JSON value a JSONL file would hold: INT64 (bigint) as a number, with an `unsafe_integer`
 * warning past 2^53 as the JSONL reader gives; timestamps and dates as ISO 8601 strings; missing values as null.
 * Values JSON cannot hold (NaN, ±Infinity, raw bytes) are errors: written out they would silently become null or
 * something else. Arrays and objects are converted in place: hyparquet builds them fresh for each read, and copying
 * every row doubled what the garbage collector had to do (it was already half the time of a read).
 */
function toJson(value: unknown, path: (string | number)[], problems: RowProblems): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) {
        problems.errors.push({
          code: "number_out_of_range",
          severity: "error",
          path: formatPath(path),
          message: `${value} has no JSON form (JSON writes it as null)`,
          found: String(value),
        });
      }
      return value;
    case "bigint": {
      const number = Number(value);
      if (!Number.isSafeInteger(number)) {
        problems.warnings.push({
          code: "unsafe_integer",
          severity: "warning",
          path: formatPath(path),
          message: `integer ${value} is beyond ±(2^53-1): JSON numbers cannot hold it exactly (read as ${number}); store ids as strings`,
          found: String(value),
        });
      }
      return number;
    }
    case "object": {
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item = value[i];
          // Strings need nothing: the common case skips the call.
          if (typeof item === "string") continue;
          path.push(i);
          value[i] = toJson(item, path, problems);
          path.pop();
        }
        return value;
      }
      if (value instanceof Date) {
        return Number.isNaN(value.getTime()) ? null : value.toISOString();
      }
      if (ArrayBuffer.isView(value)) {
        problems.errors.push({
          code: "unsupported_value",
          severity: "error",
          path: formatPath(path),
          message: `binary bytes (${value.byteLength} bytes, a BYTE_ARRAY column that is not UTF-8 text) have no JSON form`,
          found: `${value.byteLength} bytes`,
        });
        return null;
      }
      const object = value as Record<string, unknown>;
      for (const key in object) {
        const item = object[key];
        if (typeof item === "string") continue;
        path.push(key);
        object[key] = toJson(item, path, problems);
        path.pop();
      }
      return object;
    }
    default:
      problems.errors.push({
        code: "unsupported_value",
        severity: "error",
        path: formatPath(path),
        message: `a ${typeof value} has no JSON form`,
        found: describeValue(value),
      });
      return null;
  }
}

/** Turns rows `from`..`to` into entries: kept records, or rejects and warnings with the row's source. */
function rowEntries(
  rows: unknown[],
  from: number,
  to: number,
  first: number,
  file: string,
  input: number,
  out: Entry[],
): void {
  let problems: RowProblems = { errors: [], warnings: [] };
  for (let i = from; i < to; i++) {
    const source = rowSource(file, first + i, input);
    if (problems.errors.length > 0 || problems.warnings.length > 0) problems = { errors: [], warnings: [] };
    const row = rows[i];
    if (row === null || typeof row !== "object" || Array.isArray(row)) {
      out.push(
        new Routed(
          { data: "", source },
          { code: "not_an_object", message: `row ${first + i} is ${describeValue(row)}, not an object of columns` },
          undefined,
        ),
      );
      continue;
    }
    const data = toJson(row, [], problems);
    if (problems.errors.length > 0) {
      const [firstIssue] = problems.errors;
      const reason: RejectReason = {
        code: firstIssue!.code,
        message: `${firstIssue!.path}: ${firstIssue!.message}`,
        issues: problems.errors,
      };
      out.push(new Routed({ data, source }, reason, undefined));
      continue;
    }
    const item: Envelope = { data, source };
    out.push(item);
    for (const issue of problems.warnings) out.push(new Routed(item, undefined, issue));
  }
}

/** `1,234` style numbers for messages about row ranges. */
function n(value: number): string {
  return value.toLocaleString("en-US");
}

/** Why a row group could not be read, as a reject code and a sentence. */
function rowGroupFailure(error: unknown): { code: string; message: string } {
  const message = error instanceof Error ? error.message : String(error);
  const codec = /unsupported compression codec:?\s*(\w+)|no (?:de)?compressor for codec (\w+)/i.exec(message);
  if (codec) {
    return {
      code: "unsupported_codec",
      message: `compression ${codec[1] ?? codec[2]} is not supported (snappy, gzip, zstd, brotli, lz4 and uncompressed are); rewrite the file with one of those`,
    };
  }
  return { code: "corrupt_input", message: `the row group is damaged and cannot be decoded (${message})` };
}

/** What `readParquet` reads: all of a file, or a range of its row groups (a shard). */
export interface ParquetReadRange {
  /** First row group (0-based) and one past the last; default: all. */
  readonly rowGroups?: readonly [number, number];
}

/**
 * Reads a Parquet file into batches of entries, one row group at a time, filling `stat`. A file that is not Parquet
 * (wrong magic), cut off (no footer) or whose footer is damaged is one `corrupt_input` reject (nothing in it can be
 * found without the footer). A row group that cannot be decoded (damaged pages, an unsupported codec) makes each of
 * its rows a reject naming the row group and its rows; the row groups before and after it are read as usual. Row
 * numbers start at 1 at the first row read (the first of the range), like a JSONL shard's lines: the shard
 * stitcher moves them to the file's.
 * @example for await (const batch of readParquet("/abs/train.parquet", "train.parquet", 0, stat)) use(batch);
 */
export async function* readParquet(
  absolute: string,
  file: string,
  input: number,
  stat: InputStats,
  onBytes?: (bytes: number) => void,
  range: ParquetReadRange = {},
): AsyncGenerator<Entry[]> {
  stat.container = "parquet";
  let handle: FileHandle;
  try {
    handle = await open(absolute, "r");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    if (code === "ENOENT") {
      throw new CurateError("CURATE_INPUT_NOT_FOUND", `input not found: ${file}`, { exitCode: 2, cause });
    }
    throw new CurateError("CURATE_IO", `cannot read ${file}: ${(cause as Error).message}`, { exitCode: 2, cause });
  }
  try {
    const { size } = await handle.stat();
    const whole = range.rowGroups === undefined;
    if (whole) stat.bytes = size;
    const buffer = fileBuffer(handle, size);
    const head = new Uint8Array(await buffer.slice(0, Math.min(4, size)));
    const tail = size >= 8 ? new Uint8Array(await buffer.slice(size - 4, size)) : new Uint8Array(0);
    const magic = (bytes: Uint8Array) => bytes.length === 4 && String.fromCharCode(...bytes) === "PAR1";
    const damaged = (message: string): Entry[] => {
      stat.records = 1;
      return [rowReject(file, 1, input, { code: "corrupt_input", message: `${file}: ${message}` })];
    };
    if (!magic(head)) {
      const found = [...head].map((b) => b.toString(16).padStart(2, "0")).join(" ");
      yield damaged(
        `not a Parquet file: it starts with ${found || "nothing (empty file)"}, not PAR1 (50 41 52 31); name JSONL files .jsonl`,
      );
      return;
    }
    if (!magic(tail)) {
      yield damaged(
        `the Parquet file is cut off or damaged: it does not end with PAR1, so its footer (the schema and where the rows are) is missing; nothing in it can be read (${n(size)} bytes)`,
      );
      return;
    }
    const { hyparquet, compressors } = await load();
    let metadata: FileMetaData;
    try {
      metadata = await hyparquet.parquetMetadataAsync(buffer);
    } catch (error) {
      yield damaged(`the Parquet footer is damaged, so no row can be found (${(error as Error).message})`);
      return;
    }
    const groups = metadata.row_groups;
    const [from, to] = range.rowGroups ?? [0, groups.length];
    let groupStart = 0;
    for (let g = 0; g < from; g++) groupStart += Number(groups[g]!.num_rows);
    let row = 1;
    for (let g = from; g < to; g++) {
      const group = groups[g]!;
      const rows = Number(group.num_rows);
      const out: Entry[] = [];
      let values: unknown[] | undefined;
      try {
        values = await hyparquet.parquetReadObjects({
          file: buffer,
          metadata,
          rowStart: groupStart,
          rowEnd: groupStart + rows,
          compressors,
        });
        if (values.length !== rows) {
          throw new Error(`the row group holds ${n(values.length)} rows, its footer says ${n(rows)}`);
        }
      } catch (error) {
        values = undefined;
        const failure = rowGroupFailure(error);
        const where = `row group ${g} of ${file} (rows ${n(groupStart + 1)}–${n(groupStart + rows)})`;
        for (let i = 0; i < rows; i++) {
          out.push(
            rowReject(file, row + i, input, {
              code: failure.code,
              message: `${where}: ${failure.message}`,
              rowGroup: g,
            }),
          );
        }
      }
      onBytes?.(Number(group.total_compressed_size ?? group.total_byte_size));
      if (values) {
        for (let at = 0; at < values.length; at += BATCH_ROWS) {
          const batch: Entry[] = [];
          rowEntries(values, at, Math.min(values.length, at + BATCH_ROWS), row, file, input, batch);
          stat.records += Math.min(BATCH_ROWS, values.length - at);
          yield batch;
        }
      } else {
        stat.records += rows;
        // In batches too: a million-row group that failed should not be one array of a million rejects.
        for (let at = 0; at < out.length; at += BATCH_ROWS) yield out.slice(at, at + BATCH_ROWS);
      }
      row += rows;
      groupStart += rows;
    }
    if (whole) stat.sha256 = await fileDigest(absolute);
  } finally {
    await handle.close();
  }
}

/**
 * The SHA-256 of a file, read once in order: row groups are read by position, so the manifest's checksum needs its own
 * pass (sequential, constant memory).
 */
async function fileDigest(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * The row groups of a Parquet file with their compressed sizes and the byte offset where each starts, for the shard
 * plan. Undefined when the file cannot be read as Parquet (it is then read whole, and its damage reported there).
 * @example const groups = await parquetRowGroups("/abs/train.parquet"); // [{ rows: 100000, bytes: 61e6, offset: 4 }]
 */
export async function parquetRowGroups(
  absolute: string,
): Promise<{ rows: number; bytes: number; offset: number }[] | undefined> {
  const handle = await open(absolute, "r");
  try {
    const { size } = await handle.stat();
    const { hyparquet } = await load();
    const metadata = await hyparquet.parquetMetadataAsync(fileBuffer(handle, size));
    return metadata.row_groups.map((group) => {
      const first = group.columns[0]?.meta_data;
      const offset = Number(first?.dictionary_page_offset ?? first?.data_page_offset ?? group.file_offset ?? 0);
      return {
        rows: Number(group.num_rows),
        bytes: Number(group.total_compressed_size ?? group.total_byte_size),
        offset,
      };
    });
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/**
 * Cuts a Parquet file into shards of whole row groups, about `target` compressed bytes each (a row group bigger than
 * that is a shard of its own). Undefined when the file cannot be read as Parquet or holds one row group: it is then
 * one whole shard, and its damage is reported when it is read.
 * @example const shards = await planParquetShards("/abs/train.parquet", { id: 0, input: 0, path: "train.parquet", start: 0, end: undefined }, 64 << 20);
 */
export async function planParquetShards(
  absolute: string,
  whole: ShardSpec,
  target: number,
): Promise<ShardSpec[] | undefined> {
  const groups = await parquetRowGroups(absolute).catch(() => undefined);
  if (!groups || groups.length < 2) return undefined;
  const cuts: number[] = [0];
  let bytes = 0;
  for (let g = 0; g < groups.length; g++) {
    if (bytes >= target) {
      cuts.push(g);
      bytes = 0;
    }
    bytes += groups[g]!.bytes;
  }
  if (cuts.length < 2) return undefined;
  return cuts.map((from, i) => {
    const to = cuts[i + 1] ?? groups.length;
    return {
      ...whole,
      whole: false,
      id: whole.id + i,
      start: i === 0 ? 0 : groups[from]!.offset,
      end: i + 1 < cuts.length ? groups[to]!.offset : undefined,
      rowGroups: [from, to] as const,
    };
  });
}

/**
 * Reads one Parquet shard (a range of row groups): rows numbered from 1 in the shard, as `ShardStitcher` expects
 * (a row is a record and a line, so `lines` is the shard's row count).
 * @example const result = await readParquetShard(shard, { cwd: process.cwd() });
 */
export async function readParquetShard(shard: ShardSpec, options: ReadOptions): Promise<ShardResult> {
  const stat: InputStats = {
    path: shard.path,
    bytes: 0,
    sha256: "",
    records: 0,
    blankLines: 0,
    compression: "none",
    container: "parquet",
  };
  const entries: Entry[] = [];
  const absolute = resolve(options.cwd ?? process.cwd(), shard.path);
  const range = shard.rowGroups ? { rowGroups: shard.rowGroups } : {};
  for await (const batch of readParquet(absolute, shard.path, shard.input, stat, undefined, range)) {
    for (const entry of batch) entries.push(entry);
  }
  return { shard, entries: entries.map(toShardEntry), records: stat.records, lines: stat.records, blankLines: 0 };
}
