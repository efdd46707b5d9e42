import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./cli.js";

/** A pre-commit client to run, or why there is none. */
export type PreCommitClient =
  | { readonly found: true; readonly command: string; readonly version: string }
  | { readonly found: false; readonly reason: string };

/** Under CI every client must be there; elsewhere a missing one skips its tests with this note. */
export const inCi = process.env.CI === "true";

/** What a finished child process said, for assertion messages: the spawn error, the exit status and its output. */
export function explain(result: ReturnType<typeof spawnSync>): string {
  const error = result.error === undefined ? "" : `spawn error: ${result.error.message}\n`;
  return `${error}exit status ${result.status} (signal ${result.signal})\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

function versionOf(command: string): string | undefined {
  const result = spawnSync(command, ["--version"], { encoding: "utf8" });
  return result.status === 0 ? /pre-commit (\S+)/.exec(result.stdout)?.[1] : undefined;
}

function major(version: string): number {
  return Number(version.split(".")[0]);
}

/**
 * Debian's pre-commit 3.x (`apt-get install pre-commit`): `pre-commit` on PATH or /usr/bin/pre-commit.
 * @example const client = debianPreCommit(); if (client.found) run(client.command);
 */
export function debianPreCommit(): PreCommitClient {
  for (const command of ["pre-commit", "/usr/bin/pre-commit"]) {
    const version = versionOf(command);
    if (version !== undefined && major(version) === 3) return { found: true, command, version };
  }
  return { found: false, reason: "no pre-commit 3.x on PATH or at /usr/bin/pre-commit (apt-get install pre-commit)" };
}

/**
 * Current pre-commit (4.x, what `pip install pre-commit` gives): `pre-commit` on PATH when it is 4.x or newer,
 * otherwise a virtual environment cached in node_modules/.cache, made on first use with python3 and pip.
 * @example const client = pipPreCommit(); if (client.found) run(client.command);
 */
export function pipPreCommit(): PreCommitClient {
  const onPath = versionOf("pre-commit");
  if (onPath !== undefined && major(onPath) >= 4) return { found: true, command: "pre-commit", version: onPath };
  const venv = join(repoRoot, "node_modules/.cache/curate-pre-commit-venv");
  const command = join(venv, "bin/pre-commit");
  let version = existsSync(command) ? versionOf(command) : undefined;
  if (version === undefined) {
    mkdirSync(venv, { recursive: true });
    const steps: [string, string[]][] = [
      ["python3", ["-m", "venv", "--clear", venv]],
      // --retries 0 --timeout 2: without them pip spends ~90 s on an unreachable default index before the local one.
      [join(venv, "bin/pip"), ["install", "--quiet", "--retries", "0", "--timeout", "2", "pre-commit>=4"]],
    ];
    for (const [file, args] of steps) {
      const result = spawnSync(file, args, { encoding: "utf8", timeout: 300_000 });
      if (result.status !== 0) {
        return {
          found: false,
          reason: `could not install pre-commit 4.x with \`${file} ${args.join(" ")}\`: ${explain(result)}`,
        };
      }
    }
    version = versionOf(command);
  }
  if (version === undefined) return { found: false, reason: `${command} --version failed after installing it` };
  return { found: true, command, version };
}
