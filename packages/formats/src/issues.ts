/**
 * Turns schema failures (zod issues, ajv errors) into curate issues: one stable snake_case code per kind of
 * problem, a `messages[1].role` path, and what was expected and found. The codes follow the OpenAI cookbook's
 * format checks (`data_type`, `missing_messages_list`, `message_missing_key`, `message_unrecognized_key`,
 * `unrecognized_role`) where they fit.
 */
import { describeValue, formatPath, type Issue } from "@curate/core";

/**
 * Codes for problems with a record's shape, found by a schema.
 * @example shapeCodes.includes("unrecognized_role"); // true
 */
export const shapeCodes = [
  "data_type",
  "missing_messages_list",
  "missing_field",
  "message_missing_key",
  "unrecognized_role",
  "invalid_type",
  "invalid_value",
  "message_unrecognized_key",
  "unknown_key",
  "schema_mismatch",
] as const;
export type ShapeCode = (typeof shapeCodes)[number];

/** Keys whose array items are messages (or ShareGPT turns): a problem in one of those items is a message problem. */
const MESSAGE_LISTS = new Set<PropertyKey>([
  "messages",
  "conversations",
  "preferred_output",
  "non_preferred_output",
  "prompt",
  "chosen",
  "rejected",
]);
/** Keys that name a message's speaker. */
const ROLE_KEYS = new Set<PropertyKey>(["role", "from"]);

/**
 * True when `path` points at one message of a message list (`messages[3]`, `chosen[0]`).
 * @example isMessagePath(["messages", 3]); // true
 */
export function isMessagePath(path: readonly PropertyKey[]): boolean {
  return path.length >= 2 && typeof path.at(-1) === "number" && MESSAGE_LISTS.has(path.at(-2)!);
}

/**
 * The parts of a zod issue curate reads. Loose on purpose: user schemas may come from another copy of zod, and the
 * issues of zod 3 (`received` instead of `input`) map too.
 */
export interface ZodLikeIssue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly input?: unknown | undefined;
  readonly received?: unknown | undefined;
  readonly expected?: unknown | undefined;
  readonly values?: readonly unknown[] | undefined;
  readonly keys?: readonly string[] | undefined;
  readonly errors?: readonly (readonly ZodLikeIssue[])[] | undefined;
  readonly note?: string | undefined;
  readonly discriminator?: string | undefined;
  readonly options?: readonly unknown[] | undefined;
  readonly minimum?: number | bigint | undefined;
  readonly maximum?: number | bigint | undefined;
  readonly origin?: string | undefined;
  readonly format?: string | undefined;
  readonly pattern?: unknown;
}

/**
 * Builds an issue whose message is `expected …, found …`, the form every shape diagnostic shares.
 * @example shapeIssue("invalid_type", ["messages", 0, "content"], "string", "5");
 */
export function shapeIssue(
  code: ShapeCode | (string & {}),
  path: readonly PropertyKey[],
  expected: string,
  found: string,
  message = `expected ${expected}, found ${found}`,
): Issue {
  const severity = code === "unknown_key" || code === "message_unrecognized_key" ? "warning" : "error";
  return {
    code,
    severity,
    path: formatPath(path),
    message,
    ...(expected === "" ? {} : { expected }),
    ...(found === "" ? {} : { found }),
  };
}

function foundOf(issue: ZodLikeIssue): string {
  if (Object.hasOwn(issue, "input")) return describeValue(issue.input);
  if (issue.received !== undefined && issue.received !== "undefined") return String(issue.received);
  return describeValue(undefined);
}

function isMissing(issue: ZodLikeIssue): boolean {
  return Object.hasOwn(issue, "input") ? issue.input === undefined : issue.received === "undefined";
}

function unit(origin: string | undefined): string {
  if (origin === "string") return " characters";
  if (origin === "array" || origin === "set") return " items";
  return "";
}

function oneOf(values: readonly unknown[]): string {
  const shown = values.map((v) => (typeof v === "string" ? JSON.stringify(v) : String(v)));
  return shown.length === 1 ? shown[0]! : `one of ${values.map(String).join("|")}`;
}

function missingKey(path: readonly PropertyKey[], found: string): Issue {
  const key = path.at(-1);
  const parent = path.slice(0, -1);
  if (key === "messages" || key === "conversations") {
    return shapeIssue("missing_messages_list", path, `a list of messages in "${String(key)}"`, found);
  }
  if (isMessagePath(parent)) return shapeIssue("message_missing_key", path, `key "${String(key)}"`, found);
  return shapeIssue("missing_field", path, `key "${String(key)}"`, found);
}

