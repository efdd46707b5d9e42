#!/usr/bin/env node
/**
 * `curate-validate`: the pre-commit hook's entry point. It is `curate validate` alone, bundled into one file with
 * its dependencies (scripts/bundle.mjs), so the hook installs from this repository in seconds without the
 * workspace packages or any tokenizer.
 */
import { Command } from "commander";
import { registerValidate } from "./commands/validate.js";
import { reportError, version } from "./process.js";

async function hook(argv: readonly string[]): Promise<number> {
  const program = new Command("curate").version(version, "-V, --version").exitOverride();
  registerValidate(program);
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync(["validate", ...argv.slice(2)], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    return reportError(error);
  }
}

process.exitCode = await hook(process.argv);
