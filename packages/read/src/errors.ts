import type { Compression } from "./source.js";

/**
 * A compressed stream that ends early or holds bytes its format does not allow. Becomes a `corrupt_input` reject.
 * @example throw new DecompressError("zstd", "zstd data is corrupt or cut off");
 */
export class DecompressError extends Error {
  constructor(
    readonly compression: Compression,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = "DecompressError";
  }
}
