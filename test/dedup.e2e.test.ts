import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fg from "fast-glob";
import { afterAll, describe, expect, it } from "vitest";
import { corpus } from "../packages/dedup/src/testing.js";
import { parseJsonl, repoRoot, runCli, tempDir } from "./helpers/cli.js";

const { dir, cleanup } = tempDir("curate-dedup-");
afterAll(cleanup);

interface Summary {
  read: number;
  kept: number;
  rejected: number;
  duplicates: number;
  exact?: { duplicates: number; clusters: number; largestCluster: number };
  near?: { duplicates: number; clusters: number; largestCluster: number };
  decontamination?: { contaminated: number; evalRecords: number };
}

/** Runs `curate dedup` with every output in files and returns them parsed, with the `--json` summary. */
async function dedup(args: string[], name: string, input?: string) {
  const files = {
    out: join(dir, `${name}.out.jsonl`),
    dups: join(dir, `${name}.dups.jsonl`),
    rejects: join(dir, `${name}.rej.jsonl`),
  };
  const result = await runCli(
    ["dedup", ...args, "--out", files.out, "--duplicates", files.dups, "--rejects", files.rejects, "--json"],
    input === undefined ? {} : { input },
  );
  const read = (path: string) => parseJsonl(readFileSync(path, "utf8")) as Record<string, unknown>[];
  if (result.exitCode === 2) return { ...result, summary: undefined, kept: [], dups: [], rejects: [] };
  return {
    ...result,
    summary: JSON.parse(result.stderr) as Summary,
    kept: read(files.out),
    dups: read(files.dups),
    rejects: read(files.rejects),
  };
}

