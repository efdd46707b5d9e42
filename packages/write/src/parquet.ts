/**
 * The Parquet output format: a layer over the JSONL writers, so that every writer of curate (dataset folders, `--out`
 * files) takes `--output-format parquet` without knowing Parquet. Records arrive as JSONL text and go to a temp
 * file; `close()` reads it twice, once to derive the schema from every record and once to write row groups with
 * hyparquet-writer, then renames the Parquet file into place. Memory: one row group of records.
 */
import { createHash, type Hash } from "node:crypto";
import { closeSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { CurateError, formatPath, onInterrupt } from "@curate/core";
import { AtomicFileWriter } from "./atomic.js";
import type { TextSink } from "./jsonl.js";
import { ioError } from "./lock.js";

/**
 * The file formats curate writes records in.
 * @example const format: OutputFormat = "parquet";
 */
export type OutputFormat = "jsonl" | "parquet";

/**
 * The formats `--output-format` takes, first the default.
 * @example OUTPUT_FORMATS.includes("parquet"); // true
 */
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["jsonl", "parquet"];

/** Rows per row group (and at most this many bytes of JSON text): what a reader holds in memory at once. */
const ROW_GROUP_ROWS = 20_000;
const ROW_GROUP_BYTES = 64 * 1024 * 1024;

/** The type of one column (or one nested field), derived from every value it holds. */
type Shape =
  | { kind: "null" }
  | { kind: "boolean" }
  | { kind: "int" }
  | { kind: "double" }
  | { kind: "string" }
  | { kind: "list"; element: Shape }
  | { kind: "struct"; fields: Map<string, Shape> };

const NULL: Shape = { kind: "null" };

/** What a value is, in words, for the mixed-types error. */
function kindName(shape: Shape): string {
  switch (shape.kind) {
    case "int":
    case "double":
      return "a number";
    case "list":
      return "an array";
    case "struct":
      return "an object";
    case "boolean":
      return "a boolean";
    case "string":
      return "a string";
    default:
      return "null";
  }
}

/** A field path as people read it: `messages[].content` (every element of an array). */
function fieldPath(path: readonly (string | number)[]): string {
  return path.length === 0 ? "(the record)" : formatPath(path).replace(/\[0\]/g, "[]");
}

/** What keeps records from being one Parquet schema; `message` says it for people. */
class SchemaProblem extends Error {}

/** One field holding two kinds of value: a Parquet column has one type. */
class MixedTypes extends SchemaProblem {
  constructor(
    readonly path: string,
    readonly was: string,
    readonly found: string,
  ) {
    super(`field ${path} holds ${was} and ${found}, and a Parquet column has one type`);
  }
}

/** The shape of `value`, merged into `into` (a column's shape so far); throws MixedTypes where they disagree. */
function merge(into: Shape, value: unknown, path: (string | number)[]): Shape {
  if (value === null || value === undefined) return into;
  let shape: Shape;
  switch (typeof value) {
    case "boolean":
      shape = { kind: "boolean" };
      break;
    case "string":
      shape = { kind: "string" };
      break;
    case "number":
      // JSON has one number type: integers are INT64 until a fraction shows up, then the column is DOUBLE (1 and
      // 1.0 are the same JSON number, so nothing is coerced). Integers past 2^53 are not exact as numbers anyway.
      if (into.kind === "double") return into;
      shape = { kind: Number.isSafeInteger(value) ? "int" : "double" };
      if (into.kind === "int") return shape;
      break;
    case "object":
      if (Array.isArray(value)) {
        let element = into.kind === "list" ? into.element : NULL;
        if (into.kind !== "null" && into.kind !== "list")
          throw new MixedTypes(fieldPath(path), kindName(into), "an array");
        path.push(0);
        for (const item of value) element = merge(element, item, path);
        path.pop();
        return { kind: "list", element };
      } else {
        if (into.kind !== "null" && into.kind !== "struct") {
          throw new MixedTypes(fieldPath(path), kindName(into), "an object");
        }
        const fields = into.kind === "struct" ? into.fields : new Map<string, Shape>();
        for (const key of Object.keys(value)) {
          path.push(key);
          fields.set(key, merge(fields.get(key) ?? NULL, (value as Record<string, unknown>)[key], path));
          path.pop();
        }
        return into.kind === "struct" ? into : { kind: "struct", fields };
      }
    default:
      throw new MixedTypes(fieldPath(path), kindName(into), `a ${typeof value}`);
  }
  if (into.kind !== "null" && into.kind !== shape.kind) {
    throw new MixedTypes(fieldPath(path), kindName(into), kindName(shape));
  }
  return shape;
}

/** A Parquet schema element, as hyparquet-writer takes it. */
interface SchemaElement {
  name: string;
  type?: "BOOLEAN" | "INT64" | "DOUBLE" | "BYTE_ARRAY";
  converted_type?: "UTF8" | "LIST";
  repetition_type?: "OPTIONAL" | "REPEATED";
  num_children?: number;
}

/**
 * The schema elements of a field (depth first), every level optional so that null fits anywhere. Lists use the
 * standard three-level layout (`LIST` / repeated `list` / `element`) that pyarrow, Spark and DuckDB read as a list.
 */
function elements(name: string, shape: Shape, path: (string | number)[], out: SchemaElement[]): void {
  switch (shape.kind) {
    case "list":
      out.push({ name, repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 });
      out.push({ name: "list", repetition_type: "REPEATED", num_children: 1 });
      path.push(0);
      elements("element", shape.element, path, out);
      path.pop();
      return;
    case "struct":
      if (shape.fields.size === 0) {
        throw new SchemaProblem(
          `field ${fieldPath(path)} is an empty object in every record, and a Parquet group needs a field`,
        );
      }
      out.push({ name, repetition_type: "OPTIONAL", num_children: shape.fields.size });
      for (const [key, field] of shape.fields) {
        path.push(key);
        elements(key, field, path, out);
        path.pop();
      }
      return;
    case "boolean":
      out.push({ name, type: "BOOLEAN", repetition_type: "OPTIONAL" });
      return;
    case "int":
      out.push({ name, type: "INT64", repetition_type: "OPTIONAL" });
      return;
    case "double":
      out.push({ name, type: "DOUBLE", repetition_type: "OPTIONAL" });
      return;
    default:
      // Strings, and fields that are null in every record (typed as text: any reader takes a column of nulls).
      out.push({ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" });
  }
}

/** Values of a record for a column: objects missing a field of the schema get null there, as Parquet stores it. */
function fill(value: unknown, shape: Shape): unknown {
  if (value === null || value === undefined) return null;
  if (shape.kind === "list") return (value as unknown[]).map((v) => fill(v, shape.element));
  if (shape.kind === "struct") {
    const out: Record<string, unknown> = {};
    for (const [key, field] of shape.fields) out[key] = fill((value as Record<string, unknown>)[key], field);
    return out;
  }
  // hyparquet-writer takes INT64 values as bigint (nested columns are not converted for it).
  if (shape.kind === "int") return BigInt(value as number);
  return value;
}

/** The lines of a JSONL file, read synchronously in 1 MiB pieces (`close()` is synchronous, like the writers). */
function* lines(path: string): Generator<string> {
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(1 << 20);
    let carry: Buffer = Buffer.alloc(0);
    for (;;) {
      const bytesRead = readSync(fd, buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const chunk =
        carry.length > 0 ? Buffer.concat([carry, buffer.subarray(0, bytesRead)]) : buffer.subarray(0, bytesRead);
      let start = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
        yield chunk.toString("utf8", start, nl);
        start = nl + 1;
      }
      carry = Buffer.from(chunk.subarray(start));
    }
    if (carry.length > 0) yield carry.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

export interface ParquetConvertOptions {
  /** Where the records came from, for messages (`out/train.parquet`). */
  readonly shown?: string;
  /**
   * Keys whose value is stored as its JSON text (a string column) instead of typed columns: the `record` of a
   * reject is whatever the input held (raw text of a line that is not JSON, or an object), so it has no one type.
   */
  readonly asJsonText?: readonly string[];
}

/** The result of writing a Parquet file: its size and checksum, as the manifest records them. */
export interface ParquetWritten {
  readonly rows: number;
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * Writes the records of the JSONL file `source` as the Parquet file `target` (atomically: a temp file beside it,
 * renamed at the end), with a schema derived from every record: numbers are INT64 or DOUBLE, text UTF-8, arrays
 * lists, objects groups, and a field missing from a record is null there. A field that holds two kinds of value
 * (a string in one record and a number in another) cannot be one Parquet column: that is a `CURATE_PARQUET_SCHEMA`
 * error naming the field, never a silent conversion.
 * @example const { rows, sha256 } = await jsonlToParquet("out/.train.jsonl", "out/train.parquet");
 */
export async function jsonlToParquet(
  source: string,
  target: string,
  options: ParquetConvertOptions = {},
): Promise<ParquetWritten> {
  const writerModule = await import("hyparquet-writer");
  return writeParquetSync(writerModule, source, target, options);
}

type WriterModule = typeof import("hyparquet-writer");
let loaded: WriterModule | undefined;

/**
 * Loads hyparquet-writer ahead of a synchronous `close()` (the writers are synchronous; importing is not). Dataset
 * and file writers call it when they are opened with `format: "parquet"`.
 * @example await loadParquetWriter();
 */
export async function loadParquetWriter(): Promise<void> {
  loaded ??= await import("hyparquet-writer");
}

function prepared(source: string, options: ParquetConvertOptions): { shapes: Map<string, Shape>; rows: number } {
  const text = new Set(options.asJsonText ?? []);
  let shapes = new Map<string, Shape>();
  let rows = 0;
  let root: Shape = { kind: "struct", fields: shapes };
  for (const line of lines(source)) {
    if (line === "") continue;
    rows++;
    let record = JSON.parse(line) as unknown;
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
      throw new SchemaProblem(`record ${rows} is not an object, and a Parquet row is one`);
    }
    if (text.size > 0) record = withJsonText(record as Record<string, unknown>, text);
    try {
      root = merge(root, record, []);
    } catch (error) {
      if (error instanceof MixedTypes) throw new MixedTypes(error.path, error.was, `${error.found} (record ${rows})`);
      throw error;
    }
  }
  shapes = (root as { fields: Map<string, Shape> }).fields;
  return { shapes, rows };
}

function withJsonText(record: Record<string, unknown>, keys: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    out[key] = keys.has(key) && value !== undefined ? JSON.stringify(value) : value;
  }
  return out;
}

/** The synchronous core of `jsonlToParquet`, for writers whose `close()` is synchronous. */
function writeParquetSync(
  module: WriterModule,
  source: string,
  target: string,
  options: ParquetConvertOptions,
): ParquetWritten {
  const shown = options.shown ?? target;
  let shapes: Map<string, Shape>;
  let schema: SchemaElement[];
  let rows: number;
  try {
    ({ shapes, rows } = prepared(source, options));
    if (shapes.size === 0 && rows > 0) {
      throw new SchemaProblem("the records have no field at all, so there is no column to write");
    }
    // No records: a file with no columns and no rows, which Parquet readers take as an empty table.
    schema = [{ name: "root", num_children: shapes.size }];
    for (const [key, shape] of shapes) elements(key, shape, [key], schema);
  } catch (error) {
    if (!(error instanceof SchemaProblem)) throw error;
    throw new CurateError(
      "CURATE_PARQUET_SCHEMA",
      `cannot write ${shown} as Parquet: ${error.message}. Nothing was converted or written: write JSONL instead (--output-format jsonl)${error instanceof MixedTypes ? ", or give the field one type in every record" : ""}`,
      { exitCode: 2, cause: error },
    );
  }
  const text = new Set(options.asJsonText ?? []);
  const temp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  const out = new FileSinkWriter(module, temp, target);
  const forget = onInterrupt(temp, () => out.abort());
  try {
    const parquet = new module.ParquetWriter({
      writer: out.writer,
      schema: schema as never,
      createdBy: "curate (hyparquet-writer)",
    });
    const keys = [...shapes.keys()];
    let batch: Record<string, unknown>[] = [];
    let batchBytes = 0;
    let written = 0;
    const flush = () => {
      if (batch.length === 0) return;
      const columnData = keys.map((key) => ({
        name: key,
        data: batch.map((record) => fill(record[key], shapes.get(key)!)),
      }));
      parquet.write({ columnData: columnData as never, rowGroupSize: batch.length });
      written += batch.length;
      batch = [];
      batchBytes = 0;
    };
    for (const line of lines(source)) {
      if (line === "") continue;
      let record = JSON.parse(line) as Record<string, unknown>;
      if (text.size > 0) record = withJsonText(record, text);
      batch.push(record);
      batchBytes += line.length;
      if (batch.length >= ROW_GROUP_ROWS || batchBytes >= ROW_GROUP_BYTES) flush();
    }
    flush();
    parquet.finish();
    const file = out.close();
    forget();
    if (written !== rows) throw new Error(`wrote ${written} rows of ${rows}`);
    return { rows: written, ...file };
  } catch (error) {
    out.abort();
    forget();
    throw error;
  }
}

/** hyparquet-writer's ByteWriter drained into a file after each row group, hashed as it goes. */
class FileSinkWriter {
  readonly writer: InstanceType<WriterModule["ByteWriter"]>;
  private fd: number | undefined;
  private readonly hash: Hash = createHash("sha256");
  private bytes = 0;

  constructor(
    module: WriterModule,
    private readonly temp: string,
    private readonly target: string,
  ) {
    try {
      this.fd = openSync(temp, "w");
    } catch (cause) {
      throw ioError("write", target, cause);
    }
    this.writer = new module.ByteWriter(1 << 20);
    // Row groups are written whole into the buffer, then drained here (ParquetWriter calls flush after each).
    (this.writer as { flush?: () => void }).flush = () => this.drain();
    this.writer.finish = () => this.drain();
  }

  private drain(): void {
    const writer = this.writer as unknown as { buffer: ArrayBuffer; index: number };
    if (writer.index === 0 || this.fd === undefined) return;
    const bytes = new Uint8Array(writer.buffer, 0, writer.index);
    try {
      for (let at = 0; at < bytes.length; ) at += writeSync(this.fd, bytes, at);
    } catch (cause) {
      throw ioError("write", this.target, cause);
    }
    this.hash.update(bytes);
    this.bytes += bytes.length;
    writer.index = 0;
  }

  close(): { bytes: number; sha256: string } {
    this.drain();
    try {
      fsyncSync(this.fd!);
      closeSync(this.fd!);
      this.fd = undefined;
      renameSync(this.temp, this.target);
    } catch (cause) {
      throw ioError("write", this.target, cause);
    }
    return { bytes: this.bytes, sha256: this.hash.digest("hex") };
  }

  abort(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // Being thrown away anyway.
      }
      this.fd = undefined;
    }
    rmSync(this.temp, { force: true });
  }
}

/**
 * A record file in Parquet with the interface of `AtomicFileWriter`: JSONL text in (`write`), a Parquet file at
 * `path` after `close()`, with `bytesWritten` and `sha256` of the Parquet bytes. The JSONL goes to a hidden temp
 * file beside `path` meanwhile. Call `loadParquetWriter()` once before `close()`.
 * @example await loadParquetWriter(); const out = new ParquetFileWriter("out/train.parquet"); out.write('{"a":1}\n'); out.close();
 */
export class ParquetFileWriter {
  private readonly staging: AtomicFileWriter;
  private written: ParquetWritten | undefined;

  constructor(
    readonly path: string,
    private readonly options: ParquetConvertOptions = {},
  ) {
    this.staging = new AtomicFileWriter(join(dirname(path), `.${basename(path)}.jsonl`));
  }

  write(text: string): void {
    this.staging.write(text);
  }

  close(): void {
    if (this.written) return;
    this.staging.close();
    try {
      if (!loaded) throw new Error("ParquetFileWriter: call loadParquetWriter() before close()");
      this.written = writeParquetSync(loaded, this.staging.path, this.path, {
        shown: this.options.shown ?? this.path,
        ...(this.options.asJsonText ? { asJsonText: this.options.asJsonText } : {}),
      });
    } finally {
      rmSync(this.staging.path, { force: true });
    }
  }

  /** Parquet bytes written (after `close()`). */
  get bytesWritten(): number {
    return this.written?.bytes ?? 0;
  }

  /** SHA-256 (hex) of the Parquet file (after `close()`). */
  get sha256(): string | undefined {
    return this.written?.sha256;
  }

  abort(): void {
    this.staging.abort();
    rmSync(this.staging.path, { force: true });
  }
}

/**
 * Converts a finished JSONL file (rejects or duplicates, already in input order) to Parquet beside it and removes
 * the JSONL; the `record` key is stored as JSON text (see `ParquetConvertOptions.asJsonText`).
 * @example const written = jsonlFileToParquet(join(temp, "rejects.jsonl"), join(temp, "rejects.parquet"));
 */
export function jsonlFileToParquet(source: string, target: string, shown = target): ParquetWritten {
  if (!loaded) throw new Error("jsonlFileToParquet: call loadParquetWriter() first");
  try {
    return writeParquetSync(loaded, source, target, { shown, asJsonText: ["record"] });
  } finally {
    rmSync(source, { force: true });
  }
}

/**
 * A `TextSink` (what `--out`, `--rejects` and `--duplicates` write to) that writes Parquet: `path` must be a file
 * (Parquet cannot be streamed to stdout, its footer is written last). `asJsonText` as for `jsonlToParquet`.
 * @example await loadParquetWriter(); const out = parquetSink("clean.parquet"); out.write(line); out.close();
 */
export function parquetSink(path: string, asJsonText: readonly string[] = []): TextSink & { readonly path: string } {
  if (path === "-") {
    throw new CurateError(
      "CURATE_USAGE",
      "Parquet cannot be written to standard output (its footer comes last): give --out a file name, e.g. --out clean.parquet",
      { exitCode: 2 },
    );
  }
  const writer = new ParquetFileWriter(path, { shown: path, asJsonText });
  return { path, write: (text) => writer.write(text), close: () => writer.close(), abort: () => writer.abort() };
}
