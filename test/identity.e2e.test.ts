import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseJsonl, runCli, tempDir } from "./helpers/cli.js";

// A whole dataset on one line, as Python's `json.dump` writes it: every record is on line 1, and only the record
// number (and byte offset) tells them apart — in diagnostics, duplicates, cluster ids and split grouping.

const { dir, cleanup } = tempDir("curate-identity-");
afterAll(cleanup);

const verbs = ["Summarise", "Translate", "Explain", "Rewrite", "Classify", "List"];
const topics = [
  "the water cycle",
  "a sorting algorithm",
  "photosynthesis",
  "the French revolution",
  "compound interest",
];

/** 7,000 alpaca records with 182 exact copies of earlier ones, on one line. */
function oneLineDataset(): { path: string; copies: number } {
  const records: { instruction: string; input: string; output: string }[] = [];
  for (let i = 0; i < 6818; i++) {
    const verb = verbs[i % verbs.length]!;
    const topic = topics[(i * 7) % topics.length]!;
    records.push({
      instruction: `${verb} ${topic} for reader #${i}.`,
      input: i % 3 === 0 ? `Context ${i}: keep it short.` : "",
      output: `Here is a note on ${topic}, number ${i}, in plain words.`,
    });
  }
  for (let k = 0; k < 182; k++) records.push({ ...records[k * 37]! });
  const path = join(dir, "alpaca_data.json");
  writeFileSync(path, JSON.stringify(records));
  return { path, copies: 182 };
}

describe("record identity inside one line", () => {
  it("validate tells two bad records on the same line apart", async () => {
    const path = join(dir, "two-bad.json");
    writeFileSync(
      path,
      JSON.stringify([
        { instruction: "Say hi", output: "hi" },
        { instruction: "Name a colour", output: "" },
        { instruction: "Count to three", output: "1 2 3" },
        { instruction: "Add 2 and 2", output: 4 },
      ]),
    );
    const r = await runCli(["validate", path]);
    expect(r.exitCode).toBe(1);
    const lines = r.stderr.split("\n").filter((l) => l.includes(" error "));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/two-bad\.json:1:\d+ #2 error missing_content output/);
    expect(lines[1]).toMatch(/two-bad\.json:1:\d+ #4 error invalid_type output/);
  });

  it("exact dedup gives each duplicate pair its own cluster, and flagged records still reach the test split", async () => {
    const { path, copies } = oneLineDataset();
    const out = join(dir, "flag");
    const r = await runCli([
      "run",
      path,
      "--dedup",
      "exact",
      "--dedup-mode",
      "flag",
      "--split",
      "train=0.9,test=0.1",
      "--out",
      out,
      "--json",
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(manifest.conservation).toMatchObject({ input: 7000, splits: 7000, rejected: 0, duplicates: 0 });
    expect(manifest.warnings.byCode.exact_duplicate).toBe(copies);
    const test = manifest.splits.test.records as number;
    // Before record identity, every record shared the cluster "alpaca_data.json:1" and all 7,000 went to train.
    expect(test).toBeGreaterThan(550);
    expect(test).toBeLessThan(850);

    const removed = join(dir, "remove");
    const rr = await runCli(["run", path, "--dedup", "exact", "--out", removed, "--split", "train=0.9,test=0.1"]);
    expect(rr.exitCode, rr.stderr).toBe(0);
    const dups = parseJsonl(readFileSync(join(removed, "duplicates.jsonl"), "utf8")) as {
      source: { line: number; record: number; offset: number };
      kept: { record: number };
      cluster: string;
    }[];
    expect(dups).toHaveLength(copies);
    expect(new Set(dups.map((d) => d.cluster)).size).toBe(copies);
    expect(dups.every((d) => d.source.line === 1)).toBe(true);
    expect(dups.map((d) => d.source.record)).toEqual(Array.from({ length: copies }, (_, k) => 6819 + k));
    expect(dups.map((d) => d.kept.record)).toEqual(Array.from({ length: copies }, (_, k) => k * 37 + 1));
    // The byte offset points at the duplicate's own text on that one line.
    const text = readFileSync(path);
    const d = dups[5]!;
    const at = text.subarray(d.source.offset, d.source.offset + 200).toString();
    expect(at.startsWith(`{"instruction":"${verbs[(5 * 37) % verbs.length]}`)).toBe(true);
  });
});
