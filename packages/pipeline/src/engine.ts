/**
 * The one place that runs a plan: a source and its stages, through the runner, into an output. `curate run`,
 * `curate split`, the single-stage commands, `pipeline()` and any library caller end here; writers only write.
 */
import {
  ClusterLinks,
  type Envelope,
  type PipelineSinks,
  type RecordSource,
  runPipeline,
  type Stage,
  type StageCounts,
  totals,
} from "@curate/core";
import type { DatasetWriterOptions, InputFacts, Manifest, SplitReportLike, TextSink } from "@curate/write";

/**
 * Where a run's records go: kept records in batches (in input order), rejects, duplicates and warnings through
 * `sinks` as they happen. `abort` discards what was written when the run fails.
 * @example const output: RunOutput = { sinks: {}, write: (batch) => kept.push(...batch), abort() {} };
 */
export interface RunOutput {
  readonly sinks: PipelineSinks;
  write(batch: readonly Envelope[]): void;
  abort(): void;
}

/** A source that may report per-input facts (a reader's `stats`) for the manifest. */
export type PlanSource = RecordSource & { readonly stats?: readonly InputFacts[] };

export interface ExecuteOptions {
  readonly signal?: AbortSignal;
  /** Called after each batch of kept records is written (progress). */
  readonly onRecords?: (count: number) => void;
}

/** What a finished run leaves besides its files: per-stage counts, merged clusters, totals, wall time. */
export interface Executed {
  readonly counts: readonly StageCounts[];
  readonly clusters: ClusterLinks;
  readonly totals: ReturnType<typeof totals>;
  readonly wallMs: number;
}

/**
 * Runs `stages` over `source` into `output`: the only loop over a run's records. The runner checks conservation
 * per stage when the records end; on any failure the output is aborted and the error rethrown.
 * @example
 * const kept: Envelope[] = [];
 * const { counts } = await execute(readInputs(["data.jsonl"]), [validate()], { sinks: {}, write: (b) => kept.push(...b), abort() {} });
 */
export async function execute(
  source: RecordSource,
  stages: readonly Stage[],
  output: RunOutput,
  options: ExecuteOptions = {},
): Promise<Executed> {
  const started = performance.now();
  const clusters = new ClusterLinks();
  try {
    const run = runPipeline(source, stages, {
      ...output.sinks,
      clusters,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    for await (const batch of run.batches) {
      output.write(batch);
      options.onRecords?.(batch.length);
    }
    return { counts: run.counts, clusters, totals: totals(run.counts), wallMs: performance.now() - started };
  } catch (error) {
    output.abort();
    throw error;
  }
}

/** A split stage as @curate/split makes it: split names and, after the run, a report. */
interface SplitStageLike {
  readonly splits: readonly string[];
  readonly report: SplitReportLike | undefined;
}

function isSplitStage(stage: Stage): stage is Stage & SplitStageLike {
  return Array.isArray((stage as unknown as Partial<SplitStageLike>).splits) && "report" in stage;
}

export interface DatasetRunOptions extends DatasetWriterOptions, ExecuteOptions {
  readonly source: PlanSource;
  readonly stages: readonly Stage[];
  /** Recorded in the manifest as the run's configuration. */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly seed?: string | number;
  readonly toolVersion?: string;
}

/**
 * Runs a plan into a dataset folder: one file per split (`splits`, else the split stage among `stages` names them;
 * records without `meta.split` go to `defaultSplit`, `train`), rejects,
 * duplicates and a manifest whose conservation line is checked before it is written. The folder is checked (and
 * refused when not empty without `force`) before a single record is read.
 * @example
 * const manifest = await runDataset({ dir: "out", source: readInputs(["data.jsonl"]), stages: [validate(), split({ seed: 1 })] });
 */
export async function runDataset(options: DatasetRunOptions): Promise<Manifest> {
  const { DatasetWriter, loadParquetWriter } = await import("@curate/write");
  if (options.format === "parquet") await loadParquetWriter();
  const splitStage = options.stages.find(isSplitStage);
  const writer = new DatasetWriter({
    dir: options.dir,
    ...(options.splits ? { splits: options.splits } : splitStage ? { splits: splitStage.splits } : {}),
    ...(options.defaultSplit !== undefined ? { defaultSplit: options.defaultSplit } : {}),
    ...(options.compress !== undefined ? { compress: options.compress } : {}),
    ...(options.format !== undefined ? { format: options.format } : {}),
    ...(options.force !== undefined ? { force: options.force } : {}),
    ...(options.transform ? { transform: options.transform } : {}),
    ...(options.inputs ? { inputs: options.inputs } : {}),
  });
  const output: RunOutput = {
    sinks: writer.sinks,
    write: (batch) => {
      for (const record of batch) writer.write(record);
    },
    abort: () => writer.abort(),
  };
  const executed = await execute(options.source, options.stages, output, options);
  return writer.finish({
    counts: executed.counts,
    clusters: executed.clusters,
    ...(options.source.stats ? { inputs: options.source.stats } : {}),
    ...(options.config ? { config: options.config } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(splitStage?.report ? { split: splitStage.report } : {}),
    ...(options.toolVersion ? { toolVersion: options.toolVersion } : {}),
    wallMs: executed.wallMs,
  });
}

export interface StreamRunOptions extends ExecuteOptions {
  readonly source: PlanSource;
  readonly stages: readonly Stage[];
  /** Kept records as JSONL; undefined discards them (counts only). */
  readonly out?: TextSink | undefined;
  readonly rejects?: TextSink | undefined;
  readonly duplicates?: TextSink | undefined;
  /** Observers called after the files are written to (e.g. to print diagnostics). */
  readonly sinks?: PipelineSinks;
}

/**
 * Runs a plan into streams: kept records, rejects and duplicates as JSONL to their sinks (files, stdout), closed
 * when the run completes and aborted (nothing under a final name) when it fails. What single-stage commands use.
 * @example await runStreams({ source: readInputs(["-"]), stages: [exactDedup()], out: stdoutSink() });
 */
export async function runStreams(options: StreamRunOptions): Promise<Executed> {
  const { duplicateLine, recordLine, rejectLine } = await import("@curate/write");
  const { out, rejects, duplicates, sinks = {} } = options;
  const files = [out, rejects, duplicates].filter((s): s is TextSink => s !== undefined);
  const output: RunOutput = {
    sinks: {
      onReject(rejected) {
        rejects?.write(rejectLine(rejected));
        sinks.onReject?.(rejected);
      },
      onDuplicate(duplicate) {
        duplicates?.write(duplicateLine(duplicate));
        sinks.onDuplicate?.(duplicate);
      },
      ...(sinks.onWarning ? { onWarning: sinks.onWarning } : {}),
    },
    write: out
      ? (batch) => {
          for (const record of batch) out.write(recordLine(record));
        }
      : () => {},
    abort: () => {
      for (const file of files) file.abort();
    },
  };
  const executed = await execute(options.source, options.stages, output, options);
  try {
    for (const file of files) file.close();
  } catch (error) {
    output.abort();
    throw error;
  }
  return executed;
}
