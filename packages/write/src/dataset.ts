import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  type ClusterLinks,
  CurateError,
  checkConservation,
  type Duplicate,
  type Envelope,
  InternalError,
  isAlive,
  jsonOf,
  onInterrupt,
  type PipelineSinks,
  type Rejected,
  type StageCounts,
  sourceId,
  totals,
  UsageError,
  type Warning,
} from "@curate/core";
import { AtomicFileWriter } from "./atomic.js";
import {
  commitGeneration,
  commitInPlace,
  currentGeneration,
  sweepGenerationEntry,
  symlinksWork,
} from "./generation.js";
import { checkOutputPlace } from "./guards.js";
import { duplicateLine, rejectLine } from "./jsonl.js";
import { LOCK_FILE, lockFolder, SHARD_RESULTS_DIR } from "./lock.js";
import { type InputSummary, MANIFEST_VERSION, type Manifest, manifestSchema, type OutputFile } from "./manifest.js";
import { OrderedJsonlWriter } from "./ordered.js";
import { jsonlFileToParquet, type OutputFormat, ParquetFileWriter } from "./parquet.js";
import { splitTokenStats, TokenColumn } from "./stats.js";

const SPLIT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const TEMP_PREFIX = ".curate-tmp-";
let writers = 0;

/** This package's version, read the same way from src/ and dist/ (both sit next to package.json). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
      .version;
  } catch {
    return "0.0.0";
  }
}

export interface DatasetWriterOptions {
  /** The output folder. Created if missing; refused when it holds anything unless `force`. */
  readonly dir: string;
  /** Split files written even when empty, in this order (`split.splits` from @curate/split). */
  readonly splits?: readonly string[];
  /** Split for records without `meta.split` (default `train`). */
  readonly defaultSplit?: string;
  /** gzip the split files (`train.jsonl.gz`); rejects and duplicates stay plain text for reading. */
  readonly compress?: boolean;
  /**
   * `parquet`: splits, rejects and duplicates as `.parquet` files (see `ParquetFileWriter`; call
   * `loadParquetWriter()` before `finish()`). Default `jsonl`.
   */
  readonly format?: OutputFormat;
  /** Write into a non-empty folder, replacing curate's files there (earlier outputs named in its manifest). */
  readonly force?: boolean;
  /** Converts a kept record on the way out (e.g. to chat format); the default writes `item.data` as it is. */
  readonly transform?: (item: Envelope) => unknown;
  /** The run's input arguments: an output folder that is one of them, or inside one, is refused (see guards.ts). */
  readonly inputs?: readonly string[];
}

/** What the writer cannot know by itself; passed to `finish()`. */
export interface FinishContext {
  /** The runner's per-stage counts (`run.counts`), after the run completed. */
  readonly counts: readonly StageCounts[];
  /** Clusters merged during the run (`run.clusters`): cluster sizes are counted by the id each cluster ends with. */
  readonly clusters?: ClusterLinks;
  /** Per-input facts from the reader (`source.stats`). */
  readonly inputs?: readonly InputFacts[];
  /** The full configuration of the run, for the manifest. */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly seed?: string | number | null;
  /** The split stage's report (`splitStage.report`). */
  readonly split?: SplitReportLike;
  /** curate's version (the CLI passes its own); default: this package's. */
  readonly toolVersion?: string;
  /** Wall time of the run; default: since the writer was created. */
  readonly wallMs?: number;
}

/** What the manifest reads from a reader's per-input stats (`@curate/read`'s `InputStats` fits). */
export interface InputFacts {
  readonly path: string;
  readonly bytes?: number;
  readonly sha256?: string;
  readonly records?: number;
  readonly blankLines?: number;
  readonly compression?: string;
  readonly container?: string;
}

/** The parts of @curate/split's report the manifest reads; the whole report is kept under `split`. */
export interface SplitReportLike {
  readonly seed?: string;
  readonly leakage?: LeakageLike;
}

/** The split stage's leakage report, as the manifest stores it at top level. */
export interface LeakageLike {
  readonly ngram: number;
  readonly train: string;
  readonly splits: Readonly<
    Record<
      string,
      {
        readonly records: number;
        readonly exact: number;
        readonly ngram: number;
        readonly examples: readonly {
          readonly kind: "exact" | "ngram";
          readonly heldOut: { readonly file: string; readonly line: number };
          readonly train: { readonly file: string; readonly line: number };
        }[];
      }
    >
  >;
}

