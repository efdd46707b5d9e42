import {
  copyFileSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  type Stats,
  symlinkSync,
} from "node:fs";
import { join } from "node:path";
import { isAlive } from "@curate/core";
import { ioError } from "./lock.js";

/**
 * The one name a dataset folder's commit switches: a symlink to the finished generation folder beside it. Every
 * output (`train.jsonl`, …, `manifest.json`) is a symlink `out/train.jsonl → .curate-current/train.jsonl`, so
 * renaming this one link over itself (atomic in POSIX) replaces the manifest and every split at once.
 * @example readlinkSync(join(out, CURRENT_LINK)); // ".curate-gen-4711-1"
 */
export const CURRENT_LINK = ".curate-current";

/** A finished generation: `.curate-gen-<pid>-<n>`, renamed from the writer's temp folder when it commits. */
const GENERATION = /^\.curate-gen-\d+-\d+$/;
/** A link being put in place (`.<name>.curate-link-<pid>`) when its run was killed. */
const PENDING_LINK = /^\..*\.curate-link-(\d+)$/;

/** The link target every output name in the folder has. */
function through(name: string): string {
  return `${CURRENT_LINK}/${name}`;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError("read", path, error);
  }
}

function readlinkOrUndefined(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The generation folder `.curate-current` points to (its name), or undefined before the first commit.
 * @example currentGeneration("out"); // ".curate-gen-4711-1"
 */
export function currentGeneration(dir: string): string | undefined {
  const target = readlinkOrUndefined(join(dir, CURRENT_LINK));
  return target !== undefined && GENERATION.test(target) ? target : undefined;
}

/**
 * Whether `name` in `dir` is curate's own entry rather than content: the current link, generations, links being
 * put in place by a dead run, and output links that lead nowhere (an output the last commit dropped, or one a killed
 * commit had not switched to yet). Removes the ones that are garbage; the caller holds the folder's lock, so no other
 * writer can be half-way through a commit.
 */
export function sweepGenerationEntry(dir: string, name: string, current: string | undefined): boolean {
  const path = join(dir, name);
  if (name === CURRENT_LINK) return true;
  if (GENERATION.test(name)) {
    if (name !== current) rmSync(path, { recursive: true, force: true });
    return true;
  }
  const pending = PENDING_LINK.exec(name);
  if (pending) {
    if (!isAlive(Number(pending[1]))) rmSync(path, { force: true });
    return true;
  }
  if (
    readlinkOrUndefined(path) === through(name) &&
    (current === undefined || !lstatOrUndefined(join(dir, current, name)))
  ) {
    rmSync(path, { force: true });
    return true;
  }
  return false;
}

/** Puts `target` at `path` as a symlink in one rename (a link made beside it, then renamed over whatever is there). */
function placeLink(dir: string, name: string, target: string): void {
  const temp = join(dir, `.${name}.curate-link-${process.pid}`);
  try {
    // No leftover by this name: the pid is this process's, and a dead process's are swept (sweepGenerationEntry).
    symlinkSync(target, temp);
    renameSync(temp, join(dir, name));
  } catch (cause) {
    rmSync(temp, { force: true });
    throw ioError("write", join(dir, name), cause);
  }
}

/** A second name for `from`'s bytes at `to` (replacing a file there, e.g. one a killed conversion left); a copy where links fail. */
function hardLinkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      rmSync(to, { force: true });
      hardLinkOrCopy(from, to);
    } else copyFileSync(from, to); // EXDEV, EPERM: file systems without hard links
  }
}

/**
 * Makes `dir/name` a link through `.curate-current` without changing what a reader sees. A missing name gets a link
 * that leads nowhere until the switch (the old dataset has no such file either). A plain file (a dataset written
 * before generations, or a file `--force` replaces) first joins the current generation, a hard link to the same bytes
 * (a copy where the file system has none), then the link replaces it in one rename: the reader sees the same bytes.
 */
