/**
 * Users' own schemas: a JSON Schema file (checked with ajv) or a JavaScript module exporting a zod schema. Both
 * report problems as curate issues with the same codes, paths and `expected …, found …` messages as the built-in
 * formats.
 */
import { readFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { CurateError, describeValue, type Issue } from "@curate/core";
import { fromZodIssues, isMessagePath, shapeIssue, type ZodLikeIssue } from "./issues.js";

/** A schema a record can be checked against: the built-in formats' zod schemas, a user's JSON Schema or zod module. */
export interface RecordSchema {
  /** Where the schema came from (a file path), for messages. */
  readonly name: string;
  /** Every problem of `record`; empty when the record is valid. */
  check(record: unknown): Issue[];
}

/** What curate needs from a zod schema; any zod 4 (or 3) schema has it. */
export interface ZodLikeSchema {
  safeParse(
    data: unknown,
    params?: { reportInput?: boolean },
  ): { success: true } | { success: false; error: { issues: readonly ZodLikeIssue[] } };
}

/**
 * True for values that look like a zod schema (have `safeParse`), from any copy of zod.
 * @example isZodLikeSchema(z.string()); // true
 */
export function isZodLikeSchema(value: unknown): value is ZodLikeSchema {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { safeParse?: unknown }).safeParse === "function"
  );
}

/**
 * Wraps a zod schema as a RecordSchema.
 * @example fromZodSchema(z.object({ text: z.string() }), "my-schema.mjs").check({ text: 1 }); // [invalid_type at "text"]
 */
