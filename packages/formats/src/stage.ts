import { type BatchStage, batchStage, type Envelope, UsageError } from "@curate/core";
import { type ConvertOptions, canConvert, convert as convertRecord, type ExtraKeys } from "./convert.js";
import { detectFormat, type FormatName, formatNames, isFormatName } from "./registry.js";

export interface ConvertStageOptions extends ConvertOptions {
  /** The target format. */
  readonly to: FormatName;
  /**
   * The source format. `"auto"` (default) uses the format an upstream `validate` stage recorded in `meta.format`,
   * else detects it from the record's keys.
   */
  readonly from?: FormatName | "auto";
  readonly extra?: ExtraKeys;
}

function checkFormat(option: string, value: unknown, auto: boolean): void {
  if (isFormatName(value) || (auto && value === "auto")) return;
  throw new UsageError(
    `convertTo(): \`${option}\` must be ${auto ? "auto or " : ""}one of ${formatNames.join(", ")}, found ${JSON.stringify(value)}`,
  );
}

/**
 * A stage that converts every record to `to`. Records that cannot be converted without losing a field are rejected
 * with `unmapped_field` (one issue per field); records whose format is unknown with `unknown_format`. Converted
 * records get `meta.format = to`.
 * @example await runStage([validate({ format: "alpaca" }), convertTo({ to: "chat" })], records);
 */
export function convertTo(options: ConvertStageOptions): BatchStage {
  checkFormat("to", options.to, false);
  checkFormat("from", options.from ?? "auto", true);
  const extra = options.extra ?? "error";
  if (!["error", "keep", "drop"].includes(extra)) {
    throw new UsageError(`convertTo(): \`extra\` must be error, keep or drop, found ${JSON.stringify(extra)}`);
  }
  const { to } = options;
  const fixed = options.from === undefined || options.from === "auto" ? undefined : options.from;
  if (fixed && !canConvert(fixed, to)) {
    throw new UsageError(
      `cannot convert ${fixed} to ${to}; supported: chat, alpaca, prompt_completion and sharegpt into each other, dpo ↔ pairs`,
    );
  }
  return batchStage("convert", {
    batch(items, ctx) {
      const kept: Envelope[] = [];
      for (const item of items) {
        const known = item.meta?.format;
        const from = fixed ?? (isFormatName(known) ? known : detectFormat(item.data));
        if (from === undefined) {
          ctx.reject(item, {
            code: "unknown_format",
            message: `cannot tell the record's format from its keys; pass --from (one of ${formatNames.join(", ")})`,
          });
          continue;
        }
        const result = convertRecord(item.data, from, to, { extra });
        if (result.ok) {
          kept.push({ ...item, data: result.record, meta: { ...item.meta, format: to } });
          continue;
        }
        const summary = result.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
        ctx.reject(item, {
          code: result.issues[0]!.code,
          message: `cannot convert ${from} to ${to} without losing data: ${summary}`,
          issues: result.issues,
        });
      }
      return kept;
    },
  });
}
