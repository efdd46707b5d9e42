import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveInputs } from "./inputs.js";

const dir = mkdtempSync(join(tmpdir(), "curate-inputs-"));
const files: Record<string, string> = {
  "data/b.jsonl": "{}\n",
  "data/a.jsonl.gz": "x",
  "data/nested/c.ndjson": "{}\n",
  "data/nested/d.json.zst": "x",
  "data/nested/e.JSONL.ZSTD": "x",
  "data/notes.txt": "not data",
  "data/.hidden/f.jsonl": "{}\n",
  "data/Z.jsonl": "{}\n",
  "empty/readme.md": "nothing here",
  "other/x.jsonl": "{}\n",
  "weird[1].jsonl": "{}\n",
};

beforeAll(() => {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const paths = async (patterns: string[]) => (await resolveInputs(patterns, { cwd: dir })).map((i) => i.path);

describe("resolveInputs", () => {
  it("expands a directory recursively to data files, sorted by codepoint, hidden ones skipped", async () => {
    expect(await paths(["data"])).toEqual([
      "data/Z.jsonl",
      "data/a.jsonl.gz",
      "data/b.jsonl",
      "data/nested/c.ndjson",
      "data/nested/d.json.zst",
      "data/nested/e.JSONL.ZSTD",
    ]);
  });

  it("gives sizes on disk, for progress", async () => {
    expect(await resolveInputs(["data/b.jsonl"], { cwd: dir })).toEqual([{ path: "data/b.jsonl", bytes: 3 }]);
  });

  it("expands globs sorted, keeps argument order, and reads a file named twice once", async () => {
    expect(await paths(["other/x.jsonl", "data/*.jsonl", "data/b.jsonl", "./other/x.jsonl"])).toEqual([
      "other/x.jsonl",
      "data/Z.jsonl",
      "data/b.jsonl",
    ]);
    expect(await paths(["data/**/*.{ndjson,zst}"])).toEqual(["data/nested/c.ndjson", "data/nested/d.json.zst"]);
  });

  it("prefers an existing file over glob syntax in its name", async () => {
    expect(await paths(["weird[1].jsonl"])).toEqual(["weird[1].jsonl"]);
  });

  it("means stdin for no arguments or -", async () => {
    expect(await paths([])).toEqual(["<stdin>"]);
    expect(await paths(["-", "other/x.jsonl", "-"])).toEqual(["<stdin>", "other/x.jsonl"]);
  });

  it("throws CURATE_INPUT_NOT_FOUND, exit code 2, naming what matched nothing", async () => {
    await expect(paths(["nope.jsonl"])).rejects.toMatchObject({
      code: "CURATE_INPUT_NOT_FOUND",
      exitCode: 2,
      message: "input not found: nope.jsonl",
    });
    await expect(paths(["data/*.parquet"])).rejects.toMatchObject({
      code: "CURATE_INPUT_NOT_FOUND",
      message: "no file matches data/*.parquet",
    });
    await expect(paths(["empty"])).rejects.toMatchObject({
      code: "CURATE_INPUT_NOT_FOUND",
      message: "directory empty holds no .jsonl, .ndjson, .json (optionally .gz/.zst) or .parquet files",
    });
  });
});
