import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { pipeline, Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { CurateError } from "@curate/core";
import { DecompressError } from "./errors.js";
import { unzstd } from "./zstd.js";

export { DecompressError } from "./errors.js";

/**
 * The compression of an input, found from its first bytes.
 * @example const compression: Compression = detectCompression(head);
 */
export type Compression = "none" | "gzip" | "zstd";

/**
 * Bytes per read from a file: large enough that the per-chunk `await` is noise, small enough to stay bounded.
 * @example fileChunks(path, shown, FILE_CHUNK_BYTES);
 */
export const FILE_CHUNK_BYTES = 1 << 20;

function openError(shown: string, cause: unknown): CurateError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  if (code === "ENOENT") {
    return new CurateError("CURATE_INPUT_NOT_FOUND", `input not found: ${shown}`, { exitCode: 2, cause });
  }
  return new CurateError("CURATE_IO", `cannot read ${shown}: ${(cause as Error)?.message ?? String(cause)}`, {
    exitCode: 2,
    cause,
  });
}

/**
 * The raw bytes of a file, a fresh buffer per read (later stages keep slices of them). The file is closed however
 * iteration ends, early exit included.
 * @example for await (const chunk of fileChunks("/abs/data.jsonl", "data.jsonl")) hash.update(chunk);
 */
export async function* fileChunks(path: string, shown: string, chunkBytes = FILE_CHUNK_BYTES): AsyncGenerator<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (cause) {
    throw openError(shown, cause);
  }
  try {
    for (;;) {
      const buffer = Buffer.allocUnsafe(chunkBytes);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, chunkBytes, null));
      } catch (cause) {
        throw openError(shown, cause);
      }
      if (bytesRead === 0) return;
      yield bytesRead === chunkBytes ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * The bytes of a readable stream (stdin), as Buffers even if someone set an encoding on it.
 * @example for await (const chunk of streamChunks(process.stdin)) hash.update(chunk);
 */
export async function* streamChunks(stream: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  for await (const chunk of stream) yield typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
}

/**
 * Which compression `head` starts with, by magic bytes (names lie, and stdin has none).
 * @example detectCompression(Buffer.from([0x1f, 0x8b, 8])); // "gzip"
 */
export function detectCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return "none";
}

/**
 * Decompresses `raw` if its first bytes say it is gzip or zstd; passes it through otherwise. Reports the
 * compression through `found` before the first chunk. A corrupt or cut-off stream throws DecompressError after
 * yielding everything decoded before the damage.
 * @example for await (const chunk of decompress(fileChunks(path, name), (c) => (stats.compression = c))) use(chunk);
 */
export async function* decompress(
  raw: AsyncIterable<Buffer>,
  found: (compression: Compression) => void,
): AsyncGenerator<Buffer> {
  const iterator = raw[Symbol.asyncIterator]();
  try {
    let head: Buffer = Buffer.alloc(0);
    let ended = false;
    while (head.length < 4) {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        break;
      }
      head = head.length === 0 ? next.value : Buffer.concat([head, next.value]);
    }
    const compression = detectCompression(head);
    found(compression);
    async function* rest(): AsyncGenerator<Buffer> {
      if (head.length > 0) yield head;
      while (!ended) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    }
    if (compression === "gzip") yield* gunzip(rest());
    else if (compression === "zstd") yield* unzstd(rest());
    else yield* rest();
  } finally {
    await iterator.return?.();
  }
}

/** node:zlib through a stream, so its output is pulled (back-pressure) rather than pushed into memory. */
async function* gunzip(raw: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const input = Readable.from(raw, { objectMode: false });
  // Concatenated gzip members (what @curate/write's gzip output is) decode as one stream.
  const inflate = createGunzip({ chunkSize: 256 * 1024 });
  let readError: unknown;
  input.on("error", (error) => {
    readError = error;
  });
  pipeline(input, inflate, () => {});
  // Events rather than `for await`: a stream destroyed by an error drops the output it still buffers, and that is
  // the end of the file when only the trailer is damaged (what a quarantine wants to recover, as `gzip -dc` does).
  const queue: Buffer[] = [];
  let failure: unknown;
  let ended = false;
  let wake: (() => void) | undefined;
  inflate.on("data", (chunk: Buffer) => {
    queue.push(chunk);
    if (queue.length >= 4) inflate.pause();
    wake?.();
  });
  inflate.on("error", (error) => {
    failure = error;
    wake?.();
  });
  inflate.on("end", () => {
    ended = true;
    wake?.();
  });
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        if (queue.length < 2 && inflate.isPaused()) inflate.resume();
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } catch (error) {
    if (readError !== undefined) throw readError;
    throw new DecompressError("gzip", `gzip data is corrupt or cut off (${(error as Error).message})`, {
      cause: error,
    });
  } finally {
    inflate.destroy();
    // Wait until the raw source is closed (its file handle too) before going on.
    if (!input.closed) {
      await new Promise<void>((resolve) => {
        input.once("close", resolve);
        input.destroy();
      });
    }
  }
}
