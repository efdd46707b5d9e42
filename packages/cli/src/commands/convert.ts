import { UsageError } from "@curate/core";
import type { FormatName } from "@curate/formats";
import type { RuleSettings, rules as ruleList } from "@curate/validate";
import { type Command, Option } from "commander";
import {
  addIoOptions,
  beforeParse,
  type IoOptions,
  note,
  parseInteger,
  printJson,
  runCommand,
  summaryJson,
  summaryTable,
} from "../common.js";
import { checkJsonStdout } from "../json-output.js";

const help = `
Examples:
  $ curate convert --to chat fixtures/alpaca/valid.jsonl > chat.jsonl
  $ curate convert --from sharegpt --to chat data/ --out chat.jsonl --rejects unconverted.jsonl
  $ curate convert --to alpaca chat.jsonl --extra drop        drop keys alpaca has no place for (id, source, ...)
  $ curate convert --to dpo pairs.jsonl                       preference pairs → OpenAI DPO

Directions: chat, alpaca, prompt_completion and sharegpt convert into each other (through chat);
dpo and pairs convert into each other. Alpaca → chat joins instruction and input into the user
message ("instruction\\n\\ninput"), so alpaca → chat → alpaca gives the same record only when input
is empty.

Nothing is lost silently: a record that uses something the target format cannot hold (tool calls
going to alpaca, a second turn going to prompt_completion, a key such as "id") is rejected with
code unmapped_field and one line per field on stderr; --extra keep|drop decides for keys the source
format does not define. Records are checked for shape first (the format's schema); run
'curate validate' for the content rules. Converted records go to stdout unless --out is given.

Exit codes: 0 every record converted, 1 some records were rejected, 2 usage or internal error.`;

interface ConvertCommandOptions extends IoOptions {
  to: string;
  from: string;
  extra: "error" | "keep" | "drop";
  maxErrors?: number;
}

/** Conversion checks shape only: the content rules (who speaks last, empty text) are `curate validate`'s job. */
function shapeOnly(shapeCodes: readonly string[], rules: typeof ruleList): RuleSettings {
  const shape = new Set<string>([...shapeCodes, "unknown_format", "format_mismatch"]);
  const settings: Record<string, "off"> = {};
  for (const rule of rules) if (!shape.has(rule.code)) settings[rule.code] = "off";
  return settings as RuleSettings;
}

/**
 * `curate convert`: converts records between formats without losing fields silently.
 * @example registerConvert(program); // curate convert --to chat alpaca.jsonl
 */
export function registerConvert(program: Command): void {
  // The format names come from @curate/formats (zod schemas): loaded only when `convert` is the command being run.
  const to = new Option("-t, --to <format>", "target format").makeOptionMandatory();
  const command = program
    .command("convert")
    .summary("convert records between formats (alpaca, sharegpt, prompt/completion ↔ chat; pairs ↔ dpo)")
    .description(
      "Convert records to another format. Records that would lose a field in the target format are rejected with the field named, never converted partially.",
    )
    .addOption(to)
    .addOption(new Option("--from <format>", "source format (auto: detected per file)").default("auto"))
    .addOption(
      new Option("--extra <policy>", "keys the source format does not define: error, keep (copy over) or drop")
        .choices(["error", "keep", "drop"])
        .default("error"),
    )
    .addOption(new Option("--max-errors <n>", "list at most N problems on stderr").argParser(parseInteger));
  addIoOptions(command);
  beforeParse(command, async () => {
    const { formatNames } = await import("@curate/formats");
    to.description = `target format: ${formatNames.join(", ")}`;
  });
  command.addHelpText("after", help).action(async (inputs: string[], options: ConvertCommandOptions) => {
    const [
      { canConvert, convertTo, formatNames, isFormatName, shapeCodes },
      { formatDiagnostic, rejectDiagnostics, rules, validate },
      { stdoutSink },
    ] = await Promise.all([import("@curate/formats"), import("@curate/validate"), import("@curate/write")]);
    if (!isFormatName(options.to)) {
      throw new UsageError(`--to must be one of ${formatNames.join(", ")}, found "${options.to}"`);
    }
    if (options.from !== "auto" && !isFormatName(options.from)) {
      throw new UsageError(`--from must be auto or one of ${formatNames.join(", ")}, found "${options.from}"`);
    }
    const to: FormatName = options.to;
    const from = options.from as FormatName | "auto";
    if (from !== "auto" && !canConvert(from, to)) {
      throw new UsageError(
        `cannot convert ${from} to ${to}: chat, alpaca, prompt_completion and sharegpt convert into each other, and dpo and pairs`,
      );
    }
    const out = options.out ?? "-";
    checkJsonStdout("convert", options.json, out);
    const errors = stdoutSink(process.stderr);
    let shown = 0;
    let problems = 0;
    let result: Awaited<ReturnType<typeof runCommand>>;
    try {
      result = await runCommand({
        outputFormat: options.outputFormat,
        inputs,
        stages: [
          validate({ format: from, rules: shapeOnly(shapeCodes, rules) }),
          convertTo({ to, from, extra: options.extra }),
        ],
        out,
        rejects: options.rejects,
        quiet: options.quiet,
        maxLineBytes: options.maxLineBytes,
        maxDepth: options.maxDepth,
        onReject(rejected) {
          for (const d of rejectDiagnostics(rejected)) {
            if (d.severity !== "error") continue;
            problems++;
            if (options.quiet || (options.maxErrors !== undefined && shown >= options.maxErrors)) continue;
            shown++;
            errors.write(`${formatDiagnostic(d)}\n`);
          }
        },
      });
    } finally {
      errors.close();
    }
    if (result.totals.rejected > 0) process.exitCode = 1;
    if (options.json) {
      printJson({ ...summaryJson(result), to, from });
      return;
    }
    if (options.quiet) return;
    if (problems > shown && !options.quiet) note(`… ${problems - shown} more problems not shown (--max-errors)`);
    note(summaryTable(result));
  });
}
