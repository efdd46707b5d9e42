import { tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { UsageError } from "@curate/core";

/** Linux's limit on a Unix socket path (`sun_path`, 108 bytes with the terminating NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * Where the service listens unless told otherwise: `$XDG_RUNTIME_DIR/curate/tokenizer.sock` (a per-user folder the
 * login session owns), else `<temp folder>/curate-<uid>/tokenizer.sock`.
 * @example defaultSocketPath(); // "/run/user/1000/curate/tokenizer.sock"
 */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime !== undefined && runtime !== "") return join(runtime, "curate", "tokenizer.sock");
  let user: string;
  try {
    user = String(userInfo().uid);
  } catch {
    user = "user";
  }
  return join(tmpdir(), `curate-${user}`, "tokenizer.sock");
}

/**
 * The socket path to use: `auto` and `undefined` mean the default; anything else is a path, made absolute. Too long a
 * path is a usage error here, not an obscure `EINVAL` later.
 * @example socketPath("auto"); // defaultSocketPath()
 */
export function socketPath(given?: string): string {
  const path = given === undefined || given === "auto" || given === "" ? defaultSocketPath() : resolve(given);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new UsageError(
      `socket path ${path} is ${Buffer.byteLength(path)} bytes; Unix sockets allow ${MAX_SOCKET_PATH}: choose a shorter --socket`,
    );
  }
  return path;
}