/** A split file's writer: JSONL (`AtomicFileWriter`) or Parquet (`ParquetFileWriter`), the same interface. */
type RecordFileWriter = Pick<AtomicFileWriter, "write" | "close" | "abort" | "bytesWritten" | "sha256">;

interface SplitFile {
  readonly name: string;
  readonly file: string;
  readonly writer: RecordFileWriter;
  records: number;
  readonly tokens: { total: TokenColumn; trainable: TokenColumn; missing: number };
}

/**
 * Writes a dataset folder: one JSONL file per split (`train.jsonl`, … or `.jsonl.gz`), `rejects.jsonl`,
 * `duplicates.jsonl` and `manifest.json`. Everything is written into a hidden temp folder inside `dir`; after the
 * conservation law has been checked, `finish()` commits it in one atomic step: each name in `dir` is a symlink
 * through `.curate-current` to the generation folder it points to, and one rename of that link switches the manifest
 * and every split at once (generation.ts). A kill at any moment leaves the old dataset or the new one, never a mix,
 * and no file under a final name that is not complete. Memory: 4 bytes per kept record (token counts for exact percentiles) plus one entry per duplicate
 * cluster.
 * @example
 * const writer = new DatasetWriter({ dir: "out", splits: stage.splits });
 * const run = runPipeline(source, [validate(), stage], writer.sinks);
 * for await (const batch of run.batches) for (const record of batch) writer.write(record);
 * const manifest = writer.finish({ counts: run.counts, clusters: run.clusters, inputs: source.stats, split: stage.report });
 * // `runDataset` in @curate/pipeline does exactly this; use it unless you drive the runner yourself.
 */
export class DatasetWriter {
  readonly dir: string;
  private readonly temp: string;
  private readonly unlock: () => void;
  /** Whether the folder can hold symlinks, so the commit is one atomic switch (generation.ts). */
  private readonly atomic: boolean;
  private forget: () => void = () => {};
  private readonly started = performance.now();
  private readonly options: DatasetWriterOptions;
  private readonly files = new Map<string, SplitFile>();
  private readonly rejects: OrderedJsonlWriter;
  private readonly duplicates: OrderedJsonlWriter;
  private rejected = 0;
  private duplicated = 0;
  private warned = 0;
  private readonly warningsByCode: Record<string, number> = {};
  private readonly clusters = new Map<string, number>();
  private state: "open" | "finished" | "aborted" = "open";

  /** Receivers for `runPipeline`: rejects and duplicates go to their files, warnings are counted. */
  readonly sinks: Required<PipelineSinks>;

  constructor(options: DatasetWriterOptions) {
    this.options = options;
    this.dir = resolve(options.dir);
    const defaultSplit = options.defaultSplit ?? "train";
    for (const name of [...(options.splits ?? []), defaultSplit]) checkSplitName(name);
    if (options.format === "parquet" && options.compress) {
      throw new UsageError(
        "--compress gzips JSONL files; Parquet files are compressed inside (snappy): drop one of --compress and --output-format parquet",
      );
    }
    checkOutputPlace(this.dir, options.splits ?? [], options.inputs ?? []);
    // Locked before the emptiness check, so that two runs cannot both pass it (lock.ts).
    this.unlock = lockFolder(this.dir);
    try {
      prepareDir(this.dir, options.force ?? false);
      this.atomic = symlinksWork(this.dir);
    } catch (error) {
      this.unlock();
      throw error;
    }
    this.temp = join(this.dir, `${TEMP_PREFIX}${process.pid}-${++writers}`);
    mkdirSync(this.temp);
    // Ctrl-C or SIGTERM before the commit: the folder is left as it was (the CLI runs this, then exits).
    this.forget = onInterrupt(this.temp, () => this.abort());
    try {
      for (const name of options.splits ?? []) this.open(name);
      this.rejects = new OrderedJsonlWriter(join(this.temp, "rejects.jsonl"));
      this.duplicates = new OrderedJsonlWriter(join(this.temp, "duplicates.jsonl"));
    } catch (error) {
      rmSync(this.temp, { recursive: true, force: true });
      this.unlock();
      throw error;
    }
    this.sinks = {
      onReject: (rejected) => this.reject(rejected),
      onDuplicate: (duplicate) => this.duplicate(duplicate),
      onWarning: (warning) => this.warning(warning),
    };
  }

