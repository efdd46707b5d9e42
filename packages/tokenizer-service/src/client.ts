import { createConnection, type Socket } from "node:net";
import { CurateError } from "@curate/core";
import type { ChatCount, ChatInput, Tokenizer, TokenizerInfo, TokenizerSpec } from "@curate/tokenizer-worker";
import {
  type Body,
  packChatsBody,
  packIds,
  packStrings,
  unpackChatCounts,
  unpackCountsArray,
  unpackIds,
  unpackStrings,
} from "./codec.js";
import { ERROR, encodeFrame, type Frame, FrameError, FrameReader, PROTOCOL_VERSION, REQUEST } from "./frames.js";
import type { ServiceStatus } from "./server.js";
import { socketPath } from "./socket-path.js";

/** The error code of a service that is not there or went away (exit code 2). */
export const SERVICE_UNAVAILABLE = "CURATE_TOKENIZER_SERVICE";

/** Requests one connection keeps on the wire at once; later ones wait here (back-pressure toward the caller). */
const MAX_IN_FLIGHT = 32;

interface Pending {
  readonly frame: Frame;
  readonly resolve: (frame: Frame) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A connection to a tokenizer service. `tokenizer(spec)` gives a `Tokenizer` whose batches the service counts; results
 * are what the in-process pool gives, record for record. Idle, the connection does not keep the process alive.
 * @example const client = await connectTokenizerService(); const tok = client.tokenizer(resolveTokenizer("llama3"));
 */
export class TokenizerServiceClient {
  private readonly waiting: Pending[] = [];
  private readonly inFlight = new Map<number, Pending>();
  private nextId = 1;
  private failure: CurateError | undefined;
  private closedByUs = false;

  private constructor(
    readonly path: string,
    private readonly socket: Socket,
  ) {
    const reader = new FrameReader();
    socket.on("data", (chunk: Buffer) => {
      let frames: (Frame | FrameError)[];
      try {
        frames = reader.push(chunk);
      } catch (error) {
        this.fail(`sent a bad frame (${(error as Error).message})`);
        return;
      }
      for (const frame of frames) {
        if (frame instanceof FrameError) {
          this.settle(
            frame.id,
            undefined,
            new CurateError(SERVICE_UNAVAILABLE, `tokenizer service at ${path} sent a bad frame: ${frame.message}`),
          );
        } else this.settle(frame.id, frame);
      }
    });
    socket.on("error", (error) => this.fail(`connection failed (${error.message})`));
    socket.on("close", () => this.fail("closed the connection"));
    socket.unref();
  }

  /**
   * Connects, and checks that a curate tokenizer service answers there. A socket nobody listens on, or that answers in
   * another protocol, is a `CurateError` with code `CURATE_TOKENIZER_SERVICE` (exit code 2) naming the socket.
   * @internal use `connectTokenizerService`
   */
  static async connect(path: string): Promise<TokenizerServiceClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection(path);
      s.once("connect", () => resolve(s));
      s.once("error", (error: NodeJS.ErrnoException) => reject(notThere(path, error)));
    });
    const client = new TokenizerServiceClient(path, socket);
    const hello = await client.request({ op: "hello" }, []);
    if (hello.header.protocol !== PROTOCOL_VERSION) {
      await client.close();
      throw new CurateError(
        SERVICE_UNAVAILABLE,
        `tokenizer service at ${path} speaks protocol ${String(hello.header.protocol)}, this curate ${PROTOCOL_VERSION}: restart the service with this curate`,
      );
    }
    return client;
  }

  /** The service's device (`cpu`), as it said when the connection opened. */
  tokenizer(spec: TokenizerSpec): Tokenizer {
    return new ServiceTokenizer(this, spec);
  }

  /** What `curate tokenizer status` prints. */
  async status(): Promise<ServiceStatus> {
    return (await this.request({ op: "status" }, [])).header.status as ServiceStatus;
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    this.fail("was closed by this client");
    this.socket.end();
    this.socket.destroy();
  }

  /** Sends one request and waits for its answer; an error frame becomes a `CurateError` with the service's code. @internal */
  request(header: Record<string, unknown>, parts: Uint8Array[]): Promise<Frame> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Frame>((resolve, reject) => {
      const pending = { frame: { type: REQUEST, id: this.nextId++, header, parts }, resolve, reject };
      this.waiting.push(pending);
      this.send();
    });
  }

  private send(): void {
    while (this.waiting.length > 0 && this.inFlight.size < MAX_IN_FLIGHT && !this.failure) {
      const pending = this.waiting.shift()!;
      if (this.inFlight.size === 0) this.socket.ref();
      this.inFlight.set(pending.frame.id, pending);
      // Corked: one writev for the frame's pieces instead of a system call each.
      this.socket.cork();
      for (const chunk of encodeFrame(pending.frame)) this.socket.write(chunk);
      this.socket.uncork();
    }
  }

  private settle(id: number, frame: Frame | undefined, error?: unknown): void {
    const pending = this.inFlight.get(id);
    if (pending === undefined) {
      // An answer to nothing we asked (id 0: the service could not read our stream): everything in flight is lost.
      if (frame?.type === ERROR) this.fail(`answered: ${String(frame.header.message)}`);
      return;
    }
    this.inFlight.delete(id);
    if (this.inFlight.size === 0 && this.waiting.length === 0) this.socket.unref();
    if (error !== undefined) pending.reject(error);
    else if (frame!.type === ERROR) {
      const code = typeof frame!.header.code === "string" ? frame!.header.code : "CURATE_TOKENIZER";
      pending.reject(new CurateError(code, String(frame!.header.message), { exitCode: 2 }));
    } else pending.resolve(frame!);
    this.send();
  }

  private fail(what: string): void {
    if (this.failure) return;
    this.failure = new CurateError(
      SERVICE_UNAVAILABLE,
      this.closedByUs
        ? `tokenizer service connection to ${this.path} ${what}`
        : `tokenizer service at ${this.path} ${what}; start it again with: curate tokenizer serve --socket ${this.path}`,
      { exitCode: 2 },
    );
    const lost = [...this.inFlight.values(), ...this.waiting];
    this.inFlight.clear();
    this.waiting.length = 0;
    for (const pending of lost) pending.reject(this.failure);
    this.socket.unref();
  }
}

