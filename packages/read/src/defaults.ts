/**
 * The reader's defaults, in one place (a module of constants only: the CLI's option table loads it at start-up).
 * @example import { DEFAULT_MAX_LINE_BYTES } from "@curate/read/defaults";
 */

/** The default `maxLineBytes`: 16 MiB, far above any real record, low enough to bound memory. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * The default deepest nesting a record may have: 512 levels of objects and arrays, far beyond real data. Deeper
 * records are `too_deep` rejects, because every later stage (formats, dedup keys, tokens, writers) walks records
 * recursively and a 5,000-level record overflowed the stack and aborted whole runs.
 */
export const DEFAULT_MAX_DEPTH = 512;

/** The highest `maxDepth` allowed: past a few thousand levels the recursive walks of later stages overflow the stack. */
export const MAX_MAX_DEPTH = 2000;
