import { chmodSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import { CurateError, UsageError } from "@curate/core";
import type { ChatCount, Tokenizer, TokenizerInfo, TokenizerSpec } from "@curate/tokenizer-worker";
import {
  type Body,
  packChatCounts,
  packCountsArray,
  packIds,
  packStrings,
  unpackChatsBody,
  unpackIds,
  unpackStrings,
} from "./codec.js";
import { type ComputeDevice, type DeviceChoice, openDevice } from "./device.js";
import {
  ERROR,
  encodeFrame,
  type Frame,
  FrameError,
  FrameReader,
  PROTOCOL_VERSION,
  REQUEST,
  RESULT,
} from "./frames.js";
import { socketPath } from "./socket-path.js";

export interface ServeOptions {
  /** Socket path (default: `defaultSocketPath()`). */
  readonly socket?: string;
  /** Threads of the CPU device (default: cores). */
  readonly threads?: number;
  readonly device?: DeviceChoice;
  /** One line per event worth a log (start, tokenizer loaded, client errors); the CLI writes them to stderr. */
  readonly log?: (line: string) => void;
}

/** What `curate tokenizer status` shows. */
export interface ServiceStatus {
  readonly socket: string;
  readonly pid: number;
  readonly device: string;
  readonly threads: number;
  readonly uptimeSeconds: number;
  readonly tokenizers: readonly {
    readonly name: string;
    readonly kind: string;
    readonly engine: string;
    readonly loadMs: number;
  }[];
  readonly clients: { readonly connected: number; readonly served: number };
  readonly served: { readonly batches: number; readonly records: number; readonly tokens: number };
  /** Over the last `windowSeconds` seconds. */
  readonly rate: {
    readonly batchesPerSecond: number;
    readonly tokensPerSecond: number;
    readonly windowSeconds: number;
  };
  /** Requests waiting for the device, and running on it. */
  readonly queueDepth: number;
  readonly running: number;
}

/** A running service. */
export interface TokenizerService {
  readonly socket: string;
  readonly device: string;
  status(): ServiceStatus;
  /** Stops listening, drops the connections, stops the device and removes the socket file. */
  close(): Promise<void>;
}

type Op = "hello" | "status" | "info" | "count" | "encode" | "decode" | "countChats";
const OPS = new Set<Op>(["hello", "status", "info", "count", "encode", "decode", "countChats"]);

interface Job {
  readonly client: Client;
  readonly frame: Frame;
}

interface Loading {
  readonly tokenizer: Tokenizer;
  readonly info: Promise<TokenizerInfo>;
  loadMs: number;
  loaded?: TokenizerInfo;
}

interface Client {
  readonly socket: Socket;
  readonly queue: Job[];
  running: number;
  /** Sent a batch (or `info`): a tokenizing client, as status counts them (not a status probe). */
  tokenizing: boolean;
  closed: boolean;
  paused: boolean;
}

/** Requests a client may have waiting and running before the service stops reading its socket (back-pressure). */
const MAX_PENDING = 64;
/** Response bytes a client may leave unread before the service stops running its requests. */
const MAX_UNREAD = 64 * 1024 * 1024;
const RATE_WINDOW = 10;

/**
 * Starts the tokenization service: one device (the CPU pool by default), tokenizers loaded once each on first use, and
 * `count`, `encode`, `decode`, `countChats` batches served on a Unix socket to any number of clients. Clients are
 * served round-robin, one request each in turn, so a client with a million queued batches does not hold up one with
 * a single batch; a client that sends faster than the device counts is not read from until its queue drains.
 * @example const service = await serveTokenizers({ socket: "./tok.sock", threads: 4 }); … await service.close();
 */
export async function serveTokenizers(options: ServeOptions = {}): Promise<TokenizerService> {
  const path = socketPath(options.socket);
  const log = options.log ?? (() => {});
  await claimSocket(path);
  const threads = options.threads ?? (await import("node:os")).availableParallelism();
  if (!Number.isInteger(threads) || threads < 1)
    throw new UsageError(`--threads must be a whole number ≥ 1, found ${threads}`);
  const device = await openDevice(options.device ?? "auto", { threads });
  const state = new ServiceState(path, device, threads, log);
  const server = createServer((socket) => state.connect(socket));
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(new CurateError("CURATE_IO", `cannot listen on ${path}: ${error.message}`, { cause: error })),
    );
    server.listen(path, () => resolve());
  }).catch(async (error) => {
    await device.close();
    throw error;
  });
  // Only this user may connect: the socket hands out CPU time and reads tokenizer folders by path.
  chmodSync(path, 0o600);
  server.on("error", (error) => log(`server error: ${error.message}`));
  log(`listening on ${path} (device ${device.name}, ${threads} thread${threads === 1 ? "" : "s"}, pid ${process.pid})`);
  return {
    socket: path,
    device: device.name,
    status: () => state.status(),
    close: () => state.close(server),
  };
}

