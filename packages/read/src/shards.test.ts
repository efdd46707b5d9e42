import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Envelope, Rejected, StageContext, Warning } from "@curate/core";
import { seededRandom } from "@curate/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import { readInputs } from "./read.js";
import { planShards, readShard, ShardStitcher } from "./shards.js";

const dir = mkdtempSync(join(tmpdir(), "curate-shards-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A JSONL file with what real files have: blank lines, CRLF, broken lines, duplicate keys, non-ASCII, a BOM. */
function jsonl(random: () => number, lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const r = random();
    if (r < 0.05) out.push("");
    else if (r < 0.08) out.push('{"instruction": "broken", "output": ');
    else if (r < 0.1) out.push('{"instruction": "twice", "instruction": "again", "output": "x"}');
    else if (r < 0.12) out.push("[1, 2]");
    else {
      const words = Array.from({ length: 1 + Math.floor(random() * 40) }, (_, k) => `wörd${(i * 7 + k) % 97}`);
      out.push(JSON.stringify({ instruction: `Task ${i}: ${words.join(" ")}`, output: `Réponse ${i} ✓` }));
    }
  }
  const text = out.join(random() < 0.5 ? "\n" : "\r\n");
  return `${random() < 0.3 ? "\uFEFF" : ""}${random() < 0.3 ? "\n\n" : ""}${text}${random() < 0.5 ? "\n" : ""}`;
}

interface Routes {
  kept: Envelope[];
  rejected: [unknown, string, string][];
  warned: [unknown, string][];
}

async function sequential(paths: string[]): Promise<Routes> {
  const routes: Routes = { kept: [], rejected: [], warned: [] };
  const ctx = {
    stage: "read",
    reject: (item: Envelope, reason: Rejected["reason"]) =>
      routes.rejected.push([item.source, reason.code, reason.message]),
    duplicate() {},
    warn: (item: Envelope, issue: Warning["issue"]) => routes.warned.push([item.source, issue.code]),
  } satisfies StageContext;
  const source = readInputs(paths, { cwd: dir });
  for await (const item of source(ctx)) routes.kept.push(item);
  (routes as Routes & { stats?: unknown }).stats = source.stats;
  return routes;
}

async function sharded(paths: string[], targetBytes: number): Promise<{ routes: Routes; shards: number }> {
  const shards = await planShards(paths, { cwd: dir, targetBytes });
  // Read out of order, as workers would, then stitch in plan order.
  const results = await Promise.all([...shards].reverse().map((s) => readShard(s, { cwd: dir })));
  results.reverse();
  const stitcher = new ShardStitcher();
  const routes: Routes = { kept: [], rejected: [], warned: [] };
  for (const result of results) {
    for (const entry of stitcher.stitch(structuredClone(result))) {
      if (entry.kind === "kept") routes.kept.push(entry.item);
      else if (entry.kind === "reject")
        routes.rejected.push([entry.item.source, entry.reason.code, entry.reason.message]);
      else routes.warned.push([entry.item.source, entry.issue.code]);
    }
  }
  return { routes, shards: shards.length };
}

describe("shard plan", () => {
  it("reading range shards and stitching them gives the sequential read: records, identities, rejects", async () => {
    const random = seededRandom(42);
    for (let trial = 0; trial < 15; trial++) {
      const a = `a${trial}.jsonl`;
      const b = `b${trial}.jsonl`;
      writeFileSync(join(dir, a), jsonl(random, 200 + Math.floor(random() * 400)));
      writeFileSync(join(dir, b), jsonl(random, 50));
      const target = 500 + Math.floor(random() * 5000);
      const whole = await sequential([a, b]);
      const { routes, shards } = await sharded([a, b], target);
      expect(shards, `trial ${trial}`).toBeGreaterThan(2);
      expect(routes.kept.map((e) => [e.source, e.data])).toEqual(whole.kept.map((e) => [e.source, e.data]));
      expect(routes.rejected).toEqual(whole.rejected);
      expect(routes.warned).toEqual(whole.warned);
    }
  });

  it("cuts only plain JSONL: arrays, .json names and compressed files stay whole; ranges start lines", async () => {
    const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ prompt: `p${i}`, completion: ` c${i}` }));
    writeFileSync(join(dir, "array.jsonl"), `[${lines.join(",\n")}]`);
    writeFileSync(join(dir, "values.json"), lines.join("\n"));
    writeFileSync(join(dir, "plain.jsonl"), `${lines.join("\n")}\n`);
    const shards = await planShards(["array.jsonl", "values.json", "plain.jsonl"], { cwd: dir, targetBytes: 1000 });
    expect(shards.filter((s) => s.input === 0)).toEqual([
      { id: 0, input: 0, path: "array.jsonl", start: 0, end: undefined, whole: true },
    ]);
    expect(shards.filter((s) => s.input === 1)).toHaveLength(1);
    const ranges = shards.filter((s) => s.input === 2);
    expect(ranges.length).toBeGreaterThan(5);
    const text = Buffer.from(`${lines.join("\n")}\n`);
    for (const [i, s] of ranges.entries()) {
      if (i > 0) expect(text[s.start - 1]).toBe(10);
      expect(s.start).toBe(i === 0 ? 0 : ranges[i - 1]!.end);
    }
    expect(ranges.at(-1)!.end).toBeUndefined();
    expect(ranges.every((s) => !s.whole)).toBe(true);
  });
});
