import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Cleanups to run if the process is interrupted (SIGINT, SIGTERM), with what each removes. */
const cleanups = new Map<number, { what: string; run: () => void }>();
let nextId = 0;

/**
 * Registers `cleanup` (which removes `what`) to run if the process is interrupted; returns the function that
 * unregisters it (call it once the thing is committed or removed). Library code registers; only the CLI's signal
 * handler runs them (`runInterruptCleanups`), then exits.
 * @example const done = onInterrupt("out/.curate-tmp-1", () => rmSync(tmp, { recursive: true })); … done();
 */
export function onInterrupt(what: string, cleanup: () => void): () => void {
  const id = nextId++;
  cleanups.set(id, { what, run: cleanup });
  return () => {
    cleanups.delete(id);
  };
}

/**
 * Runs every registered cleanup, newest first, and says what was removed and what could not be.
 * @example const { removed, failed } = runInterruptCleanups();
 */
export function runInterruptCleanups(): { removed: string[]; failed: string[] } {
  const removed: string[] = [];
  const failed: string[] = [];
  for (const [id, { what, run }] of [...cleanups].reverse()) {
    cleanups.delete(id);
    try {
      run();
      removed.push(what);
    } catch {
      failed.push(what);
    }
  }
  return { removed, failed };
}

/**
 * Whether process `pid` is running (one we may not signal counts): how stale temp folders and locks are told apart.
 * @example if (!isAlive(owner)) takeOver(lock);
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const swept = new Set<string>();

/**
 * Creates a private temp folder `<parent>/<prefix><pid>-XXXXXX` that is removed on interrupt. Its name carries the
 * pid, so the first call per prefix and parent also removes the folders of earlier runs whose process is gone (a
 * `kill -9` or power cut, which no handler survives): interrupted splits used to leave 64–284 MB spill files in
 * `$TMPDIR` that nothing removed.
 * @example const dir = makeTempDir("curate-split-"); … removeTempDir(dir);
 */
export function makeTempDir(prefix: string, parent: string = tmpdir()): string {
  const key = `${parent}\0${prefix}`;
  if (!swept.has(key)) {
    swept.add(key);
    sweepStale(prefix, parent);
  }
  const dir = mkdtempSync(join(parent, `${prefix}${process.pid}-`));
  registered.set(
    dir,
    onInterrupt(dir, () => rmSync(dir, { recursive: true, force: true })),
  );
  return dir;
}

const registered = new Map<string, () => void>();

/**
 * Removes a folder made by `makeTempDir` and forgets it.
 * @example removeTempDir(dir);
 */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  registered.get(dir)?.();
  registered.delete(dir);
}

/** Removes `<prefix><pid>-*` folders in `parent` whose pid is not running. Best effort: a folder in use is kept. */
function sweepStale(prefix: string, parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue;
    try {
      rmSync(join(parent, name), { recursive: true, force: true });
    } catch {
      // Someone else's, or already gone.
    }
  }
}