  private open(name: string): SplitFile {
    let file = this.files.get(name);
    if (!file) {
      checkSplitName(name);
      const parquet = this.options.format === "parquet";
      const fileName = parquet ? `${name}.parquet` : `${name}.jsonl${this.options.compress ? ".gz" : ""}`;
      file = {
        name,
        file: fileName,
        writer: parquet
          ? new ParquetFileWriter(join(this.temp, fileName), { shown: join(this.options.dir, fileName) })
          : new AtomicFileWriter(join(this.temp, fileName), { gzip: this.options.compress ?? false }),
        records: 0,
        tokens: { total: new TokenColumn(), trainable: new TokenColumn(), missing: 0 },
      };
      this.files.set(name, file);
    }
    return file;
  }

  private checkOpen(): void {
    if (this.state !== "open") throw new InternalError(`DatasetWriter: write after ${this.state}`);
  }

  /** Writes a kept record to the file of its split (`meta.split`, or the default split). */
  write(item: Envelope): void {
    this.checkOpen();
    const split = typeof item.meta?.split === "string" ? item.meta.split : (this.options.defaultSplit ?? "train");
    const file = this.open(split);
    const data = this.options.transform ? this.options.transform(item) : item.data;
    // `jsonOf`: the split stage hands over each record's JSON as it read it back, so it is not serialised twice.
    file.writer.write(`${jsonOf(data)}\n`);
    file.records++;
    const tokens = item.meta?.tokens;
    if (tokens && typeof tokens.total === "number") {
      file.tokens.total.push(tokens.total);
      if (typeof tokens.trainable === "number") file.tokens.trainable.push(tokens.trainable);
    } else file.tokens.missing++;
  }

  /** Writes one line to `rejects.jsonl`: source, stage, code, message, issues, record. */
  reject(rejected: Rejected): void {
    this.checkOpen();
    this.rejects.write(rejected.item.source, rejectLine(rejected));
    this.rejected++;
  }

  /** Writes one line to `duplicates.jsonl` and counts the cluster it belongs to. */
  duplicate(duplicate: Duplicate): void {
    this.checkOpen();
    this.duplicates.write(duplicate.item.source, duplicateLine(duplicate));
    this.duplicated++;
    const { of } = duplicate;
    const cluster = of.cluster ?? sourceId(of.source);
    this.clusters.set(cluster, (this.clusters.get(cluster) ?? 0) + 1);
  }

  /** Counts a warning for the manifest (warnings do not change where a record goes). */
  warning(warning: Warning): void {
    this.warned++;
    this.warningsByCode[warning.issue.code] = (this.warningsByCode[warning.issue.code] ?? 0) + 1;
  }