function notThere(path: string, error: NodeJS.ErrnoException): CurateError {
  const why =
    error.code === "ENOENT"
      ? "no socket there"
      : error.code === "ECONNREFUSED"
        ? "nothing listens there"
        : error.message;
  return new CurateError(
    SERVICE_UNAVAILABLE,
    `no tokenizer service at ${path} (${why}): start one with \`curate tokenizer serve --socket ${path}\`, or use --tokenizer-service auto to fall back to in-process threads`,
    { exitCode: 2, cause: error },
  );
}

/**
 * Connects to the tokenizer service at `path` (default: `defaultSocketPath()`).
 * @example const client = await connectTokenizerService("/run/user/1000/curate/tokenizer.sock");
 * const counts = await client.tokenizer(resolveTokenizer("o200k_base")).count(["hello"]);
 */
export function connectTokenizerService(path?: string): Promise<TokenizerServiceClient> {
  return TokenizerServiceClient.connect(socketPath(path));
}

class ServiceTokenizer implements Tokenizer {
  private infoPromise: Promise<TokenizerInfo> | undefined;

  constructor(
    private readonly client: TokenizerServiceClient,
    private readonly spec: TokenizerSpec,
  ) {}

  private call(op: string, body: Body): Promise<Frame> {
    return this.client.request({ ...body.header, op, spec: this.spec }, body.parts);
  }

  info(): Promise<TokenizerInfo> {
    this.infoPromise ??= this.call("info", { header: {}, parts: [] }).then((f) => f.header.info as TokenizerInfo);
    // A failed load is not kept: asking again asks the service again.
    this.infoPromise.catch(() => {
      this.infoPromise = undefined;
    });
    return this.infoPromise;
  }

  async count(texts: readonly string[]): Promise<Uint32Array> {
    if (texts.length === 0) return new Uint32Array(0);
    const packed = packStrings(texts);
    return unpackCountsArray(
      (await this.call("count", { header: { strings: packed.mode }, parts: packed.parts })).parts,
    );
  }

  async encode(texts: readonly string[]): Promise<Uint32Array[]> {
    if (texts.length === 0) return [];
    const packed = packStrings(texts);
    return unpackIds((await this.call("encode", { header: { strings: packed.mode }, parts: packed.parts })).parts);
  }

  async decode(ids: readonly Uint32Array[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const answer = await this.call("decode", { header: {}, parts: packIds(ids) });
    return unpackStrings(answer.header.strings, answer.parts);
  }

  async countChats(chats: readonly ChatInput[]): Promise<ChatCount[]> {
    if (chats.length === 0) return [];
    const answer = await this.call("countChats", packChatsBody(chats));
    return unpackChatCounts(answer.header, answer.parts);
  }

  async close(): Promise<void> {
    // The connection outlives its handles; whoever connected closes it.
  }
}