describe("curate dedup (built binary)", () => {
  it("exact by default: keeps first occurrences and names the kept record of every duplicate", async () => {
    const r = await dedup(["fixtures/dedup/train.jsonl"], "exact");
    expect(r.exitCode).toBe(1); // one unreadable line was rejected
    expect(r.summary).toMatchObject({ read: 12, kept: 8, duplicates: 3, rejected: 1 });
    expect(r.summary?.exact).toMatchObject({ duplicates: 3, clusters: 3, largestCluster: 2 });
    // Sources carry the record's identity: its number in the input and its byte offset (line 10 is record 9: a
    // blank line comes before it), and cluster ids name the kept record by number.
    const at = (line: number, record: number, offset: number) => ({
      file: "fixtures/dedup/train.jsonl",
      line,
      record,
      offset,
      input: 0,
    });
    expect(r.dups.map((d) => [d.source, d.kept, d.method, d.similarity, d.cluster])).toEqual([
      [at(3, 3, 474), at(1, 1, 0), "exact", 1, "fixtures/dedup/train.jsonl#1"],
      [at(10, 9, 1491), at(9, 8, 1289), "exact", 1, "fixtures/dedup/train.jsonl#8"],
      [
        expect.objectContaining({ line: 11 }),
        expect.objectContaining({ line: 4 }),
        "exact",
        1,
        expect.stringMatching(/#4$/),
      ],
    ]);
    const bytes = readFileSync(join(repoRoot, "fixtures/dedup/train.jsonl"));
    for (const d of r.dups) {
      const { offset, line } = d.source as { offset: number; line: number };
      // The offset points at the start of the record's line.
      expect(bytes.subarray(0, offset).toString().split("\n").length).toBe(line);
    }
    expect(r.dups[0]?.record).toMatchObject({ instruction: "Translate  'good morning'  into French." });
    expect(r.rejects.map((x) => x.code)).toEqual(["invalid_json"]);
  });

  it("--near --against: near-duplicates with similarity, contaminated records with eval file, line and n-gram", async () => {
    const r = await dedup(
      ["fixtures/dedup/train.jsonl", "--near", "--exact", "--against", "fixtures/eval/*.jsonl"],
      "near",
    );
    expect(r.summary).toMatchObject({ read: 12, rejected: 3, duplicates: 4, kept: 5 });
    expect(r.summary?.decontamination).toMatchObject({ contaminated: 2, evalRecords: 6 });
    const near = r.dups.filter((d) => d.method === "near");
    // Exact copies are gone before near dedup sees them: only the one-word edit is left for it.
    expect(
      near.map((d) => [(d.source as { line: number }).line, (d.kept as { line: number }).line, d.similarity]),
    ).toEqual([[5, 2, 0.8387]]);
    const contaminated = r.rejects.filter((x) => x.code === "contaminated");
    expect(contaminated.map((x) => [(x.source as { line: number }).line, x.eval, x.ngram])).toEqual([
      [
        6,
        expect.objectContaining({ file: "fixtures/eval/trivia.jsonl", line: 2 }),
        "a train leaves the station at nine in the morning travelling at sixty",
      ],
      [
        12,
        expect.objectContaining({ file: "fixtures/eval/chat-eval.jsonl", line: 1 }),
        "write a limerick about a cat who learned to play the piano at",
      ],
    ]);
  });

  it("prints the summary table on stderr and records on stdout, reading stdin", async () => {
    const input = readFileSync(join(repoRoot, "fixtures/dedup/chat.jsonl"), "utf8");
    const r = await runCli(["dedup", "--near", "--threads", "2"], { input });
    expect(r.exitCode).toBe(0);
    expect(parseJsonl(r.stdout)).toHaveLength(2);
    expect(r.stderr).toMatch(/records read\s+5/);
    expect(r.stderr).toMatch(/near duplicates\s+3/);
    expect(r.stderr).toMatch(/largest cluster\s+3/);
    expect(r.stderr).toMatch(/kept\s+2/);
  });

  it("--mode flag keeps every record and lists flagged duplicates", async () => {
    const r = await dedup(["fixtures/dedup/chat.jsonl", "--exact", "--near", "--mode", "flag"], "flag");
    expect(r.exitCode).toBe(0);
    expect(r.kept).toHaveLength(5);
    expect(r.summary).toMatchObject({ read: 5, kept: 5, duplicates: 0 });
    expect(r.dups.map((d) => [(d.source as { line: number }).line, d.method, d.flagged])).toEqual([
      [5, "exact", true],
      [2, "near", true],
      [3, "near", true],
      [5, "near", true],
    ]);
  });

  it("gives byte-identical output with 1 and 2 threads", async () => {
    const file = join(dir, "corpus.jsonl");
    writeFileSync(
      file,
      corpus(5, 400)
        .records.map((r) => JSON.stringify(r))
        .join("\n"),
    );
    const one = await dedup([file, "--near", "--threads", "1"], "t1");
    const two = await dedup([file, "--near", "--threads", "2"], "t2");
    expect(one.summary?.near?.duplicates).toBeGreaterThan(20);
    expect(two.kept).toEqual(one.kept);
    expect(two.dups).toEqual(one.dups);
  });

  it.each([
    [["--near", "--threshold", "1.5"], /threshold/],
    [["--near", "--threshold", "0"], /threshold/],
    [["--near", "--shingle", "sentence:3"], /expected word:N or char:N/],
    [["--normalize", "nfkc,stem"], /unknown normalization "stem"/],
    [["--mode", "drop"], /--mode/],
    [["--key", "json", "--key", "instruction"], /cannot be combined/],
    [["--against", "fixtures/eval/missing-*.jsonl"], /missing/],
  ])("exits 2 with a clear message for bad options: %s", async (args, message) => {
    const r = await runCli(["dedup", "fixtures/dedup/chat.jsonl", ...args]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  const fixtures = fg.sync(["fixtures/**/*.{jsonl,json,jsonl.gz,jsonl.zst,json.gz}"], {
    cwd: repoRoot,
    ignore: ["fixtures/eval/**", "fixtures/schemas/**"],
  });
  it.each(fixtures)("conserves records on %s: kept + duplicates + rejected = read", async (fixture) => {
    const r = await dedup([fixture, "--exact", "--near", "--against", "fixtures/eval"], fixture.replaceAll("/", "_"));
    expect(r.exitCode, r.stderr).toBeLessThan(2);
    const s = r.summary!;
    expect(s.kept + s.duplicates + s.rejected).toBe(s.read);
    expect([r.kept.length, r.dups.length, r.rejects.length]).toEqual([s.kept, s.duplicates, s.rejected]);
  });
});
