import { DecompressError } from "./errors.js";

/**
 * The largest window a zstd frame may ask for: 128 MiB (window log 27), the `zstd` CLI's own default limit for
 * decompression without `--long`. fzstd allocates the window a frame header declares (up to 2 GiB) before decoding
 * anything, so a 20-byte header could otherwise take 2 GiB.
 * @example if (windowBytes > MAX_ZSTD_WINDOW) throw new DecompressError("zstd", "window too large");
 */
export const MAX_ZSTD_WINDOW = 1 << 27;

/** A zstd block regenerates at most 128 KiB (the format's Block_Maximum_Size). */
const MAX_BLOCK = 1 << 17;

type XXHashAPI = Awaited<ReturnType<typeof import("xxhash-wasm")["default"]>>;
let xxhashLoaded: Promise<XXHashAPI> | undefined;

/** xxhash-wasm, instantiated once, on first use (like fzstd: only zstd input needs it). */
function xxhashApi(): Promise<XXHashAPI> {
  xxhashLoaded ??= import("xxhash-wasm").then((module) => module.default());
  return xxhashLoaded;
}

function corrupt(message: string): DecompressError {
  return new DecompressError("zstd", `zstd data is corrupt or cut off (${message})`);
}

/** A queue of received bytes, taken from the front in exact amounts. */
class Bytes {
  private chunks: Uint8Array[] = [];
  length = 0;

