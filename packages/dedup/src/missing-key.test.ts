import { runStage } from "@curate/core/testing";
import { describe, expect, it } from "vitest";
import { exactDedup } from "./exact.js";
import { missingKeyField } from "./key.js";
import { nearDedup } from "./near.js";

const records = Array.from({ length: 20 }, (_, i) => ({
  text: `record number ${i} says something different from the others, word ${i * 7}`,
  ...(i % 5 === 0 ? { id: `id-${i % 10}` } : {}),
}));

describe("a dedup key field that records lack", () => {
  it("exact: records without the field are missing_key rejects, never one shared key", async () => {
    const { kept, rejected, duplicates } = await runStage(exactDedup({ key: ["id"] }), records);
    expect(rejected.map((r) => r.reason.code)).toEqual(Array(16).fill("missing_key"));
    expect(rejected[0]!.reason.message).toMatch(/needs field id/);
    // id-0, id-5, id-0, id-5: two kept, two duplicates.
    expect(kept.map((e) => e.data)).toEqual([records[0], records[5]]);
    expect(duplicates).toHaveLength(2);
  });

  it("exact: when no record has the field (a typo, constructor, __proto__), it is a usage error", async () => {
    for (const key of ["idd", "constructor", "__proto__", "messages[0].content", "toString"]) {
      await expect(runStage(exactDedup({ key: [key] }), records), key).rejects.toMatchObject({
        name: "UsageError",
        message: expect.stringMatching(/no record has that field/),
      });
    }
  });

  it("own fields named constructor or __proto__ are keys like any other", () => {
    const lacks = missingKeyField(["__proto__"])!;
    expect(lacks(JSON.parse('{"__proto__":"x"}'))).toBeUndefined();
    expect(lacks({})).toBe("__proto__");
    expect(missingKeyField(["constructor"])!({})).toBe("constructor");
    expect(missingKeyField("text")).toBeUndefined();
  });

  it("near: the same missing_key rejects and usage error", async () => {
    const { rejected } = await runStage(nearDedup({ key: ["id"], threads: 1 }), records);
    expect(rejected).toHaveLength(16);
    expect(rejected.every((r) => r.reason.code === "missing_key")).toBe(true);
    await expect(runStage(nearDedup({ key: ["constructor"], threads: 1 }), records)).rejects.toMatchObject({
      name: "UsageError",
    });
  });
});
