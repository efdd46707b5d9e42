/**
 * Thrown when an input is UTF-16 rather than UTF-8: reading it byte by byte would give one `invalid_utf8` or
 * `invalid_json` reject per line, none of which says what is wrong. Becomes one reject naming the fix.
 * @example throw new Utf16Error("LE");
 */
export class Utf16Error extends Error {
  constructor(readonly endian: "LE" | "BE") {
    super(`the input is UTF-16 ${endian}, not UTF-8`);
    this.name = "Utf16Error";
  }
}

/** UTF-16 by its byte-order mark, or, without one, by ASCII text with a zero byte beside every character. */
function utf16(head: Buffer): "LE" | "BE" | undefined {
  if (head[0] === 0xff && head[1] === 0xfe) return "LE";
  if (head[0] === 0xfe && head[1] === 0xff) return "BE";
  if (head.length >= 4 && head[1] === 0 && head[3] === 0 && head[0] !== 0 && head[2] !== 0) return "LE";
  if (head.length >= 4 && head[0] === 0 && head[2] === 0 && head[1] !== 0 && head[3] !== 0) return "BE";
  return undefined;
}

/**
 * Checks the first decoded chunk of an input and adapts the stream: UTF-16 throws `Utf16Error`; a file whose line
 * ends are CR alone (old Mac style: CRs and no LF in the first chunk) has every CR turned into LF, so its records are
 * lines instead of one cut-off line. That is exact for JSON: a raw CR can only be whitespace between tokens (inside
 * a string it must be escaped), and no UTF-8 multi-byte sequence holds the byte 0x0d.
 * @example for await (const chunk of checkText(decompress(raw, found))) splitter.push(chunk, out);
 */
export async function* checkText(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let first = true;
  let crOnly = false;
  for await (const chunk of chunks) {
    if (first && chunk.length > 0) {
      first = false;
      const endian = utf16(chunk);
      if (endian) throw new Utf16Error(endian);
      const cr = chunk.indexOf(13);
      crOnly = cr !== -1 && cr < chunk.length - 1 && chunk.indexOf(10) === -1;
    }
    if (!crOnly) {
      yield chunk;
      continue;
    }
    const copy = Buffer.from(chunk);
    for (let at = copy.indexOf(13); at !== -1; at = copy.indexOf(13, at + 1)) copy[at] = 10;
    yield copy;
  }
}