function linkThroughCurrent(dir: string, name: string): void {
  const path = join(dir, name);
  const info = lstatOrUndefined(path);
  if (info?.isSymbolicLink() && readlinkOrUndefined(path) === through(name)) return;
  if (info?.isFile()) {
    let current = currentGeneration(dir);
    if (current === undefined) {
      // The folder's first switch: its plain files become generation 0 of this process, then the link points at it.
      current = `.curate-gen-${process.pid}-0`;
      try {
        mkdirSync(join(dir, current), { recursive: true });
      } catch (cause) {
        throw ioError("write", join(dir, current), cause);
      }
      placeLink(dir, CURRENT_LINK, current);
    }
    const kept = join(dir, current, name);
    try {
      hardLinkOrCopy(path, kept);
    } catch (cause) {
      throw ioError("write", kept, cause);
    }
  } else if (info?.isSymbolicLink()) {
    // Someone's own link (to a file elsewhere): its bytes join the current generation as a copy, as a plain file's do.
    const current = currentGeneration(dir);
    if (current !== undefined) {
      try {
        copyFileSync(path, join(dir, current, name));
      } catch {
        // A link that leads nowhere: nothing for a reader to see before the switch either.
      }
    }
  } else if (info?.isDirectory()) {
    throw ioError(
      "write",
      path,
      Object.assign(new Error("a folder has the name of an output file"), { code: "EISDIR" }),
    );
  }
  placeLink(dir, name, through(name));
}

/**
 * Whether `dir` can hold symlinks (not FAT or exFAT, not an SMB share without them, not Windows without the
 * privilege): a probe link made and removed. Where it cannot, the writer commits in place (`commitInPlace`).
 * @example const atomic = symlinksWork("out");
 */
export function symlinksWork(dir: string): boolean {
  const probe = join(dir, `.probe.curate-link-${process.pid}`);
  try {
    symlinkSync(CURRENT_LINK, probe);
  } catch {
    return false;
  }
  rmSync(probe, { force: true });
  return true;
}

/**
 * The commit where symlinks are not available: the old manifest goes first (from then on the folder is visibly
 * unfinished), then each file by its own atomic rename, then files of the earlier run that this run did not write,
 * and the new manifest last. A kill in between leaves a folder without `manifest.json` (not a finished dataset)
 * that may hold some new and some old files.
 * @example commitInPlace("out", "out/.curate-tmp-4711-1", ["train.jsonl"], []);
 */
export function commitInPlace(dir: string, temp: string, paths: readonly string[], previous: readonly string[]): void {
  try {
    rmSync(join(dir, "manifest.json"), { force: true });
    for (const path of paths) renameSync(join(temp, path), join(dir, path));
    for (const path of previous) if (!paths.includes(path)) rmSync(join(dir, path), { force: true });
    renameSync(join(temp, "manifest.json"), join(dir, "manifest.json"));
  } catch (cause) {
    throw ioError("write", dir, cause);
  }
  rmSync(temp, { recursive: true, force: true });
}

/**
 * Commits a finished temp folder (every output and `manifest.json` inside) as the dataset in `dir`, in one atomic
 * step: the folder is renamed to a generation, each output name in `dir` is made a link through `.curate-current`,
 * and then the single rename of `.curate-current` switches every file at once. Before it a reader sees the old
 * dataset, after it the new one, never a mix. Then the links of outputs the new dataset does not have (from
 * `previous`, the old manifest's outputs) and the old generation are removed; a kill there leaves links that lead
 * nowhere, which the next run into `dir` removes.
 * @example commitGeneration("out", "out/.curate-tmp-4711-1", ["train.jsonl", "manifest.json"], []);
 */
export function commitGeneration(
  dir: string,
  temp: string,
  names: readonly string[],
  previous: readonly string[],
): void {
  const gen = temp.slice(temp.lastIndexOf("/") + 1).replace(/^\.curate-tmp-/, ".curate-gen-");
  try {
    renameSync(temp, join(dir, gen));
  } catch (cause) {
    throw ioError("write", join(dir, gen), cause);
  }
  try {
    for (const name of names) linkThroughCurrent(dir, name);
    // An old output this run does not write, kept as a plain file, would still be readable after the switch: it
    // goes through the current link too, so that the switch hides it with the rest of the old dataset.
    for (const name of previous) {
      if (!names.includes(name) && lstatOrUndefined(join(dir, name))?.isFile()) linkThroughCurrent(dir, name);
    }
    const before = currentGeneration(dir);
    placeLink(dir, CURRENT_LINK, gen); // the commit
    // Tidying: the new dataset is in place whatever fails from here; the next run removes what is left.
    try {
      for (const name of previous) {
        if (names.includes(name)) continue;
        const info = lstatOrUndefined(join(dir, name));
        if (info?.isFile() || (info?.isSymbolicLink() && readlinkOrUndefined(join(dir, name)) === through(name))) {
          rmSync(join(dir, name), { force: true });
        }
      }
      if (before !== undefined && before !== gen) rmSync(join(dir, before), { recursive: true, force: true });
    } catch {
      // Left for the next run's sweep.
    }
  } catch (error) {
    if (currentGeneration(dir) !== gen) rmSync(join(dir, gen), { recursive: true, force: true });
    throw error;
  }
}
