import { closeSync, fstatSync, openSync, realpathSync, statSync, writeSync } from "node:fs";
import { gzipSync } from "node:zlib";
import type { Duplicate, Envelope, Rejected, Warning } from "@curate/core";
import { AtomicFileWriter } from "./atomic.js";
import { ioError } from "./lock.js";

/** Something JSONL text can be written to: an atomic file, or standard output. */
export interface TextSink {
  write(text: string): void;
  /** Makes the output final (renames the temp file); call once, after the last write. */
  close(): void;
  /** Leaves no output behind (for files); called when the run fails. */
  abort(): void;
}

/**
 * Buffered writes to standard output. On Linux, writes to pipes and files are synchronous, so memory stays bounded.
 * A closed pipe (`curate ... | head`) ends output quietly instead of crashing.
 * @example const out = stdoutSink(); out.write('{"a":1}\n'); out.close();
 */
export function stdoutSink(stream: NodeJS.WriteStream = process.stdout): TextSink {
  const direct = stream === process.stdout ? directStdout() : undefined;
  if (direct) return direct;
  let chunks: string[] = [];
  let pending = 0;
  let broken = false;
  let failure: unknown;
  stream.on("error", (error: NodeJS.ErrnoException) => {
    // Never thrown from here: an error thrown in an event handler is an uncaught exception with a stack trace.
    if (error.code === "EPIPE") broken = true;
    else failure ??= error;
  });
  const check = () => {
    if (failure !== undefined) throw ioError("write", "standard output", failure);
  };
  const flush = () => {
    check();
    if (chunks.length > 0 && !broken) stream.write(chunks.join(""));
    chunks = [];
    pending = 0;
  };
  return {
    write(text) {
      if (broken) return;
      chunks.push(text);
      pending += text.length;
      if (pending >= 1 << 16) flush();
    },
    close: flush,
    abort: flush,
  };
}

/**
 * Standard output that is a file or a device (`> out.jsonl`, `> /dev/full`), written with `writeSync` so that a
 * full disk is an error the caller sees (exit 2, the path and the reason), not an uncaught stream error with a stack
 * trace after the run "succeeded". Pipes and terminals keep the stream (a pipe may not take a synchronous write).
 */
function directStdout(): TextSink | undefined {
  let info: ReturnType<typeof fstatSync>;
  try {
    info = fstatSync(1);
  } catch {
    return undefined;
  }
  if (process.stdout.isTTY || !(info.isFile() || info.isCharacterDevice())) return undefined;
  let chunks: string[] = [];
  let pending = 0;
  const flush = () => {
    if (chunks.length === 0) return;
    const buffer = Buffer.from(chunks.join(""), "utf8");
    chunks = [];
    pending = 0;
    try {
      for (let at = 0; at < buffer.length; ) at += writeSync(1, buffer, at);
    } catch (cause) {
      throw ioError("write", "standard output", cause);
    }
  };
  return {
    write(text) {
      chunks.push(text);
      pending += text.length;
      if (pending >= 1 << 16) flush();
    },
    close: flush,
    abort: flush,
  };
}

/**
 * An atomic file sink: `path.tmp-PID` until `close()`, then renamed; `.gz` names are gzipped.
 * @example const out = fileSink("out/train.jsonl");
 */
export function fileSink(path: string, options: { gzip?: boolean } = {}): TextSink & { readonly path: string } {
  const gzip = options.gzip ?? path.endsWith(".gz");
  let target = path;
  try {
    const info = statSync(path);
    // /dev/null, a FIFO, a terminal: written to as they are; renaming a temp file over them would replace them.
    if (!info.isFile()) return { path, ...directSink(path, gzip) };
    // A symlink to a file: the file is replaced, the link stays.
    target = realpathSync(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "ENOENT") throw ioError("write", path, cause);
  }
  const writer = new AtomicFileWriter(target, { gzip });
  return { path, write: (text) => writer.write(text), close: () => writer.close(), abort: () => writer.abort() };
}

/** Writes straight into an existing non-regular file (device, FIFO), synchronously, with errors as CURATE_IO. */
function directSink(path: string, gzip: boolean): TextSink {
  let fd: number | undefined;
  try {
    fd = openSync(path, "w");
  } catch (cause) {
    throw ioError("write", path, cause);
  }
  let chunks: string[] = [];
  let pending = 0;
  const flush = () => {
    if (chunks.length === 0 || fd === undefined) return;
    const text = Buffer.from(chunks.join(""), "utf8");
    const buffer = gzip ? gzipSync(text) : text;
    chunks = [];
    pending = 0;
    try {
      for (let at = 0; at < buffer.length; ) at += writeSync(fd, buffer, at);
    } catch (cause) {
      throw ioError("write", path, cause);
    }
  };
  const close = () => {
    try {
      flush();
    } finally {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    }
  };
  return {
    write(text) {
      chunks.push(text);
      pending += text.length;
      if (pending >= 1 << 16) flush();
    },
    close,
    abort: close,
  };
}

/**
 * One kept record as a JSONL line: the record alone, as the trainer will read it.
 * @example recordLine({ data: { prompt: "hi" }, source: { file: "a.jsonl", line: 1 } }); // '{"prompt":"hi"}\n'
 */
export function recordLine(item: Envelope): string {
  return `${JSON.stringify(item.data)}\n`;
}

/**
 * One line of the rejects file: where the record came from, why it was rejected, and the record itself (or, for
 * lines that could not be parsed, the raw text).
 * @example rejects.write(rejectLine({ stage: "validate", item, reason: { code: "schema_mismatch", message: "…" } }));
 */
export function rejectLine(rejected: Rejected): string {
  const { item, reason, stage } = rejected;
  return `${JSON.stringify({ source: item.source, stage, ...reason, record: item.data })}\n`;
}

/**
 * One line of the duplicates file: the record, its source, the kept record's source, method and similarity.
 * @example duplicates.write(duplicateLine({ stage: "dedup", item, of: { source: kept, method: "exact" } }));
 */
export function duplicateLine(duplicate: Duplicate): string {
  const { item, of, stage } = duplicate;
  const { source: kept, ...rest } = of;
  return `${JSON.stringify({ source: item.source, kept, stage, ...rest, record: item.data })}\n`;
}

/**
 * One warning as a JSONL line, for `--json` diagnostics.
 * @example process.stderr.write(warningLine(warning));
 */
export function warningLine(warning: Warning): string {
  return `${JSON.stringify({ source: warning.item.source, stage: warning.stage, ...warning.issue })}\n`;
}
