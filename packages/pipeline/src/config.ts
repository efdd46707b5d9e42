/**
 * The `curate run` configuration: a JSON or YAML file (`--config`), command-line flags on top. One zod schema,
 * generated from the option table, checks both, so a typo in a config key is an error with its path, never
 * silently ignored.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { CurateError, describeValue, formatPath } from "@curate/core";
import { z } from "zod";
import { type OptionSpec, runOptions, type Section } from "./options.js";

const severity = z.enum(["error", "warn", "off"]);

/** The zod schema of one option's value (optional: the stage applies its default). */
function valueSchema(spec: OptionSpec): z.ZodType {
  const v = spec.value;
  let schema: z.ZodType;
  switch (v.kind) {
    case "boolean":
      schema = z.boolean();
      break;
    case "string":
      schema = z.string();
      break;
    case "seed":
      schema = z.union([z.string(), z.number()]);
      break;
    case "int": {
      const int = z.number().int().min(v.min);
      schema = v.max === undefined ? int : int.max(v.max);
      break;
    }
    case "fraction":
      schema = (v.exclusiveMin ? z.number().gt(0) : z.number().min(0)).max(1);
      break;
    case "choice":
      schema = z.enum(v.choices as [string, ...string[]]);
      break;
    case "list":
    case "csv":
      schema = z.array(z.string());
      break;
  }
  return schema.optional().describe(spec.help);
}

/** The configuration keys of a section, from the option table (options without a `key` are CLI-only). */
function fields(section: Section): Record<string, z.ZodType> {
  const out: Record<string, z.ZodType> = {};
  for (const spec of runOptions)
    if (spec.section === section && spec.key !== undefined) out[spec.key] = valueSchema(spec);
  return out;
}

/**
 * The `curate run` configuration schema, generated from the option table (`./options.ts`), plus the keys that have
 * no flag of their own or a richer form in a file (rules, exact/near, ratios as an object, sizes, leakage).
 */
export const runConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  inputs: z.array(z.string()).optional().describe("files, directories or globs; stdin when empty"),
  ...fields("top"),
  validate: z
    .union([
      z.literal(false),
      z.strictObject({ ...fields("validate"), rules: z.record(z.string(), severity).optional() }),
    ])
    .optional(),
  dedup: z
    .union([
      z.literal(false),
      z.strictObject({ exact: z.boolean().optional(), near: z.boolean().optional(), ...fields("dedup") }),
    ])
    .optional(),
  decontaminate: z.strictObject({ ...fields("decontaminate"), against: z.array(z.string()).min(1) }).optional(),
  tokens: z.union([z.literal(false), z.strictObject({ ...fields("tokens"), tokenizer: z.string() })]).optional(),
  split: z
    .union([
      z.literal(false),
      z.strictObject({
        ...fields("split"),
        ratios: z.union([z.string(), z.record(z.string(), z.number().min(0).max(1))]).optional(),
        sizes: z.record(z.string(), z.number().int().min(0)).optional(),
        leakage: z.union([z.literal(false), z.strictObject({ ngram: z.number().int().min(1).max(100) })]).optional(),
      }),
    ])
    .optional(),
});

/**
 * The `curate run` configuration, as written in `curate.config.json` / `.yaml`. The schema above is generated from
 * the option table; this type says the same for TypeScript (a test checks that the two agree key for key).
 */
export interface RunConfig {
  readonly $schema?: string;
  readonly inputs?: string[];
  readonly out?: string;
  readonly force?: boolean;
  readonly compress?: boolean;
  readonly outputFormat?: "jsonl" | "parquet";
  readonly to?: string;
  readonly extra?: "error" | "keep" | "drop";
  readonly seed?: string | number;
  readonly threads?: number;
  readonly workers?: number;
  readonly shardBytes?: number;
  readonly queue?: string;
  readonly maxLineBytes?: number;
  readonly maxDepth?: number;
  readonly validate?:
    | false
    | {
        readonly format?: string;
        readonly schema?: string;
        readonly strict?: boolean;
        readonly rules?: Record<string, "error" | "warn" | "off">;
      };
  readonly dedup?:
    | false
    | {
        readonly exact?: boolean;
        readonly near?: boolean;
        readonly threshold?: number;
        readonly shingle?: string;
        readonly numPerm?: number;
        readonly verify?: boolean;
        readonly key?: string[];
        readonly normalize?: string[];
        readonly mode?: "remove" | "flag";
      };
  readonly decontaminate?: {
    readonly against: string[];
    readonly n?: number;
    readonly mode?: "remove" | "flag";
  };
  readonly tokens?:
    | false
    | {
        readonly tokenizer: string;
        readonly maxTokens?: number;
        readonly minTokens?: number;
        readonly onOverflow?: "drop" | "truncate" | "keep" | "fail";
        /** Socket of a `curate tokenizer serve` to count through, or `auto`. */
        readonly service?: string;
        readonly device?: "cpu" | "gpu" | "auto";
      };
  readonly split?:
    | false
    | {
        readonly ratios?: string | Record<string, number>;
        readonly sizes?: Record<string, number>;
        readonly key?: string;
        readonly stratifyBy?: string;
        readonly groupBy?: string;
        readonly leakage?: false | { readonly ngram: number };
      };
}

/**
 * Checks a configuration object, throwing a usage error that lists every problem with its path.
 * @example parseRunConfig({ dedup: { threshold: 0.8 } }, "curate.config.json");
 */
export function parseRunConfig(value: unknown, where: string): RunConfig {
  const result = runConfigSchema.safeParse(value, { reportInput: true });
  // The generated schema's output type is loose (its fields come from a table); `RunConfig` states it.
  if (result.success) return result.data as RunConfig;
  const lines = unionBranches(result.error.issues).map((issue) => {
    const path = formatPath(issue.path) || "(top level)";
    const found = "input" in issue ? `, found ${describeValue(issue.input)}` : "";
    const keys = issue.code === "unrecognized_keys" ? ` (${issue.keys.join(", ")})` : "";
    return `  ${where}: ${path}: ${issue.message}${keys}${found}`;
  });
  throw new CurateError("CURATE_CONFIG", `invalid configuration:\n${lines.join("\n")}`, { exitCode: 2 });
}

type ConfigIssue = z.core.$ZodIssue;

/**
 * A section that is `false | { ... }` fails as a union ("dedup: Invalid input"): report the object branch's own
 * issues instead (`dedup.mode: Invalid option`), with their full paths.
 */
function unionBranches(issues: readonly ConfigIssue[], prefix: readonly PropertyKey[] = []): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const branches = issue.errors;
      const objectBranch = branches.find((b) => !b.some((i) => i.code === "invalid_value" && i.path.length === 0));
      out.push(...unionBranches(objectBranch ?? branches[0]!, path));
    } else out.push({ ...issue, path } as ConfigIssue);
  }
  return out;
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
