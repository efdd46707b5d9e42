import { UsageError } from "@curate/core";

/** A parsed field path: property names and array indexes, e.g. `["messages", 0, "role"]`. */
export type FieldPath = readonly (string | number)[];

/**
 * Parses a field path as users write it: `category`, `meta.lang`, `messages[0].role`, `["odd key"].x`, with an
 * optional leading `$` or `$.` (JSONPath style). Only plain member and index access: a split key must name one
 * value, so wildcards and filters are refused rather than silently picking the first match.
 * @example parseFieldPath("messages[0].role"); // ["messages", 0, "role"]
 */
export function parseFieldPath(text: string, option = "path"): FieldPath {
  const fail = (why: string): never => {
    throw new UsageError(
      `${option} "${text}" is not a field path: ${why}. Examples: id, meta.lang, messages[0].role, $.source["file name"]`,
    );
  };
  let rest = text.trim();
  if (rest === "") fail("it is empty");
  if (rest.startsWith("$")) rest = rest.slice(1).replace(/^\./, "");
  const path: (string | number)[] = [];
  const pattern = /^(?:\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\['((?:[^'\\]|\\.)*)'\])/;
  let first = true;
  while (rest !== "") {
    const match = pattern.exec(rest);
    if (!match || (first && match[0].startsWith("."))) fail(`cannot read "${rest}"`);
    const [whole, name, index, doubleQuoted, singleQuoted] = match!;
    if (name !== undefined) path.push(name);
    else if (index !== undefined) path.push(Number(index));
    else if (doubleQuoted !== undefined) path.push(JSON.parse(doubleQuoted) as string);
    else path.push(singleQuoted!.replace(/\\(.)/g, "$1"));
    rest = rest.slice(whole.length);
    first = false;
  }
  if (path.length === 0) fail("it names the whole record");
  return path;
}

/**
 * The value at `path` in `record`, or undefined when any step is missing.
 * @example valueAt({ meta: { lang: "de" } }, ["meta", "lang"]); // "de"
 */
export function valueAt(record: unknown, path: FieldPath): unknown {
  let value = record;
  for (const step of path) {
    if (value === null || typeof value !== "object") return undefined;
    if (typeof step === "number") {
      if (!Array.isArray(value)) return undefined;
      value = value[step];
    } else {
      if (Array.isArray(value) || !Object.hasOwn(value, step)) return undefined;
      value = (value as Record<string, unknown>)[step];
    }
  }
  return value;
}
