const LF = 10;

/**
 * Line and column of byte positions in an input that arrives in chunks, for the JSON array and JSON values
 * splitters. `offset` is the byte offset of the current chunk's start in the input; lines are counted lazily with a
 * cursor on the next newline, so only record starts and errors pay for line and column.
 * @example class Splitter extends ChunkCursor { push(chunk: Buffer) { this.startChunk(chunk); this.advanceTo(3); } }
 */
export abstract class ChunkCursor {
  /** Byte offset in the input of the current chunk's first byte. */
  protected offset: number;
  protected line: number;
  protected lineStart: number;
  protected chunk: Buffer = Buffer.alloc(0);
  private nextNewline = -1;

  /** @param line, column, offset: where the first byte of the first chunk is. */
  constructor(line: number, column: number, offset: number) {
    this.offset = offset;
    this.line = line;
    this.lineStart = offset + 1 - column;
  }

  get currentLine(): number {
    return this.line;
  }

  /** Makes `chunk` the current chunk (the caller adds its length to `offset` when done with it). */
  protected startChunk(chunk: Buffer): void {
    this.chunk = chunk;
    this.nextNewline = chunk.indexOf(LF);
  }

  /** Moves the line cursor past every newline before `pos` in the current chunk. */
  protected advanceTo(pos: number): void {
    while (this.nextNewline !== -1 && this.nextNewline < pos) {
      this.line++;
      this.lineStart = this.offset + this.nextNewline + 1;
      this.nextNewline = this.chunk.indexOf(LF, this.nextNewline + 1);
    }
  }

  /** 1-based column of `pos` in the current chunk. */
  protected columnAt(pos: number): number {
    return this.offset + pos - this.lineStart + 1;
  }
}
