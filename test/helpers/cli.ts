import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, for paths to fixtures. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** The built `curate` binary: end-to-end tests run exactly what users run. */
export const curateBin = join(repoRoot, "packages/cli/dist/bin.js");

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface CliOptions {
  /** Text (or bytes) written to the child's stdin; stdin is closed empty when omitted. */
  input?: string | Buffer;
  cwd?: string;
  env?: Record<string, string>;
}

/**
 * Runs the built `curate` binary as a child process and collects its output.
 * @example const { stdout, exitCode } = await runCli(["validate", "fixtures/chat/valid.jsonl"]);
 */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [curateBin, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) =>
      resolvePromise({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        exitCode: code ?? -1,
      }),
    );
    child.stdin.on("error", () => {}); // the child may exit before reading all of its input
    child.stdin.end(options.input ?? "");
  });
}

/**
 * A fresh temporary folder, removed by the returned cleanup function.
 * @example const { dir, cleanup } = tempDir(); afterAll(cleanup);
 */
export function tempDir(prefix = "curate-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Parses JSONL text into values (blank lines ignored). */
export function parseJsonl(text: string): unknown[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as unknown);
}
