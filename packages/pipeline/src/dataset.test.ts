import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { fromArray, rememberJson, type Stage, type StageCounts } from "@curate/core";
import {
  DatasetWriter,
  manifestSchema,
  manifestSummaryJson,
  readManifest,
  renderReportHtml,
  summaryNotes,
  summaryRows,
} from "@curate/write";
import { afterAll, describe, expect, it } from "vitest";
import { runDataset } from "./engine.js";

const roots: string[] = [];
function freshDir(): string {
  const root = mkdtempSync(join(tmpdir(), "curate-write-"));
  roots.push(root);
  return join(root, "out");
}
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});
/** The folder as `ls` shows it; the commit's own `.curate-current` and `.curate-gen-*` are hidden (generation.ts). */
const visible = (dir: string) => readdirSync(dir).filter((f) => !f.startsWith("."));

const records = [
  {
    messages: [
      { role: "user", content: "What is 2+2?" },
      { role: "assistant", content: "4" },
    ],
    cat: "math",
  },
  {
    messages: [
      { role: "user", content: "Name a prime." },
      { role: "assistant", content: "7" },
    ],
    cat: "math",
  },
  {
    messages: [
      { role: "user", content: "Say hi in French." },
      { role: "assistant", content: "Salut" },
    ],
    cat: "lang",
  },
  {
    messages: [
      { role: "user", content: "What is 2+2?" },
      { role: "assistant", content: "4" },
    ],
    cat: "math",
  },
  { messages: "not a list", cat: "broken" },
  {
    messages: [
      { role: "user", content: "Capital of Peru?" },
      { role: "assistant", content: "Lima" },
    ],
    cat: "geo",
  },
];

/**
 * A small pipeline with every route: rejects malformed records, calls the second copy of a conversation a
 * duplicate, and assigns splits and token counts the way the split and tokens stages do.
 */
function toyStages(): Stage[] {
  const check: Stage = async function* check(source, ctx) {
    const seen = new Map<string, { file: string; line: number }>();
    for await (const item of source) {
      const data = item.data as { messages: unknown };
      if (!Array.isArray(data.messages)) {
        ctx.reject(item, { code: "schema_mismatch", message: "messages must be an array" });
        continue;
      }
      const key = JSON.stringify(data.messages);
      const first = seen.get(key);
      if (first) ctx.duplicate(item, { source: first, method: "exact", similarity: 1 });
      else {
        seen.set(key, item.source);
        yield item;
      }
    }
  };
  const tag: Stage = async function* tag(source) {
    for await (const item of source) {
      const line = item.source.line;
      yield { ...item, meta: { ...item.meta, split: line === 3 ? "test" : "train", tokens: { total: line * 10 } } };
    }
  };
  return [check, tag];
}

async function runToy(dir: string, options: { compress?: boolean; force?: boolean } = {}) {
  return runDataset({
    dir,
    splits: ["train", "test"],
    ...options,
    source: fromArray(records, "chat.jsonl"),
    stages: toyStages(),
    config: { command: "test", split: "train,test" },
    seed: 1,
    toolVersion: "9.9.9",
  });
}

