import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runStage } from "@curate/core/testing";
import { describe, expect, it } from "vitest";
import { exactDedup } from "./exact.js";
import { keyFunction } from "./key.js";
import { nearDedup } from "./near.js";

// GPTeacher-Toolformer-like records (instruction/input/response; written for this test): 21 records, one verbatim
// repeat (line 20 of line 4), one near copy (line 21 of line 10), and line 19 asks what line 1 asks with another answer.
const file = fileURLToPath(new URL("../../../fixtures/unfamiliar/toolformer.jsonl", import.meta.url));
const records = readFileSync(file, "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => JSON.parse(line) as Record<string, string>);

describe("dedup of a shape no format fits", () => {
  it("keys it by the whole record: equal instruction and input with different responses are not duplicates", () => {
    const key = keyFunction("text", ["nfkc", "whitespace"]);
    expect(records[18]!.input).toBe(records[0]!.input);
    expect(key(records[18])).not.toBe(key(records[0]));
    expect(key({ ...records[0], extra: 1 })).not.toBe(key(records[0]));
    // Field order does not matter.
    const { response, input, instruction } = records[0]!;
    expect(key({ response, input, instruction })).toBe(key(records[0]));
  });

  it("exact dedup removes only the verbatim repeat, and reports the unrecognised shape", async () => {
    const stage = exactDedup();
    const { kept, duplicates } = await runStage(stage, records, "toolformer.jsonl");
    expect(kept).toHaveLength(20);
    expect(duplicates.map((d) => [d.item.source.line, d.of.source.line])).toEqual([[20, 4]]);
    expect(stage.stats.unrecognized).toEqual({
      records: 21,
      keys: ["input", "instruction", "response"],
      first: expect.objectContaining({ line: 1 }),
    });
  });

  it("near dedup compares the responses too: it removes the near copy and the repeat, nothing else", async () => {
    const { kept, duplicates } = await runStage(nearDedup({ threads: 1 }), records, "toolformer.jsonl");
    expect(duplicates.map((d) => d.item.source.line).sort((a, b) => a - b)).toEqual([20, 21]);
    expect(kept).toHaveLength(19);
  });
});
