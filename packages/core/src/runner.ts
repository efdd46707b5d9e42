import { InternalError } from "./errors.js";
import type {
  Duplicate,
  DuplicateOf,
  Envelope,
  Issue,
  RecordSource,
  Rejected,
  RejectReason,
  Shard,
  Stage,
  StageContext,
  Warning,
} from "./types.js";

/** What happened to the records that went through one stage. */
export interface StageCounts {
  readonly name: string;
  /** Records that entered the stage (for the source: records read, not counting blank lines). */
  in: number;
  out: number;
  rejected: number;
  duplicates: number;
  warnings: number;
  rejectedByCode: Record<string, number>;
  duplicatesByMethod: Record<string, number>;
  warningsByCode: Record<string, number>;
  /** Time spent inside this stage alone (upstream time subtracted), in milliseconds. */
  selfMs: number;
}

/** Receivers for the records that leave the main stream. Called synchronously, in order. */
export interface PipelineSinks {
  onReject?(rejected: Rejected): void;
  onDuplicate?(duplicate: Duplicate): void;
  onWarning?(warning: Warning): void;
}

export interface RunOptions extends PipelineSinks {
  readonly shard?: Shard;
  readonly signal?: AbortSignal;
}

/** A run in progress: iterate `records` for the kept records, then read `counts` (checked when iteration ends). */
export interface PipelineRun<T = unknown> {
  readonly records: AsyncIterable<Envelope<T>>;
  /** Per-stage counts; the first entry is the source. Final once `records` is exhausted. */
  readonly counts: readonly StageCounts[];
}

function newCounts(name: string): StageCounts {
  return {
    name,
    in: 0,
    out: 0,
    rejected: 0,
    duplicates: 0,
    warnings: 0,
    rejectedByCode: {},
    duplicatesByMethod: {},
    warningsByCode: {},
    selfMs: 0,
  };
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/** Unique, readable stage names: the factory's named inner function, `validate`, `dedup`, `dedup#2`. */
function stageNames(stages: readonly Stage[]): string[] {
  const seen = new Map<string, number>();
  return stages.map((stage, index) => {
    const base = stage.name || `stage${index + 1}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}#${n}`;
  });
}

function contextFor(counts: StageCounts, options: RunOptions): StageContext {
  const stage = counts.name;
  return {
    stage,
    ...(options.shard ? { shard: options.shard } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    reject(item: Envelope, reason: RejectReason) {
      counts.rejected++;
      bump(counts.rejectedByCode, reason.code);
      options.onReject?.({ stage, item, reason });
    },
    duplicate(item: Envelope, of: DuplicateOf) {
      counts.duplicates++;
      bump(counts.duplicatesByMethod, of.method);
      options.onDuplicate?.({ stage, item, of });
    },
    warn(item: Envelope, issue: Issue) {
      counts.warnings++;
      bump(counts.warningsByCode, issue.code);
      options.onWarning?.({ stage, item, issue });
    },
  };
}

/** Pulls from `iterable`, counting what comes out and the time spent waiting on it (this stage plus upstream). */
async function* measured<T>(
  iterable: AsyncIterable<T>,
  counts: StageCounts,
  totals: { ms: number },
): AsyncGenerator<T> {
  const iterator = iterable[Symbol.asyncIterator]();
  let done = false;
  try {
    while (true) {
      const started = performance.now();
      const result = await iterator.next();
      totals.ms += performance.now() - started;
      if (result.done) {
        done = true;
        return;
      }
      counts.out++;
      yield result.value;
    }
  } finally {
    // Early exit: close the stage so its own `finally` (temp files, worker pools) runs.
    if (!done) await iterator.return?.();
  }
}

/**
 * Checks the conservation law for every stage: what went in came out, was rejected, or was routed as a duplicate.
 * Throws an InternalError naming the stage that lost or invented records.
 */
export function checkConservation(counts: readonly StageCounts[]): void {
  for (const c of counts) {
    if (c.in !== c.out + c.rejected + c.duplicates) {
      throw new InternalError(
        `conservation violated in stage "${c.name}": in ${c.in} ≠ out ${c.out} + rejected ${c.rejected} + duplicates ${c.duplicates}`,
        { code: "CURATE_CONSERVATION" },
      );
    }
  }
}

/**
 * Runs `stages` over the records of `source`. Nothing is lost: every record is yielded by the last stage, or was
 * handed to `onReject` or `onDuplicate`, and the runner fails with an InternalError if a stage's counts do not add up.
 * @example
 * const run = runPipeline(readInputs(["data/*.jsonl"]), [validate({ format: "auto" })], { onReject: (r) => log(r) });
 * for await (const record of run.records) write(record);
 * console.log(run.counts);
 */
export function runPipeline<T = unknown>(
  source: RecordSource,
  stages: readonly Stage[],
  options: RunOptions = {},
): PipelineRun<T> {
  const names = stageNames(stages);
  const sourceCounts = newCounts("read");
  const counts = [sourceCounts, ...names.map(newCounts)];
  // Cumulative time spent pulling from each stage's output, upstream included; self time is the difference.
  const pulled = counts.map(() => ({ ms: 0 }));

  async function* records(): AsyncGenerator<Envelope<T>> {
    let stream: AsyncIterable<Envelope> = measured(source(contextFor(sourceCounts, options)), sourceCounts, pulled[0]!);
    stages.forEach((stage, index) => {
      const stageCounts = counts[index + 1]!;
      stream = measured(stage(stream, contextFor(stageCounts, options)), stageCounts, pulled[index + 1]!);
    });
    let completed = false;
    try {
      for await (const record of stream) yield record as Envelope<T>;
      completed = true;
    } finally {
      sourceCounts.in = sourceCounts.out + sourceCounts.rejected + sourceCounts.duplicates;
      for (let i = 1; i < counts.length; i++) counts[i]!.in = counts[i - 1]!.out;
      for (let i = 0; i < counts.length; i++) {
        counts[i]!.selfMs = Math.max(0, pulled[i]!.ms - (i > 0 ? pulled[i - 1]!.ms : 0));
      }
    }
    if (completed) checkConservation(counts);
  }

  return { records: records(), counts };
}

/**
 * Totals over a finished run: records read, kept, rejected and duplicates, for the manifest's conservation line.
 * @example const { read, kept, rejected, duplicates } = totals(run.counts);
 */
export function totals(counts: readonly StageCounts[]): {
  read: number;
  kept: number;
  rejected: number;
  duplicates: number;
} {
  const read = counts[0]?.in ?? 0;
  const kept = counts.at(-1)?.out ?? 0;
  let rejected = 0;
  let duplicates = 0;
  for (const c of counts) {
    rejected += c.rejected;
    duplicates += c.duplicates;
  }
  return { read, kept, rejected, duplicates };
}

/**
 * Wraps plain values as envelopes from a pretend file, for tests and library callers with in-memory data.
 * @example const source = fromArray([{ prompt: "hi", completion: "hello" }], "inline.jsonl");
 */
export function fromArray<T>(records: readonly T[], file = "<memory>"): RecordSource<T> {
  return async function* fromArray() {
    for (let i = 0; i < records.length; i++) yield { data: records[i] as T, source: { file, line: i + 1 } };
  };
}