describe("DatasetWriter", () => {
  it("writes one file per split, rejects, duplicates and a manifest that accounts for every record", async () => {
    const dir = freshDir();
    const manifest = await runToy(dir);
    expect(
      readdirSync(dir)
        .filter((f) => f.startsWith("."))
        .sort(),
    ).toEqual([".curate-current", expect.stringMatching(/^\.curate-gen-\d+-\d+$/)]);
    expect(visible(dir).sort()).toEqual([
      "duplicates.jsonl",
      "manifest.json",
      "rejects.jsonl",
      "test.jsonl",
      "train.jsonl",
    ]);
    const lines = (f: string) => readFileSync(join(dir, f), "utf8").trim().split("\n").filter(Boolean);
    expect(lines("train.jsonl").map((l) => JSON.parse(l).cat)).toEqual(["math", "math", "geo"]);
    expect(lines("test.jsonl")).toHaveLength(1);
    expect(JSON.parse(lines("rejects.jsonl")[0]!)).toMatchObject({
      source: { file: "chat.jsonl", line: 5 },
      stage: "check",
      code: "schema_mismatch",
      record: { messages: "not a list" },
    });
    expect(JSON.parse(lines("duplicates.jsonl")[0]!)).toMatchObject({
      source: { file: "chat.jsonl", line: 4 },
      kept: { file: "chat.jsonl", line: 1 },
      method: "exact",
      similarity: 1,
    });

    expect(manifest.conservation).toEqual({
      law: "input records = Σ splits + rejected + duplicates",
      input: 6,
      splits: 4,
      rejected: 1,
      duplicates: 1,
      holds: true,
    });
    expect(manifest.splits.train).toMatchObject({ file: "train.jsonl", records: 3 });
    expect(manifest.splits.train!.tokens).toMatchObject({
      records: 3,
      sum: 90,
      min: 10,
      max: 60,
      mean: 30,
      p50: 20,
      p95: 60,
    });
    expect(manifest.rejects.byCode).toEqual({ schema_mismatch: 1 });
    expect(manifest.duplicates).toMatchObject({ total: 1, byMethod: { exact: 1 }, clusterSizes: { "2": 1 } });
    expect(manifest.tool).toEqual({ name: "curate", version: "9.9.9" });
    expect(manifest.stages.map((s) => s.name)).toEqual(["read", "check", "tag"]);

    // The file on disk is the manifest returned, and it passes its own schema.
    const onDisk = readManifest(join(dir, "manifest.json"));
    expect(onDisk).toEqual(manifest);
    expect(manifestSchema.safeParse(onDisk).success).toBe(true);
    for (const output of manifest.outputs) {
      const bytes = readFileSync(join(dir, output.path));
      expect(output.bytes).toBe(bytes.length);
      expect(output.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    }
  });

  it("writes byte-identical files for identical input, and gzip when asked", async () => {
    const a = freshDir();
    const b = freshDir();
    await runToy(a, { compress: true });
    const manifest = await runToy(b, { compress: true });
    expect(manifest.outputs.map((o) => o.path)).toEqual([
      "train.jsonl.gz",
      "test.jsonl.gz",
      "rejects.jsonl",
      "duplicates.jsonl",
    ]);
    for (const output of manifest.outputs) {
      expect(readFileSync(join(a, output.path)).equals(readFileSync(join(b, output.path)))).toBe(true);
    }
    const text = gunzipSync(readFileSync(join(b, "train.jsonl.gz"))).toString("utf8");
    expect(text.trim().split("\n")).toHaveLength(3);
  });

  it("refuses a non-empty folder without force, and with force replaces only curate's files", async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "notes.txt"), "keep me");
    expect(() => new DatasetWriter({ dir })).toThrow(/output folder .* is not empty \(notes\.txt\).*--force/);
    await runToy(dir, { force: true });
    // An earlier run's split that this run does not write is removed (its manifest named it); notes.txt stays.
    writeFileSync(join(dir, "validation.jsonl"), "{}\n");
    const old = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    old.outputs.push({ ...old.outputs[0], path: "validation.jsonl" });
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(old));
    await runToy(dir, { force: true });
    expect(visible(dir).sort()).toEqual([
      "duplicates.jsonl",
      "manifest.json",
      "notes.txt",
      "rejects.jsonl",
      "test.jsonl",
      "train.jsonl",
    ]);
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("keep me");
  });

  it("ignores and cleans temp folders of crashed runs when checking emptiness", async () => {
    const dir = freshDir();
    mkdirSync(join(dir, ".curate-tmp-999999999-1"), { recursive: true });
    writeFileSync(join(dir, ".curate-tmp-999999999-1", ".train.jsonl.tmp-999999999"), '{"half":');
    await runToy(dir);
    expect(existsSync(join(dir, ".curate-tmp-999999999-1"))).toBe(false);
  });

  it("aborts on a conservation violation: an internal error, and no file under a final name", async () => {
    const dir = freshDir();
    const writer = new DatasetWriter({ dir, splits: ["train"] });
    writer.write({ data: { a: 1 }, source: { file: "x.jsonl", line: 1 }, meta: { split: "train" } });
    const counts: StageCounts[] = [
      {
        name: "read",
        in: 2,
        out: 2,
        rejected: 0,
        duplicates: 0,
        warnings: 0,
        rejectedByCode: {},
        duplicatesByMethod: {},
        warningsByCode: {},
        selfMs: 1,
      },
    ];
    expect(() => writer.finish({ counts })).toThrow(/conservation law violated, nothing written: input 2 ≠ splits 1/);
    expect(readdirSync(dir)).toEqual([]);
    expect(() => writer.write({ data: {}, source: { file: "x", line: 2 } })).toThrow(/write after aborted/);
  });

  it("fails when the readers' record counts disagree with what the pipeline read", async () => {
    const dir = freshDir();
    const source = Object.assign(fromArray(records.slice(0, 3), "a.jsonl"), {
      stats: [{ path: "a.jsonl", bytes: 10, sha256: "x", records: 4 }],
    });
    await expect(runDataset({ dir, source, stages: [] })).rejects.toThrow(/inputs hold 4 records, the pipeline read 3/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("puts records without meta.split in the default split, and converts records on the way out", async () => {
    const dir = freshDir();
    const manifest = await runDataset({
      dir,
      defaultSplit: "all",
      source: fromArray([{ q: "a" }, { q: "b" }]),
      stages: [],
      transform: (item) => ({ text: (item.data as { q: string }).q.toUpperCase() }),
    });
    expect(Object.keys(manifest.splits)).toEqual(["all"]);
    expect(readFileSync(join(dir, "all.jsonl"), "utf8")).toBe('{"text":"A"}\n{"text":"B"}\n');
    expect(manifest.splits.all!.tokens).toBeUndefined();
  });

  it("writes the JSON a stage remembered for a record, unless a later stage replaced the record's data", async () => {
    const dir = freshDir();
    // The split stage remembers the JSON it read back; spaces make reuse visible here (JSON.stringify has none).
    const reading: Stage = async function* reading(source) {
      for await (const item of source) {
        rememberJson(item.data, JSON.stringify(item.data, null, 1).replaceAll("\n", ""));
        yield item;
      }
    };
    const changing: Stage = async function* changing(source) {
      for await (const item of source) {
        const data = item.data as { q: string };
        yield data.q === "b" ? { ...item, data: { q: "B" } } : { ...item, meta: { ...item.meta, seen: true } };
      }
    };
    await runDataset({ dir, source: fromArray([{ q: "a" }, { q: "b" }]), stages: [reading, changing] });
    expect(readFileSync(join(dir, "train.jsonl"), "utf8")).toBe('{ "q": "a"}\n{"q":"B"}\n');
  });

  it("refuses split names that are not file names", () => {
    expect(() => new DatasetWriter({ dir: freshDir(), splits: ["../etc"] })).toThrow(
      /split name "..\/etc" cannot be a file name/,
    );
  });
});

describe("readManifest", () => {
  it("names the file and the field when a manifest is invalid", () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "manifest.json");
    expect(() => readManifest(path)).toThrow(/cannot read manifest .*manifest.json: no such file/);
    writeFileSync(path, "{");
    expect(() => readManifest(path)).toThrow(/is not JSON/);
    writeFileSync(path, JSON.stringify({ hello: 1 }));
    expect(() => readManifest(path)).toThrow(/manifestVersion undefined is not one this curate reads/);
    writeFileSync(path, JSON.stringify({ manifestVersion: 1, tool: { name: "curate", version: "1" } }));
    expect(() => readManifest(path)).toThrow(/not a valid curate manifest at createdAt/);
  });
});

