import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { CurateError } from "@curate/core";
import type FastGlob from "fast-glob";
import type { ReadOptions } from "./types.js";

/**
 * The path that stands for standard input in sources, stats and messages.
 * @example if (record.source.file === STDIN) console.error("from a pipe");
 */
export const STDIN = "<stdin>";

/**
 * Files a directory argument expands to: JSONL, NDJSON and JSON, each optionally gzip- or zstd-compressed.
 * @example DATA_FILE.test("train.jsonl.zst"); // true
 */
export const DATA_FILE = /\.(?:jsonl|ndjson|json)(?:\.(?:gz|zst|zstd))?$/i;

/** One input to read, as `resolveInputs` found it. */
export interface ResolvedInput {
  /** As given or matched (relative stays relative), or `<stdin>`. */
  readonly path: string;
  /** Size on disk, for progress; absent for stdin. */
  readonly bytes?: number;
}

/** Codepoint order, not locale order, so every machine reads files in the same order. */
function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

let fastGlob: Promise<typeof FastGlob> | undefined;

/**
 * fast-glob, loaded on first use: only directories and glob patterns need it, and its import took 120–230 ms on the
 * shared 2-core machine under load, the biggest part of importing this package (with fzstd also lazy, importing
 * @curate/read went from ~200 to ~70 ms there). `curate validate file.jsonl` never needs it.
 */
function glob(): Promise<typeof FastGlob> {
  fastGlob ??= import("fast-glob").then((module) => module.default);
  return fastGlob;
}

function notFound(message: string): CurateError {
  return new CurateError("CURATE_INPUT_NOT_FOUND", message, { exitCode: 2 });
}

/**
 * Expands input arguments into the files to read, in a stable order: each argument in the order given; a directory
 * expands (recursively, hidden files skipped) to its `*.jsonl`, `*.ndjson`, `*.json` files, each optionally `.gz`,
 * `.zst` or `.zstd`, sorted; a glob (fast-glob syntax) to its matching files, sorted. A file named twice is read
 * once. No arguments, or `-`, mean stdin. An argument that matches nothing throws `CURATE_INPUT_NOT_FOUND`.
 * @example await resolveInputs(["data/", "extra/*.jsonl.gz"]); // [{ path: "data/a.jsonl", bytes: 1024 }, ...]
 */
export async function resolveInputs(patterns: readonly string[], options: ReadOptions = {}): Promise<ResolvedInput[]> {
  const cwd = options.cwd ?? process.cwd();
  if (patterns.length === 0) return [{ path: STDIN }];
  const seen = new Set<string>();
  const result: ResolvedInput[] = [];
  const add = (path: string, bytes?: number) => {
    const key = path === STDIN ? STDIN : resolve(cwd, path);
    if (seen.has(key)) return;
    seen.add(key);
    result.push(bytes === undefined ? { path } : { path, bytes });
  };

  for (const pattern of patterns) {
    if (pattern === "-" || pattern === STDIN) {
      add(STDIN);
      continue;
    }
    // A path that exists wins over glob syntax, so `data[1].jsonl` reads that file.
    const info = await stat(resolve(cwd, pattern)).catch(() => undefined);
    if (info?.isFile()) {
      add(pattern, info.size);
      continue;
    }
    if (info?.isDirectory()) {
      const fg = await glob();
      const entries = await fg("**/*", { cwd: resolve(cwd, pattern), onlyFiles: true, stats: true, dot: false });
      const files = entries.filter((entry) => DATA_FILE.test(entry.path)).sort((a, b) => byPath(a.path, b.path));
      if (files.length === 0) {
        throw notFound(`directory ${pattern} holds no .jsonl, .ndjson or .json files (optionally .gz/.zst)`);
      }
      for (const entry of files) add(join(pattern, entry.path), entry.stats?.size);
      continue;
    }
    const fg = info === undefined ? await glob() : undefined;
    if (fg?.isDynamicPattern(pattern)) {
      const entries = await fg(pattern, { cwd, onlyFiles: true, stats: true, dot: false });
      if (entries.length === 0) throw notFound(`no file matches ${pattern}`);
      for (const entry of entries.sort((a, b) => byPath(a.path, b.path))) add(entry.path, entry.stats?.size);
      continue;
    }
    throw notFound(info === undefined ? `input not found: ${pattern}` : `input is not a file or directory: ${pattern}`);
  }
  return result;
}