/** Makes `path` free to listen on: its folder exists (0700), and a socket file no service answers on is removed. */
async function claimSocket(path: string): Promise<void> {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (alive) {
    throw new UsageError(
      `a tokenizer service already listens on ${path}: use it (curate tokenizer status --socket ${path}), or stop it first`,
    );
  }
  // A service that was killed (kill -9, a crash) leaves its socket file behind: nothing answers on it.
  rmSync(path, { force: true });
}

class ServiceState {
  private readonly clients = new Set<Client>();
  /** Clients with queued requests, in round-robin order. */
  private readonly ring: Client[] = [];
  private running = 0;
  private servedClients = 0;
  private readonly tokenizers = new Map<string, Loading>();
  private readonly started = Date.now();
  private readonly totals = { batches: 0, records: 0, tokens: 0 };
  /** Per-second buckets of the last RATE_WINDOW seconds: [second, batches, tokens]. */
  private readonly buckets: [number, number, number][] = [];
  private closing = false;

  constructor(
    private readonly path: string,
    private readonly device: ComputeDevice,
    private readonly threads: number,
    private readonly log: (line: string) => void,
  ) {}

  connect(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const client: Client = {
      socket,
      queue: [],
      running: 0,
      tokenizing: false,
      closed: false,
      paused: false,
    };
    this.clients.add(client);
    const reader = new FrameReader();
    socket.on("data", (chunk: Buffer) => {
      let items: (Frame | FrameError)[];
      try {
        items = reader.push(chunk);
      } catch (error) {
        // The stream cannot be followed past a bad length: answer once, then hang up on this client only.
        this.reply(client, errorFrame(0, (error as Error).message, "CURATE_BAD_FRAME"));
        socket.end();
        this.drop(client);
        return;
      }
      for (const item of items) this.receive(client, item);
    });
    socket.on("drain", () => this.pump());
    // A client that goes away (killed mid-request included) only loses its own queue; running batches finish and
    // their results are dropped.
    socket.on("close", () => this.drop(client));
    socket.on("error", () => this.drop(client));
  }

  private receive(client: Client, item: Frame | FrameError): void {
    if (client.closed) return;
    if (item instanceof FrameError) {
      this.reply(client, errorFrame(item.id, `bad frame: ${item.message}`, "CURATE_BAD_FRAME"));
      return;
    }
    if (item.type !== REQUEST) {
      this.reply(
        client,
        errorFrame(
          item.id,
          `bad frame: expected a request (type ${REQUEST}), found type ${item.type}`,
          "CURATE_BAD_FRAME",
        ),
      );
      return;
    }
    const op = item.header.op as Op;
    if (!OPS.has(op)) {
      this.reply(
        client,
        errorFrame(item.id, `bad frame: unknown op ${JSON.stringify(item.header.op)}`, "CURATE_BAD_FRAME"),
      );
      return;
    }
    // Cheap requests are answered at once, never queued behind batches.
    if (op === "hello") {
      this.reply(client, {
        type: RESULT,
        id: item.id,
        header: { protocol: PROTOCOL_VERSION, device: this.device.name, pid: process.pid },
        parts: [],
      });
      return;
    }
    if (op === "status") {
      this.reply(client, { type: RESULT, id: item.id, header: { status: this.status() }, parts: [] });
      return;
    }
    if (!client.tokenizing) {
      client.tokenizing = true;
      this.servedClients++;
    }
    if (client.queue.length === 0) this.ring.push(client);
    client.queue.push({ client, frame: item });
    if (client.queue.length + client.running >= MAX_PENDING && !client.paused) {
      client.paused = true;
      client.socket.pause();
    }
    this.pump();
  }