  /**
   * Closes every file, checks the conservation law (a violation aborts the write and throws an InternalError),
   * writes `manifest.json` and moves everything into `dir`. Returns the manifest.
   */
  finish(context: FinishContext): Manifest {
    this.checkOpen();
    try {
      checkConservation(context.counts);
      const sum = totals(context.counts);
      const splitRecords = [...this.files.values()].reduce((a, f) => a + f.records, 0);
      const inputRecords = inputRecordCount(context.inputs);
      const problems: string[] = [];
      if (sum.read !== splitRecords + sum.rejected + sum.duplicates) {
        problems.push(
          `input ${sum.read} ≠ splits ${splitRecords} + rejected ${sum.rejected} + duplicates ${sum.duplicates}`,
        );
      }
      if (this.rejected !== sum.rejected)
        problems.push(`rejects file has ${this.rejected}, stages rejected ${sum.rejected}`);
      if (this.duplicated !== sum.duplicates) {
        problems.push(`duplicates file has ${this.duplicated}, stages found ${sum.duplicates}`);
      }
      if (inputRecords !== undefined && inputRecords !== sum.read) {
        problems.push(`the inputs hold ${inputRecords} records, the pipeline read ${sum.read}`);
      }
      if (problems.length > 0) {
        throw new InternalError(`conservation law violated, nothing written: ${problems.join("; ")}`, {
          code: "CURATE_CONSERVATION",
        });
      }

      const outputs: OutputFile[] = [];
      for (const f of this.files.values()) {
        f.writer.close();
        outputs.push(output(f.file, "split", f.records, f.writer, this.options.compress ?? false, f.name));
      }
      const [rejectsFile, duplicatesFile] = this.sideFiles();
      outputs.push(output(rejectsFile, "rejects", this.rejected, this.closeSide(this.rejects, rejectsFile), false));
      outputs.push(
        output(duplicatesFile, "duplicates", this.duplicated, this.closeSide(this.duplicates, duplicatesFile), false),
      );

      const tokenStats = splitTokenStats(
        Object.fromEntries([...this.files.values()].map((f) => [f.name, f.tokens] as const)),
      );
      const rejectedByCode: Record<string, number> = {};
      const duplicatesByMethod: Record<string, number> = {};
      for (const c of context.counts) {
        for (const [code, n] of Object.entries(c.rejectedByCode))
          rejectedByCode[code] = (rejectedByCode[code] ?? 0) + n;
        for (const [m, n] of Object.entries(c.duplicatesByMethod))
          duplicatesByMethod[m] = (duplicatesByMethod[m] ?? 0) + n;
      }
      // Duplicates were counted under the cluster id they had when routed; clusters merged later add up.
      const merged = new Map<string, number>();
      for (const [id, n] of this.clusters) {
        const final = context.clusters ? context.clusters.resolve(id) : id;
        merged.set(final, (merged.get(final) ?? 0) + n);
      }
      const clusterSizes: Record<string, number> = {};
      for (const size of [...merged.values()].map((d) => d + 1).sort((a, b) => a - b)) {
        clusterSizes[size] = (clusterSizes[size] ?? 0) + 1;
      }
      const { leakage, ...splitReport } = context.split ?? {};
      const manifest: Manifest = {
        manifestVersion: MANIFEST_VERSION,
        tool: { name: "curate", version: context.toolVersion ?? packageVersion() },
        createdAt: new Date().toISOString(),
        config: { ...(context.config ?? {}) },
        seed: context.seed ?? context.split?.seed ?? null,
        inputs: (context.inputs ?? []).map((input) => ({ ...input }) as InputSummary),
        stages: context.counts.map((c) => ({ ...c, selfMs: Math.round(c.selfMs * 100) / 100 })),
        splits: Object.fromEntries(
          [...this.files.values()].map((f) => [
            f.name,
            { file: f.file, records: f.records, ...(tokenStats[f.name] ? { tokens: tokenStats[f.name] } : {}) },
          ]),
        ),
        rejects: { file: rejectsFile, total: this.rejected, byCode: rejectedByCode },
        duplicates: { file: duplicatesFile, total: this.duplicated, byMethod: duplicatesByMethod, clusterSizes },
        warnings: { total: this.warned, byCode: { ...this.warningsByCode } },
        // Checked against the schema just below, like the rest of the manifest.
        ...(leakage ? { leakage: leakage as Manifest["leakage"] } : {}),
        ...(context.split ? { split: splitReport as Record<string, unknown> } : {}),
        outputs,
        conservation: {
          law: "input records = Σ splits + rejected + duplicates",
          input: sum.read,
          splits: splitRecords,
          rejected: sum.rejected,
          duplicates: sum.duplicates,
          holds: true,
        },
        wallMs: Math.round(context.wallMs ?? performance.now() - this.started),
      };
      const checked = manifestSchema.safeParse(manifest);
      if (!checked.success) {
        throw new InternalError(`the manifest does not match its schema: ${checked.error.message}`, {
          cause: checked.error,
        });
      }
      const manifestFile = new AtomicFileWriter(join(this.temp, "manifest.json"));
      manifestFile.write(`${JSON.stringify(manifest, null, 2)}\n`);
      manifestFile.close();
      this.commit(outputs.map((o) => o.path));
      this.state = "finished";
      this.forget();
      this.unlock();
      return manifest;
    } catch (error) {
      this.abort();
      throw error;
    }
  }

  /** The names of the rejects and duplicates files in the output format. */
  private sideFiles(): [string, string] {
    const ext = this.options.format === "parquet" ? "parquet" : "jsonl";
    return [`rejects.${ext}`, `duplicates.${ext}`];
  }

