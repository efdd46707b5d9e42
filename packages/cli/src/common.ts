/**
 * Helpers every `curate` command shares: option parsing, reading inputs, routing kept records, rejects and
 * duplicates to their files, progress on a TTY, and summaries. Commands import only this and their own stage.
 *
 * Start-up: `curate --help` and `curate validate` must not load what they do not use, so this module imports only
 * commander and @curate/core (no zod) at the top; the reader and writers load inside `runCommand`/`openSink`.
 */
import {
  type Duplicate,
  type Rejected,
  type Stage,
  type StageCounts,
  type totals,
  UsageError,
  type Warning,
} from "@curate/core";
import { type OptionSpec, optionSpec } from "@curate/pipeline/options";
import type { InputStats, ReadOptions } from "@curate/read";
import type { TextSink } from "@curate/write";
import { type Command, InvalidArgumentError, Option } from "commander";

// ---------------------------------------------------------------------------------------------------------------
// Option parsing

/** Commander collector for repeatable options: `--key a --key b` → ["a", "b"]. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Commander parser for a non-negative integer option. */
export function parseInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected a whole number ≥ 0, found "${value}"`);
  return n;
}

/** Commander parser for a positive integer option. */
export function parsePositive(value: string): number {
  const n = parseInteger(value);
  if (n === 0) throw new InvalidArgumentError(`expected a whole number ≥ 1, found "${value}"`);
  return n;
}

/** Commander parser for a number in [0, 1]. */
export function parseFraction(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new InvalidArgumentError(`expected a number between 0 and 1, found "${value}"`);
  }
  return n;
}

/**
 * A commander option from a spec of @curate/pipeline's option table: its flag, help, parser and default, so that
 * every command that takes the option spells and checks it the same way.
 * @example command.addOption(optionFrom(optionSpec("threshold")));
 */
export function optionFrom(spec: OptionSpec, defaults: "show" | "apply" = "show"): Option {
  const option = new Option(spec.flag, spec.help);
  const v = spec.value;
  if (v.kind === "int") {
    const parse = v.min >= 1 ? parsePositive : parseInteger;
    const max = v.max;
    option.argParser(
      max === undefined
        ? parse
        : (value: string) => {
            const n = parse(value);
            if (n > max) throw new InvalidArgumentError(`expected a whole number ≤ ${max}, found "${value}"`);
            return n;
          },
    );
  } else if (v.kind === "fraction") option.argParser(parseFraction);
  else if (v.kind === "choice") option.choices(v.choices);
  else if (v.kind === "list") option.argParser(collect);
  if (spec.env !== undefined) option.env(spec.env);
  if (spec.default !== undefined && v.kind !== "boolean") {
    const d = spec.default;
    const shown = typeof d === "number" && d >= 1 << 20 && d % (1 << 20) === 0 ? `${d / (1 << 20)} MiB` : String(d);
    // `show`: in the help only (the stage applies it); `apply`: the command reads the value itself.
    if (defaults === "apply") option.default(d, shown);
    else option.description = `${spec.help} (default ${shown})`;
  }
  return option;
}

/** The options every data command takes. */
export interface IoOptions {
  out?: string;
  outputFormat?: "jsonl" | "parquet";
  rejects?: string;
  duplicates?: string;
  json?: boolean;
  quiet?: boolean;
  maxLineBytes?: number;
  maxDepth?: number;
}

/**
 * Adds the shared input/output options to a command: `[inputs...]`, `--out`, `--rejects`, `--duplicates`, `--json`,
 * `--quiet`, `--max-line-bytes`, `--max-depth`. Pass `duplicates: false` for commands that never produce duplicates.
 * @example addIoOptions(program.command("dedup"), { duplicates: true });
 */
export function addIoOptions(command: Command, which: { duplicates?: boolean; out?: boolean } = {}): Command {
  command.argument(
    "[inputs...]",
    "JSONL/JSON (gzip/zstd ok) or Parquet files, directories or globs; - or nothing reads stdin",
  );
  if (which.out !== false) {
    command.option("-o, --out <file>", "write kept records as JSONL (or --output-format) to this file (- for stdout)");
    command.addOption(optionFrom(optionSpec("outputFormat")));
  }
  command.option("--rejects <file>", "write rejected records with their reasons as JSONL");
  if (which.duplicates) command.option("--duplicates <file>", "write duplicates with the record they duplicate");
  command
    .option("--json", "print a machine-readable summary (JSON) instead of the table")
    .option("-q, --quiet", "no progress or summary on stderr")
    .addOption(optionFrom(optionSpec("maxLineBytes"), "apply"))
    .addOption(optionFrom(optionSpec("maxDepth"), "apply"));
  return command;
}

// ---------------------------------------------------------------------------------------------------------------
// Running a command's stages

export interface CommandRunOptions {
  readonly inputs: readonly string[];
  readonly stages: readonly Stage[];
  /** Where kept records go: a file, "-" for stdout, or undefined to discard them (counts only). */
  readonly out?: string | undefined;
  readonly rejects?: string | undefined;
  readonly duplicates?: string | undefined;
  /** The format of `out`, `rejects` and `duplicates` files (default JSONL). */
  readonly outputFormat?: "jsonl" | "parquet" | undefined;
  readonly quiet?: boolean | undefined;
  readonly maxLineBytes?: number | undefined;
  readonly maxDepth?: number | undefined;
  /** Extra observers, called after the files are written to (e.g. to print diagnostics). */
  readonly onReject?: (rejected: Rejected) => void;
  readonly onDuplicate?: (duplicate: Duplicate) => void;
  readonly onWarning?: (warning: Warning) => void;
}

export interface CommandRunResult {
  readonly counts: readonly StageCounts[];
  readonly totals: ReturnType<typeof totals>;
  readonly inputs: readonly InputStats[];
  readonly wallMs: number;
}

/**
 * Opens the sink for `--out`-like options: "-" is stdout, a path is an atomic file, undefined is none. With
 * `format: "parquet"` the file is Parquet; `asJsonText` keys (a reject's `record`) are stored as JSON text there.
 */
export async function openSink(
  target: string | undefined,
  format: "jsonl" | "parquet" = "jsonl",
  asJsonText: readonly string[] = [],
): Promise<TextSink | undefined> {
  if (target === undefined) return undefined;
  const { fileSink, loadParquetWriter, parquetSink, stdoutSink } = await import("@curate/write");
  if (format === "parquet") {
    await loadParquetWriter();
    return parquetSink(target, asJsonText);
  }
  return target === "-" ? stdoutSink() : fileSink(target);
}

const preparations = new WeakMap<Command, () => Promise<void>>();

/**
 * Runs `prepare` once `command` has been picked from the command line and before it parses its arguments, so
 * before its `--help` is printed: for option descriptions and help texts built from a heavy package (the format
 * names, the rules), which `curate --help` and the other commands then never load. `curate help <command>` does
 * not dispatch to the command: `main` calls `prepareHelp` for it.
 * @example beforeParse(command, async () => { to.description = (await import("@curate/formats")).formatNames.join(); });
 */
export function beforeParse(command: Command, prepare: () => Promise<void>): void {
  const parent = command.parent;
  if (!parent) throw new Error("beforeParse(): register the command on its program first");
  let done: Promise<void> | undefined;
  const once = () => {
    done ??= prepare();
    return done;
  };
  preparations.set(command, once);
  parent.hook("preSubcommand", async (_parent, picked) => {
    if (picked === command) await once();
  });
}

/**
 * Commander prints `curate help <command>` straight from the command, without the `preSubcommand` hook that
 * `beforeParse` relies on: run the command's preparation first. `args` are the user's arguments (no node, no script).
 * @example await prepareHelp(program, process.argv.slice(2));
 */
export async function prepareHelp(program: Command, args: readonly string[]): Promise<void> {
  const [first, name] = args;
  if (first !== "help" || name === undefined) return;
  const command = program.commands.find((c) => c.name() === name || c.aliases().includes(name));
  const prepare = command && preparations.get(command);
  if (prepare) await prepare();
}

/**
 * Reads `inputs`, runs `stages`, writes kept records to `out` and the other routes to their files. Files are written
 * atomically: on failure none of them appears under its final name.
 * @example const result = await runCommand({ inputs: ["data.jsonl"], stages: [exactDedup()], out: "-" });
 */
export async function runCommand(options: CommandRunOptions): Promise<CommandRunResult> {
  const [{ readInputs, resolveInputs }, { runStreams }] = await Promise.all([
    import("@curate/read"),
    import("@curate/pipeline"),
  ]);
  const readOptions: ReadOptions = {
    ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}),
    ...(options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {}),
  };
  const resolved = await resolveInputs(options.inputs, readOptions);
  const progress = createProgress(
    resolved.reduce((sum, input) => sum + (input.bytes ?? 0), 0),
    options.quiet,
  );
  const source = readInputs(options.inputs, { ...readOptions, onBytes: progress.bytes });
  try {
    const run = await runStreams({
      source,
      stages: options.stages,
      out: await openSink(options.out, options.outputFormat),
      rejects: await openSink(options.rejects, options.outputFormat, ["record"]),
      duplicates: await openSink(options.duplicates, options.outputFormat, ["record"]),
      sinks: {
        ...(options.onReject ? { onReject: options.onReject } : {}),
        ...(options.onDuplicate ? { onDuplicate: options.onDuplicate } : {}),
        ...(options.onWarning ? { onWarning: options.onWarning } : {}),
      },
      onRecords: progress.records,
    });
    return { counts: run.counts, totals: run.totals, inputs: source.stats, wallMs: run.wallMs };
  } finally {
    progress.done();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Progress and summaries (stderr only)

interface Progress {
  bytes(n: number): void;
  records(n: number): void;
  done(): void;
}

/**
 * Progress on stderr, only when stderr is a TTY and not `--quiet`: records/s, MB/s, percent and ETA from input bytes.
 */
export function createProgress(totalBytes: number, quiet = false): Progress {
  const stream = process.stderr;
  if (quiet || !stream.isTTY) return { bytes() {}, records() {}, done() {} };
  const started = performance.now();
  let bytes = 0;
  let records = 0;
  let last = 0;
  let shown = false;
  const draw = () => {
    const seconds = (performance.now() - started) / 1000;
    const mbps = bytes / 1e6 / Math.max(seconds, 1e-3);
    const rps = records / Math.max(seconds, 1e-3);
    let line = `${formatCount(records)} records  ${formatCount(Math.round(rps))}/s  ${mbps.toFixed(1)} MB/s`;
    if (totalBytes > 0) {
      const fraction = Math.min(1, bytes / totalBytes);
      const eta = fraction > 0 ? (seconds / fraction) * (1 - fraction) : 0;
      line += `  ${(fraction * 100).toFixed(1)}%  ETA ${eta.toFixed(0)}s`;
    }
    stream.write(`\r\x1b[2K${line}`);
    shown = true;
  };
  const tick = () => {
    const now = performance.now();
    if (now - last > 200) {
      last = now;
      draw();
    }
  };
  return {
    bytes(n) {
      bytes += n;
      tick();
    },
    records(n) {
      records += n;
      tick();
    },
    done() {
      if (shown) stream.write("\r\x1b[2K");
    },
  };
}

/** Writes one line to stderr. The only place commands print human-readable text. */
export function note(text: string): void {
  process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** Writes a value as pretty JSON to stdout (for `--json`). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A plain text table with right-aligned numbers, for summaries on stderr.
 * @example table([["records", 10], ["kept", 8]]);
 */
export function table(rows: readonly (readonly (string | number)[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, format(cell).length);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          typeof cell === "number" ? format(cell).padStart(widths[i]!) : format(cell).padEnd(widths[i]!),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function format(cell: string | number): string {
  return typeof cell === "number" ? formatCount(cell) : cell;
}

/**
 * A number as `toLocaleString("en-US")` writes it ("12,345"). Written by hand for whole numbers because the first
 * `toLocaleString`/`Intl.NumberFormat` call in a process loads ICU's locale data: 20–50 ms measured here, a sixth
 * of `curate validate`'s start-up on a 10-line file. Other numbers (fractions, -0, beyond 2^53) still go to ICU.
 * @example formatCount(1234567); // "1,234,567"
 */
export function formatCount(n: number): string {
  if (!Number.isSafeInteger(n) || Object.is(n, -0)) return n.toLocaleString("en-US");
  const digits = String(Math.abs(n));
  let out = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let i = out.length; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
}

/**
 * The standard summary of a run: records read, kept, rejected by code, duplicates by method, per stage.
 * @example note(summaryTable(result));
 */
export function summaryTable(result: CommandRunResult): string {
  const rows: (string | number)[][] = [["records read", result.totals.read]];
  for (const c of result.counts) {
    for (const [code, n] of Object.entries(c.rejectedByCode).sort()) rows.push([`  rejected (${c.name}: ${code})`, n]);
    for (const [method, n] of Object.entries(c.duplicatesByMethod).sort())
      rows.push([`  duplicates (${c.name}: ${method})`, n]);
    for (const [code, n] of Object.entries(c.warningsByCode).sort()) rows.push([`  warnings (${c.name}: ${code})`, n]);
  }
  rows.push(["kept", result.totals.kept]);
  return table(rows);
}

/** The machine-readable form of a run, for `--json`. */
export function summaryJson(result: CommandRunResult): Record<string, unknown> {
  return {
    ...result.totals,
    stages: result.counts,
    inputs: result.inputs,
    wallMs: Math.round(result.wallMs),
  };
}

/** Rejects an option combination with a usage error (exit 2). */
export function usage(message: string): never {
  throw new UsageError(message);
}
