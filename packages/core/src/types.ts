import type { ClusterLinks } from "./clusters.js";

/**
 * Where a record came from. Its identity is (input, record number, byte offset); the line is for people. Never key
 * anything on the line alone: a one-line JSON array holds a whole dataset on line 1.
 * @example const source: Source = { file: "alpaca.json", line: 1, record: 2336, offset: 1048211, input: 0 };
 */
export interface Source {
  /** The input's path as given (or `<stdin>`). */
  readonly file: string;
  /** 1-based line where the record starts. */
  readonly line: number;
  /** 1-based column where the record starts, when it does not start a line (array elements). */
  readonly column?: number;
  /** 1-based number of the record in its input, counting every record read (kept or rejected). */
  readonly record?: number;
  /** Byte offset of the record's first byte in its (decompressed) input. */
  readonly offset?: number;
  /** 0-based index of the input in the run's list of inputs. */
  readonly input?: number;
}

/**
 * Facts that stages learn about a record and later stages read: the detected format, the token count,
 * the near-duplicate cluster. Stages add to it by yielding `{ ...item, meta: { ...item.meta, tokens } }`.
 */
export interface EnvelopeMeta {
  /** The format name the record was validated as (`chat`, `alpaca`, ...). */
  readonly format?: string;
  /** Token counts from the tokens stage. */
  readonly tokens?: { readonly total: number; readonly trainable?: number };
  /** Near-duplicate cluster id from the dedup stage; the split stage keeps a cluster in one split. */
  readonly cluster?: string;
  /** Byte length of the record's source line, for progress and statistics. */
  readonly bytes?: number;
  readonly [key: string]: unknown;
}

/** One record travelling through the pipeline, with where it came from. */
export interface Envelope<T = unknown> {
  readonly data: T;
  readonly source: Source;
  readonly meta?: EnvelopeMeta;
}

export type Severity = "error" | "warning";

/**
 * One problem with one field of one record, e.g.
 * `{ path: "messages[1].role", expected: "one of system|user|assistant", found: '"wizard"' }`.
 */
export interface Issue {
  readonly code: string;
  readonly severity: Severity;
  /** Field path in `a.b[1].c` form; empty string for the record itself. */
  readonly path: string;
  readonly message: string;
  readonly expected?: string;
  readonly found?: string;
}

/** Reject codes curate itself produces; stages may add their own. */
export type KnownRejectCode =
  | "invalid_json"
  | "not_an_object"
  | "invalid_utf8"
  | "line_too_long"
  | "truncated_line"
  | "duplicate_key"
  | "lone_surrogate"
  | "corrupt_input"
  | "schema_mismatch"
  | "unknown_format"
  | "rule_violation"
  | "too_many_tokens"
  | "too_few_tokens"
  | "contaminated";

export type RejectCode = KnownRejectCode | (string & {});

/** Why a record was rejected. Bad data is a value, never an exception. */
export interface RejectReason {
  readonly code: RejectCode;
  readonly message: string;
  readonly issues?: readonly Issue[];
  /** 1-based column, for parse errors (on `errorLine` when set, else on the record's line). */
  readonly column?: number;
  /** The line the error is on, when a record spans lines (pretty-printed JSON) and it is not the record's first. */
  readonly errorLine?: number;
  /** A short excerpt of the offending input. */
  readonly excerpt?: string;
  readonly [key: string]: unknown;
}

export type DuplicateMethod = "exact" | "near" | (string & {});

/** What a duplicate duplicates: the kept record's source, and how the match was found. */
export interface DuplicateOf {
  readonly source: Source;
  readonly method: DuplicateMethod;
  /** Measured similarity (1 for exact duplicates). */
  readonly similarity?: number;
  readonly cluster?: string;
  readonly [key: string]: unknown;
}

export interface Rejected<T = unknown> {
  readonly stage: string;
  readonly item: Envelope<T>;
  readonly reason: RejectReason;
}

export interface Duplicate<T = unknown> {
  readonly stage: string;
  readonly item: Envelope<T>;
  readonly of: DuplicateOf;
}

export interface Warning<T = unknown> {
  readonly stage: string;
  readonly item: Envelope<T>;
  readonly issue: Issue;
}

/** Which shard of a sharded run this process handles (for running phases on a distributed engine). */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/**
 * What a stage may do besides yielding: route a record to the rejects or duplicates file, or attach a warning
 * to a record that is kept.
 */
export interface StageContext {
  /** The stage's name, as shown in the manifest. */
  readonly stage: string;
  readonly shard?: Shard;
  readonly signal?: AbortSignal;
  /**
   * Near-duplicate clusters that merged after some of their records had been passed on under another cluster id:
   * dedup links them here, and split resolves every `meta.cluster` through it before it assigns a single record,
   * so a cluster never straddles splits. One per run, shared by every stage.
   */
  readonly clusters?: ClusterLinks;
  reject(item: Envelope, reason: RejectReason): void;
  duplicate(item: Envelope, of: DuplicateOf): void;
  warn(item: Envelope, issue: Issue): void;
}

/** A stage: a function from an async iterable of envelopes to an async iterable of envelopes. */
export type Stage<I = unknown, O = unknown> = (
  source: AsyncIterable<Envelope<I>>,
  ctx: StageContext,
) => AsyncIterable<Envelope<O>>;

/**
 * Where records come from. A reader is a source; so is a queue of shard jobs on a distributed engine. It gets a
 * context so that unreadable records (invalid JSON, bad UTF-8) are rejects like any other.
 */
export type RecordSource<T = unknown> = ((ctx: StageContext) => AsyncIterable<Envelope<T>>) & {
  /** Optional faster form: the same records, in the same order, in arrays (one async step per array). */
  readonly batches?: (ctx: StageContext) => AsyncIterable<Envelope<T>[]>;
};

/**
 * A record's identity as one string, unique within a run: `file#record` (the record number in its input), or
 * `file:line` for sources that carry no record number (inline test data). Used for cluster ids and keys, never
 * shown alone where a person needs the line (see `formatSource`).
 * @example sourceId({ file: "a.json", line: 1, record: 7 }); // "a.json#7"
 */
export function sourceId(source: Source): string {
  return source.record === undefined ? `${source.file}:${source.line}` : `${source.file}#${source.record}`;
}

/**
 * Where a record is, for people: `file:line`, with the column where a record does not start its line, and the
 * record number where one line can hold several records (`alpaca.json:1:48213 #2336`). A Parquet file has rows, not
 * lines: `train.parquet row 2336` (the record number, 1-based).
 * @example formatSource({ file: "a.json", line: 1, column: 40, record: 2 }); // "a.json:1:40 #2"
 */
export function formatSource(source: Source): string {
  if (source.record !== undefined && isParquetFile(source.file)) return `${source.file} row ${source.record}`;
  const where = `${source.file}:${source.line}${source.column !== undefined && source.column > 1 ? `:${source.column}` : ""}`;
  return source.column !== undefined && source.record !== undefined ? `${where} #${source.record}` : where;
}

/**
 * Whether `file` is read as Parquet (by its name, as the reader decides), so that its records are rows.
 * @example isParquetFile("data/train-00000-of-00003.parquet"); // true
 */
export function isParquetFile(file: string): boolean {
  return /\.parquet$/i.test(file);
}

/**
 * Orders sources in input order: by input, then record number (or line, for sources without one).
 * @example items.sort((a, b) => compareSources(a.source, b.source));
 */
export function compareSources(a: Source, b: Source): number {
  return (a.input ?? 0) - (b.input ?? 0) || (a.record ?? a.line) - (b.record ?? b.line);
}
