/** Where a record came from: the file (or `<stdin>`) and its 1-based line. */
export interface Source {
  readonly file: string;
  readonly line: number;
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
