import { UsageError } from "@curate/core";
import type { FormatName, formats as formatTable } from "@curate/formats";
import type { Diagnostic, rules as ruleList } from "@curate/validate";
import type { TextSink } from "@curate/write";
import { type Command, Option } from "commander";
import {
  addIoOptions,
  beforeParse,
  collect,
  formatCount,
  type IoOptions,
  note,
  parseInteger,
  runCommand,
  table,
} from "../common.js";
import { checkJsonStdout } from "../json-output.js";

// The formats and rules come from @curate/formats and @curate/validate (zod schemas): loaded when `validate` is the
// command being run (see `beforeParse`), never by `curate --help` or the other commands.
const examples = `
Examples:
  $ curate validate data/train.jsonl                       list every problem, exit 1 if any record is invalid
  $ curate validate data/ --format chat --strict           force the format; unknown keys are errors
  $ curate validate raw.jsonl.gz --out clean.jsonl --rejects rejects.jsonl
                                                           clean a file: valid records out, invalid ones aside
  $ curate validate data.jsonl --rule system_not_first=error --rule control_characters=off
  $ curate validate tickets.jsonl --schema ticket.schema.json
  $ curate validate data.jsonl --json | jq -c 'select(.type == "diagnostic")'

Output:
  Every problem is one line on stderr, errors and warnings alike:
    file:line[:col] severity code [path] message
    data/train.jsonl:17 error unrecognized_role messages[1].role expected one of system|developer|user|assistant|tool, found "wizard"
  then a summary (records, valid, problems by code). Valid records are written only with --out
  (--out - writes them to stdout). With --json, diagnostics and the summary are JSON lines
  ({"type":"diagnostic",...} per problem, then one {"type":"summary",...}) on stdout, as every command's
  --json is; --json with --out - is refused (exit 2): stdout never mixes records and diagnostics.`;

const exitCodes =
  "Exit codes: 0 every record is valid (warnings allowed), 1 some records are invalid, 2 usage or internal error.";

/** The full help text, with the format and rule tables. */
function helpText(formatNames: readonly FormatName[], formats: typeof formatTable, rules: typeof ruleList): string {
  const ruleLines = rules.map((r) => `  ${r.code.padEnd(34)}${r.severity.padEnd(7)}${r.description}`).join("\n");
  return `${examples}

Formats (--format, default auto: each file's format is detected from its first records):
${formatNames.map((name) => `  ${name.padEnd(18)}${formats[name].description}`).join("\n")}

Rules (code, default severity; change one with --rule code=error|warn|off; --strict makes unknown keys errors):
${ruleLines}

${exitCodes}`;
}

interface ValidateCommandOptions extends IoOptions {
  format: string;
  schema?: string;
  strict?: boolean;
  rule?: string[];
  maxErrors?: number;
  perCode: number;
}

/** Diagnostics held back at most, to print them in line order (beyond this they are printed as they are). */
const REORDER_LIMIT = 20_000;

/**
 * Counts diagnostics by code and prints them, as text or JSON lines, up to `--max-errors` of each severity, in file
 * and line order. Order needs a buffer: the reader reports unparsable lines as it reads them, while validate holds
 * a file's first records back until it has detected the file's format.
 */
class DiagnosticPrinter {
  readonly errorsByCode: Record<string, number> = {};
  readonly warningsByCode: Record<string, number> = {};
  errors = 0;
  warnings = 0;
  private shownErrors = 0;
  private shownWarnings = 0;
  private held = new Map<string, Diagnostic[]>();
  private heldCount = 0;
  /** Per file, records per `code path`: what `explainFailures` reads. */
  readonly issuesByFile = new Map<string, Map<string, number>>();
  /** Text lines printed per `severity code`, and those held back beyond `perCode`. */
  private shownByCode = new Map<string, number>();
  readonly suppressed = new Map<string, number>();

  constructor(
    private readonly formatDiagnostic: (d: Diagnostic) => string,
    private readonly sink: TextSink,
    private readonly json: boolean,
    private readonly limit: number | undefined,
    private readonly showWarnings: boolean,
    /** Text output shows the first `perCode` diagnostics of each code, then counts the rest (0: no limit). */
    private readonly perCode: number,
  ) {}

  add(d: Diagnostic): void {
    let issues = this.issuesByFile.get(d.file);
    if (!issues) {
      issues = new Map();
      this.issuesByFile.set(d.file, issues);
    }
    const key = `${d.code} ${d.path ?? ""}`;
    issues.set(key, (issues.get(key) ?? 0) + 1);
    const isError = d.severity === "error";
    const byCode = isError ? this.errorsByCode : this.warningsByCode;
    byCode[d.code] = (byCode[d.code] ?? 0) + 1;
    if (isError) this.errors++;
    else {
      this.warnings++;
      if (!this.showWarnings) return;
    }
    const list = this.held.get(d.file);
    if (list) list.push(d);
    else this.held.set(d.file, [d]);
    if (++this.heldCount >= REORDER_LIMIT) this.flush();
  }