function unionExpected(branches: readonly (readonly ZodLikeIssue[])[]): string {
  const kinds = new Set<string>();
  for (const branch of branches) {
    for (const issue of branch) {
      if (issue.path.length !== 0) continue;
      if (issue.code === "invalid_type" && typeof issue.expected === "string") kinds.add(issue.expected);
      else if (issue.code === "invalid_value" && issue.values) kinds.add(oneOf(issue.values));
    }
  }
  return kinds.size > 0 ? [...kinds].join(" or ") : "a value matching one of the allowed shapes";
}

/** A union branch that failed only on the value's own type is ruled out; the others say what is wrong inside. */
function isRuledOut(branch: readonly ZodLikeIssue[]): boolean {
  return branch.every((i) => i.path.length === 0 && (i.code === "invalid_type" || i.code === "invalid_value"));
}

/**
 * Maps one zod issue to curate issues (unions open up into the branch that fits best; one issue per unknown key).
 * @example fromZodIssue({ code: "invalid_type", expected: "string", input: 5, path: ["prompt"], message: "" });
 */
export function fromZodIssue(issue: ZodLikeIssue, prefix: readonly PropertyKey[] = []): Issue[] {
  const path = [...prefix, ...issue.path];
  const last = path.at(-1);
  switch (issue.code) {
    case "invalid_type": {
      if (path.length === 0 && issue.expected === "object") {
        return [shapeIssue("data_type", path, "a JSON object", foundOf(issue))];
      }
      if (isMissing(issue)) return [missingKey(path, foundOf(issue))];
      return [shapeIssue("invalid_type", path, String(issue.expected ?? "another type"), foundOf(issue))];
    }
    case "invalid_union": {
      if (issue.note === "No matching discriminator" || (issue.discriminator && !issue.errors?.length)) {
        // zod puts the discriminator key at the end of the path and the whole object in `input`.
        const key = issue.discriminator ?? String(last);
        const objectPath = last === key ? path.slice(0, -1) : path;
        const input = issue.input as Record<string, unknown> | undefined;
        const value = input !== null && typeof input === "object" ? input[key] : undefined;
        const keyPath = [...objectPath, key];
        if (value === undefined) return [missingKey(keyPath, describeValue(undefined))];
        const code = ROLE_KEYS.has(key) ? "unrecognized_role" : "invalid_value";
        return [shapeIssue(code, keyPath, oneOf(issue.options ?? []), describeValue(value))];
      }
      if (isMissing(issue)) return [missingKey(path, foundOf(issue))];
      const branches = issue.errors ?? [];
      const viable = branches.filter((b) => !isRuledOut(b));
      if (viable.length === 0) return [shapeIssue("invalid_type", path, unionExpected(branches), foundOf(issue))];
      // Several branches fit the value's type: the one with fewest problems is most likely what was meant.
      const best = viable.reduce((a, b) => (b.length < a.length ? b : a));
      return best.flatMap((nested) => fromZodIssue(nested, path));
    }
    case "invalid_value": {
      if (isMissing(issue)) return [missingKey(path, foundOf(issue))];
      const code = ROLE_KEYS.has(last!) && isMessagePath(path.slice(0, -1)) ? "unrecognized_role" : "invalid_value";
      return [shapeIssue(code, path, oneOf(issue.values ?? []), foundOf(issue))];
    }
    case "unrecognized_keys": {
      const input = issue.input as Record<string, unknown> | undefined;
      const inMessage = isMessagePath(path);
      return (issue.keys ?? []).map((key) => {
        const found = describeValue(input?.[key]);
        return inMessage
          ? shapeIssue("message_unrecognized_key", [...path, key], "", found, `unexpected key "${key}" in a message`)
          : shapeIssue("unknown_key", [...path, key], "", found, `unexpected key "${key}"`);
      });
    }
    case "too_small": {
      if (issue.origin === "array" && (last === "messages" || last === "conversations")) {
        return [shapeIssue("missing_messages_list", path, "at least one message", "an empty list")];
      }
      return [shapeIssue("invalid_value", path, `at least ${issue.minimum}${unit(issue.origin)}`, foundOf(issue))];
    }
    case "too_big":
      return [shapeIssue("invalid_value", path, `at most ${issue.maximum}${unit(issue.origin)}`, foundOf(issue))];
    case "invalid_format": {
      const what = issue.format === "regex" ? `a string matching ${String(issue.pattern)}` : `a valid ${issue.format}`;
      return [shapeIssue("invalid_value", path, what, foundOf(issue))];
    }
    default:
      return [shapeIssue("schema_mismatch", path, "", foundOf(issue), issue.message)];
  }
}

/**
 * Maps every issue of a failed zod parse.
 * @example fromZodIssues(schema.safeParse(record, { reportInput: true }).error?.issues ?? []);
 */
export function fromZodIssues(issues: readonly ZodLikeIssue[]): Issue[] {
  return issues.flatMap((issue) => fromZodIssue(issue));
}
