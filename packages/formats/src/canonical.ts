/**
 * JSON with object keys sorted at every level, so that field order never makes two records differ; `mapString`
 * is applied to every string value (not to keys). The key of a record whose shape curate does not recognise.
 * @example canonicalJson({ b: 1, a: "X" }); // '{"a":"X","b":1}'
 */
export function canonicalJson(value: unknown, mapString: (text: string) => string = (text) => text): string {
  if (typeof value === "string") return JSON.stringify(mapString(value));
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, mapString)).join(",")}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k], mapString)}`).join(",")}}`;
}
