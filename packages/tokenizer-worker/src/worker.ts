/**
 * Worker-thread entry: loads each tokenizer once (on its first batch) and answers batches in the order they arrive.
 * Built to `dist/worker.js`; when the package runs from source (tests), the pool bundles this file with esbuild.
 */
import { parentPort } from "node:worker_threads";
import { handle, type Request } from "./protocol.js";

const port = parentPort;
if (port === null) throw new Error("tokenizer worker: must run in a worker thread");
port.on("message", (request: Request) => {
  void handle(request).then(({ response, transfer }) => port.postMessage(response, transfer));
});
