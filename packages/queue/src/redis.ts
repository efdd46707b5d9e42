import { CurateError, UsageError } from "@curate/core";
import type { Redis } from "ioredis";

/** Reconnection tries before a lost Redis is an error: ~3 s, so a run fails in seconds instead of hanging. */
const RECONNECTS = 6;
const RECONNECT_MS = 500;

/** A Redis connection that fails loudly: `lost` settles when Redis went away and did not come back. */
export interface Connection {
  readonly client: Redis;
  readonly url: string;
  /** Rejects with a clear error when the connection is lost for good; never resolves. */
  readonly lost: Promise<never>;
  close(): Promise<void>;
}

/**
 * Connects to `url` (`redis://HOST:PORT[/DB]`) or throws a clear error (exit 2) within seconds. BullMQ is given the
 * client (it duplicates it for its blocking reads, with the same give-up policy).
 * @example const connection = await connect("redis://127.0.0.1:6379");
 */
export async function connect(url: string): Promise<Connection> {
  if (!/^rediss?:\/\/[^/\s]+/.test(url)) {
    throw new UsageError(`--queue takes a Redis URL such as redis://127.0.0.1:6379, found "${url}"`);
  }
  const { Redis } = await import("./deps.js");
  const client = new Redis(url, {
    lazyConnect: true,
    // BullMQ's workers and event readers block on Redis: they need this, and `retryStrategy` bounds the wait instead.
    maxRetriesPerRequest: null,
    connectTimeout: 3000,
    retryStrategy: (times) => (times > RECONNECTS ? null : RECONNECT_MS),
  });
  let closing = false;
  let lastError: Error | undefined;
  client.on("error", (error: Error) => {
    lastError = error;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (cause) {
    client.disconnect();
    throw new CurateError(
      "CURATE_QUEUE_UNREACHABLE",
      `cannot reach Redis at ${url}: ${(cause as Error).message || lastError?.message || "no answer"} (is redis-server running there, and the port open to this machine?)`,
      { exitCode: 2, cause },
    );
  }
  const lost = new Promise<never>((_, reject) => {
    client.on("end", () => {
      if (closing) return;
      reject(
        new CurateError(
          "CURATE_QUEUE_LOST",
          `lost the connection to Redis at ${url}${lastError ? ` (${lastError.message})` : ""}`,
          { exitCode: 2 },
        ),
      );
    });
  });
  lost.catch(() => {});
  return {
    client,
    url,
    lost,
    async close() {
      closing = true;
      client.disconnect();
    },
  };
}
