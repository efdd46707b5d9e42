/**
 * The shard plan: inputs cut into parts that can be read independently (in another thread, process or machine) and
 * put back together into exactly the records, identities and rejects a sequential read gives.
 *
 * A shard is a whole input, or a byte range of one big plain JSONL file cut just after a newline. Compressed inputs,
 * JSON arrays and `.json` files, stdin, and JSONL files smaller than two targets are whole shards: their records can
 * only be found by reading from the start. Reading a shard is a pure function of (shard, options) whose result is
 * plain data (it survives `structuredClone`, so it can be shipped between threads and processes); `ShardStitcher`
 * turns shard-relative line and record numbers into the input's, in shard order.
 */
import { open } from "node:fs/promises";
import { resolve } from "node:path";
import type { Envelope, Issue, RejectReason, StageContext } from "@curate/core";
import { ArrayCutScanner, JsonArraySplitter } from "./array.js";
import { DEFAULT_MAX_LINE_BYTES } from "./defaults.js";
import { resolveInputs, STDIN } from "./inputs.js";
import { JsonlSplitter } from "./jsonl.js";
import { readInputs } from "./read.js";
import { type Entry, numberEntries, Routed } from "./record.js";
import { detectCompression } from "./source.js";
import { RecordSplitter } from "./splitter.js";
import type { InputStats, ReadOptions } from "./types.js";

/**
 * One independently readable part of the inputs.
 * @example { id: 3, input: 1, path: "big.jsonl", start: 134217901, end: 201326760 }
 */
export interface ShardSpec {
  /** Position in the plan: results are put back together in this order. */
  readonly id: number;
  /** Index of the input in the run's list of inputs. */
  readonly input: number;
  readonly path: string;
  /** Byte range of the input; a whole input is `[0, undefined)`. Ranges start at a line start. */
  readonly start: number;
  readonly end: number | undefined;
  /**
   * A range of a JSON array's elements (the plan found where they start), with the line and byte column of the
   * range's first byte; absent for a range of JSONL lines.
   */
  readonly array?: { readonly line: number; readonly column: number };
  /**
   * The whole input is this one shard: it is read with the sequential reader (compression, arrays, `.json` values,
   * the input's full stats); a range shard is read with `readShard`.
   */
  readonly whole: boolean;
}

export interface ShardPlanOptions extends ReadOptions {
  /** Bytes per range shard of a big JSONL file (default 64 MiB); smaller files are one shard. */
  readonly targetBytes?: number;
}

const NAME_NOT_LINES = /\.json(?:\.(?:gz|zst|zstd))?$/i;

/** Bytes read at a time when looking for the newline after a cut. */
const PROBE = 64 * 1024;

/**
 * Cuts `patterns`' inputs into shards, in input order. Only a plain JSONL file (not compressed, not a `.json`
 * name, first non-blank byte not `[`) of at least two targets is cut, each cut moved forward to just after the next
 * newline, so no record is split and every range starts a line.
 * @example const shards = await planShards(["data/"], { targetBytes: 64 << 20 });
 */
export async function planShards(patterns: readonly string[], options: ShardPlanOptions = {}): Promise<ShardSpec[]> {
  const target = options.targetBytes ?? 64 * 1024 * 1024;
  if (!Number.isSafeInteger(target) || target < 1) throw new RangeError(`targetBytes must be ≥ 1, found ${target}`);
  const cwd = options.cwd ?? process.cwd();
  const shards: ShardSpec[] = [];
  const inputs = await resolveInputs(patterns, options);
  for (const [input, { path, bytes }] of inputs.entries()) {
    const whole = { id: shards.length, input, path, start: 0, end: undefined, whole: true };
    if (path === STDIN || bytes === undefined || bytes < 2 * target) {
      shards.push(whole);
      continue;
    }
    const file = await open(resolve(cwd, path), "r");
    try {
      const head = await contentStart(file);
      if (head === undefined) {
        shards.push(whole);
        continue;
      }
      if (head.byte === 91) {
        if (!(await cutArray(file, head, target, input, path, shards))) shards.push(whole);
        continue;
      }
      // A `.json` name that is not an array holds JSON values, whose starts cannot be found from the middle.
      if (NAME_NOT_LINES.test(path)) {
        shards.push(whole);
        continue;
      }
      let start = 0;
      while (start < bytes) {
        const cut = start + target >= bytes - target / 2 ? bytes : await lineStartAfter(file, start + target, bytes);
        shards.push({ id: shards.length, input, path, start, end: cut >= bytes ? undefined : cut, whole: false });
        start = cut;
      }
    } finally {
      await file.close();
    }
  }
  return shards;
}

