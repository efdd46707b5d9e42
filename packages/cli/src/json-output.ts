import { UsageError } from "@curate/core";

/**
 * The one rule for `--json`, every command alike: the JSON goes to stdout. A command that would write records to
 * stdout as well (dedup, tokens and convert by default, validate with `--out -`) refuses `--json` there, exit 2,
 * and says to write the records to a file, rather than mixing the two or moving the JSON to stderr for some
 * commands and not others.
 * @example checkJsonStdout("dedup", true, "-"); // throws: --json prints to stdout, where the records go too …
 */
export function checkJsonStdout(command: string, json: boolean | undefined, out: string | undefined): void {
  if (json !== true || out !== "-") return;
  throw new UsageError(
    `--json prints its JSON to stdout, and curate ${command} would write the records there too: give --out FILE for the records (e.g. curate ${command} data.jsonl --out kept.jsonl --json > summary.json)`,
  );
}