  add(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first `n` bytes without removing them (copied only when they span chunks). */
  peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const chunk of this.chunks) {
      const take = Math.min(chunk.length, n - at);
      out.set(chunk.subarray(0, take), at);
      at += take;
      if (at === n) break;
    }
    return out;
  }

  /** Removes and returns the first `n` bytes. */
  take(n: number): Uint8Array {
    const out = this.peek(n);
    let left = n;
    while (left > 0) {
      const first = this.chunks[0]!;
      if (first.length <= left) {
        left -= first.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.length -= n;
    return out;
  }
}

interface Frame {
  /** Bytes of the frame header after the 4-byte magic. */
  readonly headerBytes: number;
  readonly checksum: boolean;
  readonly window: number;
}

/** Reads a frame header's size, checksum flag and window from its descriptor and the bytes after it. */
function frameHeader(bytes: Bytes): Frame | undefined {
  if (bytes.length < 6) return undefined;
  const head = bytes.peek(6);
  const flags = head[4]!;
  if (flags & 8) throw corrupt("a frame header has its reserved bit set");
  const singleSegment = (flags >> 5) & 1;
  const checksum = ((flags >> 2) & 1) === 1;
  const dictBytes = [0, 1, 2, 4][flags & 3]!;
  const fcf = flags >> 6;
  const sizeBytes = fcf ? 1 << fcf : singleSegment;
  const headerBytes = 1 + (singleSegment ? 0 : 1) + dictBytes + sizeBytes;
  if (bytes.length < 4 + headerBytes) return undefined;
  const header = bytes.peek(4 + headerBytes);
  let window: number;
  if (singleSegment) {
    // The window is the content size itself.
    let size = 0;
    const at = 5 + dictBytes;
    for (let i = sizeBytes - 1; i >= 0; i--) size = size * 256 + header[at + i]!;
    window = size + (fcf === 1 ? 256 : 0);
  } else {
    const descriptor = header[5]!;
    const base = 2 ** (10 + (descriptor >> 3));
    window = base + (base / 8) * (descriptor & 7);
  }
  return { headerBytes, checksum, window };
}

/**
 * Decompresses a zstd stream with fzstd, checking what fzstd does not, in a stream whatever the input:
 * - every frame's content checksum (the low 32 bits of XXH64 of the content, when the frame has one), so a flipped
 *   bit in the data is an error as it is for `zstd -t`, not silently different records;
 * - memory: the input is handed to fzstd one block at a time, and a block regenerates at most 128 KiB, so a small
 *   file that expands to gigabytes is decoded in 128 KiB steps the consumer pulls (fzstd decodes every complete
 *   block it is given in one call: 64 KiB of RLE blocks is gigabytes); windows over 128 MiB are refused.
 * Skippable frames are skipped. Throws DecompressError after yielding what was decoded before the damage.
 * XXH64 comes from `xxhash-wasm` (streaming `create64`): fzstd has no checksum code of its own, and the native
 * `@node-rs/xxhash`, faster per FACTS.md, cannot go into the esbuild bundle of the pre-commit hook (a `.node` file).
 * Hashing costs little next to fzstd's pure-JS decoding.
 * @example for await (const chunk of unzstd(fileChunks(path, name))) use(chunk);
 */
export async function* unzstd(raw: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const [{ Decompress }, xxhash] = await Promise.all([import("fzstd"), xxhashApi()]);
  let out: Buffer[] = [];
  let hasher: ReturnType<typeof xxhash.create64> | undefined;
  const decoder = new Decompress((data) => {
    if (data.length === 0) return;
    const chunk = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    hasher?.update(chunk);
    out.push(chunk);
  });
  const push = (unit: Uint8Array) => {
    try {
      decoder.push(unit, false);
    } catch (error) {
      throw corrupt((error as Error).message);
    }
  };

  const bytes = new Bytes();
  // What the walker waits for next.
  let state: "magic" | "header" | "block" | "checksum" | "skip" = "magic";
  let frame: Frame | undefined;
  let skip = 0;
  let frames = 0;

  /** Takes whatever complete units the queue holds; each block goes to fzstd on its own. */
  function* step(): Generator<Buffer> {
    for (;;) {
      if (state === "magic") {
        if (bytes.length < 4) return;
        const m = bytes.peek(4);
        const magic = (m[0]! | (m[1]! << 8) | (m[2]! << 16) | (m[3]! << 24)) >>> 0;
        if (magic === 0xfd2fb528) state = "header";
        else if ((magic & 0xfffffff0) === 0x184d2a50) {
          if (bytes.length < 8) return;
          const s = bytes.take(8);
          skip = (s[4]! | (s[5]! << 8) | (s[6]! << 16) | (s[7]! << 24)) >>> 0;
          state = "skip";
        } else {
          throw corrupt(
            frames === 0 ? "not a zstd frame" : `${bytes.length} bytes after the last frame are not a zstd frame`,
          );
        }
      } else if (state === "skip") {
        const n = Math.min(skip, bytes.length);
        if (n > 0) bytes.take(n);
        skip -= n;
        if (skip > 0) return;
        state = "magic";
      } else if (state === "header") {
        const found = frameHeader(bytes);
        if (found === undefined) return;
        if (found.window > MAX_ZSTD_WINDOW) {
          throw corrupt(`a frame asks for a ${found.window}-byte window; the limit is ${MAX_ZSTD_WINDOW} (128 MiB)`);
        }
        frame = found;
        hasher = found.checksum ? xxhash.create64(0n) : undefined;
        push(bytes.take(4 + found.headerBytes));
        state = "block";
      } else if (state === "block") {
        if (bytes.length < 3) return;
        const h = bytes.peek(3);
        const header = h[0]! | (h[1]! << 8) | (h[2]! << 16);
        const last = header & 1;
        const type = (header >> 1) & 3;
        const size = header >>> 3;
        if (type === 3) throw corrupt("a block has the reserved type");
        if (size > MAX_BLOCK) throw corrupt(`a block claims ${size} bytes; the format allows ${MAX_BLOCK}`);
        const body = type === 1 ? 1 : size;
        if (bytes.length < 3 + body) return;
        push(bytes.take(3 + body));
        if (out.length > 0) {
          const ready = out;
          out = [];
          yield* ready;
        }
        if (last) state = frame!.checksum ? "checksum" : "magic";
        if (last && !frame!.checksum) frames++;
      } else {
        if (bytes.length < 4) return;
        const c = bytes.take(4);
        push(c);
        const stored = (c[0]! | (c[1]! << 8) | (c[2]! << 16) | (c[3]! << 24)) >>> 0;
        const actual = Number(hasher!.digest() & 0xffffffffn);
        if (stored !== actual) {
          throw new DecompressError(
            "zstd",
            `zstd frame ${frames + 1} fails its content checksum (stored ${stored.toString(16)}, content gives ${actual.toString(16)}): the data is damaged`,
          );
        }
        frames++;
        state = "magic";
      }
    }
  }

  for await (const chunk of raw) {
    bytes.add(chunk);
    yield* step();
  }
  if (state !== "magic" || bytes.length > 0) {
    throw corrupt(state === "magic" ? "trailing bytes that are not a frame" : "the input ends inside a frame");
  }
}
