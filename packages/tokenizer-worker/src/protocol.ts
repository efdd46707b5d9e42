import { type Backend, type BackendOptions, loadBackend, type SharedBackend } from "./backend.js";
import type { ChatCount, ChatInput, ChatMessage, TokenizerSpec } from "./types.js";

/**
 * What a worker (or the in-process runner) can be asked to do. `countChatsPacked` is `countChats` with chats and
 * counts in the packed form below (`packChats`), for crossing a thread boundary. `share` answers the loaded
 * tokenizer's `SharedBackend` (or null), for the other workers' requests.
 */
export type Op = "info" | "share" | "count" | "encode" | "decode" | "countChats" | "countChatsPacked";

/** A request to a worker: one batch, one operation. */
export interface Request {
  readonly id: number;
  readonly spec: TokenizerSpec;
  readonly options: BackendOptions;
  readonly op: Op;
  readonly args: unknown;
  /** The tokenizer as another thread loaded it (`share`): used, instead of loading it again, if this thread has not yet. */
  readonly shared?: SharedBackend;
}

/** A worker's answer; errors travel as plain data (class instances do not survive structured cloning). */
export type Response =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { name: string; message: string; stack?: string } };

const backends = new Map<string, Promise<Backend>>();

/**
 * The backend for a spec, loaded once per thread (from `shared` when given) and reused by every later batch.
 * @example const backend = await backendFor(resolveTokenizer("llama3"), {});
 */
export function backendFor(spec: TokenizerSpec, options: BackendOptions, shared?: SharedBackend): Promise<Backend> {
  const key = JSON.stringify([spec, options]);
  let backend = backends.get(key);
  if (backend === undefined) {
    backend = loadBackend(spec, options, shared);
    backends.set(key, backend);
    // A failed load is not cached: the next request gets the error again, fresh.
    backend.catch(() => backends.delete(key));
  }
  return backend;
}

