import {
  type BatchStage,
  batchStage,
  CurateError,
  describeValue,
  type Envelope,
  type Issue,
  type PreparedStage,
  type RejectReason,
  type StageContext,
  takeFact,
  UsageError,
  withPreparer,
} from "@curate/core";
import {
  detectFormat,
  type FormatName,
  formatNames,
  formats,
  fromZodIssues,
  fromZodSchema,
  isFormatName,
  isZodLikeSchema,
  type RecordSchema,
  type ZodLikeSchema,
} from "@curate/formats";
import { z } from "zod";
import { checkContent, Issues, scanText } from "./checks.js";
import { cleanPath, hasCleanPath, withFormat } from "./clean.js";
import { type RuleSetting, type RuleSettings, resolveRules } from "./rules.js";

export interface ValidateOptions {
  /**
   * The records' format. `"auto"` (default) detects it per file from the file's first records; `"none"` checks
   * only `schema` and text hygiene (the default when a `schema` is given).
   */
  readonly format?: FormatName | "auto" | "none";
  /** A schema of the user's: a zod schema, or a RecordSchema from `loadUserSchema`. Checked in addition to `format`. */
  readonly schema?: RecordSchema | ZodLikeSchema;
  /** Rule settings by code (`{ system_not_first: "error", control_characters: "off" }`). */
  readonly rules?: RuleSettings | Readonly<Record<string, RuleSetting>>;
  /** Unknown keys are errors instead of warnings. */
  readonly strict?: boolean;
  /** With `format: "auto"`: how many records of a file (at most) decide its format, by majority. Default 32. */
  readonly detectWindow?: number;
}

type Rec = Record<string, unknown>;
const isRec = (value: unknown): value is Rec => typeof value === "object" && value !== null && !Array.isArray(value);

// Compiled lazily, per format actually seen: compiling all six would cost start-up time for nothing.
const compiled = new Map<FormatName, z.ZodType>();
function compiledSchema(format: FormatName): z.ZodType {
  let schema = compiled.get(format);
  if (!schema) {
    // z.compile generates a validator function for the schema (measured 4x faster than plain safeParse); a schema
    // it cannot compile comes back unchanged, so this is never worse than the runtime parser.
    schema = z.compile(formats[format].schema);
    compiled.set(format, schema);
  }
  return schema;
}

/**
 * True when the format's schema accepts `record` for sure; false sends it to the runtime parser, which lists the
 * issues. Formats with a clean path skip the compiled validator: their records that get here mostly fail it (it
 * answered for the clean ones), so it would only add its compile time (~14 ms a format at the first record that
 * needs it) and a second pass over a failing record: the 273 such records of the bench corpus took 32–53 ms in a
 * fresh process without it, 61–81 ms with it.
 */
function surelyValid(format: FormatName, record: Rec): boolean {
  return !hasCleanPath(format) && compiledSchema(format).validate(record);
}

/**
 * Every shape and content problem of a record read as `format` (severities are the rules' defaults; see
 * `settleIssues`). The record must be an object.
 * @example checkRecordAs("chat", { messages: [{ role: "wizard", content: "hi" }] }); // unrecognized_role, ...
 */
export function checkRecordAs(format: FormatName, record: Rec): Issue[] {
  const out = new Issues();
  if (!surelyValid(format, record)) {
    // The runtime parser gives the full list of issues and their inputs.
    const result = formats[format].schema.safeParse(record, { reportInput: true });
    if (!result.success) out.list.push(...fromZodIssues(result.error.issues));
  }
  checkContent(format, record, out);
  scanText(record, [], out);
  return out.list;
}

/**
 * Applies rule settings to issues: drops those whose rule is off, sets the severity of the others. Issues with a
 * code no rule has (a user schema's own) keep their severity.
 * @example settleIssues(issues, resolveRules({ control_characters: "off" }));
 */
export function settleIssues(issues: readonly Issue[], settings: ReadonlyMap<string, RuleSetting>): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const setting = settings.get(issue.code);
    if (setting === "off") continue;
    const severity = setting === undefined ? issue.severity : setting === "warn" ? "warning" : "error";
    out.push(issue.severity === severity ? issue : { ...issue, severity });
  }
  return out;
}

function describeKeys(record: unknown): string {
  if (!isRec(record)) return "not an object";
  const keys = Object.keys(record);
  if (keys.length === 0) return "an empty object";
  return `keys ${keys.slice(0, 6).join(", ")}${keys.length > 6 ? ", …" : ""}`;
}

const formatKeysHint =
  "messages (chat), instruction + output (alpaca), prompt + completion, conversations (sharegpt), input + preferred_output + non_preferred_output (dpo), prompt + chosen + rejected (pairs)";

