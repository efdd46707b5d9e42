import { UsageError, type Stage } from "@curate/core";
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
export function convertTo(options: ConvertStageOptions): Stage {
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
  return async function* convert(source, ctx) {
    for await (const item of source) {
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
        yield { ...item, data: result.record, meta: { ...item.meta, format: to } };
      } else {
        const first = result.issues[0]!;
        ctx.reject(item, {
          code: first.code,
          message: `cannot convert ${from} to ${to} without losing data: ${result.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")}`,
          issues: result.issues,
        });
      }
    }
  };
}