  /** Starts queued requests while the device has room, taking one from each waiting client in turn. */
  private pump(): void {
    let skipped = 0;
    while (this.running < this.device.capacity && this.ring.length > 0 && skipped < this.ring.length) {
      const client = this.ring.shift()!;
      if (client.socket.writableLength > MAX_UNREAD) {
        // It is not reading its answers: leave it for later (its socket's "drain" pumps again).
        this.ring.push(client);
        skipped++;
        continue;
      }
      skipped = 0;
      const job = client.queue.shift()!;
      if (client.queue.length > 0) this.ring.push(client);
      this.running++;
      client.running++;
      void this.run(job).finally(() => {
        this.running--;
        client.running--;
        if (client.paused && client.queue.length + client.running < MAX_PENDING / 2 && !client.closed) {
          client.paused = false;
          client.socket.resume();
        }
        this.pump();
      });
    }
  }

  private async run({ client, frame }: Job): Promise<void> {
    let answer: Frame;
    try {
      const { body, records, tokens } = await this.execute(frame);
      answer = { type: RESULT, id: frame.id, header: body.header, parts: body.parts };
      if (frame.header.op !== "info") this.count(records, tokens);
    } catch (error) {
      // The device's errors are CurateErrors (a tokenizer that does not load, a missing library); anything else came
      // from reading a request's parts that do not add up.
      answer =
        error instanceof CurateError
          ? errorFrame(frame.id, error.message, error.code)
          : errorFrame(frame.id, `bad frame: ${(error as Error).message}`, "CURATE_BAD_FRAME");
    }
    this.reply(client, answer);
  }

  private async execute(frame: Frame): Promise<{ body: Body; records: number; tokens: number }> {
    const { header, parts } = frame;
    const { tokenizer, info } = this.tokenizer(header.spec);
    const loaded = await info;
    switch (header.op as Op) {
      case "info":
        return { body: { header: { info: loaded }, parts: [] }, records: 0, tokens: 0 };
      case "count": {
        const texts = unpackStrings(header.strings, parts);
        const counts = await tokenizer.count(texts);
        return { body: { header: {}, parts: packCountsArray(counts) }, records: texts.length, tokens: sum(counts) };
      }
      case "encode": {
        const texts = unpackStrings(header.strings, parts);
        const ids = await tokenizer.encode(texts);
        let tokens = 0;
        for (const a of ids) tokens += a.length;
        return { body: { header: {}, parts: packIds(ids) }, records: texts.length, tokens };
      }
      case "decode": {
        const ids = unpackIds(parts);
        const texts = await tokenizer.decode(ids);
        const packed = packStrings(texts);
        return { body: { header: { strings: packed.mode }, parts: packed.parts }, records: ids.length, tokens: 0 };
      }
      case "countChats": {
        const chats = unpackChatsBody(header, parts);
        const counts = await tokenizer.countChats(chats);
        return { body: packChatCounts(counts), records: chats.length, tokens: chatTokens(counts) };
      }
      default:
        throw new CurateError("CURATE_BAD_FRAME", `bad frame: op ${String(header.op)} takes no batch`);
    }
  }

  /** The device's handle on `spec`, loading it on first use (once, whoever asks first). */
  private tokenizer(raw: unknown): { tokenizer: Tokenizer; info: Promise<TokenizerInfo> } {
    const spec = checkSpec(raw);
    // No engine means the fast one (the backend's default): one load whether a client spelled it or not.
    const { engine = "fast", ...rest } = spec;
    const key = JSON.stringify(Object.entries({ ...rest, engine }).sort(([a], [b]) => (a < b ? -1 : 1)));
    let entry = this.tokenizers.get(key);
    if (entry === undefined) {
      const tokenizer = this.device.tokenizer(spec);
      const start = performance.now();
      const created: Loading = {
        tokenizer,
        info: tokenizer.info(),
        loadMs: 0,
      };
      entry = created;
      this.tokenizers.set(key, created);
      created.info.then(
        (info) => {
          created.loadMs = Math.round(performance.now() - start);
          created.loaded = info;
          this.log(
            `loaded ${info.name} (${info.kind}, ${info.engine} engine) in ${created.loadMs} ms on ${this.device.name}`,
          );
        },
        (error: Error) => {
          // Not kept: the next request tries again (the folder may have been fixed) and gets the error afresh.
          this.tokenizers.delete(key);
          this.log(`could not load tokenizer ${spec.kind === "openai" ? spec.encoding : spec.dir}: ${error.message}`);
        },
      );
    }
    return entry;
  }

  private count(records: number, tokens: number): void {
    this.totals.batches++;
    this.totals.records += records;
    this.totals.tokens += tokens;
    const second = Math.floor(Date.now() / 1000);
    const last = this.buckets.at(-1);
    if (last !== undefined && last[0] === second) {
      last[1]++;
      last[2] += tokens;
    } else this.buckets.push([second, 1, tokens]);
    while (this.buckets.length > 0 && this.buckets[0]![0] <= second - RATE_WINDOW) this.buckets.shift();
  }