/** Where an uncompressed file's content starts (after a BOM and whitespace): its first byte, offset and line. */
interface ContentStart {
  readonly byte: number;
  readonly offset: number;
  readonly line: number;
  readonly lineStart: number;
}

/** The start of a file's content, or undefined when it is compressed or has none within the first 64 KiB. */
async function contentStart(file: import("node:fs/promises").FileHandle): Promise<ContentStart | undefined> {
  const head = Buffer.alloc(PROBE);
  const { bytesRead } = await file.read(head, 0, PROBE, 0);
  const bytes = head.subarray(0, bytesRead);
  if (detectCompression(bytes) !== "none") return undefined;
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let line = 1;
  let lineStart = 0;
  for (; i < bytes.length && (bytes[i] === 32 || bytes[i] === 9 || bytes[i] === 10 || bytes[i] === 13); i++) {
    if (bytes[i] === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return i < bytes.length ? { byte: bytes[i]!, offset: i, line, lineStart } : undefined;
}

/**
 * Cuts a file holding one JSON array into element ranges (`ArrayCutScanner`: one structural pass over its bytes, no
 * parsing) and adds them to `shards`. Returns false, adding nothing, when there is no cut to make.
 */
async function cutArray(
  file: import("node:fs/promises").FileHandle,
  head: ContentStart,
  target: number,
  input: number,
  path: string,
  shards: ShardSpec[],
): Promise<boolean> {
  const scanner = new ArrayCutScanner(target, head.offset + 1, head.line, head.lineStart);
  const chunk = Buffer.alloc(1 << 20);
  for (let at = head.offset + 1; ; ) {
    const { bytesRead } = await file.read(chunk, 0, chunk.length, at);
    if (bytesRead === 0) break;
    scanner.push(chunk.subarray(0, bytesRead));
    at += bytesRead;
  }
  const cuts = scanner.cuts;
  if (cuts.length === 0) return false;
  let start = 0;
  let array = { line: 1, column: 1 };
  for (const cut of cuts) {
    shards.push({ id: shards.length, input, path, start, end: cut.offset, whole: false, array });
    start = cut.offset;
    array = { line: cut.line, column: cut.column };
  }
  shards.push({ id: shards.length, input, path, start, end: undefined, whole: false, array });
  return true;
}

/** The offset just after the first newline at or after `from` (or `size` when there is none). */
async function lineStartAfter(
  file: import("node:fs/promises").FileHandle,
  from: number,
  size: number,
): Promise<number> {
  const buffer = Buffer.alloc(PROBE);
  for (let at = from; at < size; at += PROBE) {
    const { bytesRead } = await file.read(buffer, 0, PROBE, at);
    const nl = buffer.subarray(0, bytesRead).indexOf(10);
    if (nl !== -1) return at + nl + 1;
    if (bytesRead === 0) break;
  }
  return size;
}

/** One entry of a shard's result, as plain data: a kept record, a reject, or a warning on a kept record. */
export type ShardEntry =
  | {
      readonly kind: "kept";
      readonly item: Envelope;
      /** Per-record work done in the shard phase, by preparer key (see `Preparer` in @curate/core). */
      facts?: Record<string, unknown>;
    }
  | { readonly kind: "reject"; readonly item: Envelope; readonly reason: RejectReason }
  | { readonly kind: "warning"; readonly item: Envelope; readonly issue: Issue };

/**
 * What reading one shard gives: its entries in order, numbered from 1 within the shard (a whole input's are final),
 * and its size in lines.
 */
export interface ShardResult {
  readonly shard: ShardSpec;
  readonly entries: ShardEntry[];
  /** Records in the shard (kept and rejected). */
  readonly records: number;
  /** Newlines in the shard: the next shard of the input starts this many lines further down. */
  readonly lines: number;
  /** Blank lines in the shard (they are not records). */
  readonly blankLines: number;
  /** A whole input's stats, as the sequential reader gives them (undefined for a range shard). */
  readonly stats?: InputStats;
}

/**
 * Reads one shard: a pure function of (shard, options) whose result is plain data. A range shard of a plain JSONL
 * file has lines and record numbers relative to the shard (its first line is line 1; `ShardStitcher` moves them) and
 * the input's byte offsets; a whole input is read by the sequential reader (compression, arrays, `.json` values) and
 * comes with its stats. Stdin is never a shard's: it is read where the run is.
 * @example const result = await readShard(shards[1]!, { maxLineBytes: 1 << 24 });
 */
export async function readShard(shard: ShardSpec, options: ReadOptions = {}): Promise<ShardResult> {
  if (shard.whole) return readWhole(shard, options);
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  // The first shard starts the file: a BOM and leading blank lines are the whole-file reader's to handle.
  // A later range of an array starts at an element, with the input's line and column: its lines need no stitching.
  const splitter =
    shard.start === 0
      ? new RecordSplitter(shard.path, maxLineBytes)
      : shard.array
        ? new JsonArraySplitter(shard.path, maxLineBytes, shard.array.line, shard.array.column, shard.start)
        : new JsonlSplitter(shard.path, maxLineBytes, 1, 1, shard.start);
  const file = await open(resolve(options.cwd ?? process.cwd(), shard.path), "r");
  const out: Entry[] = [];
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let at = shard.start; shard.end === undefined || at < shard.end; ) {
      const want = shard.end === undefined ? chunk.length : Math.min(chunk.length, shard.end - at);
      const { bytesRead } = await file.read(chunk, 0, want, at);
      if (bytesRead === 0) break;
      // The splitter keeps no reference to a chunk it has finished with, except for a held line: copy that case.
      splitter.push(Buffer.from(chunk.subarray(0, bytesRead)), out);
      at += bytesRead;
    }
    if (shard.end !== undefined && !(splitter instanceof JsonlSplitter)) splitter.endRange(out);
    else splitter.end(out);
  } finally {
    await file.close();
  }
  const records = numberEntries(out, 1, shard.input) - 1;
  if (splitter instanceof JsonArraySplitter || shard.array) {
    return { shard, entries: out.map(toShardEntry), records, lines: 0, blankLines: 0 };
  }
  const line = splitter instanceof RecordSplitter ? splitter.line : splitter.currentLine;
  return { shard, entries: out.map(toShardEntry), records, lines: line - 1, blankLines: splitter.blankLines };
}

