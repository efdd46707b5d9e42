import { fileURLToPath } from "node:url";
import { describeStageContract, runStage } from "@curate/core/testing";
import { describe, expect, it } from "vitest";
import { decontaminate, loadNgramIndex } from "./decontaminate.js";
import { NgramIndex } from "./ngram.js";

const fixtures = fileURLToPath(new URL("../../../fixtures/eval/", import.meta.url));
const train = [
  {
    instruction: "Answer the question.",
    input:
      "A train leaves the station at nine in the morning travelling at sixty kilometres per hour; how far has it gone by half past eleven?",
    output: "150 km.",
  },
  { instruction: "What is 7 times 8?", output: "56" }, // the eval record is shorter than 13 words: not indexed
  {
    messages: [
      {
        role: "user",
        content:
          "Write a limerick about a cat who learned to play the piano at midnight and woke up the whole building.",
      },
      { role: "assistant", content: "..." },
    ],
  },
  { instruction: "Name a river in Portugal.", output: "The Douro." },
];

describe("decontaminate", () => {
  describeStageContract("decontaminate", () => decontaminate({ against: ["*.jsonl"], cwd: fixtures }), train);
  describeStageContract(
    "decontaminate (flag)",
    () => decontaminate({ against: ["*.jsonl"], cwd: fixtures, mode: "flag" }),
    train,
  );

  it("rejects records sharing a 13-gram with an eval record, naming the eval file, line and n-gram", async () => {
    const stage = decontaminate({ against: ["trivia.jsonl", "chat-eval.jsonl"], cwd: fixtures });
    const { kept, rejected } = await runStage(stage, train, "train.jsonl");
    expect(kept.map((e) => e.source.line)).toEqual([2, 4]);
    expect(rejected.map((r) => [r.item.source.line, r.reason])).toEqual([
      [
        1,
        {
          code: "contaminated",
          message:
            'shares the 13-word sequence "a train leaves the station at nine in the morning travelling at sixty" with eval record trivia.jsonl:2',
          eval: expect.objectContaining({ file: "trivia.jsonl", line: 2, record: 2 }),
          ngram: "a train leaves the station at nine in the morning travelling at sixty",
        },
      ],
      [
        3,
        expect.objectContaining({
          code: "contaminated",
          eval: expect.objectContaining({ file: "chat-eval.jsonl", line: 1 }),
          ngram: "write a limerick about a cat who learned to play the piano at",
        }),
      ],
    ]);
    expect(stage.stats).toEqual({
      records: 4,
      contaminated: 2,
      evalRecords: 6,
      evalTooShort: 2,
      evalUnreadable: 0,
      evalNgrams: expect.any(Number),
    });
  });

  it("flags instead of removing: kept, with a warning and meta.contamination", async () => {
    const { kept, rejected, warnings } = await runStage(
      decontaminate({ against: ["trivia.jsonl"], cwd: fixtures, mode: "flag" }),
      train,
    );
    expect(rejected).toEqual([]);
    expect(kept).toHaveLength(4);
    expect(kept[0]?.meta?.contamination).toMatchObject({ eval: { file: "trivia.jsonl", line: 2 } });
    expect(warnings.map((w) => [w.item.source.line, w.issue.code])).toEqual([[1, "contaminated"]]);
  });

  it("honours n and accepts a prebuilt index", async () => {
    const index = new NgramIndex(4);
    index.add("the douro flows into porto", { file: "mine", line: 1 });
    const { rejected } = await runStage(decontaminate({ against: index }), train);
    expect(rejected.map((r) => r.item.source.line)).toEqual([]);
    const loaded = await loadNgramIndex(["trivia.jsonl"], 4, { cwd: fixtures });
    expect(loaded.documentCount).toBe(4);
    const short = await runStage(decontaminate({ against: loaded }), train);
    expect(short.rejected.map((r) => r.item.source.line)).toEqual([1, 2]); // "what is 7 times" is a 4-gram now
  });

  it("fails clearly on a missing eval file, even with no input", async () => {
    await expect(runStage(decontaminate({ against: ["missing.jsonl"], cwd: fixtures }), [])).rejects.toThrow(
      /missing\.jsonl/,
    );
  });

  it("rejects bad options before any data flows", () => {
    expect(() => decontaminate({ against: [] })).toThrow(/`against` must list at least one eval file/);
    expect(() => decontaminate({ against: ["-"] })).toThrow(/cannot be read from stdin/);
    expect(() => decontaminate({ against: ["e.jsonl"], n: 0 })).toThrow(/`n` must be a whole number from 1/);
    expect(() => decontaminate({ against: ["e.jsonl"], mode: "drop" as "flag" })).toThrow(/`mode`/);
  });
});