export function fromZodSchema(schema: ZodLikeSchema, name = "zod schema"): RecordSchema {
  return {
    name,
    check(record) {
      const result = schema.safeParse(record, { reportInput: true });
      return result.success ? [] : fromZodIssues(result.error.issues);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// JSON Schema through ajv

/** The fields of an ajv error curate reads (with `verbose: true`, ajv adds the failing `data`). */
interface AjvError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly params: Record<string, unknown>;
  readonly message?: string;
  readonly data?: unknown;
  readonly schema?: unknown;
  readonly parentSchema?: object;
}

type AjvValidate = ((data: unknown) => boolean) & { errors?: AjvError[] | null };
type AjvLike = {
  addSchema(schema: object, key?: string): unknown;
  getSchema(keyRef: string): AjvValidate | undefined;
};
type AjvConstructor = new (options: Record<string, unknown>) => AjvLike;

/** JSON pointer (`/messages/1/role`) to path segments; digit-only segments are array indexes. */
function pointerPath(pointer: string): PropertyKey[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .map((part) => (/^(0|[1-9]\d*)$/.test(part) ? Number(part) : part));
}

function listValues(values: readonly unknown[]): string {
  const shown = values.map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
  return shown.length === 1 ? JSON.stringify(values[0]) : `one of ${shown.join("|")}`;
}

const isChild = (child: string, parent: string) =>
  child.startsWith(`${parent}/`) && !child.slice(parent.length + 1).includes("/");
const inSubtree = (path: string, root: string) => path === root || path.startsWith(`${root}/`);

/** JSON pointer of every object in a schema, by identity: ajv's verbose errors point at the schema objects. */
function schemaPointers(root: unknown): Map<object, string> {
  const pointers = new Map<object, string>();
  const walk = (node: unknown, pointer: string) => {
    if (typeof node !== "object" || node === null || pointers.has(node)) return;
    pointers.set(node, pointer);
    for (const [key, value] of Object.entries(node)) {
      walk(value, `${pointer}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`);
    }
  };
  walk(root, "#");
  return pointers;
}

/**
 * ajv reports the failures of every branch of a `oneOf`/`anyOf` at once, which reads as noise ("must be system",
 * "must be developer", ...). For each combinator, re-check its branches one by one on the failing value, keep the
 * branch the value was meant for (one that did not fail on the value's own type or on a discriminating
 * `const`/`enum` such as `role`), and explain that branch's failures instead. When every branch is ruled out, one
 * issue says which values the discriminator allows.
 */
function explainErrors(
  errors: readonly AjvError[],
  branchValidator: (pointer: string) => AjvValidate | undefined,
  pointers: Map<object, string>,
): Issue[] {
  const combinators = errors
    .filter((e) => e.keyword === "oneOf" || e.keyword === "anyOf")
    .sort((a, b) => a.instancePath.length - b.instancePath.length);
  let remaining = [...errors];
  const issues: Issue[] = [];
  for (const combinator of combinators) {
    if (!remaining.includes(combinator)) continue; // inside a combinator already explained
    const at = combinator.instancePath;
    const owner = combinator.parentSchema === undefined ? undefined : pointers.get(combinator.parentSchema);
    const branches = Array.isArray(combinator.schema) ? combinator.schema : [];
    if (owner === undefined || branches.length === 0) continue; // cannot re-check: report ajv's errors as they are
    const results: AjvError[][] = [];
    for (let k = 0; k < branches.length; k++) {
      const check = branchValidator(`${owner}/${combinator.keyword}/${k}`);
      if (!check) break;
      check(combinator.data);
      results.push((check.errors ?? []).map((e) => ({ ...e, instancePath: at + e.instancePath })));
    }
    if (results.length !== branches.length || results.some((r) => r.length === 0)) continue; // e.g. oneOf matched twice
    remaining = remaining.filter((e) => !inSubtree(e.instancePath, at));
    const ruledOut = (branch: AjvError[]) =>
      branch.some(
        (e) =>
          (e.instancePath === at && e.keyword === "type") ||
          ((e.keyword === "const" || e.keyword === "enum") && isChild(e.instancePath, at)),
      );
    const viable = results.filter((b) => !ruledOut(b));
    if (viable.length > 0) {
      // Several branches fit the value's type: the one with fewest problems is most likely what was meant.
      const best = viable.reduce((a, b) => (b.length < a.length ? b : a));
      issues.push(...explainErrors(best, branchValidator, pointers));
      continue;
    }
    const discriminating = results.flat().filter((e) => e.keyword === "const" || e.keyword === "enum");
    const key = discriminating[0]?.instancePath;
    if (key !== undefined && discriminating.every((e) => e.instancePath === key)) {
      const allowed = discriminating.flatMap((e) =>
        e.keyword === "const" ? [e.params.allowedValue] : ((e.params.allowedValues as unknown[]) ?? []),
      );
      const path = pointerPath(key);
      const role = (path.at(-1) === "role" || path.at(-1) === "from") && isMessagePath(path.slice(0, -1));
      issues.push(
        shapeIssue(
          role ? "unrecognized_role" : "invalid_value",
          path,
          listValues([...new Set(allowed)]),
          describeValue(discriminating[0]!.data),
        ),
      );
    } else {
      const types = results
        .flat()
        .filter((e) => e.keyword === "type" && e.instancePath === at)
        .map((e) => String(e.params.type));
      const expected =
        types.length > 0 ? [...new Set(types)].join(" or ") : "a value matching one of the allowed shapes";
      issues.push(shapeIssue("invalid_type", pointerPath(at), expected, describeValue(combinator.data)));
    }
  }
  return [...remaining.map(fromAjvError), ...issues];
}

function fromAjvError(error: AjvError): Issue {
  const path = pointerPath(error.instancePath);
  const found = describeValue(error.data);
  const last = path.at(-1);
  switch (error.keyword) {
    case "required": {
      const key = String(error.params.missingProperty);
      const keyPath = [...path, key];
      if (key === "messages" || key === "conversations") {
        return shapeIssue("missing_messages_list", keyPath, `a list of messages in "${key}"`, describeValue(undefined));
      }
      const code = isMessagePath(path) ? "message_missing_key" : "missing_field";
      return shapeIssue(code, keyPath, `key "${key}"`, describeValue(undefined));
    }
    case "additionalProperties": {
      const key = String(error.params.additionalProperty);
      const value = (error.data as Record<string, unknown> | undefined)?.[key];
      return isMessagePath(path)
        ? shapeIssue(
            "message_unrecognized_key",
            [...path, key],
            "",
            describeValue(value),
            `unexpected key "${key}" in a message`,
          )
        : shapeIssue("unknown_key", [...path, key], "", describeValue(value), `unexpected key "${key}"`);
    }
    case "type":
      return path.length === 0
        ? shapeIssue("data_type", path, "a JSON object", found)
        : shapeIssue("invalid_type", path, String(error.params.type), found);
    case "const":
    case "enum": {
      const allowed =
        error.keyword === "const" ? [error.params.allowedValue] : (error.params.allowedValues as unknown[]);
      const role = (last === "role" || last === "from") && isMessagePath(path.slice(0, -1));
      return shapeIssue(role ? "unrecognized_role" : "invalid_value", path, listValues(allowed ?? []), found);
    }
    case "minItems":
      if ((last === "messages" || last === "conversations") && Array.isArray(error.data) && error.data.length === 0) {
        return shapeIssue("missing_messages_list", path, "at least one message", "an empty list");
      }
      return shapeIssue("invalid_value", path, `at least ${String(error.params.limit)} items`, found);
    case "minLength":
      return shapeIssue("invalid_value", path, `at least ${String(error.params.limit)} characters`, found);
    case "maxLength":
      return shapeIssue("invalid_value", path, `at most ${String(error.params.limit)} characters`, found);
    case "maxItems":
      return shapeIssue("invalid_value", path, `at most ${String(error.params.limit)} items`, found);
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return shapeIssue(
        "invalid_value",
        path,
        `${String(error.params.comparison)} ${String(error.params.limit)}`,
        found,
      );
    case "multipleOf":
      return shapeIssue("invalid_value", path, `a multiple of ${String(error.params.multipleOf)}`, found);
    case "pattern":
      return shapeIssue("invalid_value", path, `a string matching /${String(error.params.pattern)}/`, found);
    case "format":
      return shapeIssue("invalid_value", path, `a valid ${String(error.params.format)}`, found);
    case "uniqueItems":
      return shapeIssue("invalid_value", path, "items without duplicates", found);
    default:
      return shapeIssue("schema_mismatch", path, "", found, error.message ?? `fails "${error.keyword}"`);
  }
}

/**
 * The regex engine ajv uses for a user schema's `pattern` and `patternProperties`: RE2's (the pure-JS `re2js`
 * port), whose matching time is linear in the text. JavaScript's backtracking RegExp took exponential time on
 * patterns like `^(a+)+$` (one 35-character record hung a run), and a synchronous match cannot be interrupted by a
 * time budget without moving validation to a worker. RE2 has no lookaround or backreferences: a schema using them is
 * refused when it is loaded, with the pattern named. Loaded on first use, like ajv.
 */
async function linearRegExp(name: string) {
  const { RE2JS } = await import("re2js");
  const engine = (pattern: string, _flags: string) => {
    try {
      const compiled = RE2JS.compile(pattern);
      // ajv keys compiled patterns by toString(): without it every pattern would share the first one.
      return { test: (text: string) => compiled.matcher(text).find(), toString: () => `/${pattern}/re2` };
    } catch (cause) {
      throw new CurateError(
        "CURATE_CONFIG",
        `${name}: pattern /${pattern}/ is not supported by the linear-time regex engine curate runs user patterns on (${(cause as Error).message}); lookaround and backreferences are not available, since they allow patterns that take exponential time`,
        { cause },
      );
    }
  };
  return Object.assign(engine, { code: "re2js" });
}

/** Picks ajv's class for the schema's draft: 2020-12 and 2019-09 have their own; the default is draft-07. */
async function ajvFor(schema: Record<string, unknown>): Promise<AjvConstructor> {
  // Loaded lazily: only users who pass a JSON Schema pay for ajv.
  const draft = typeof schema.$schema === "string" ? schema.$schema : "";
  const mod = draft.includes("2020-12")
    ? await import("ajv/dist/2020.js")
    : draft.includes("2019-09")
      ? await import("ajv/dist/2019.js")
      : await import("ajv");
  const exported = mod.default as unknown as { default?: AjvConstructor } & AjvConstructor;
  return exported.default ?? exported;
}

/**
 * Compiles a JSON Schema (draft-07, 2019-09 or 2020-12, picked from `$schema`) into a RecordSchema that reports
 * every failing field.
 * @example const schema = await fromJsonSchema({ type: "object", required: ["text"] }, "mine.json");
 */
export async function fromJsonSchema(schema: unknown, name = "JSON Schema"): Promise<RecordSchema> {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    throw new CurateError("CURATE_CONFIG", `${name}: a JSON Schema must be an object, found ${describeValue(schema)}`);
  }
  const Ajv = await ajvFor(schema as Record<string, unknown>);
  const id =
    typeof (schema as { $id?: unknown }).$id === "string" ? String((schema as { $id: string }).$id) : undefined;
  const key = id ?? "curate:user-schema";
  let validate: AjvValidate | undefined;
  let ajv: AjvLike;
  try {
    // allErrors: report every problem, not the first. verbose: errors carry the failing value and schema node.
    // strict off: users' schemas may use keywords ajv does not know.
    // code.regExp: `pattern` and `patternProperties` run on a linear-time engine (see linearRegExp).
    ajv = new Ajv({
      allErrors: true,
      verbose: true,
      strict: false,
      allowUnionTypes: true,
      code: { regExp: await linearRegExp(name) },
    });
    if (id === undefined) ajv.addSchema(schema, key);
    else ajv.addSchema(schema);
    validate = ajv.getSchema(key);
  } catch (cause) {
    if (cause instanceof CurateError) throw cause;
    throw new CurateError("CURATE_CONFIG", `${name}: not a valid JSON Schema: ${(cause as Error).message}`, { cause });
  }
  if (!validate) throw new CurateError("CURATE_CONFIG", `${name}: ajv could not compile the schema`);
  const check = validate;
  const pointers = schemaPointers(schema);
  const branchValidator = (pointer: string): AjvValidate | undefined => {
    try {
      return ajv.getSchema(`${key}${pointer}`);
    } catch {
      return undefined;
    }
  };
  return {
    name,
    check(record) {
      if (check(record)) return [];
      return explainErrors(check.errors ?? [], branchValidator, pointers);
    },
  };
}

/**
 * Loads a user's schema: a `.json` JSON Schema, or a `.js`/`.mjs`/`.cjs` module whose default or `schema` export is
 * a zod schema. Throws a CurateError (exit code 2) when the file is missing or holds no usable schema.
 * @example const schema = await loadUserSchema("schemas/chat.schema.json"); schema.check(record);
 */
export async function loadUserSchema(path: string): Promise<RecordSchema> {
  const full = resolve(path);
  const ext = extname(path).toLowerCase();
  if (ext === ".ts" || ext === ".mts" || ext === ".cts") {
    throw new CurateError(
      "CURATE_CONFIG",
      `${path}: Node cannot load TypeScript here; compile the schema module to .js or .mjs (or export it as JSON Schema)`,
    );
  }
  if (ext === ".js" || ext === ".mjs" || ext === ".cjs") {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(full).href)) as Record<string, unknown>;
    } catch (cause) {
      const missing = (cause as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" && String(cause).includes(full);
      throw new CurateError(
        missing ? "CURATE_INPUT_NOT_FOUND" : "CURATE_CONFIG",
        missing ? `schema file not found: ${path}` : `${path}: cannot load the module: ${(cause as Error).message}`,
        { cause },
      );
    }
    const candidate = mod.schema ?? mod.default;
    if (!isZodLikeSchema(candidate)) {
      throw new CurateError(
        "CURATE_CONFIG",
        `${path}: expected a zod schema as the default export or as \`export const schema\`, found exports: ${Object.keys(mod).join(", ") || "none"}`,
      );
    }
    return fromZodSchema(candidate, path);
  }
  let text: string;
  try {
    text = await readFile(full, "utf8");
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === "ENOENT";
    throw new CurateError(
      missing ? "CURATE_INPUT_NOT_FOUND" : "CURATE_IO",
      missing ? `schema file not found: ${path}` : `cannot read ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CurateError(
      "CURATE_CONFIG",
      `${path}: expected a JSON Schema (.json) or a JS module exporting a zod schema (.js/.mjs); the file is not valid JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
  return fromJsonSchema(json, path);
}
