import { z } from "zod";
import { type FormatName, formatNames, formats } from "./registry.js";

/**
 * The JSON Schema (draft 2020-12) of a format, generated from its zod schema. `schemas/<name>.schema.json` holds
 * exactly this; a test fails when they drift apart.
 * @example const schema = jsonSchemaOf("chat"); // { $schema: "https://json-schema.org/draft/2020-12/schema", ... }
 */
export function jsonSchemaOf(name: FormatName): Record<string, unknown> {
  return z.toJSONSchema(formats[name].schema, { target: "draft-2020-12" }) as Record<string, unknown>;
}

/**
 * Every format's JSON Schema file, as `{ file: "chat.schema.json", text }` with the exact bytes to commit.
 * @example for (const { file, text } of jsonSchemaFiles()) writeFileSync(`schemas/${file}`, text);
 */
export function jsonSchemaFiles(): { name: FormatName; file: string; text: string }[] {
  return formatNames.map((name) => ({
    name,
    file: `${name}.schema.json`,
    text: `${JSON.stringify(jsonSchemaOf(name), null, 2)}\n`,
  }));
}
