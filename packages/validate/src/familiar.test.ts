import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runStage } from "@curate/core/testing";
import { describe, expect, it } from "vitest";
import { formatDiagnostic, rejectDiagnostics } from "./diagnostics.js";
import { validate } from "./validate.js";

const read = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../../fixtures/unfamiliar/${name}`, import.meta.url)), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown);

describe("what the formats' own tools write is valid, without warnings", () => {
  it("FastChat ShareGPT's `id` and LLaMA-Factory's `tools` and tool turns", async () => {
    for (const name of ["mixed/fastchat.jsonl", "glaive-tools.jsonl"]) {
      const { kept, rejected, warnings } = await runStage(validate(), read(name), name);
      expect(rejected).toEqual([]);
      expect(warnings).toEqual([]);
      expect(kept).toHaveLength(3);
    }
  });
});

describe("messages", () => {
  it('name the path once: "output is empty", never "output output is empty"', async () => {
    const { rejected } = await runStage(validate(), [{ instruction: "Describe autumn.", output: "" }], "a.jsonl");
    const lines = rejectDiagnostics(rejected[0]!).map(formatDiagnostic);
    expect(lines).toEqual(["a.jsonl:1 error missing_content output is empty"]);
  });

  it("warn about a chat with no user message (the clean path does not let it through)", async () => {
    const record = {
      messages: [
        { role: "system", content: "You are a pirate." },
        { role: "assistant", content: "Arr, matey!" },
      ],
    };
    const { kept, warnings } = await runStage(validate(), [record], "pirate.jsonl");
    expect(kept).toHaveLength(1);
    expect(warnings.map((w) => [w.issue.code, w.issue.path])).toEqual([["missing_user_message", "messages"]]);
  });
});