  /** Prints what is held, each file's diagnostics by line (a stable sort keeps a record's own order). */
  flush(): void {
    for (const list of this.held.values()) {
      list.sort((a, b) => a.line - b.line || (a.record ?? 0) - (b.record ?? 0));
      for (const d of list) this.print(d);
    }
    this.held = new Map();
    this.heldCount = 0;
  }

  private print(d: Diagnostic): void {
    const shown = d.severity === "error" ? ++this.shownErrors : ++this.shownWarnings;
    if (this.limit !== undefined && shown > this.limit) return;
    if (!this.json && this.perCode > 0) {
      // Repeats are grouped: the first few of each code show what is wrong, the count says how often.
      const code = `${d.severity} ${d.code}`;
      const n = (this.shownByCode.get(code) ?? 0) + 1;
      this.shownByCode.set(code, n);
      if (n > this.perCode) {
        this.suppressed.set(code, (this.suppressed.get(code) ?? 0) + 1);
        return;
      }
    }
    this.sink.write(this.json ? `${JSON.stringify({ type: "diagnostic", ...d })}\n` : `${this.formatDiagnostic(d)}\n`);
  }

  /** Lines counting the repeats `perCode` held back, one per code. */
  grouped(): string[] {
    return [...this.suppressed].map(
      ([code, n]) =>
        `… ${formatCount(n)} more ${code.split(" ")[1]} ${code.startsWith("error") ? "errors" : "warnings"} like the ${this.perCode} above (--per-code 0 lists them all)`,
    );
  }

  /** A line saying how many were not shown, when --max-errors cut the list. */
  hidden(): string | undefined {
    if (this.limit === undefined) return undefined;
    const errors = Math.max(0, this.errors - this.limit);
    const warnings = this.showWarnings ? Math.max(0, this.warnings - this.limit) : 0;
    if (errors + warnings === 0) return undefined;
    const parts = [errors > 0 ? `${errors} more errors` : "", warnings > 0 ? `${warnings} more warnings` : ""];
    return `… ${parts.filter(Boolean).join(" and ")} not shown (--max-errors ${this.limit}); the summary counts them all`;
  }
}

/**
 * `curate validate`: checks every record against its format and the rules, lists every problem, and optionally
 * writes the valid records (`--out`) and the invalid ones with their reasons (`--rejects`).
 * @example registerValidate(program); // curate validate data/*.jsonl --strict
 */
