import { describe, expect, it } from "vitest";
import { fromJsonSchema } from "./user-schema.js";

describe("patterns in a user's JSON Schema", () => {
  it("a catastrophic pattern (^(a+)+$) checks a hostile string in linear time", async () => {
    const schema = await fromJsonSchema({
      type: "object",
      properties: { text: { type: "string", pattern: "^(a+)+$" } },
    });
    // JavaScript's RegExp needs ~2^n steps here: n = 35 took minutes, n = 5,000 would never end.
    const issues = schema.check({ text: `${"a".repeat(5000)}!` });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: "text", expected: "a string matching /^(a+)+$/" });
    expect(schema.check({ text: "aaaa" })).toEqual([]);
  });

  it("patternProperties use the same engine", async () => {
    const schema = await fromJsonSchema({
      type: "object",
      patternProperties: { "^(x+)+y$": { type: "number" } },
    });
    expect(schema.check({ [`${"x".repeat(3000)}y`]: "no" })).toHaveLength(1);
    expect(schema.check({ [`${"x".repeat(3000)}z`]: "fine" })).toEqual([]);
  });

  it("a pattern with lookaround or a backreference is refused when the schema loads, naming it", async () => {
    await expect(
      fromJsonSchema({ type: "object", properties: { a: { type: "string", pattern: "^(?=x)x$" } } }, "mine.json"),
    ).rejects.toMatchObject({
      code: "CURATE_CONFIG",
      message: expect.stringMatching(/^mine\.json: pattern \/\^\(\?=x\)x\$\/ is not supported/),
    });
  });
});
