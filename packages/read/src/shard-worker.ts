/**
 * The worker thread of `readInputsParallel`: reads the shards it is sent and posts their entries back as plain data.
 * A range shard is read with `readShard`; a whole input (compressed, an array, a `.json` file) with the sequential
 * reader, whose routes are collected in order, so both kinds give exactly what a sequential read gives.
 */
import { parentPort } from "node:worker_threads";
import type { StageContext } from "@curate/core";
import { readInputs } from "./read.js";
import { readShard, type ShardEntry, type ShardResult, type ShardSpec } from "./shards.js";
import type { InputStats } from "./types.js";

export interface ShardRequest {
  readonly shard: ShardSpec;
  readonly whole: boolean;
  readonly maxLineBytes: number;
  readonly maxDepth?: number;
  readonly cwd: string;
}

export type ShardReply =
  | { readonly id: number; readonly result: ShardResult; readonly stats?: InputStats }
  | { readonly id: number; readonly error: string };

/**
 * Reads a whole input with the sequential reader, keeping its routes in order as shard entries.
 * @example const { result, stats } = await readWhole(shard, { maxLineBytes: 1 << 24, cwd: process.cwd() });
 */
export async function readWhole(
  shard: ShardSpec,
  options: { readonly maxLineBytes: number; readonly maxDepth?: number; readonly cwd: string },
): Promise<{ result: ShardResult; stats: InputStats }> {
  const entries: ShardEntry[] = [];
  const { maxLineBytes, maxDepth, cwd } = options;
  const source = readInputs([shard.path], { maxLineBytes, ...(maxDepth !== undefined ? { maxDepth } : {}), cwd });
  const ctx: StageContext = {
    stage: "read",
    reject: (item, reason) => entries.push({ kind: "reject", item, reason }),
    duplicate() {},
    warn: (item, issue) => entries.push({ kind: "warning", item, issue }),
  };
  for await (const batch of source.batches!(ctx)) for (const item of batch) entries.push({ kind: "kept", item });
  for (const entry of entries) (entry.item.source as { input: number }).input = shard.input;
  const stats = source.stats[0]!;
  return { result: { shard, entries, records: stats.records, lines: 0, blankLines: stats.blankLines }, stats };
}

parentPort?.on("message", async (request: ShardRequest) => {
  try {
    const reply: ShardReply = request.whole
      ? { id: request.shard.id, ...(await readWhole(request.shard, request)) }
      : { id: request.shard.id, result: await readShard(request.shard, request) };
    parentPort!.postMessage(reply);
  } catch (error) {
    parentPort!.postMessage({ id: request.shard.id, error: error instanceof Error ? error.message : String(error) });
  }
});
