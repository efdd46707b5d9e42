/**
 * The `curate run` configuration: a JSON or YAML file (`--config`), command-line flags on top. One zod schema checks
 * both, so a typo in a config key is an error with its path, never silently ignored.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { CurateError, describeValue, formatPath } from "@curate/core";
import { z } from "zod";

const severity = z.enum(["error", "warn", "off"]);
const ratiosSchema = z.union([z.string(), z.record(z.string(), z.number().min(0).max(1))]);

export const runConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  inputs: z.array(z.string()).optional().describe("files, directories or globs; stdin when empty"),
  out: z.string().optional().describe("output folder"),
  force: z.boolean().optional().describe("replace a non-empty output folder"),
  compress: z.boolean().optional().describe("write .jsonl.gz splits"),
  to: z.string().optional().describe("convert records to this format on the way out"),
  seed: z.union([z.string(), z.number()]).optional(),
  threads: z.number().int().min(1).max(256).optional(),
  maxLineBytes: z.number().int().min(1).optional(),
  validate: z
    .union([
      z.literal(false),
      z.strictObject({
        format: z.string().optional(),
        schema: z.string().optional(),
        strict: z.boolean().optional(),
        rules: z.record(z.string(), severity).optional(),
      }),
    ])
    .optional(),
  dedup: z
    .union([
      z.literal(false),
      z.strictObject({
        exact: z.boolean().optional(),
        near: z.boolean().optional(),
        threshold: z.number().gt(0).max(1).optional(),
        shingle: z.string().optional(),
        numPerm: z.number().int().min(16).max(1024).optional(),
        verify: z.boolean().optional(),
        key: z.array(z.string()).optional(),
        normalize: z.array(z.string()).optional(),
        mode: z.enum(["remove", "flag"]).optional(),
      }),
    ])
    .optional(),
  decontaminate: z
    .strictObject({
      against: z.array(z.string()).min(1),
      n: z.number().int().min(1).max(100).optional(),
      mode: z.enum(["remove", "flag"]).optional(),
    })
    .optional(),
  tokens: z
    .union([
      z.literal(false),
      z.strictObject({
        tokenizer: z.string(),
        maxTokens: z.number().int().min(1).optional(),
        minTokens: z.number().int().min(0).optional(),
        onOverflow: z.enum(["drop", "truncate", "keep", "fail"]).optional(),
      }),
    ])
    .optional(),
  split: z
    .union([
      z.literal(false),
      z.strictObject({
        ratios: ratiosSchema.optional(),
        sizes: z.record(z.string(), z.number().int().min(0)).optional(),
        key: z.string().optional(),
        stratifyBy: z.string().optional(),
        groupBy: z.string().optional(),
        leakage: z.union([z.literal(false), z.strictObject({ ngram: z.number().int().min(1).max(100) })]).optional(),
      }),
    ])
    .optional(),
});

/** The `curate run` configuration, as written in `curate.config.json` / `.yaml`. */
export type RunConfig = z.infer<typeof runConfigSchema>;

/**
 * Checks a configuration object, throwing a usage error that lists every problem with its path.
 * @example parseRunConfig({ dedup: { threshold: 0.8 } }, "curate.config.json");
 */
export function parseRunConfig(value: unknown, where: string): RunConfig {
  const result = runConfigSchema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = formatPath(issue.path) || "(top level)";
    const found = "input" in issue ? `, found ${describeValue(issue.input)}` : "";
    const keys = issue.code === "unrecognized_keys" ? ` (${issue.keys.join(", ")})` : "";
    return `  ${where}: ${path}: ${issue.message}${keys}${found}`;
  });
  throw new CurateError("CURATE_CONFIG", `invalid configuration:\n${lines.join("\n")}`, { exitCode: 2 });
}

/**
 * Reads a JSON or YAML configuration file (by extension; `.yaml`/`.yml` are YAML, anything else JSON).
 * @example const config = await loadRunConfig("curate.config.yaml");
 */
export async function loadRunConfig(path: string): Promise<RunConfig> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new CurateError("CURATE_CONFIG", `cannot read config file ${path}: ${(cause as Error).message}`, { cause });
  }
  let value: unknown;
  const yaml = [".yaml", ".yml"].includes(extname(path).toLowerCase());
  try {
    if (yaml) {
      const { parse } = await import("yaml");
      value = parse(text);
    } else {
      value = JSON.parse(text);
    }
  } catch (cause) {
    throw new CurateError(
      "CURATE_CONFIG",
      `${path} is not valid ${yaml ? "YAML" : "JSON"}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  return parseRunConfig(value, path);
}
