import { linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { CurateError, isAlive } from "@curate/core";

/**
 * The lock file a dataset writer holds in its output folder while it runs; it holds the writer's pid.
 * @example existsSync(join(out, LOCK_FILE)); // true while a run writes to out/
 */
export const LOCK_FILE = ".curate-lock";

/**
 * The folder in an output folder where a distributed run (`curate run --queue`) keeps its shards' results until the
 * run is written; not content of the dataset (a resumed run finds it there), removed when the run succeeds.
 * @example join(out, SHARD_RESULTS_DIR, runKey);
 */
export const SHARD_RESULTS_DIR = ".curate-shards";

/**
 * An I/O failure as users should see it: the path, the OS reason (`ENOSPC`, `EACCES`…), exit code 2, no stack.
 * @example throw ioError("write", "out/train.jsonl", error);
 */
export function ioError(action: string, path: string, cause: unknown): CurateError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  const message = ((cause as Error)?.message ?? String(cause))
    .replace(/^[A-Z]+: /, "")
    .replace(/, (?:open|write|mkdir|rename|fsync|close|link|read)(?: '.*')?$/, "");
  return new CurateError("CURATE_IO", `cannot ${action} ${path}: ${code ? `${code}, ` : ""}${message}`, {
    exitCode: 2,
    cause,
  });
}

/**
 * Creates `dir` and any missing parents. Only an existing parent is asked to create a child: Node's
 * `mkdirSync(dir, { recursive: true })` never returns for a path under `/proc` (it spun at 100% CPU on
 * `--out /proc/x`), so a missing folder in an existing parent is created without `recursive`, and its error (EACCES,
 * ENOENT, EROFS) reported.
 * @example makeFolder("out/run-7");
 */
export function makeFolder(dir: string): void {
  try {
    mkdirSync(dir);
    return;
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return;
    if (code !== "ENOENT") throw ioError("create the output folder", dir, cause);
  }
  const parent = dirname(dir);
  let parentExists = false;
  try {
    parentExists = statSync(parent).isDirectory();
  } catch {
    parentExists = false;
  }
  if (parentExists || parent === dir) {
    throw ioError(
      "create the output folder",
      dir,
      Object.assign(new Error("the system refused to create it"), { code: "ENOENT" }),
    );
  }
  makeFolder(parent);
  makeFolder(dir);
}

/**
 * Takes the exclusive lock on an output folder (creating the folder first): a lock file made with O_EXCL holding
 * this process's pid. A lock whose pid is no longer running is stale (a killed run) and is taken over. A live one is
 * refused with `CURATE_OUTPUT_LOCKED`: two runs into one folder used to both pass the "not empty" check and, with
 * `--force`, leave train from one run and test from the other. Returns the function that releases the lock.
 * @example const release = lockFolder("out"); try { write(); } finally { release(); }
 */
export function lockFolder(dir: string): () => void {
  makeFolder(dir);
  if (!statSync(dir).isDirectory()) {
    throw new CurateError("CURATE_OUTPUT_EXISTS", `--out ${dir} exists and is not a folder`, { exitCode: 2 });
  }
  const path = join(dir, LOCK_FILE);
  // The pid is written first and the file linked into place, so a lock file never exists without its pid.
  const mine = `${path}.${process.pid}`;
  try {
    writeFileSync(mine, `${process.pid}\n`);
  } catch (cause) {
    throw ioError("lock the output folder", dir, cause);
  }
  try {
    return takeLock(dir, path, mine);
  } finally {
    rmSync(mine, { force: true });
  }
}

function takeLock(dir: string, path: string, mine: string): () => void {
  for (let attempt = 0; ; attempt++) {
    try {
      linkSync(mine, path);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== "EEXIST") throw ioError("lock the output folder", dir, cause);
      let owner = Number.NaN;
      try {
        owner = Number.parseInt(readFileSync(path, "utf8"), 10);
      } catch {
        // Removed in between, or unreadable: try again below.
      }
      if (Number.isSafeInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new CurateError(
          "CURATE_OUTPUT_LOCKED",
          `another curate run (pid ${owner}) is writing to ${dir}; wait for it to finish or choose another --out (if no such run exists, remove ${path})`,
          { exitCode: 2 },
        );
      }
      if (attempt >= 3) {
        throw new CurateError("CURATE_OUTPUT_LOCKED", `cannot take the lock ${path}: it keeps changing`, {
          exitCode: 2,
        });
      }
      // Stale: its run is gone (killed). Take it over.
      rmSync(path, { force: true });
      continue;
    }
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      process.off("exit", release);
      try {
        if (Number.parseInt(readFileSync(path, "utf8"), 10) === process.pid) rmSync(path, { force: true });
      } catch {
        // Already gone.
      }
    };
    // A run that ends without releasing (an uncaught error, process.exit on a signal) still frees the folder.
    process.on("exit", release);
    return release;
  }
}