describe("reports", () => {
  it("summarises a manifest as table rows and JSON", async () => {
    const manifest = await runToy(freshDir());
    const rows = summaryRows(manifest);
    expect(rows[0]).toEqual(["records read", 6]);
    expect(rows).toContainEqual(["  rejected (check: schema_mismatch)", 1]);
    expect(rows).toContainEqual(["  duplicates (check: exact)", 1]);
    expect(rows).toContainEqual(["  train", 3, 90, 30, 20, 60, 60]);
    expect(rows.at(-1)).toEqual(["  test", 1, 30, 30, 30, 30, 30]);
    expect(summaryNotes(manifest)).toEqual(["conservation: 6 read = 4 in splits + 1 rejected + 1 duplicates ✓"]);
    expect(manifestSummaryJson(manifest)).toMatchObject({ read: 6, kept: 4, rejected: 1, duplicates: 1 });
  });

  it("renders a self-contained HTML page with charts", async () => {
    const manifest = await runToy(freshDir());
    const html = renderReportHtml(manifest);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|<link|https?:\/\/|@import/i);
    expect(html.match(/<svg /g)?.length).toBe(5); // split sizes, 2 token histograms, rejects, cluster sizes
    expect(html).toContain('aria-label="token-length histogram, train"');
    expect(html).toContain("schema_mismatch");
    const hostile = { ...manifest, rejects: { ...manifest.rejects, byCode: { "<img src=x>": 1 } } };
    expect(renderReportHtml(hostile)).toContain("&lt;img src=x&gt;");
  });
});
