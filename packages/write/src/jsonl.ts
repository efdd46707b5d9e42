import type { Duplicate, Envelope, Rejected, Warning } from "@curate/core";
import { AtomicFileWriter } from "./atomic.js";

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
  let chunks: string[] = [];
  let pending = 0;
  let broken = false;
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") broken = true;
    else throw error;
  });
  const flush = () => {
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
 * An atomic file sink: `path.tmp-PID` until `close()`, then renamed; `.gz` names are gzipped.
 * @example const out = fileSink("out/train.jsonl");
 */
export function fileSink(path: string, options: { gzip?: boolean } = {}): TextSink & { readonly path: string } {
  const writer = new AtomicFileWriter(path, { gzip: options.gzip ?? path.endsWith(".gz") });
  return { path, write: (text) => writer.write(text), close: () => writer.close(), abort: () => writer.abort() };
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
