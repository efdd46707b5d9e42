import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { RunConfig } from "@curate/pipeline/config";
import type { ShardTask } from "@curate/pipeline/shards";
import type { ShardSpec } from "@curate/read";

/** Keys of the run configuration that do not change any shard's result (where it is written, how many threads). */
const NOT_SHARD_WORK = new Set(["out", "force", "compress", "queue", "workers", "threads", "$schema"]);

/**
 * The part of a run's configuration that decides its shards' results.
 * @example shardConfig({ out: "a", dedup: { near: true } }); // { dedup: { near: true } }
 */
export function shardConfig(config: RunConfig | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config ?? {}).filter(([key]) => !NOT_SHARD_WORK.has(key)));
}

/**
 * A run's identity: a SHA-256 of the output folder, the shard plan, the configuration that decides shard results, and each input's size
 * and modification time (what `make` trusts: hashing every byte of tens of GB before a resume would cost a read of
 * the whole input). The same command on the same inputs gives the same key, so its job ids and stored results are
 * found again; a changed option or input gives a new key and a fresh run.
 * @example const key = runKey(shards, { maxLineBytes: 1 << 24, cwd: process.cwd(), config }, "out");
 */
export function runKey(shards: readonly ShardSpec[], task: Omit<ShardTask, "shard">, out: string): string {
  const files = new Map<string, [number, number]>();
  for (const shard of shards) {
    if (files.has(shard.path)) continue;
    const stat = statSync(resolve(task.cwd, shard.path));
    files.set(shard.path, [stat.size, stat.mtimeMs]);
  }
  const identity = {
    version: 1,
    cwd: task.cwd,
    // Two runs of the same inputs into two folders are two runs: each stores its results under its own --out.
    out: resolve(task.cwd, out),
    maxLineBytes: task.maxLineBytes,
    config: shardConfig(task.config),
    shards: shards.map((s) => [s.path, s.start, s.end ?? null, s.whole]),
    files: [...files],
  };
  return createHash("sha256").update(JSON.stringify(identity)).digest("hex");
}
