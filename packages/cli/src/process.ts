import { readFileSync } from "node:fs";
import { type CurateError, isCurateError } from "@curate/core";
import { CommanderError } from "commander";

/** curate's version, from the CLI package's package.json. */
export const version: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** Prints an error for a person (no stack trace unless CURATE_DEBUG=1) and returns its exit code. */
export function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version "errors" are how commander stops after printing them.
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.exitCode === 0)
      return 0;
    return 2; // commander already printed the message
  }
  const debug = process.env.CURATE_DEBUG === "1";
  if (isCurateError(error)) {
    process.stderr.write(`curate: error: ${error.message}\n`);
    if (debug) process.stderr.write(`${(error as CurateError).stack}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `curate: internal error: ${message}\nThis is a bug in curate; please report it with the command you ran${debug ? "" : " (set CURATE_DEBUG=1 for a stack trace)"}.\n`,
  );
  if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 2;
}