  status(): ServiceStatus {
    const now = Date.now();
    const since = Math.floor(now / 1000) - RATE_WINDOW;
    let batches = 0;
    let tokens = 0;
    for (const [second, b, t] of this.buckets) {
      if (second > since) {
        batches += b;
        tokens += t;
      }
    }
    const window = Math.min(RATE_WINDOW, Math.max(1, (now - this.started) / 1000));
    let queued = 0;
    let connected = 0;
    for (const client of this.clients) {
      queued += client.queue.length;
      if (client.tokenizing) connected++;
    }
    const tokenizers: { name: string; kind: string; engine: string; loadMs: number }[] = [];
    for (const { loaded, loadMs } of this.tokenizers.values()) {
      if (loaded !== undefined)
        tokenizers.push({ name: loaded.name, kind: loaded.kind, engine: loaded.engine, loadMs });
    }
    return {
      socket: this.path,
      pid: process.pid,
      device: this.device.name,
      threads: this.threads,
      uptimeSeconds: Math.round((now - this.started) / 1000),
      tokenizers,
      clients: { connected, served: this.servedClients },
      served: { ...this.totals },
      rate: {
        batchesPerSecond: Math.round((batches / window) * 10) / 10,
        tokensPerSecond: Math.round(tokens / window),
        windowSeconds: RATE_WINDOW,
      },
      queueDepth: queued,
      running: this.running,
    };
  }

  private reply(client: Client, frame: Frame): void {
    if (client.closed || client.socket.destroyed) return; // killed mid-request: nobody to answer
    // Corked: one writev for the frame's pieces instead of a system call each.
    client.socket.cork();
    for (const chunk of encodeFrame(frame)) client.socket.write(chunk);
    client.socket.uncork();
  }

  private drop(client: Client): void {
    if (client.closed) return;
    client.closed = true;
    client.queue.length = 0;
    const at = this.ring.indexOf(client);
    if (at >= 0) this.ring.splice(at, 1);
    this.clients.delete(client);
    client.socket.destroy();
  }

  async close(server: Server): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const client of [...this.clients]) this.drop(client);
    await closed;
    await this.device.close();
    rmSync(this.path, { force: true });
  }
}

function errorFrame(id: number, message: string, code: string): Frame {
  return { type: ERROR, id, header: { message, code }, parts: [] };
}

function sum(counts: Uint32Array): number {
  let n = 0;
  for (const c of counts) n += c;
  return n;
}

function chatTokens(counts: readonly ChatCount[]): number {
  let n = 0;
  for (const c of counts) if (!("error" in c)) n += c.total;
  return n;
}

/** A tokenizer spec as the client sent it, checked: the device is never handed a shape it does not expect. */
function checkSpec(raw: unknown): TokenizerSpec {
  const spec = raw as Record<string, unknown> | null;
  const engine = spec?.engine;
  if (engine !== undefined && engine !== "fast" && engine !== "reference") {
    throw new CurateError(
      "CURATE_BAD_FRAME",
      `bad frame: spec.engine must be fast or reference, found ${JSON.stringify(engine)}`,
    );
  }
  if (spec?.kind === "openai" && typeof spec.encoding === "string") {
    if (!["o200k_base", "cl100k_base", "p50k_base", "r50k_base"].includes(spec.encoding)) {
      throw new CurateError("CURATE_BAD_FRAME", `bad frame: unknown OpenAI encoding ${JSON.stringify(spec.encoding)}`);
    }
    if (spec.model !== undefined && typeof spec.model !== "string") {
      throw new CurateError("CURATE_BAD_FRAME", "bad frame: spec.model must be a string");
    }
    return spec as unknown as TokenizerSpec;
  }
  if (spec?.kind === "huggingface" && typeof spec.dir === "string" && typeof spec.name === "string") {
    if (!spec.dir.startsWith("/")) {
      throw new CurateError(
        "CURATE_BAD_FRAME",
        `bad frame: spec.dir must be an absolute path, found ${JSON.stringify(spec.dir)}`,
      );
    }
    return spec as unknown as TokenizerSpec;
  }
  throw new CurateError(
    "CURATE_BAD_FRAME",
    `bad frame: spec must be { kind: "openai", encoding } or { kind: "huggingface", dir, name }, found ${JSON.stringify(raw)?.slice(0, 200)}`,
  );
}
