/**
 * The reader's defaults, in one place (a module of constants only: the CLI's option table loads it at start-up).
 * @example import { DEFAULT_MAX_LINE_BYTES } from "@curate/read/defaults";
 */

/** The default `maxLineBytes`: 16 MiB, far above any real record, low enough to bound memory. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;
