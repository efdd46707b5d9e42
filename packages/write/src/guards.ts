import { statSync } from "node:fs";
import { relative, resolve } from "node:path";
import { UsageError } from "@curate/core";

/**
 * File names of the output folder that are not splits: a split named after one would overwrite it at the commit,
 * after all the work was done.
 * @example RESERVED_SPLIT_NAMES.includes("rejects"); // true
 */
export const RESERVED_SPLIT_NAMES: readonly string[] = ["rejects", "duplicates", "manifest", "warnings"];

/**
 * Refuses, before any record is read: a split whose file would collide with `rejects.jsonl`, `duplicates.jsonl` or
 * `manifest.json`; and an output folder that is an input folder or inside one, which the next run would read its
 * own outputs from. Inputs that are not folders (files, globs, stdin) are not checked.
 * @example checkOutputPlace("/data/out", ["train", "test"], ["/data/raw"]); // fine
 */
export function checkOutputPlace(dir: string, splits: readonly string[], inputs: readonly string[]): void {
  for (const name of splits) {
    if (RESERVED_SPLIT_NAMES.includes(name.toLowerCase())) {
      throw new UsageError(
        `a split cannot be named "${name}": the output folder already has a ${name} file; pick another name (e.g. "holdout")`,
      );
    }
  }
  const out = resolve(dir);
  for (const input of inputs) {
    if (input === "-") continue;
    const folder = resolve(input);
    let isFolder = false;
    try {
      isFolder = statSync(folder).isDirectory();
    } catch {
      continue;
    }
    if (!isFolder) continue;
    const inside = relative(folder, out);
    if (inside === "" || (!inside.startsWith("..") && !inside.startsWith("/"))) {
      throw new UsageError(
        `--out ${dir} is ${inside === "" ? "the input folder" : "inside the input folder"} ${input}: the next run would read its outputs as input; choose an --out outside it`,
      );
    }
  }
}
