import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
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

  it("cuts a JSON array into element ranges that read back as the sequential read, one-line or pretty", async () => {
    const random = seededRandom(5);
    for (let trial = 0; trial < 12; trial++) {
      // What arrays in the wild hold: brackets, commas and escaped quotes inside strings, nested lists, a broken
      // element, an empty element (`,,`), non-ASCII; one line (json.dump) or pretty-printed (indent=2), a BOM.
      const elements = Array.from({ length: 150 + Math.floor(random() * 300) }, (_, i) => {
        const r = random();
        if (r < 0.03) return '{"instruction": "broken", "output": }';
        if (r < 0.04) return "";
        if (r < 0.06) return "[1, [2, 3]]";
        const record = {
          instruction: `Task ${i}: split "a, b]" and {c}, \\ then ✓ é`,
          input: random() < 0.5 ? "" : `[${i}, ${i + 1}]`,
          output: `Done ${i} ${"x".repeat(Math.floor(random() * 80))}`,
        };
        return random() < 0.5 ? JSON.stringify(record) : JSON.stringify(record, null, 2);
      });
      const pretty = random() < 0.5;
      const text = pretty ? `[\n  ${elements.join(",\n  ")}\n]\n` : `[${elements.join(", ")}]`;
      const name = `arr${trial}.${random() < 0.5 ? "json" : "jsonl"}`;
      writeFileSync(join(dir, name), `${random() < 0.3 ? "\uFEFF" : ""}${random() < 0.3 ? "\n\n" : ""}${text}`);
      const whole = await sequential([name]);
      const { routes, shards } = await sharded([name], 400 + Math.floor(random() * 3000));
      expect(shards, `trial ${trial}`).toBeGreaterThan(3);
      expect(routes.kept.map((e) => [e.source, e.data])).toEqual(whole.kept.map((e) => [e.source, e.data]));
      expect(routes.rejected).toEqual(whole.rejected);
      expect(routes.warned).toEqual(whole.warned);
      expect(whole.rejected.length).toBeGreaterThan(0);
    }
  });

  it("cuts plain JSONL and arrays: values, compressed files and small files stay whole; ranges start lines", async () => {
    const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify({ prompt: `p${i}`, completion: ` c${i}` }));
    writeFileSync(join(dir, "array.jsonl"), `[${lines.join(",\n")}]`);
    writeFileSync(join(dir, "values.json"), lines.join("\n"));
    writeFileSync(join(dir, "plain.jsonl"), `${lines.join("\n")}\n`);
    writeFileSync(join(dir, "small.json"), `[${lines.slice(0, 3).join(",")}]`);
    writeFileSync(join(dir, "packed.jsonl.gz"), gzipSync(`${lines.join("\n")}\n`));
    const shards = await planShards(["array.jsonl", "values.json", "plain.jsonl", "small.json", "packed.jsonl.gz"], {
      cwd: dir,
      targetBytes: 1000,
    });
    const arrays = shards.filter((s) => s.input === 0);
    expect(arrays.length).toBeGreaterThan(5);
    expect(arrays.every((s) => s.array !== undefined && !s.whole)).toBe(true);
    const arrayText = Buffer.from(`[${lines.join(",\n")}]`);
    // Every later range starts at an element's `{`, on the line and column the plan gives it.
    for (const s of arrays.slice(1)) {
      expect(String.fromCharCode(arrayText[s.start]!)).toBe("{");
      const before = arrayText.subarray(0, s.start).toString();
      expect(s.array!.line).toBe(before.split("\n").length);
      expect(s.array!.column).toBe(s.start - before.lastIndexOf("\n"));
    }
    expect(shards.filter((s) => s.input === 3)).toEqual([
      { id: expect.any(Number), input: 3, path: "small.json", start: 0, end: undefined, whole: true },
    ]);
    expect(shards.filter((s) => s.input === 4).map((s) => s.whole)).toEqual([true]);
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
