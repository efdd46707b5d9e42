/**
 * A worker thread of the shard phase (`curate run --workers N`): runs the shard tasks it is sent and posts their
 * results back as plain data.
 */
import { parentPort } from "node:worker_threads";
import { runShardTask, type ShardTask } from "./shards.js";

parentPort?.on("message", async ({ id, ...task }: ShardTask & { id: number }) => {
  try {
    parentPort!.postMessage({ id, result: await runShardTask(task) });
  } catch (error) {
    parentPort!.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
