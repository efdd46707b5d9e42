/**
 * The wire format: length-prefixed binary frames on a stream socket.
 *
 * ```
 * u32 length of the rest (little-endian) | u8 type | u8 version | u16 0 | u32 request id | u32 header bytes
 * | header (UTF-8 JSON) | part 0 | part 1 | ...
 * ```
 *
 * The header is small JSON (the op, the tokenizer spec, scalar results, error messages) and lists the byte length of
 * each binary part (`parts`). Batches travel in the parts: texts as one UTF-8 blob plus their UTF-16 lengths, counts
 * as a `Uint32Array`, chat counts as the pool's packed `Float64Array` (see `codec.ts`). Hand-written: a frame is a
 * dozen bytes of header around typed arrays, and no well-kept library frames binary parts without copying them into
 * its own encoding (protobuf, msgpack) first.
 */

/** Frame types. */
export const REQUEST = 1;
export const RESULT = 2;
export const ERROR = 3;

export const PROTOCOL_VERSION = 1;

/** Bytes before the header: type, version, reserved, id, header length. */
const FIXED = 12;

/** The largest frame either side accepts; a 256 MiB batch is far beyond what any stage sends (256 kB of text). */
export const MAX_FRAME = 256 * 1024 * 1024;

export interface Frame {
  readonly type: number;
  readonly id: number;
  readonly header: Record<string, unknown>;
  readonly parts: readonly Uint8Array[];
}

/** A frame the reader could not make sense of; `fatal` when the stream cannot be followed any further. */
export class FrameError extends Error {
  constructor(
    message: string,
    readonly id: number,
    readonly fatal: boolean,
  ) {
    super(message);
    this.name = "FrameError";
  }
}

/**
 * Encodes one frame as a list of buffers to write in order (parts are not copied).
 * @example socket.write(Buffer.concat(encodeFrame({ type: REQUEST, id: 1, header: { op: "hello" }, parts: [] })));
 */
export function encodeFrame(frame: Frame): Uint8Array[] {
  const header = Buffer.from(JSON.stringify({ ...frame.header, parts: frame.parts.map((p) => p.byteLength) }), "utf8");
  let rest = FIXED + header.byteLength;
  for (const part of frame.parts) rest += part.byteLength;
  const head = Buffer.allocUnsafe(4 + FIXED);
  head.writeUInt32LE(rest, 0);
  head.writeUInt8(frame.type, 4);
  head.writeUInt8(PROTOCOL_VERSION, 5);
  head.writeUInt16LE(0, 6);
  head.writeUInt32LE(frame.id >>> 0, 8);
  head.writeUInt32LE(header.byteLength, 12);
  return [head, header, ...frame.parts.filter((p) => p.byteLength > 0)];
}

/**
 * Cuts a byte stream into frames. `push` each chunk as it arrives; complete frames come back in order. A frame whose
 * header or parts do not add up is returned as a `FrameError` (the stream goes on); a length that cannot be right
 * throws a fatal `FrameError` (the stream cannot be followed: the connection should be answered and closed).
 * @example const reader = new FrameReader(); socket.on("data", (c) => { for (const f of reader.push(c)) handle(f); });
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  push(chunk: Buffer): (Frame | FrameError)[] {
    if (this.failed) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    const out: (Frame | FrameError)[] = [];
    while (this.buffered >= 4) {
      const first = this.chunks[0]!.byteLength >= 4 ? this.chunks[0]! : this.gather(4);
      const rest = first.readUInt32LE(0);
      if (rest < FIXED || rest > MAX_FRAME) {
        this.failed = true;
        throw new FrameError(
          `bad frame length ${rest} (expected ${FIXED} to ${MAX_FRAME} bytes): not a curate tokenizer client?`,
          0,
          true,
        );
      }
      if (this.buffered < 4 + rest) break;
      const bytes = this.take(4 + rest);
      out.push(parseFrame(bytes.subarray(4)));
    }
    return out;
  }

  /** Joins the first chunks until they hold at least `n` bytes. */
  private gather(n: number): Buffer {
    let size = 0;
    let k = 0;
    while (size < n) size += this.chunks[k++]!.byteLength;
    const joined = Buffer.concat(this.chunks.slice(0, k), size);
    this.chunks.splice(0, k, joined);
    return joined;
  }

  /** Removes and returns the first `n` bytes. */
  private take(n: number): Buffer {
    const joined = this.gather(n);
    const bytes = joined.subarray(0, n);
    if (joined.byteLength === n) this.chunks.shift();
    else this.chunks[0] = joined.subarray(n);
    this.buffered -= n;
    return bytes;
  }
}

function parseFrame(body: Buffer): Frame | FrameError {
  const type = body.readUInt8(0);
  const version = body.readUInt8(1);
  const id = body.readUInt32LE(4);
  const headerBytes = body.readUInt32LE(8);
  if (version !== PROTOCOL_VERSION) {
    return new FrameError(`protocol version ${version}, this service speaks ${PROTOCOL_VERSION}`, id, false);
  }
  if (type !== REQUEST && type !== RESULT && type !== ERROR)
    return new FrameError(`unknown frame type ${type}`, id, false);
  if (FIXED + headerBytes > body.byteLength) {
    return new FrameError(`header of ${headerBytes} bytes runs past the frame (${body.byteLength} bytes)`, id, false);
  }
  let header: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8", FIXED, FIXED + headerBytes));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
    header = parsed as Record<string, unknown>;
  } catch (error) {
    return new FrameError(`frame header is not a JSON object (${(error as Error).message})`, id, false);
  }
  const lengths = header.parts ?? [];
  if (!Array.isArray(lengths) || !lengths.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    return new FrameError("frame header `parts` must be a list of byte lengths", id, false);
  }
  const parts: Uint8Array[] = [];
  let at = FIXED + headerBytes;
  for (const n of lengths as number[]) {
    parts.push(body.subarray(at, at + n));
    at += n;
  }
  if (at !== body.byteLength) {
    return new FrameError(
      `frame parts add up to ${at - FIXED - headerBytes} bytes, the frame holds ${body.byteLength - FIXED - headerBytes}`,
      id,
      false,
    );
  }
  return { type, id, header, parts };
}
