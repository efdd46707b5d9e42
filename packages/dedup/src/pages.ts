import { type Source, sourceId } from "@curate/core";

const PAGE_BITS = 14;
const PAGE = 1 << PAGE_BITS;
const MASK = PAGE - 1;

/**
 * A growable array of 32-bit words in fixed pages of 16 Ki words (64 KiB). Growing never copies and wastes at most one
 * page, where a doubling typed array can hold twice what it needs: this is what keeps the per-record figures of
 * the dedup indexes honest.
 * @example const lines = new Uint32Pages(); lines.push(17); lines.get(0); // 17
 */
export class Uint32Pages {
  private readonly pages: Uint32Array[] = [];
  /** Words written so far (the highest index set, plus one). */
  length = 0;

  get(index: number): number {
    return this.pages[index >>> PAGE_BITS]![index & MASK]!;
  }

  set(index: number, value: number): void {
    const page = index >>> PAGE_BITS;
    while (this.pages.length <= page) this.pages.push(new Uint32Array(PAGE));
    this.pages[page]![index & MASK] = value;
    if (index >= this.length) this.length = index + 1;
  }

  push(value: number): void {
    this.set(this.length, value);
  }

  /** Bytes held by the pages. */
  get bytes(): number {
    return this.pages.length * PAGE * 4;
  }
}

/**
 * Record sources in 20 bytes each (line, column, record number, and the byte offset in two words) plus one entry per
 * run of records from the same input: records arrive input by input, so storing the file name per record would
 * waste ~8 bytes each (a pointer) for no information, and a source object ~80.
 * @example const t = new SourceTable(); const id = t.add({ file: "a.json", line: 1, record: 3 }); t.get(id).record; // 3
 */
export class SourceTable {
  private readonly lines = new Uint32Pages();
  /** Column + 1 for sources that carry one (array elements), else 0. */
  private readonly columns = new Uint32Pages();
  /** Record number + 1, else 0. */
  private readonly records = new Uint32Pages();
  /** Byte offset + 1 (0: none), split in two words: offsets of inputs past 4 GiB fit. */
  private readonly offsetLow = new Uint32Pages();
  private readonly offsetHigh = new Uint32Pages();
  private readonly files: string[] = [];
  private readonly fileIds = new Map<string, number>();
  /** First id of each run, ascending, and the file and input index (+1, 0: none) of that run. */
  private readonly runStarts: number[] = [];
  private readonly runFiles: number[] = [];
  private readonly runInputs: number[] = [];
  private lastFile: string | undefined;
  private lastInput: number | undefined;

  /** Appends a source; returns its id (0, 1, 2, ... in the order added). */
  add(source: Source): number {
    const id = this.lines.length;
    if (source.file !== this.lastFile || source.input !== this.lastInput) {
      let fileId = this.fileIds.get(source.file);
      if (fileId === undefined) {
        fileId = this.files.length;
        this.files.push(source.file);
        this.fileIds.set(source.file, fileId);
      }
      this.runStarts.push(id);
      this.runFiles.push(fileId);
      this.runInputs.push(source.input === undefined ? 0 : source.input + 1);
      this.lastFile = source.file;
      this.lastInput = source.input;
    }
    this.lines.push(source.line);
    this.columns.push(source.column === undefined ? 0 : source.column + 1);
    this.records.push(source.record === undefined ? 0 : source.record + 1);
    const offset = source.offset === undefined ? 0 : source.offset + 1;
    this.offsetLow.push(offset % 2 ** 32);
    this.offsetHigh.push(Math.floor(offset / 2 ** 32));
    return id;
  }

  get size(): number {
    return this.lines.length;
  }

  line(id: number): number {
    return this.lines.get(id);
  }

  private run(id: number): number {
    // Binary search for the last run starting at or before `id`.
    let lo = 0;
    let hi = this.runStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.runStarts[mid]! <= id) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  file(id: number): string {
    return this.files[this.runFiles[this.run(id)]!]!;
  }

  get(id: number): Source {
    const run = this.run(id);
    const input = this.runInputs[run]!;
    const column = this.columns.get(id);
    const record = this.records.get(id);
    const offset = this.offsetHigh.get(id) * 2 ** 32 + this.offsetLow.get(id);
    return {
      file: this.files[this.runFiles[run]!]!,
      line: this.lines.get(id),
      ...(column > 0 ? { column: column - 1 } : {}),
      ...(record > 0 ? { record: record - 1 } : {}),
      ...(offset > 0 ? { offset: offset - 1 } : {}),
      ...(input > 0 ? { input: input - 1 } : {}),
    };
  }

  /** Bytes held, counting 24 bytes per run. */
  get bytes(): number {
    return (
      this.lines.bytes +
      this.columns.bytes +
      this.records.bytes +
      this.offsetLow.bytes +
      this.offsetHigh.bytes +
      this.runStarts.length * 24
    );
  }
}

/**
 * The id of the cluster a record leads: its identity (`file#record`, see `sourceId`), readable in reports, the same
 * whatever the thread count or batch size, and distinct for records that share a line.
 * @example clusterId({ file: "a.json", line: 1, record: 3 }); // "a.json#3"
 */
export function clusterId(source: Source): string {
  return sourceId(source);
}
