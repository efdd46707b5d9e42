import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { seededRandom } from "@curate/core/testing";
import { readInputs, type ShardResult } from "@curate/read";
import { afterAll, describe, expect, it } from "vitest";
import type { RunConfig } from "./config.js";
import { runDataset } from "./engine.js";
import type { PlanSource } from "./index.js";
import { planStages } from "./plan.js";
import { runShardTask, shardedSource, workersSource } from "./shards.js";

const dir = mkdtempSync(join(tmpdir(), "curate-shard-phase-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const topics = ["binary search", "the carbon cycle", "Rust lifetimes", "a haiku about rain", "VAT in the EU"];

/**
 * Chat records as exports have them: exact and near copies, broken lines, blank lines, a bad role, a few alpaca
 * records in a chat file (format mismatches), answers long enough to pass --max-tokens.
 */
function corpus(random: () => number, count: number): string {
  const lines: string[] = [];
  const earlier: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    if (r < 0.03) lines.push('{"messages": [{"role": "user", "content": "cut off');
    else if (r < 0.05) lines.push("");
    else if (r < 0.09 && earlier.length > 0) lines.push(earlier[Math.floor(random() * earlier.length)]!);
    else if (r < 0.1) lines.push(JSON.stringify({ instruction: `Summarise note ${i}`, output: `Note ${i} says hi.` }));
    else {
      const topic = topics[i % topics.length]!;
      const words = Array.from({ length: 10 + Math.floor(random() * 60) }, (_, k) => `w${(i * 13 + k * 7) % 97}`);
      const line = JSON.stringify({
        messages: [
          { role: "user", content: `Explain ${topic}, case ${i % 300}.` },
          { role: r < 0.12 ? "wizard" : "assistant", content: `Here is ${topic}: ${words.join(" ")}.` },
        ],
      });
      lines.push(line);
      if (random() < 0.2) earlier.push(line);
    }
  }
  return `${lines.join("\n")}\n`;
}

const random = seededRandom(11);
writeFileSync(join(dir, "big.jsonl"), corpus(random, 3000));
writeFileSync(join(dir, "small.jsonl.gz"), gzipSync(corpus(random, 200)));
const inputs = ["big.jsonl", "small.jsonl.gz"];
const config: RunConfig = {
  dedup: { near: true },
  tokens: { tokenizer: "o200k_base", maxTokens: 60 },
  split: { ratios: "train=0.8,test=0.2" },
};
const shardBytes = 40_000;

/** Every file of a dataset folder (bytes as SHA-256), and the manifest's conservation line. */
async function run(name: string, source: PlanSource): Promise<{ files: Record<string, string>; manifest: unknown }> {
  const out = join(dir, name);
  const { stages, splitStage } = await planStages(config);
  const manifest = await runDataset({ dir: out, source, stages, splits: splitStage!.splits, force: true });
  const files: Record<string, string> = {};
  for (const file of readdirSync(out).sort()) {
    if (file.endsWith(".jsonl"))
      files[file] = createHash("sha256")
        .update(readFileSync(join(out, file)))
        .digest("hex");
  }
  return { files, manifest: { conservation: manifest.conservation, stages: manifest.stages.length } };
}

/** A shard phase run in this thread whose results `tamper` may change before they are stitched. */
function tampered(tamper: (facts: Record<string, unknown>) => void): PlanSource {
  return shardedSource(
    inputs,
    async (task) => {
      const result: ShardResult = await runShardTask(task);
      for (const entry of result.entries) if (entry.kind === "kept" && entry.facts) tamper(entry.facts);
      return result;
    },
    { cwd: dir, shardBytes, config },
  );
}

describe("the shard phase", () => {
  it("gives byte-identical datasets for the sequential reader and 1 and 3 worker threads", async () => {
    const sequential = await run("sequential", readInputs(inputs, { cwd: dir }));
    expect(Object.keys(sequential.files)).toEqual(["duplicates.jsonl", "rejects.jsonl", "test.jsonl", "train.jsonl"]);
    for (const workers of [1, 3]) {
      const sharded = await run(`w${workers}`, workersSource(inputs, { cwd: dir, shardBytes, workers, config }));
      expect(sharded).toEqual(sequential);
    }
  }, 120_000);

  it("is where the per-record work happens: each stage takes its fact instead of computing it", async () => {
    const honest = await run(
      "honest",
      tampered(() => {}),
    );
    const baseline = JSON.stringify(honest);
    const keys = (facts: Record<string, unknown>, prefix: string) =>
      Object.keys(facts).filter((k) => k.startsWith(prefix));
    // A verdict that rejects every record it covers.
    const validate = await run(
      "t-validate",
      tampered((facts) => {
        for (const k of keys(facts, "validate:")) {
          const v = facts[k] as { file: unknown };
          facts[k] = { file: v.file, reason: { code: "planted", message: "planted by the test" } };
        }
      }),
    );
    const rejects = readFileSync(join(dir, "t-validate", "rejects.jsonl"), "utf8");
    expect(rejects.split("\n").filter((l) => l.includes('"code":"planted"')).length).toBeGreaterThan(2000);
    // One hash for every record: all but the first are exact duplicates.
    const exact = await run(
      "t-exact",
      tampered((facts) => {
        for (const k of keys(facts, "exactDedup:")) facts[k] = new Uint32Array([1, 2, 3, 4]);
      }),
    );
    // Every record counted as one token: none is too long any more.
    const tokens = await run(
      "t-tokens",
      tampered((facts) => {
        for (const k of keys(facts, "countTokens:")) {
          const f = facts[k] as { counts?: { total: number; trainable: number } };
          if (f.counts) f.counts = { ...f.counts, total: 1, trainable: 1 };
        }
      }),
    );
    // Signatures of empty texts: nothing is a near duplicate.
    const near = await run(
      "t-near",
      tampered((facts) => {
        for (const k of keys(facts, "nearDedup:")) {
          const f = facts[k] as Uint32Array;
          facts[k] = f.subarray(0, f.length).fill(0);
        }
      }),
    );
    const c = (r: { manifest: unknown }) =>
      (r.manifest as { conservation: { duplicates: number; rejected: number; read: number } }).conservation;
    expect(c(honest).duplicates).toBeGreaterThan(200);
    expect(c(exact).duplicates).toBeGreaterThan(c(honest).duplicates + 1000);
    expect(c(tokens).rejected).toBeLessThan(c(honest).rejected - 500);
    expect(c(near).duplicates).toBeLessThan(c(honest).duplicates);
    for (const r of [validate, exact, tokens, near]) expect(JSON.stringify(r)).not.toBe(baseline);
  }, 120_000);
});
