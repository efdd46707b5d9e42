import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { seededRandom } from "@curate/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, tempDir } from "./helpers/cli.js";

// `curate run --workers N`: inputs are cut into shards (byte ranges of a big JSONL at line starts, element ranges of
// a big JSON array; whole files for compressed inputs), read and given their per-record work (validation, hashes,
// MinHash sketches, token counts) by N threads and stitched back in order. The output must not depend on N.

const { dir, cleanup } = tempDir("curate-workers-");
afterAll(cleanup);

const topics = ["a binary search", "the carbon cycle", "Rust lifetimes", "a haiku about rain", "VAT in the EU"];

/** Chat records with what real exports have: exact and near copies, broken lines, blank lines, a bad role. */
function corpus(random: () => number, count: number): string {
  const lines: string[] = [];
  const earlier: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    if (r < 0.03) lines.push('{"messages": [{"role": "user", "content": "cut off');
    else if (r < 0.05) lines.push("");
    else if (r < 0.1 && earlier.length > 0) lines.push(earlier[Math.floor(random() * earlier.length)]!);
    else {
      const topic = topics[i % topics.length]!;
      const role = r < 0.12 ? "wizard" : "assistant";
      const words = Array.from({ length: 20 + Math.floor(random() * 30) }, (_, k) => `w${(i * 13 + k * 7) % 211}`);
      const line = JSON.stringify({
        messages: [
          { role: "user", content: `Explain ${topic}, case ${i % 400}.` },
          { role, content: `Here is ${topic}: ${words.join(" ")}.` },
        ],
      });
      lines.push(line);
      if (random() < 0.2) earlier.push(line);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Every output file's bytes, by name, and the manifest's parts that must not depend on the worker count. */
function outputs(out: string) {
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
  const files = Object.fromEntries(
    (manifest.outputs as { path: string; sha256: string }[]).map((o) => [o.path, o.sha256]),
  );
  return {
    files,
    inputs: manifest.inputs,
    stages: manifest.stages.map((s: { selfMs: number }) => ({ ...s, selfMs: 0 })),
    conservation: manifest.conservation,
  };
}

describe("curate run --workers", () => {
  it("writes byte-identical outputs for 1, 2 and 4 workers and without the flag", async () => {
    const random = seededRandom(3);
    writeFileSync(join(dir, "big.jsonl"), corpus(random, 6000));
    writeFileSync(join(dir, "small.jsonl.gz"), gzipSync(corpus(random, 300)));
    // One big JSON array on one line (what Python's json.dump writes): cut into element ranges.
    const alpaca = Array.from({ length: 2500 }, (_, i) =>
      i % 97 === 5
        ? { instruction: "Say hi" }
        : { instruction: `Translate sentence ${i % 700} to French`, input: "", output: `Phrase ${i % 700}, oui.` },
    );
    writeFileSync(join(dir, "array.json"), JSON.stringify(alpaca));
    const inputs = ["big.jsonl", "small.jsonl.gz", "array.json"].map((f) => join(dir, f));
    const common = ["--dedup", "near", "--split", "train=0.8,validation=0.1,test=0.1", "--tokenizer", "o200k_base"];
    const runs: ReturnType<typeof outputs>[] = [];
    for (const workers of [undefined, "1", "2", "4"]) {
      const out = join(dir, `out-${workers ?? "default"}`);
      const args = ["run", ...inputs, ...common, "--shard-bytes", "100000", "--out", out, "--quiet"];
      if (workers) args.push("--workers", workers);
      const r = await runCli(args);
      expect(r.exitCode, r.stderr).toBe(1); // broken lines and bad roles are rejected
      runs.push(outputs(out));
    }
    const [first, ...rest] = runs;
    expect(Object.keys(first!.files)).toEqual(
      expect.arrayContaining(["train.jsonl", "validation.jsonl", "test.jsonl", "rejects.jsonl", "duplicates.jsonl"]),
    );
    expect(first!.conservation.duplicates).toBeGreaterThan(100);
    expect(first!.conservation.rejected).toBeGreaterThan(100);
    for (const run of rest) expect(run).toEqual(first);
    // The big input was really cut (its file is ~2 MB, shards of 100 kB): the identities still run 1..n.
    expect(first!.inputs[0]).toMatchObject({ records: expect.any(Number), compression: "none", container: "jsonl" });
    expect(first!.inputs[2]).toMatchObject({ records: 2500, compression: "none", container: "json-array" });
  }, 300_000);
});
