/**
 * The leakage check's worker thread: it owns the held-out n-gram index and does all n-gram hashing, indexing and
 * lookups, so that split's second pass costs the main thread only reading records back and writing them.
 * Messages are answered one at a time, in the order they came, so results never depend on timing.
 */
import { parentPort, workerData } from "node:worker_threads";
import { ngramText } from "@curate/core";
import { type LeakRequest, type LeakResponse, unpack } from "./leak-pool.js";
import { NgramHashes, NgramIndex, ngramHashes } from "./ngram.js";

const { n, capacity } = workerData as { n: number; capacity: number };
const index = new NgramIndex(capacity);
const hashes = new NgramHashes();
/** N-grams come from `ngramText` (the same text as `LeakageCheck` on the calling thread, and decontamination). */
function hash(text: string): void {
  ngramHashes(ngramText(text), n, hashes);
}

function answer(request: LeakRequest): { response: LeakResponse; transfer: ArrayBuffer[] } {
  if (request.op === "add") {
    const { texts, firstDoc } = request;
    for (let k = 0; k < texts.ends.length; k++) {
      hash(unpack(texts, k));
      index.addAll(hashes, firstDoc + k);
    }
    return { response: { id: request.id }, transfer: [] };
  }
  if (request.op === "check") {
    // Per text, the held-out documents its n-grams hand out, in `takeAll`'s order: offsets[k]..offsets[k + 1].
    const { texts } = request;
    const offsets = new Int32Array(texts.ends.length + 1);
    const docs: number[] = [];
    const collect = (doc: number) => {
      docs.push(doc);
    };
    for (let k = 0; k < texts.ends.length; k++) {
      hash(unpack(texts, k));
      index.takeAll(hashes, collect);
      offsets[k + 1] = docs.length;
    }
    const found = Int32Array.from(docs);
    return { response: { id: request.id, offsets, docs: found }, transfer: [offsets.buffer, found.buffer] };
  }
  return { response: { id: request.id, bytes: index.bytes }, transfer: [] };
}

parentPort!.on("message", (request: LeakRequest) => {
  let reply: { response: LeakResponse; transfer: ArrayBuffer[] };
  try {
    reply = answer(request);
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    reply = { response: { id: request.id, error: message }, transfer: [] };
  }
  parentPort!.postMessage(reply.response, reply.transfer);
});
