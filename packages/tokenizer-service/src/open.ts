import { CurateError } from "@curate/core";
import {
  type ChatCount,
  type ChatInput,
  openTokenizer,
  type PoolOptions,
  type Tokenizer,
  type TokenizerInfo,
  type TokenizerSpec,
} from "@curate/tokenizer-worker";
import { SERVICE_UNAVAILABLE, TokenizerServiceClient } from "./client.js";
import { socketPath } from "./socket-path.js";

export interface ServiceTokenizerOptions {
  /**
   * A socket path: the service must be there (else a `CurateError`, exit code 2, naming the socket). `auto`: the
   * default socket if a service answers there, else the in-process pool, and `onNotice` says which.
   */
  readonly service: string;
  /** Threads of the in-process pool `auto` falls back to. */
  readonly pool?: PoolOptions;
  /** Told once when `auto` falls back to the in-process pool (at the start, or when the service goes away). */
  readonly onNotice?: (message: string) => void;
}

/**
 * A tokenizer for a stage: through the service named by `service`, or with `auto` through the in-process pool when no
 * service runs (or when it goes away mid-run: the batches it dropped are counted again in-process, so nothing is
 * lost). `close()` closes the connection it opened.
 * @example const tok = await openServiceTokenizer(resolveTokenizer("llama3"), { service: "auto", onNotice: console.error });
 */
export async function openServiceTokenizer(spec: TokenizerSpec, options: ServiceTokenizerOptions): Promise<Tokenizer> {
  const auto = options.service === "auto";
  const path = socketPath(options.service);
  const fallback = () => openTokenizer(spec, options.pool ?? {});
  try {
    const client = await TokenizerServiceClient.connect(path);
    return auto ? new FallbackTokenizer(client, spec, fallback, options.onNotice) : new OwningTokenizer(client, spec);
  } catch (error) {
    if (!auto || !(error instanceof CurateError) || error.code !== SERVICE_UNAVAILABLE) throw error;
    options.onNotice?.(
      `no tokenizer service at ${path}: counting with in-process threads (start one with: curate tokenizer serve)`,
    );
    return fallback();
  }
}

/** The service's tokenizer, closing its connection on `close()`. */
class OwningTokenizer implements Tokenizer {
  protected readonly remote: Tokenizer;

  constructor(
    protected readonly client: TokenizerServiceClient,
    spec: TokenizerSpec,
  ) {
    this.remote = client.tokenizer(spec);
  }
  info(): Promise<TokenizerInfo> {
    return this.remote.info();
  }
  count(texts: readonly string[]): Promise<Uint32Array> {
    return this.remote.count(texts);
  }
  encode(texts: readonly string[]): Promise<Uint32Array[]> {
    return this.remote.encode(texts);
  }
  decode(ids: readonly Uint32Array[]): Promise<string[]> {
    return this.remote.decode(ids);
  }
  countChats(chats: readonly ChatInput[]): Promise<ChatCount[]> {
    return this.remote.countChats(chats);
  }
  close(): Promise<void> {
    return this.client.close();
  }
}

/** `auto`: the service while it answers, then the in-process pool (requests are pure, so retrying one is safe). */
class FallbackTokenizer extends OwningTokenizer {
  private local: Tokenizer | undefined;

  constructor(
    client: TokenizerServiceClient,
    spec: TokenizerSpec,
    private readonly fallback: () => Tokenizer,
    private readonly onNotice: ((message: string) => void) | undefined,
  ) {
    super(client, spec);
  }

  private async via<T>(call: (tokenizer: Tokenizer) => Promise<T>): Promise<T> {
    if (this.local) return call(this.local);
    try {
      return await call(this.remote);
    } catch (error) {
      if (!(error instanceof CurateError) || error.code !== SERVICE_UNAVAILABLE) throw error;
      if (this.local === undefined) {
        this.local = this.fallback();
        this.onNotice?.(
          `tokenizer service at ${this.client.path} went away: counting the rest with in-process threads`,
        );
      }
      return call(this.local);
    }
  }

  override info(): Promise<TokenizerInfo> {
    return this.via((t) => t.info());
  }
  override count(texts: readonly string[]): Promise<Uint32Array> {
    return this.via((t) => t.count(texts));
  }
  override encode(texts: readonly string[]): Promise<Uint32Array[]> {
    return this.via((t) => t.encode(texts));
  }
  override decode(ids: readonly Uint32Array[]): Promise<string[]> {
    return this.via((t) => t.decode(ids));
  }
  override countChats(chats: readonly ChatInput[]): Promise<ChatCount[]> {
    return this.via((t) => t.countChats(chats));
  }
}