  /** Closes the rejects or duplicates file (in input order), converted to Parquet when that is the format. */
  private closeSide(writer: OrderedJsonlWriter, file: string): Pick<RecordFileWriter, "bytesWritten" | "sha256"> {
    const jsonl = writer.close();
    if (this.options.format !== "parquet") return jsonl;
    const written = jsonlFileToParquet(jsonl.path, join(this.temp, file), join(this.options.dir, file));
    return { bytesWritten: written.bytes, sha256: written.sha256 };
  }

  /**
   * Switches `dir` to the finished files in one atomic step (generation.ts): a reader sees the old dataset or this
   * one, never a mix. Files of an earlier run that this run did not write (its manifest names them) go after.
   */
  private commit(paths: readonly string[]): void {
    const previous = previousOutputs(this.dir);
    if (this.atomic) commitGeneration(this.dir, this.temp, [...paths, "manifest.json"], previous);
    else commitInPlace(this.dir, this.temp, paths, previous);
  }

  /** Discards everything this writer wrote; `dir` is left as it was (apart from being created). */
  abort(): void {
    if (this.state !== "open") return;
    this.state = "aborted";
    for (const f of this.files.values()) f.writer.abort();
    this.rejects.abort();
    this.duplicates.abort();
    rmSync(this.temp, { recursive: true, force: true });
    this.forget();
    this.unlock();
  }
}

function output(
  path: string,
  role: OutputFile["role"],
  records: number,
  writer: Pick<RecordFileWriter, "bytesWritten" | "sha256">,
  gzip: boolean,
  split?: string,
): OutputFile {
  return {
    path,
    role,
    ...(split !== undefined ? { split } : {}),
    records,
    bytes: writer.bytesWritten,
    sha256: writer.sha256!,
    compression: gzip ? "gzip" : "none",
  };
}

function checkSplitName(name: string): void {
  if (!SPLIT_NAME.test(name)) {
    throw new UsageError(`split name "${name}" cannot be a file name: use letters, digits, _ . - (e.g. "test")`);
  }
}

function inputRecordCount(inputs: readonly InputFacts[] | undefined): number | undefined {
  if (!inputs || inputs.length === 0 || inputs.some((i) => typeof i.records !== "number")) return undefined;
  return inputs.reduce((sum, i) => sum + i.records!, 0);
}

/**
 * Makes sure `dir` can take a dataset: creates it, or checks it is a folder that is empty (or `force`). Temp
 * folders left by a crashed run are not content: they are removed when their process is gone.
 */
function prepareDir(dir: string, force: boolean): void {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) {
      throw new CurateError("CURATE_OUTPUT_EXISTS", `--out ${dir} exists and is not a folder`, { exitCode: 2 });
    }
    entries = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw new CurateError("CURATE_IO", `cannot create the output folder ${dir}: ${(cause as Error).message}`, {
        cause,
      });
    }
    return;
  }
  const content: string[] = [];
  const current = currentGeneration(dir);
  for (const entry of entries) {
    if (entry === LOCK_FILE || entry === SHARD_RESULTS_DIR || sweepGenerationEntry(dir, entry, current)) continue;
    const match = /^\.curate-tmp-(\d+)-\d+$/.exec(entry);
    if (!match) content.push(entry);
    else if (!isAlive(Number(match[1]))) rmSync(join(dir, entry), { recursive: true, force: true });
  }
  if (content.length > 0 && !force) {
    const shown = content.sort().slice(0, 4).join(", ") + (content.length > 4 ? `, … (${content.length} entries)` : "");
    throw new CurateError(
      "CURATE_OUTPUT_EXISTS",
      `the output folder ${dir} is not empty (${shown}); choose another --out or pass --force to replace curate's files in it`,
      { exitCode: 2 },
    );
  }
}

/** Files an earlier run wrote into `dir`, from its manifest; only plain names, so a bad manifest cannot reach out. */
function previousOutputs(dir: string): string[] {
  try {
    const old = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { outputs?: { path?: unknown }[] };
    return (old.outputs ?? [])
      .map((o) => o.path)
      .filter((p): p is string => typeof p === "string" && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(p));
  } catch {
    return [];
  }
}
