import { type Backend, type BackendOptions, loadBackend } from "./backend.js";
import type { ChatInput, TokenizerSpec } from "./types.js";

/** What a worker (or the in-process runner) can be asked to do. */
export type Op = "info" | "count" | "encode" | "decode" | "countChats";

/** A request to a worker: one batch, one operation. */
export interface Request {
  readonly id: number;
  readonly spec: TokenizerSpec;
  readonly options: BackendOptions;
  readonly op: Op;
  readonly args: unknown;
}

/** A worker's answer; errors travel as plain data (class instances do not survive structured cloning). */
export type Response =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { name: string; message: string; stack?: string } };

const backends = new Map<string, Promise<Backend>>();

/** The backend for a spec, loaded once per thread and reused by every later batch. */
export function backendFor(spec: TokenizerSpec, options: BackendOptions): Promise<Backend> {
  const key = JSON.stringify([spec, options]);
  let backend = backends.get(key);
  if (backend === undefined) {
    backend = loadBackend(spec, options);
    backends.set(key, backend);
    // A failed load is not cached: the next request gets the error again, fresh.
    backend.catch(() => backends.delete(key));
  }
  return backend;
}

/** Runs one request against its backend; `transfer` lists buffers to move (not copy) back to the caller. */
export async function handle(request: Request): Promise<{ response: Response; transfer: ArrayBuffer[] }> {
  try {
    const backend = await backendFor(request.spec, request.options);
    const transfer: ArrayBuffer[] = [];
    let result: unknown;
    switch (request.op) {
      case "info":
        result = backend.info;
        break;
      case "count": {
        const counts = backend.count(request.args as string[]);
        transfer.push(counts.buffer as ArrayBuffer);
        result = counts;
        break;
      }
      case "encode": {
        const ids = backend.encode(request.args as string[]);
        for (const a of ids) transfer.push(a.buffer as ArrayBuffer);
        result = ids;
        break;
      }
      case "decode":
        result = backend.decode(request.args as Uint32Array[]);
        break;
      case "countChats":
        result = backend.countChats(request.args as ChatInput[]);
        break;
    }
    // A buffer listed twice would make postMessage throw.
    return { response: { id: request.id, ok: true, result }, transfer: [...new Set(transfer)] };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    return {
      response: {
        id: request.id,
        ok: false,
        error: { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) },
      },
      transfer: [],
    };
  }
}
