import {
  CurateError,
  type Duplicate,
  type Envelope,
  type RecordSource,
  type Rejected,
  type Stage,
  type StageCounts,
  type totals,
  type Warning,
} from "@curate/core";
import type { Manifest } from "@curate/write";
import { execute, type PlanSource, runDataset } from "./engine.js";

export * from "./engine.js";

/** Options of `Pipeline.run`: where and how to write the dataset folder. */
export interface PipelineRunOptions {
  /** The output folder: one JSONL per split, rejects.jsonl, duplicates.jsonl, manifest.json. */
  readonly out: string;
  /** Replace curate's files in a non-empty folder. */
  readonly force?: boolean;
  /** gzip the split files. */
  readonly compress?: boolean;
  /** Recorded in the manifest as the run's configuration. */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly seed?: string | number;
}

/** Every route of an in-memory run, for tests and notebooks. */
export interface CollectedRun<T = unknown> {
  readonly kept: Envelope<T>[];
  readonly rejected: Rejected[];
  readonly duplicates: Duplicate[];
  readonly warnings: Warning[];
  readonly counts: readonly StageCounts[];
  readonly totals: ReturnType<typeof totals>;
}

export interface Pipeline {
  /** Runs every stage and writes the dataset folder with its manifest (conservation checked before it is written). */
  run(options: PipelineRunOptions): Promise<Manifest>;
  /** Runs every stage and returns the records of every route in memory (for small data). */
  collect<T = unknown>(): Promise<CollectedRun<T>>;
}

/**
 * The whole pipeline from TypeScript, the same one `curate run` runs: a source (a reader) followed by stages.
 * A split stage among them decides the split files; without one every kept record goes to `train.jsonl`.
 * @example
 * import { pipeline } from "@curate/pipeline";
 * import { readInputs } from "@curate/read";
 * import { validate } from "@curate/validate";
 * import { exactDedup } from "@curate/dedup";
 * import { split } from "@curate/split";
 *
 * const manifest = await pipeline([
 *   readInputs(["fixtures/chat/valid.jsonl"]),
 *   validate(),
 *   exactDedup(),
 *   split({ ratios: { train: 0.9, test: 0.1 }, seed: 1 }),
 * ]).run({ out: "out/example", force: true });
 * console.log(manifest.conservation);
 */
export function pipeline(
  steps: readonly [RecordSource & { readonly stats?: readonly object[] }, ...Stage[]],
): Pipeline {
  const [source, ...stages] = steps;
  if (typeof source !== "function" || stages.some((stage) => typeof stage !== "function")) {
    throw new CurateError(
      "CURATE_INVALID_OPTION",
      "pipeline(): expected [source, ...stages], e.g. pipeline([readInputs(['data.jsonl']), validate()])",
    );
  }
  return {
    run(options) {
      return runDataset({
        dir: options.out,
        source: source as PlanSource,
        stages,
        force: options.force ?? false,
        compress: options.compress ?? false,
        ...(options.config ? { config: options.config } : {}),
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
      });
    },
    async collect<T>() {
      const kept: Envelope<T>[] = [];
      const rejected: Rejected[] = [];
      const duplicates: Duplicate[] = [];
      const warnings: Warning[] = [];
      const run = await execute(source, stages, {
        sinks: {
          onReject: (r) => rejected.push(r),
          onDuplicate: (d) => duplicates.push(d),
          onWarning: (w) => warnings.push(w),
        },
        write: (batch) => kept.push(...(batch as Envelope<T>[])),
        abort() {},
      });
      return { kept, rejected, duplicates, warnings, counts: run.counts, totals: run.totals };
    },
  };
}
