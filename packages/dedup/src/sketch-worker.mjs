/**
 * Worker-thread entry for near dedup: sketches batches of texts with the same kernel as the in-process path.
 * Plain JavaScript because a worker cannot load .ts; see sketch-kernel.mjs.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createSketcher } from "./sketch-kernel.mjs";

const sketcher = createSketcher(workerData.params);

parentPort.on("message", (message) => {
  try {
    const batch = sketcher.sketchBatch(message.texts);
    parentPort.postMessage({ id: message.id, batch }, [
      batch.bands.buffer,
      batch.sizes.buffer,
      batch.offsets.buffer,
      batch.payload.buffer,
    ]);
  } catch (error) {
    parentPort.postMessage({
      id: message.id,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  }
});
