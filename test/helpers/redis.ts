import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer, Socket } from "node:net";
import { curateBin, repoRoot } from "./cli.js";

/** `redis-server` on PATH, or why not (Debian: `apt-get install redis-server`; `.ci/run` installs it). */
export function findRedisServer(): { found: true } | { found: false; reason: string } {
  const result = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (result.status === 0) return { found: true };
  return { found: false, reason: "no redis-server on PATH (apt-get install redis-server)" };
}

/** A loopback port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(500);
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.connect(port, "127.0.0.1", () => {
      socket.write("PING\r\n");
      socket.once("data", (data) => {
        socket.destroy();
        resolve(data.toString().startsWith("+PONG"));
      });
    });
  });
}

/** A redis-server of the test's own, on a free loopback port, keeping nothing on disk. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` in `dir` on a free loopback port and waits until it answers PING.
 * @example const redis = await startRedis(dir); afterAll(() => redis.stop());
 */
export async function startRedis(dir: string): Promise<RedisServer> {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (let i = 0; i < 100 && !(await answers(port)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await answers(port))) {
    child.kill("SIGKILL");
    throw new Error(`redis-server did not answer on port ${port}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** A `curate` process started in the background (a worker, a coordinator), with its output so far. */
export interface Background {
  readonly child: ChildProcess;
  readonly stderr: () => string;
  readonly stdout: () => string;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** Resolves once stderr contains `text`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * Starts the built `curate` with `args` without waiting for it.
 * @example const worker = spawnCurate(["worker", "--queue", redis.url]); await worker.waitFor("waiting for shards");
 */
export function spawnCurate(args: readonly string[]): Background {
  const child = spawn(process.execPath, [curateBin, ...args], {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    exited,
    async waitFor(text, timeoutMs = 30_000) {
      const started = Date.now();
      const seen = () => (typeof text === "string" ? err.includes(text) : text.test(err));
      while (!seen()) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`curate ${args.join(" ")} ended before "${text}":\n${err}`);
        }
        if (Date.now() - started > timeoutMs) throw new Error(`no "${text}" after ${timeoutMs} ms:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async kill(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