function issue(code: string, message: string, expected?: string, found?: string): Issue {
  return {
    code,
    severity: "error",
    path: "",
    message,
    ...(expected === undefined ? {} : { expected }),
    ...(found === undefined ? {} : { found }),
  };
}

/** How a file's format was decided, for messages about records that do not fit it. */
interface FileFormat {
  readonly format: FormatName;
  readonly votes: number;
  readonly of: number;
}

function isRecordSchema(value: unknown): value is RecordSchema {
  return isRec(value) && typeof (value as { check?: unknown }).check === "function";
}

/**
 * The validation stage: checks every record against its format's schema and the content rules, rejects records
 * with at least one error (`code` is the first error's, `issues` lists every problem, errors and warnings), and
 * keeps the others with their warnings sent to `ctx.warn` and `meta.format` set. With `format: "auto"` each file's
 * format is the majority format of its first records; a record that fits no format is rejected as
 * `unknown_format`, one that fits another format as `format_mismatch`.
 * @example
 * const run = runPipeline(readInputs(["data/*.jsonl"]), [validate({ format: "auto", rules: { system_not_first: "error" } })]);
 */
export function validate(options: ValidateOptions = {}): PreparedStage<BatchStage> {
  const requested = options.format ?? (options.schema === undefined ? "auto" : "none");
  if (requested !== "auto" && requested !== "none" && !isFormatName(requested)) {
    throw new UsageError(
      `validate(): \`format\` must be auto, none or one of ${formatNames.join(", ")}, found ${JSON.stringify(requested)}`,
    );
  }
  if (requested === "none" && options.schema === undefined) {
    throw new UsageError('validate(): `format: "none"` checks only a user schema; pass `schema` too');
  }
  let userSchema: RecordSchema | undefined;
  if (options.schema !== undefined) {
    // zod schemas have a `check` method too (to add refinements), so they are told apart by `safeParse` first.
    if (isZodLikeSchema(options.schema)) userSchema = fromZodSchema(options.schema);
    else if (isRecordSchema(options.schema)) userSchema = options.schema;
    else {
      throw new CurateError(
        "CURATE_INVALID_OPTION",
        "validate(): `schema` must be a zod schema or a RecordSchema from loadUserSchema()",
      );
    }
  }
  const window = options.detectWindow ?? 32;
  if (!Number.isSafeInteger(window) || window < 1) {
    throw new UsageError(
      `validate(): \`detectWindow\` must be a whole number ≥ 1, found ${String(options.detectWindow)}`,
    );
  }
  const settings = resolveRules(options.rules as Record<string, string> | undefined, options.strict ?? false);
  const mismatchIsError = settings.get("format_mismatch") === "error";

  /** All issues of one record read as `format` (undefined: user schema only), settled; then routed. */
  function route(item: Envelope, format: FormatName | undefined, leading: Issue[], ctx: StageContext) {
    const data = item.data;
    let issues: Issue[];
    if (!isRec(data)) {
      issues = [
        issue(
          "data_type",
          `expected a JSON object, found ${describeValue(data)}`,
          "a JSON object",
          describeValue(data),
        ),
      ];
    } else {
      issues = format === undefined ? [...leading] : leading.concat(checkRecordAs(format, data));
      if (format === undefined) {
        const out = new Issues();
        scanText(data, [], out);
        issues.push(...out.list);
      }
      if (userSchema) issues.push(...dedupe(userSchema.check(data), issues));
    }
    return settle(item, format, issues, ctx);
  }

  /** Routes a record by its issues: rejected with at least one error, else kept with its warnings sent on. */
  function settle(item: Envelope, format: FormatName | undefined, issues: readonly Issue[], ctx: StageContext) {
    // Most records have no issue at all: skip settling and build the kept envelope directly.
    if (issues.length === 0) return keep(item, format);
    const settled = settleIssues(issues, settings);
    const errors = settled.filter((i) => i.severity === "error");
    if (errors.length > 0) {
      const first = errors[0]!;
      const more = settled.length - 1;
      ctx.reject(item, {
        code: first.code,
        message: `${first.path ? `${first.path}: ` : ""}${first.message}${more > 0 ? ` (and ${more} more ${more === 1 ? "problem" : "problems"})` : ""}`,
        issues: settled,
      });
      return undefined;
    }
    for (const warning of settled) ctx.warn(item, warning);
    return keep(item, format);
  }

  function keep(item: Envelope, format: FormatName | undefined): Envelope {
    if (format === undefined) return item;
    return { data: item.data, source: item.source, meta: item.meta ? withFormat(item.meta, format) : { format } };
  }

  // With no user schema, a record the clean path answers for has no issue but its unknown keys: it is routed
  // without the reference checks. A user schema's issues need the reference path's list to be deduplicated against.
  const fastPath = userSchema === undefined;

  /** Routes `item` by the clean path's answer for `format`; UNSURE when the reference path must decide. */
  function checkClean(item: Envelope, format: FormatName, ctx: StageContext): Envelope | undefined | typeof UNSURE {
    const unknown = cleanPath(format, item.data);
    if (unknown === undefined) return UNSURE;
    if (unknown.length === 0) return keep(item, format);
    return settle(item, format, unknownKeyIssues(item.data, unknown), ctx);
  }

  /** Checks a record against a format given up front (`--format chat`). */
  function checkForced(item: Envelope, format: FormatName, ctx: StageContext) {
    // A record the clean path answers for detects as `format` (see clean.ts): there is no mismatch to report.
    if (fastPath) {
      const routed = checkClean(item, format, ctx);
      if (routed !== UNSURE) return routed;
    }
    const detected = detectFormat(item.data);
    if (detected !== undefined && detected !== format) {
      const mismatch = issue(
        "format_mismatch",
        `the record's ${describeKeys(item.data)} fit ${detected}, not ${format} (--format ${format})`,
        format,
        detected,
      );
      // The format's own checks would only repeat the mismatch field by field.
      if (mismatchIsError) return route(item, undefined, [mismatch], ctx);
      return route(item, format, [mismatch], ctx);
    }
    return route(item, format, [], ctx);
  }

  /** Checks a record of a file whose format was detected (or not yet: `file` undefined). */
  function checkDetected(item: Envelope, file: FileFormat | undefined, ctx: StageContext) {
    // A record the clean path answers for detects as the file's format (see clean.ts): no detection, no mismatch.
    if (fastPath && file !== undefined) {
      const routed = checkClean(item, file.format, ctx);
      if (routed !== UNSURE) return routed;
    }
    const detected = detectFormat(item.data);
    if (!isRec(item.data)) return route(item, undefined, [], ctx);
    if (detected === undefined) {
      const unknown = issue(
        "unknown_format",
        `the record's ${describeKeys(item.data)} fit no format; expected ${formatKeysHint}`,
        "the keys of a known format",
        describeKeys(item.data),
      );
      return route(item, undefined, [unknown], ctx);
    }
    if (file !== undefined && detected !== file.format) {
      mismatched = true;
      const mismatch = issue(
        "format_mismatch",
        `the record's ${describeKeys(item.data)} fit ${detected}, but ${item.source.file} holds ${file.format} records (${file.votes} of its first ${file.of} detected records); pass --format to force one, or --rule format_mismatch=off to allow mixed files`,
        file.format,
        detected,
      );
      if (mismatchIsError) return route(item, undefined, [mismatch], ctx);
      return route(item, detected, [mismatch], ctx);
    }
    return route(item, detected, [], ctx);
  }

  // Auto: a file's first records (at most `window`) wait until its format is decided by majority, then are checked
  // in order. Files are decided independently; memory stays bounded by the window.
  const decided = new Map<string, FileFormat>();
  let pending: Envelope[] = [];

  function decide(): FileFormat | undefined {
    const votes = new Map<FormatName, number>();
    let of = 0;
    for (const item of pending) {
      const format = detectFormat(item.data);
      if (format === undefined) continue;
      of++;
      votes.set(format, (votes.get(format) ?? 0) + 1);
    }
    let best: FileFormat | undefined;
    // Map order is first-seen order, so a tie goes to the format that appeared first.
    for (const [format, n] of votes) if (!best || n > best.votes) best = { format, votes: n, of };
    return best;
  }

  function flushPending(ctx: StageContext, kept: Envelope[]): void {
    if (pending.length === 0) return;
    const format = decide();
    if (format) decided.set(pending[0]!.source.file, format);
    const items = pending;
    pending = [];
    for (const item of items) {
      const ok = checkOrReplay(item, format, ctx);
      if (ok) kept.push(ok);
    }
  }

  const fixed = requested === "auto" ? undefined : requested;

  // The shard phase validates ahead: a record's fact is its verdict (reject reason, or warnings and the format it is
  // kept as) under the file format the shard decided from its own first records. The stage replays a verdict only
  // when that format equals the one it decided for the file (always, for a forced format); otherwise it checks the
  // record itself, so a shard that guessed differently changes nothing.
  const preparedKey = `validate:${JSON.stringify([requested, [...settings], window, userSchema !== undefined])}`;

  // Set when a record's issues quote its file's vote counts (a format mismatch): its verdict holds only for a file
  // decided by the same votes; any other verdict holds for any decision of the same format.
  let mismatched = false;

  function verdictOf(item: Envelope, file: FileFormat | undefined): Verdict {
    mismatched = false;
    const verdict: Verdict = { file: file ?? null };
    const recorder: StageContext = {
      stage: "validate",
      reject: (_, reason) => {
        verdict.reason = reason;
      },
      duplicate() {},
      warn: (_, issue) => {
        verdict.warnings ??= [];
        verdict.warnings.push(issue);
      },
    };
    const kept = check(item, file, recorder);
    if (kept !== undefined && kept !== item) verdict.format = kept.meta!.format as FormatName;
    if (mismatched) verdict.votes = true;
    return verdict;
  }

  function check(item: Envelope, file: FileFormat | undefined, ctx: StageContext): Envelope | undefined {
    if (fixed === undefined) return checkDetected(item, file, ctx);
    return fixed === "none" ? route(item, undefined, [], ctx) : checkForced(item, fixed, ctx);
  }

  /** Checks a record, or replays its prepared verdict when it was made under the same file format. */
  function checkOrReplay(item: Envelope, file: FileFormat | undefined, ctx: StageContext): Envelope | undefined {
    const verdict = takeFact<Verdict>(item.source, preparedKey);
    if (verdict === undefined || !sameFile(verdict, file)) return check(item, file, ctx);
    if (verdict.reason) {
      ctx.reject(item, verdict.reason);
      return undefined;
    }
    for (const warning of verdict.warnings ?? []) ctx.warn(item, warning);
    return keep(item, verdict.format);
  }

  function sameFile(verdict: Verdict, b: FileFormat | undefined): boolean {
    const a = verdict.file;
    if (fixed !== undefined) return true;
    if (a === null || b === undefined) return a === null && b === undefined;
    return a.format === b.format && (!verdict.votes || (a.votes === b.votes && a.of === b.of));
  }

  const stage = batchStage("validate", {
    batch(items, ctx) {
      const kept: Envelope[] = [];
      if (fixed !== undefined) {
        for (const item of items) {
          const ok = checkOrReplay(item, undefined, ctx);
          if (ok) kept.push(ok);
        }
        return kept;
      }
      for (const item of items) {
        const known = decided.get(item.source.file);
        if (known) {
          const ok = checkOrReplay(item, known, ctx);
          if (ok) kept.push(ok);
          continue;
        }
        if (pending.length > 0 && pending[0]!.source.file !== item.source.file) flushPending(ctx, kept);
        pending.push(item);
        if (pending.length >= window) flushPending(ctx, kept);
      }
      return kept;
    },
    flush(ctx) {
      const kept: Envelope[] = [];
      flushPending(ctx, kept);
      decided.clear();
      return kept;
    },
    close() {
      // A run that ended early leaves records waiting; the next run starts clean.
      pending = [];
      decided.clear();
    },
  });

  return withPreparer(stage, {
    key: preparedKey,
    prepare(items) {
      // The same decision the stage makes per file, from the first `window` records this shard holds of it.
      const verdicts: Verdict[] = [];
      const formats = new Map<string, FileFormat | undefined>();
      for (let i = 0; i < items.length; i++) {
        const file = items[i]!.source.file;
        if (fixed === undefined && !formats.has(file)) {
          pending = [];
          for (let j = i; j < items.length && pending.length < window; j++) {
            if (items[j]!.source.file === file) pending.push(items[j]!);
          }
          formats.set(file, decide());
          pending = [];
        }
        verdicts.push(verdictOf(items[i]!, formats.get(file)));
      }
      return verdicts;
    },
    pass: (item, verdict) => {
      const v = verdict as Verdict;
      return v.reason ? undefined : keep(item, v.format);
    },
  });
}

/** What validating a record decided, as plain data (see `checkOrReplay`). */
interface Verdict {
  readonly file: FileFormat | null;
  /** The verdict quotes the file's votes (a format mismatch): it holds only for the same votes. */
  votes?: true;
  reason?: RejectReason;
  warnings?: Issue[];
  format?: FormatName;
}

/** The clean path's "the reference path must decide". */
const UNSURE: unique symbol = Symbol("unsure");

/**
 * The issues of unknown top-level keys, as the reference path words them: zod's strict object reports them as one
 * `unrecognized_keys` issue (keys in `for...in` order), which `fromZodIssues` maps to one `unknown_key` per key.
 */
function unknownKeyIssues(record: unknown, keys: readonly string[]): Issue[] {
  return fromZodIssues([{ code: "unrecognized_keys", keys, path: [], message: "", input: record }]);
}

/** Issues of a user schema that the built-in format already reported (same code and path) are not repeated. */
function dedupe(extra: readonly Issue[], existing: readonly Issue[]): Issue[] {
  if (existing.length === 0) return [...extra];
  const seen = new Set(existing.map((i) => `${i.code}\u0000${i.path}`));
  return extra.filter((i) => !seen.has(`${i.code}\u0000${i.path}`));
}
