import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planShards, readShard } from "@curate/read";
import { afterAll, describe, expect, it } from "vitest";
import { runKey, shardConfig } from "./key.js";
import { fileShardStore } from "./store.js";

const dir = mkdtempSync(join(tmpdir(), "curate-queue-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = [
  '{"messages":[{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"4"}]}',
  '{"messages":[{"role":"user","content":"cut off',
  "",
  '{"prompt":"Say hi","completion":" hi"}',
];
writeFileSync(join(dir, "a.jsonl"), `${lines.join("\n")}\n`);

describe("fileShardStore", () => {
  it("gives back a shard's result as it was stored, typed arrays and undefined included", async () => {
    const [shard] = await planShards([join(dir, "a.jsonl")]);
    const result = await readShard(shard!);
    const kept = result.entries.find((e) => e.kind === "kept")!;
    Object.assign(kept, { facts: { "dedup/near": new Uint32Array([7, 1 << 31, 3]), "tokens/count": undefined } });
    const store = fileShardStore(join(dir, "results"));
    expect(await store.has(shard!.id)).toBe(false);
    expect(await store.get(shard!.id)).toBeUndefined();
    await store.put(result);
    expect(await store.has(shard!.id)).toBe(true);
    const back = await store.get(shard!.id);
    expect(back).toEqual(result);
    const facts = (back!.entries.find((e) => e.kind === "kept") as { facts: Record<string, unknown> }).facts;
    expect(facts["dedup/near"]).toBeInstanceOf(Uint32Array);
    expect("tokens/count" in facts).toBe(true);
    expect(back!.entries.map((e) => e.kind)).toEqual(result.entries.map((e) => e.kind));
  });

  it("replaces a retried shard's result instead of adding one, and leaves no temp file", async () => {
    const [shard] = await planShards([join(dir, "a.jsonl")]);
    const store = fileShardStore(join(dir, "retried"));
    const result = await readShard(shard!);
    await store.put(result);
    await store.put(result);
    expect(readdirSync(store.location)).toEqual([`shard-${shard!.id}.v8`]);
    await store.clear();
    expect(await store.has(shard!.id)).toBe(false);
  });
});

describe("runKey", () => {
  const task = { maxLineBytes: 1 << 20, cwd: dir };

  it("is the same for the same command, and ignores options that do not change a shard's result", async () => {
    const shards = await planShards([join(dir, "a.jsonl")]);
    const config = { dedup: { near: true }, out: "o", threads: 4, workers: 1, queue: "redis://x:1", force: true };
    expect(shardConfig(config)).toEqual({ dedup: { near: true } });
    expect(runKey(shards, { ...task, config }, "o")).toBe(
      runKey(shards, { ...task, config: { dedup: { near: true } } }, "o"),
    );
  });

  it("changes with the options that do, the output folder, and an input rewritten in place", async () => {
    const shards = await planShards([join(dir, "a.jsonl")]);
    const key = runKey(shards, { ...task, config: { dedup: { near: true } } }, "o");
    expect(runKey(shards, { ...task, config: { dedup: { near: false } } }, "o")).not.toBe(key);
    expect(runKey(shards, { ...task, config: { dedup: { near: true } } }, "other")).not.toBe(key);
    expect(runKey(shards, { ...task, maxLineBytes: 100, config: { dedup: { near: true } } }, "o")).not.toBe(key);
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(dir, "a.jsonl"), later, later);
    expect(runKey(shards, { ...task, config: { dedup: { near: true } } }, "o")).not.toBe(key);
  });
});