/** Runs one request against its backend; `transfer` lists buffers to move (not copy) back to the caller. */
export async function handle(request: Request): Promise<{ response: Response; transfer: ArrayBuffer[] }> {
  try {
    const backend = await backendFor(request.spec, request.options, request.shared);
    const transfer: ArrayBuffer[] = [];
    let result: unknown;
    switch (request.op) {
      case "info":
        result = backend.info;
        break;
      case "share":
        result = backend.share?.() ?? null;
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
      case "countChatsPacked": {
        const packed = packCounts(backend.countChats(unpackChats(request.args as PackedChats)));
        transfer.push(packed.numbers.buffer as ArrayBuffer);
        result = packed;
        break;
      }
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

// ---------------------------------------------------------------------------------------------------------------
// The packed form of chats and chat counts

/**
 * Chats and chat counts in a form that is cheap to post to a worker. Structured cloning an array of chats clones
 * every message object one property at a time: on the benchmark corpus, 40k chats took 225–300 ms to serialize and
 * deserialize (in batches of 128), packed 95–190 ms; counts 30–40 ms, packed 4 ms; and a 1-worker pool counting 40k
 * records (llama3) went from 8.2–8.4 s to 7.1–7.5 s of CPU (in-process: 6.5 s). Most chats are plain
 * `{ role, content }` messages: those travel as a flat list of strings, and only the others (tools, names, weights,
 * content parts, keys in another order) as objects. The worker rebuilds objects equal to the originals, key order
 * included, so templates see the same input. Hand-written: no library packs this shape.
 */
export interface PackedChats {
  /** Per chat: its number of plain messages (their role and content are in `strings`), or -1 - its index in `other`. */
  readonly layout: Int32Array;
  /** role, content, role, content, ... of the plain chats, in order. */
  readonly strings: string[];
  /** Chats that are not plain, as they are. */
  readonly other: ChatInput[];
}

/** True for `{ role, content }` with string values, in that key order: what `unpackChats` rebuilds exactly. */
function isPlainMessage(message: ChatMessage): boolean {
  if (typeof message.content !== "string" || typeof message.role !== "string") return false;
  if (Object.getPrototypeOf(message) !== Object.prototype) return false;
  let i = 0;
  for (const key in message) {
    if (!Object.hasOwn(message, key)) return false;
    if ((i === 0 && key !== "role") || (i === 1 && key !== "content") || i > 1) return false;
    i++;
  }
  return i === 2;
}

function isPlainChat(chat: ChatInput): boolean {
  if (Object.getPrototypeOf(chat) !== Object.prototype || !Array.isArray(chat.messages)) return false;
  for (const key in chat) if (key !== "messages") return false;
  for (const message of chat.messages) if (!isPlainMessage(message)) return false;
  return true;
}

/**
 * Packs chats for `postMessage`; `unpackChats` gives back chats deep-equal to these.
 * @example packChats([{ messages: [{ role: "user", content: "hi" }] }]).strings; // ["user", "hi"]
 */
export function packChats(chats: readonly ChatInput[]): PackedChats {
  const layout = new Int32Array(chats.length);
  const strings: string[] = [];
  const other: ChatInput[] = [];
  for (let i = 0; i < chats.length; i++) {
    const chat = chats[i]!;
    if (isPlainChat(chat)) {
      layout[i] = chat.messages.length;
      for (const message of chat.messages) strings.push(message.role, message.content as string);
    } else {
      layout[i] = -1 - other.length;
      other.push(chat);
    }
  }
  return { layout, strings, other };
}

/**
 * The chats `packChats` packed, in order.
 * @example unpackChats(packChats(chats)); // deep-equal to chats
 */
export function unpackChats(packed: PackedChats): ChatInput[] {
  const { layout, strings, other } = packed;
  const chats: ChatInput[] = new Array(layout.length);
  let at = 0;
  for (let i = 0; i < layout.length; i++) {
    const n = layout[i]!;
    if (n < 0) {
      chats[i] = other[-1 - n]!;
      continue;
    }
    const messages: ChatMessage[] = new Array(n);
    for (let k = 0; k < n; k++) {
      messages[k] = { role: strings[at]!, content: strings[at + 1]! };
      at += 2;
    }
    chats[i] = { messages };
  }
  return chats;
}

/** Chat counts as one transferable array (total, trainable, flags per chat) plus the error messages. */
export interface PackedCounts {
  readonly numbers: Float64Array;
  /** `[index, message]` of the chats that failed. */
  readonly errors: [number, string][];
}

const EXACT = 1;
const FAILED = 2;

/**
 * Packs chat counts for `postMessage` (transfer `numbers.buffer`).
 * @example packCounts([{ total: 9, trainable: 4, exact: true }]).numbers; // Float64Array [9, 4, 1]
 */
export function packCounts(counts: readonly ChatCount[]): PackedCounts {
  const numbers = new Float64Array(counts.length * 3);
  const errors: [number, string][] = [];
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if ("error" in c) {
      numbers[i * 3 + 2] = FAILED;
      errors.push([i, c.error]);
    } else {
      numbers[i * 3] = c.total;
      numbers[i * 3 + 1] = c.trainable;
      numbers[i * 3 + 2] = c.exact ? EXACT : 0;
    }
  }
  return { numbers, errors };
}

/**
 * The counts `packCounts` packed, in order.
 * @example unpackCounts(packCounts(counts)); // deep-equal to counts
 */
export function unpackCounts(packed: PackedCounts): ChatCount[] {
  const { numbers, errors } = packed;
  const failed = new Map(errors);
  const counts: ChatCount[] = new Array(numbers.length / 3);
  for (let i = 0; i < counts.length; i++) {
    if (numbers[i * 3 + 2] === FAILED) counts[i] = { error: failed.get(i)! };
    else counts[i] = { total: numbers[i * 3]!, trainable: numbers[i * 3 + 1]!, exact: numbers[i * 3 + 2] === EXACT };
  }
  return counts;
}
