import { spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  CURRENT_LINK,
  commitGeneration,
  commitInPlace,
  currentGeneration,
  sweepGenerationEntry,
  symlinksWork,
} from "./generation.js";

const root = mkdtempSync(join(tmpdir(), "curate-generation-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function folder(files: Record<string, string> = {}): string {
  const dir = join(root, `d${++n}`);
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
function temp(dir: string, files: Record<string, string>, id = 1): string {
  const path = join(dir, `.curate-tmp-${process.pid}-${id}`);
  mkdirSync(path);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(path, name), text);
  return path;
}
const read = (dir: string, name: string) => readFileSync(join(dir, name), "utf8");

describe("commitGeneration", () => {
  it("switches every output at once through .curate-current, and removes the old generation and old-only names", () => {
    const dir = folder({ "notes.txt": "mine" });
    commitGeneration(
      dir,
      temp(dir, { "train.jsonl": "1\n", "test.jsonl": "2\n", "manifest.json": "{1}" }, 1),
      ["train.jsonl", "test.jsonl", "manifest.json"],
      [],
    );
    expect(currentGeneration(dir)).toBe(`.curate-gen-${process.pid}-1`);
    expect(lstatSync(join(dir, "train.jsonl")).isSymbolicLink()).toBe(true);
    expect(read(dir, "train.jsonl") + read(dir, "manifest.json")).toBe("1\n{1}");

    commitGeneration(
      dir,
      temp(dir, { "train.jsonl.gz": "3", "manifest.json": "{2}" }, 2),
      ["train.jsonl.gz", "manifest.json"],
      ["train.jsonl", "test.jsonl"],
    );
    expect(currentGeneration(dir)).toBe(`.curate-gen-${process.pid}-2`);
    expect(readdirSync(dir).sort()).toEqual([
      CURRENT_LINK,
      `.curate-gen-${process.pid}-2`,
      "manifest.json",
      "notes.txt",
      "train.jsonl.gz",
    ]);
    expect(read(dir, "train.jsonl.gz") + read(dir, "manifest.json") + read(dir, "notes.txt")).toBe("3{2}mine");
  });

  it("turns a folder of plain files into generation 0 without changing a byte a reader sees, then switches", () => {
    const dir = folder({ "train.jsonl": "old\n", "validation.jsonl": "v\n", "manifest.json": "{old}" });
    commitGeneration(
      dir,
      temp(dir, { "train.jsonl": "new\n", "manifest.json": "{new}" }),
      ["train.jsonl", "manifest.json"],
      ["train.jsonl", "validation.jsonl"],
    );
    expect(read(dir, "train.jsonl") + read(dir, "manifest.json")).toBe("new\n{new}");
    expect(existsSync(join(dir, "validation.jsonl"))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith(".curate-gen-"))).toEqual([`.curate-gen-${process.pid}-1`]);
  });

  it("refuses a folder in the place of an output, naming it, and leaves the old dataset", () => {
    const dir = folder({ "manifest.json": "{old}" });
    mkdirSync(join(dir, "train.jsonl"));
    const t = temp(dir, { "train.jsonl": "x\n", "manifest.json": "{new}" });
    expect(() => commitGeneration(dir, t, ["train.jsonl", "manifest.json"], [])).toThrow(
      /cannot write .*train\.jsonl: EISDIR/,
    );
    expect(read(dir, "manifest.json")).toBe("{old}");
    expect(readdirSync(dir).filter((f) => f.startsWith(".curate-gen-") && f !== currentGeneration(dir))).toEqual([]);
  });
});

describe("sweepGenerationEntry (the next run, holding the lock)", () => {
  it("removes generations that are not current, links that lead nowhere and a dead run's half-placed links", () => {
    const dir = folder({ "notes.txt": "mine" });
    commitGeneration(
      dir,
      temp(dir, { "train.jsonl": "1\n", "manifest.json": "{}" }),
      ["train.jsonl", "manifest.json"],
      [],
    );
    const current = currentGeneration(dir)!;
    mkdirSync(join(dir, ".curate-gen-1-7")); // a killed commit's generation
    symlinkSync(`${CURRENT_LINK}/test.jsonl`, join(dir, "test.jsonl")); // placed before a switch that never came
    const { pid: dead } = spawnSync(process.execPath, ["-e", "0"]);
    symlinkSync(`${CURRENT_LINK}/x`, join(dir, `.train.jsonl.curate-link-${dead}`));
    const content = readdirSync(dir).filter((f) => !sweepGenerationEntry(dir, f, current));
    expect(content.sort()).toEqual(["manifest.json", "notes.txt", "train.jsonl"]);
    expect(readdirSync(dir).sort()).toEqual([CURRENT_LINK, current, "manifest.json", "notes.txt", "train.jsonl"]);
  });
});

describe("commitInPlace (file systems without symlinks)", () => {
  it("moves each file, drops the old run's other outputs, and writes the manifest last", () => {
    expect(symlinksWork(root)).toBe(true);
    const dir = folder({ "validation.jsonl": "old\n", "manifest.json": "{old}", "notes.txt": "mine" });
    commitInPlace(
      dir,
      temp(dir, { "train.jsonl": "t\n", "manifest.json": "{new}" }),
      ["train.jsonl"],
      ["validation.jsonl"],
    );
    expect(readdirSync(dir).sort()).toEqual(["manifest.json", "notes.txt", "train.jsonl"]);
    expect(read(dir, "manifest.json")).toBe("{new}");
  });
});
