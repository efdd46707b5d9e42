/**
 * Formats a field path the way users write it: `["messages", 1, "role"]` → `messages[1].role`.
 * @example formatPath(["messages", 1, "role"]); // "messages[1].role"
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else {
      const name = String(key);
      out += /^[A-Za-z_$][\w$]*$/.test(name) ? (out ? `.${name}` : name) : `[${JSON.stringify(name)}]`;
    }
  }
  return out;
}

/**
 * Shows a value briefly in an error message: strings quoted, long values cut, objects by their type.
 * @example describeValue("wizard"); // '"wizard"'
 */
export function describeValue(value: unknown, max = 60): string {
  if (value === undefined) return "nothing (field missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "object") return "an object";
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
