import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { jsonSchemaFiles } from "./json-schema.js";
import { formatNames, formats } from "./registry.js";
import { fromJsonSchema, fromZodSchema, loadUserSchema } from "./user-schema.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const fixture = (path: string) => `${root}fixtures/${path}`;

const tickets = readFileSync(fixture("custom/tickets.jsonl"), "utf8")
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line) as unknown);

describe("committed JSON Schemas", () => {
  it.each(jsonSchemaFiles())("schemas/$file matches the zod source (run scripts/gen-schemas.mjs)", ({ file, text }) => {
    expect(readFileSync(`${root}schemas/${file}`, "utf8")).toBe(text);
  });

  it("accept each format's example and report chat problems like the zod schema does", async () => {
    for (const name of formatNames) {
      const schema = await loadUserSchema(`${root}schemas/${name}.schema.json`);
      expect(schema.check(formats[name].example), name).toEqual([]);
    }
    const chat = await loadUserSchema(`${root}schemas/chat.schema.json`);
    const record = {
      messages: [
        { role: "wizard", content: "Cast a spell." },
        { content: "no role" },
        { role: "user", content: "Hello", mood: "curious" },
        { role: "assistant", content: 42 },
      ],
    };
    expect(chat.check(record).map((i) => [i.code, i.path, i.expected, i.found])).toEqual([
      ["unrecognized_role", "messages[0].role", "one of system|developer|user|assistant|tool", '"wizard"'],
      ["message_missing_key", "messages[1].role", 'key "role"', "nothing (field missing)"],
      ["message_unrecognized_key", "messages[2].mood", undefined, '"curious"'],
      ["invalid_type", "messages[3].content", "string or array", "42"],
    ]);
  });
});

describe("loadUserSchema", () => {
  it("loads a JSON Schema (2020-12) and maps ajv errors to issues", async () => {
    const schema = await loadUserSchema(fixture("schemas/ticket.schema.json"));
    expect(tickets.map((t) => schema.check(t).map((i) => [i.code, i.path]))).toEqual([
      [],
      [],
      [],
      [
        ["invalid_value", "ticket_id"],
        ["invalid_value", "priority"],
      ],
      [
        ["unknown_key", "channel"],
        ["invalid_value", "agent_reply"],
      ],
      [],
    ]);
    expect(schema.check(tickets[3])).toMatchObject([
      { expected: "a string matching /^T-\\d{4,}$/", found: '"10234"' },
      { expected: "one of low|normal|high", found: '"urgent"' },
    ]);
  });

  it("loads a draft-07 JSON Schema", async () => {
    const schema = await loadUserSchema(fixture("schemas/draft07.schema.json"));
    expect(schema.check({ text: "Great phone", label: "positive" })).toEqual([]);
    expect(schema.check({ label: "meh" }).map((i) => [i.code, i.path])).toEqual([
      ["missing_field", "text"],
      ["invalid_value", "label"],
    ]);
  });

  it("loads a module exporting a zod schema and maps its issues the same way", async () => {
    const schema = await loadUserSchema(fixture("schemas/ticket.mjs"));
    expect(tickets.map((t) => schema.check(t).map((i) => [i.code, i.path]))).toEqual([
      [],
      [],
      [],
      [
        ["invalid_value", "ticket_id"],
        ["invalid_value", "priority"],
      ],
      [
        ["invalid_value", "agent_reply"],
        ["unknown_key", "channel"],
      ],
      [],
    ]);
  });

  it("fails with a clear error for missing files, bad JSON and modules without a schema", async () => {
    await expect(loadUserSchema(fixture("schemas/nope.json"))).rejects.toMatchObject({
      code: "CURATE_INPUT_NOT_FOUND",
      exitCode: 2,
    });
    await expect(loadUserSchema(fixture("custom/tickets.jsonl"))).rejects.toThrow(/not valid JSON/);
    const dir = mkdtempSync(join(tmpdir(), "curate-schema-"));
    writeFileSync(join(dir, "nothing.mjs"), "export const answer = 42;\n");
    await expect(loadUserSchema(join(dir, "nothing.mjs"))).rejects.toThrow(
      /expected a zod schema as the default export or as `export const schema`, found exports: answer/,
    );
    rmSync(dir, { recursive: true });
    await expect(loadUserSchema(`${root}scripts/gen-schemas.mjs.ts`)).rejects.toThrow(/compile the schema module/);
    await expect(fromJsonSchema({ type: "nonsense" })).rejects.toThrow(/not a valid JSON Schema/);
  });

  it("wraps an in-memory zod schema", () => {
    const schema = fromZodSchema(z.object({ score: z.number().min(0).max(1) }));
    expect(schema.check({ score: 3 })).toMatchObject([{ code: "invalid_value", path: "score", expected: "at most 1" }]);
  });
});
