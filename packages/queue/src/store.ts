import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { CurateError } from "@curate/core";
import type { ShardResult } from "@curate/read";

/**
 * Where a distributed run's shard results live between the worker that made one and the coordinator that stitches
 * them: keyed by shard id, so a retried shard overwrites its earlier result instead of adding a second one. A
 * folder on a file system every machine sees today (`fileShardStore`); object storage would be another one.
 * @example const store = fileShardStore("/shared/out/.curate-shards/3f2a"); await store.put(result); await store.get(0);
 */
export interface ShardStore {
  /** Where the results are, for messages. */
  readonly location: string;
  /** Stores a shard's result atomically: a reader sees the whole result or none. */
  put(result: ShardResult): Promise<void>;
  /** The result of shard `id`, or undefined when there is none (yet). */
  get(id: number): Promise<ShardResult | undefined>;
  /** Whether shard `id` has a result, without reading it. */
  has(id: number): Promise<boolean>;
  /** Removes every result (the run is written). */
  clear(): Promise<void>;
}

/**
 * A `ShardStore` in a folder: one `shard-<id>.v8` file per shard, `v8.serialize`d (it keeps typed arrays such as
 * MinHash signatures and `undefined`, which JSON does not; bench/RESULTS.md compares the two), written to a temp
 * file and renamed into place.
 * @example const store = fileShardStore(join(out, SHARD_RESULTS_DIR, key));
 */
export function fileShardStore(dir: string): ShardStore {
  const file = (id: number) => join(dir, `shard-${id}.v8`);
  return {
    location: dir,
    async put(result) {
      const target = file(result.shard.id);
      const temp = `${target}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(temp, serialize(result));
        await rename(temp, target);
      } catch (cause) {
        await rm(temp, { force: true });
        throw new CurateError(
          "CURATE_IO",
          `cannot write shard ${result.shard.id}'s result to ${target}: ${message(cause)}`,
          {
            cause,
          },
        );
      }
    },
    async get(id) {
      let bytes: Buffer;
      try {
        bytes = await readFile(file(id));
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw new CurateError("CURATE_IO", `cannot read shard ${id}'s result ${file(id)}: ${message(cause)}`, {
          cause,
        });
      }
      return deserialize(bytes) as ShardResult;
    },
    async has(id) {
      try {
        await stat(file(id));
        return true;
      } catch {
        return false;
      }
    },
    async clear() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