/**
 * Reads a whole input with the sequential reader, keeping its routes in order as shard entries, with its stats.
 */
async function readWhole(shard: ShardSpec, options: ReadOptions): Promise<ShardResult> {
  const entries: ShardEntry[] = [];
  const source = readInputs([shard.path], options);
  const ctx: StageContext = {
    stage: "read",
    reject: (item, reason) => entries.push({ kind: "reject", item, reason }),
    duplicate() {},
    warn: (item, issue) => entries.push({ kind: "warning", item, issue }),
  };
  for await (const batch of source.batches!(ctx)) for (const item of batch) entries.push({ kind: "kept", item });
  for (const entry of entries) (entry.item.source as { input: number }).input = shard.input;
  const stats = { ...source.stats[0]!, path: shard.path };
  return { shard, entries, records: stats.records, lines: 0, blankLines: stats.blankLines, stats };
}

/**
 * An entry of the reader as plain data (a `Routed` is a class instance, which `structuredClone` would flatten).
 * @example const entries = out.map(toShardEntry);
 */
export function toShardEntry(entry: Entry): ShardEntry {
  if (!(entry instanceof Routed)) return { kind: "kept", item: entry };
  if (entry.reason) return { kind: "reject", item: entry.item, reason: entry.reason };
  return { kind: "warning", item: entry.item, issue: entry.issue! };
}

/**
 * Puts shard results back together: given each input's shards in order, it moves shard-relative lines and record
 * numbers to the input's (every record of the earlier shards, every line before the shard's start), so that the
 * stitched entries equal a sequential read's.
 * @example const stitcher = new ShardStitcher(); for (const r of results) for (const e of stitcher.stitch(r)) route(e);
 */
export class ShardStitcher {
  private readonly bases = new Map<number, { line: number; record: number; next: number }>();

  /** The entries of `result` with the input's lines and record numbers; call it in shard order. */
  stitch(result: ShardResult): ShardEntry[] {
    const { shard } = result;
    const base = this.bases.get(shard.input) ?? { line: 0, record: 0, next: 0 };
    if (shard.start !== base.next) {
      throw new Error(`shard ${shard.id} of ${shard.path} starts at byte ${shard.start}, expected ${base.next}`);
    }
    if (base.line > 0 || base.record > 0) {
      const seen = new Set<object>();
      for (const entry of result.entries) {
        const source = entry.item.source as { line: number; record?: number; errorLine?: number };
        // A warning and its kept record share one source object: move it once.
        if (seen.has(source)) continue;
        seen.add(source);
        source.line += base.line;
        if (source.record !== undefined) source.record += base.record;
      }
      for (const entry of result.entries) {
        if (entry.kind === "reject" && typeof entry.reason.errorLine === "number") {
          (entry.reason as { errorLine: number }).errorLine += base.line;
        }
      }
    }
    this.bases.set(shard.input, {
      line: base.line + result.lines,
      record: base.record + result.records,
      next: shard.end ?? Number.POSITIVE_INFINITY,
    });
    return result.entries;
  }
}
