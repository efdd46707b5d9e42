export type CurateErrorCode =
  | "CURATE_USAGE"
  | "CURATE_INVALID_OPTION"
  | "CURATE_CONFIG"
  | "CURATE_INPUT_NOT_FOUND"
  | "CURATE_IO"
  | "CURATE_OUTPUT_EXISTS"
  | "CURATE_MISSING_DEPENDENCY"
  | "CURATE_TOKENIZER"
  | "CURATE_DATA"
  | "CURATE_CONSERVATION"
  | "CURATE_INTERNAL"
  | (string & {});

export interface CurateErrorOptions {
  /** Process exit code the CLI uses for this error: 1 for data errors, 2 for usage or internal errors. */
  readonly exitCode?: 1 | 2;
  readonly cause?: unknown;
}

/**
 * Base class of every error curate throws on purpose. Library packages throw these; only the CLI maps them to
 * exit codes and writes them to stderr.
 * @example throw new CurateError("CURATE_INVALID_OPTION", "dedup(): `threshold` must be in (0, 1], found 1.5");
 */
export class CurateError extends Error {
  readonly code: CurateErrorCode;
  readonly exitCode: 1 | 2;

  constructor(code: CurateErrorCode, message: string, options: CurateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CurateError";
    this.code = code;
    this.exitCode = options.exitCode ?? 2;
  }
}

/**
 * A bad command line, option or config: the user can fix it. Exit code 2.
 * @example throw new UsageError("--threshold must be between 0 and 1, found 1.5");
 */
export class UsageError extends CurateError {
  constructor(message: string, options: { cause?: unknown; code?: CurateErrorCode } = {}) {
    super(options.code ?? "CURATE_USAGE", message, { exitCode: 2, cause: options.cause });
    this.name = "UsageError";
  }
}

/**
 * A bug in curate (a broken invariant such as the conservation law). Exit code 2, and the message asks for a report.
 * @example throw new InternalError("stage dedup: in 10 ≠ out 8 + rejected 0 + duplicates 1");
 */
export class InternalError extends CurateError {
  constructor(message: string, options: { cause?: unknown; code?: CurateErrorCode } = {}) {
    super(
      options.code ?? "CURATE_INTERNAL",
      `${message}\nThis is a bug in curate; please report it with the command you ran.`,
      { exitCode: 2, cause: options.cause },
    );
    this.name = "InternalError";
  }
}

/** True for errors curate threw on purpose (as opposed to unexpected exceptions). */
export function isCurateError(error: unknown): error is CurateError {
  return error instanceof CurateError;
}
