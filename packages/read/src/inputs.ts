import type { Stats } from "node:fs";
import { readdir, stat } from "node:fs/promises";
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
 * Files a directory argument expands to: JSONL, NDJSON and JSON, each optionally gzip- or zstd-compressed, and
 * Parquet (a Hugging Face dataset folder's `data/train-00000-of-00003.parquet`).
 * @example DATA_FILE.test("train.jsonl.zst"); // true
 */
export const DATA_FILE = /\.(?:(?:jsonl|ndjson|json)(?:\.(?:gz|zst|zstd))?|parquet)$/i;

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

function ioError(path: string, cause: unknown): CurateError {
  const reason = (cause as NodeJS.ErrnoException)?.code ?? "";
  const message = (cause as Error)?.message ?? String(cause);
  return new CurateError(
    "CURATE_IO",
    `cannot read folder ${path}: ${reason ? `${reason} ` : ""}${message.replace(/^\w+: /, "")}`,
    {
      exitCode: 2,
      cause,
    },
  );
}

/** A file or folder's identity on disk: the same real file reached by two paths (symlinks, hard links) has one. */
function identity(info: Stats): string {
  return `${info.dev}:${info.ino}`;
}

/**
 * The data files under `root` (relative paths with `/`, and sizes), hidden entries skipped. Symlinks are followed,
 * but each real folder is entered once and each real file listed once (by device and inode): a folder holding a
 * link to itself or to its parent is walked once instead of forever (fast-glob followed such loops until memory ran
 * out), and a file reached through two links is read once. Broken links are skipped; an unreadable folder throws
 * `CURATE_IO` with its path and the OS reason.
 */
async function walkFolder(root: string, shown: string, files: Set<string>): Promise<{ path: string; size: number }[]> {
  const found: { path: string; size: number }[] = [];
  const folders = new Set<string>();
  const rootInfo = await stat(root);
  folders.add(identity(rootInfo));
  const pending: string[] = [""];
  while (pending.length > 0) {
    const rel = pending.pop()!;
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(join(root, rel), { withFileTypes: true });
    } catch (cause) {
      throw ioError(rel === "" ? shown : join(shown, rel), cause);
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (!entry.isDirectory() && !entry.isFile() && !entry.isSymbolicLink()) continue;
      if (entry.isFile() && !DATA_FILE.test(entry.name)) continue;
      let info: Stats;
      try {
        info = await stat(join(root, path));
      } catch {
        continue; // a broken link, or one that loops onto itself (ELOOP)
      }
      if (info.isDirectory()) {
        const id = identity(info);
        if (folders.has(id)) continue;
        folders.add(id);
        pending.push(path);
      } else if (info.isFile() && DATA_FILE.test(entry.name)) {
        const id = identity(info);
        if (files.has(id)) continue;
        files.add(id);
        found.push({ path, size: info.size });
      }
    }
  }
  return found;
}

function notFound(message: string): CurateError {
  return new CurateError("CURATE_INPUT_NOT_FOUND", message, { exitCode: 2 });
}

/**
 * Expands input arguments into the files to read, in a stable order: each argument in the order given; a directory
 * expands (recursively, hidden files skipped) to its `*.jsonl`, `*.ndjson`, `*.json` files, each optionally `.gz`,
 * `.zst` or `.zstd`, and its `*.parquet` files, sorted by path (so Parquet shards come in order); a glob (fast-glob syntax) to its matching files, sorted. A file named twice is read
 * once. No arguments, or `-`, mean stdin. An argument that matches nothing throws `CURATE_INPUT_NOT_FOUND`.
 * @example await resolveInputs(["data/", "extra/*.jsonl.gz"]); // [{ path: "data/a.jsonl", bytes: 1024 }, ...]
 */
export async function resolveInputs(patterns: readonly string[], options: ReadOptions = {}): Promise<ResolvedInput[]> {
  const cwd = options.cwd ?? process.cwd();
  if (patterns.length === 0) return [{ path: STDIN }];
  const seen = new Set<string>();
  /** Device and inode of every file taken, so that no real file is read twice. */
  const realFiles = new Set<string>();
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
      if (!realFiles.has(identity(info))) add(pattern, info.size);
      realFiles.add(identity(info));
      continue;
    }
    if (info?.isDirectory()) {
      const files = (await walkFolder(resolve(cwd, pattern), pattern, realFiles)).sort((a, b) =>
        byPath(a.path, b.path),
      );
      if (files.length === 0) {
        throw notFound(`directory ${pattern} holds no .jsonl, .ndjson, .json (optionally .gz/.zst) or .parquet files`);
      }
      for (const entry of files) add(join(pattern, entry.path), entry.size);
      continue;
    }
    const fg = info === undefined ? await glob() : undefined;
    if (fg?.isDynamicPattern(pattern)) {
      const entries = await fg(pattern, { cwd, onlyFiles: true, stats: true, dot: false });
      if (entries.length === 0) throw notFound(`no file matches ${pattern}`);
      for (const entry of entries.sort((a, b) => byPath(a.path, b.path))) {
        if (entry.stats && realFiles.has(identity(entry.stats))) continue;
        if (entry.stats) realFiles.add(identity(entry.stats));
        add(entry.path, entry.stats?.size);
      }
      continue;
    }
    throw notFound(info === undefined ? `input not found: ${pattern}` : `input is not a file or directory: ${pattern}`);
  }
  return result;
}
