import type { Source } from "@curate/core";

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
 * Record sources in 4 bytes each plus one entry per run of records from the same file: records arrive file by
 * file, so storing the file name per record would waste ~8 bytes each (a pointer) for no information.
 * @example const t = new SourceTable(); const id = t.add({ file: "a.jsonl", line: 3 }); t.get(id); // { file: "a.jsonl", line: 3 }
 */
export class SourceTable {
  private readonly lines = new Uint32Pages();
  private readonly files: string[] = [];
  private readonly fileIds = new Map<string, number>();
  /** First id of each run, ascending, and the file of that run. */
  private readonly runStarts: number[] = [];
  private readonly runFiles: number[] = [];
  private lastFile: string | undefined;

  /** Appends a source; returns its id (0, 1, 2, ... in the order added). */
  add(source: Source): number {
    const id = this.lines.length;
    if (source.file !== this.lastFile) {
      let fileId = this.fileIds.get(source.file);
      if (fileId === undefined) {
        fileId = this.files.length;
        this.files.push(source.file);
        this.fileIds.set(source.file, fileId);
      }
      this.runStarts.push(id);
      this.runFiles.push(fileId);
      this.lastFile = source.file;
    }
    this.lines.push(source.line);
    return id;
  }

  get size(): number {
    return this.lines.length;
  }

  line(id: number): number {
    return this.lines.get(id);
  }

  file(id: number): string {
    // Binary search for the last run starting at or before `id`.
    let lo = 0;
    let hi = this.runStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.runStarts[mid]! <= id) lo = mid;
      else hi = mid - 1;
    }
    return this.files[this.runFiles[lo]!]!;
  }

  get(id: number): Source {
    return { file: this.file(id), line: this.line(id) };
  }

  /** Bytes held, counting 16 bytes per run. */
  get bytes(): number {
    return this.lines.bytes + this.runStarts.length * 16;
  }
}

/**
 * The id of the cluster a record leads: its source as `file:line`, readable in reports and the same whatever the
 * thread count or batch size.
 * @example clusterId({ file: "a.jsonl", line: 3 }); // "a.jsonl:3"
 */
export function clusterId(source: Source): string {
  return `${source.file}:${source.line}`;
}