export function registerValidate(program: Command): void {
  const format = new Option("-f, --format <name>", "record format: auto or a format name").default("auto");
  const command = program
    .command("validate")
    .summary("check records against their format and the rules; list every problem")
    .description(
      "Check every record against its format (detected per file, or --format) and the validation rules, and list every problem as file:line severity code path message. With --out the valid records are written, with --rejects the invalid ones with their reasons, so the same command cleans a file.",
    )
    .addOption(format)
    .option(
      "--schema <file>",
      "also check against your schema: a JSON Schema (.json) or a module exporting a zod schema",
    )
    .option("--strict", "unknown keys are errors, not warnings")
    .option("--rule <code=level>", "set a rule to error, warn or off (repeatable)", collect)
    .addOption(
      new Option("--max-errors <n>", "list at most N errors and N warnings (the summary still counts all)").argParser(
        parseInteger,
      ),
    )
    .addOption(
      new Option(
        "--per-code <n>",
        "list the first N problems of each code, then count the rest (0: list all; --json lists all)",
      )
        .argParser(parseInteger)
        .default(10),
    );
  addIoOptions(command);
  const json = command.options.find((o) => o.long === "--json");
  if (json) json.description = "print diagnostics and the summary as JSON lines (see Output below)";
  const quiet = command.options.find((o) => o.long === "--quiet");
  if (quiet) quiet.description = "print errors only: no warnings, no summary";

  // Without the tables only when the help is built outside a parse (helpInformation() on a fresh program).
  let help = `${examples}\n\n${exitCodes}`;
  beforeParse(command, async () => {
    const [{ formatNames, formats }, { rules }] = await Promise.all([
      import("@curate/formats"),
      import("@curate/validate"),
    ]);
    format.description = `record format: auto or one of ${formatNames.join(", ")}`;
    help = helpText(formatNames, formats, rules);
  });

  command.addHelpText("after", () => help);
  command.action(async (inputs: string[], options: ValidateCommandOptions) => {
    const [
      { formatNames, isFormatName, loadUserSchema },
      { explainFailures, formatDiagnostic, parseRuleSettings, rejectDiagnostics, validate, warningDiagnostic },
      { stdoutSink },
    ] = await Promise.all([import("@curate/formats"), import("@curate/validate"), import("@curate/write")]);
    if (options.format !== "auto" && !isFormatName(options.format)) {
      throw new UsageError(`--format must be auto or one of ${formatNames.join(", ")}, found "${options.format}"`);
    }
    const ruleSettings = parseRuleSettings(options.rule ?? []);
    const schema = options.schema === undefined ? undefined : await loadUserSchema(options.schema);
    const stage = validate({
      // With --schema alone, only the user's schema applies; --format adds a built-in format's checks.
      format: options.schema !== undefined && options.format === "auto" ? "none" : (options.format as "auto"),
      rules: ruleSettings,
      strict: options.strict ?? false,
      ...(schema ? { schema } : {}),
    });

    // stdout never mixes records and diagnostics: JSON diagnostics own stdout, so --json with --out - is refused.
    checkJsonStdout("validate", options.json, options.out);
    const jsonOut = options.json === true;
    const diagnostics = stdoutSink(jsonOut ? process.stdout : process.stderr);
    const printer = new DiagnosticPrinter(
      formatDiagnostic,
      diagnostics,
      jsonOut,
      options.maxErrors,
      !options.quiet || jsonOut,
      options.perCode,
    );
    const unknownFormatKeys = new Map<string, string[]>();

    let result: Awaited<ReturnType<typeof runCommand>>;
    try {
      result = await runCommand({
        outputFormat: options.outputFormat,
        inputs,
        stages: [stage],
        out: options.out,
        rejects: options.rejects,
        quiet: options.quiet || jsonOut,
        maxLineBytes: options.maxLineBytes,
        maxDepth: options.maxDepth,
        onReject: (rejected) => {
          const { file } = rejected.item.source;
          const data = rejected.item.data;
          if (
            rejected.reason.code === "unknown_format" &&
            !unknownFormatKeys.has(file) &&
            typeof data === "object" &&
            data !== null
          )
            unknownFormatKeys.set(file, Object.keys(data));
          for (const d of rejectDiagnostics(rejected)) printer.add(d);
        },
        onWarning: (warning) => printer.add(warningDiagnostic(warning)),
      });
      printer.flush();
    } finally {
      diagnostics.close();
    }

    const { read, kept, rejected } = result.totals;
    if (rejected > 0) process.exitCode = 1;
    const hidden = printer.hidden();
    // When most records of a file fail the same way, say what the file probably is.
    const hints = result.inputs.flatMap((input) => {
      const issues = printer.issuesByFile.get(input.path);
      const keys = unknownFormatKeys.get(input.path);
      const hint =
        issues &&
        explainFailures({
          file: input.path,
          records: input.records,
          issues,
          ...(keys ? { unknownFormatKeys: keys } : {}),
        });
      return hint ? [hint] : [];
    });
    const empty =
      read === 0 ? `no records read: ${inputs.length === 0 ? "stdin was" : "the input is"} empty` : undefined;
    if (jsonOut) {
      const summary = {
        type: "summary",
        records: read,
        valid: kept,
        invalid: rejected,
        errors: printer.errors,
        warnings: printer.warnings,
        errorsByCode: printer.errorsByCode,
        warningsByCode: printer.warningsByCode,
        ...(hints.length > 0 ? { hints } : {}),
        ...(empty ? { empty: true } : {}),
        inputs: result.inputs,
        wallMs: Math.round(result.wallMs),
      };
      const sink = stdoutSink(process.stdout);
      sink.write(`${JSON.stringify(summary)}\n`);
      sink.close();
      return;
    }
    if (hidden) note(hidden);
    for (const line of printer.grouped()) note(line);
    for (const hint of hints) note(`hint: ${hint}`);
    if (options.quiet) return;
    if (empty) {
      note(`curate validate: ${empty}; nothing was checked`);
      return;
    }
    const files = result.inputs.length;
    const rows: (string | number)[][] = [
      ["records", read],
      ["valid", kept],
      ["invalid", rejected],
    ];
    if (printer.errors > 0) rows.push(["errors", printer.errors]);
    for (const [code, n] of Object.entries(printer.errorsByCode).sort(
      (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1),
    )) {
      rows.push([`  ${code}`, n]);
    }
    if (printer.warnings > 0) rows.push(["warnings", printer.warnings]);
    for (const [code, n] of Object.entries(printer.warningsByCode).sort(
      (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1),
    )) {
      rows.push([`  ${code}`, n]);
    }
    const verdict =
      rejected === 0
        ? `curate validate: ${files === 1 ? "1 file" : `${files} files`}, all ${formatCount(read)} records valid`
        : `curate validate: ${formatCount(rejected)} of ${formatCount(read)} records invalid in ${files === 1 ? "1 file" : `${files} files`}`;
    note(`${table(rows)}\n${verdict}`);
  });
}
