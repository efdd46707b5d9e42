import type { Envelope } from "@curate/core";
import { describeStageContract, runStage } from "@curate/core/testing";
import { describe, expect, it } from "vitest";
import { canConvert, convert } from "./convert.js";
import { formats } from "./registry.js";
import { convertTo } from "./stage.js";

const ok = (result: ReturnType<typeof convert>) => {
  if (!result.ok) throw new Error(`conversion failed: ${JSON.stringify(result.issues)}`);
  return result.record;
};

const alpacaRecord = {
  system: "You are a patient maths tutor.",
  history: [["What is a prime number?", "A whole number above 1 whose only divisors are 1 and itself."]],
  instruction: "Is 91 prime?",
  output: "No: 91 = 7 × 13.",
};

describe("convert", () => {
  it("alpaca → chat joins instruction and input and keeps system and history", () => {
    expect(
      ok(convert({ instruction: "Translate to French.", input: "Good night", output: "Bonne nuit" }, "alpaca", "chat")),
    ).toEqual({
      messages: [
        { role: "user", content: "Translate to French.\n\nGood night" },
        { role: "assistant", content: "Bonne nuit" },
      ],
    });
    expect(ok(convert(alpacaRecord, "alpaca", "chat")).messages).toHaveLength(5);
  });

  it("round-trips alpaca (without input), prompt/completion and ShareGPT through chat", () => {
    expect(ok(convert(ok(convert(alpacaRecord, "alpaca", "chat")), "chat", "alpaca"))).toEqual(alpacaRecord);
    const pc = { prompt: "Q: Boiling point of water at sea level?\nA:", completion: " 100 °C" };
    expect(ok(convert(ok(convert(pc, "prompt_completion", "chat")), "chat", "prompt_completion"))).toEqual(pc);
    const sg = {
      conversations: [
        { from: "system", value: "Answer in one word." },
        { from: "human", value: "Opposite of cold?" },
        { from: "gpt", value: "Hot." },
      ],
    };
    expect(ok(convert(ok(convert(sg, "sharegpt", "chat")), "chat", "sharegpt"))).toEqual(sg);
  });

  it("round-trips chat through alpaca and ShareGPT", () => {
    const record = {
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Capital of Japan?" },
        { role: "assistant", content: "Tokyo." },
        { role: "user", content: "And of Kenya?" },
        { role: "assistant", content: "Nairobi." },
      ],
    };
    expect(ok(convert(ok(convert(record, "chat", "alpaca")), "alpaca", "chat"))).toEqual(record);
    expect(ok(convert(ok(convert(record, "chat", "sharegpt")), "sharegpt", "chat"))).toEqual(record);
  });

  it("round-trips preference pairs (message lists) and DPO", () => {
    const pairs = {
      prompt: [{ role: "user", content: "Suggest a name for a bakery." }],
      chosen: [{ role: "assistant", content: "Rise & Shine Bakery" }],
      rejected: [{ role: "assistant", content: "Bakery" }],
    };
    const dpo = ok(convert(pairs, "pairs", "dpo"));
    expect(dpo).toEqual({
      input: { messages: pairs.prompt },
      preferred_output: pairs.chosen,
      non_preferred_output: pairs.rejected,
    });
    expect(ok(convert(dpo, "dpo", "pairs"))).toEqual(pairs);
    expect(ok(convert({ prompt: "2+2=", chosen: "4", rejected: "5" }, "pairs", "dpo"))).toEqual({
      input: { messages: [{ role: "user", content: "2+2=" }] },
      preferred_output: [{ role: "assistant", content: "4" }],
      non_preferred_output: [{ role: "assistant", content: "5" }],
    });
  });

  it("converts the example of every format that has a path to chat", () => {
    for (const from of ["alpaca", "prompt_completion", "sharegpt"] as const) {
      const chat = ok(convert(formats[from].example, from, "chat"));
      expect(formats.chat.schema.safeParse(chat).success, from).toBe(true);
    }
  });

  it("fails, naming each field, when the target has no place for it", () => {
    const result = convert(
      {
        messages: [
          { role: "user", content: "Weather in Lima?" },
          {
            role: "assistant",
            tool_calls: [{ id: "c1", type: "function", function: { name: "weather", arguments: "{}" } }],
          },
          { role: "tool", tool_call_id: "c1", content: "sunny" },
          { role: "assistant", content: "Sunny.", weight: 0 },
        ],
        tools: [],
      },
      "chat",
      "alpaca",
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => [i.code, i.path])).toEqual([
      ["unmapped_field", "tools"],
      ["unmapped_field", "messages[1].tool_calls"],
      ["unmapped_field", "messages[2].role"],
      ["unmapped_field", "messages[3].role"],
      ["unmapped_field", "messages[3].weight"],
    ]);
  });

  it("treats keys outside the source format as errors unless kept or dropped", () => {
    const record = { id: "q-17", instruction: "Spell 'necessary'.", output: "n-e-c-e-s-s-a-r-y" };
    const failed = convert(record, "alpaca", "chat");
    expect(failed).toMatchObject({ ok: false, issues: [{ code: "unmapped_field", path: "id" }] });
    expect(ok(convert(record, "alpaca", "chat", { extra: "keep" }))).toMatchObject({ id: "q-17" });
    expect(ok(convert(record, "alpaca", "chat", { extra: "drop" }))).not.toHaveProperty("id");
    expect(ok(convert(record, "alpaca", "sharegpt", { extra: "keep" }))).toMatchObject({ id: "q-17" });
  });

  it("refuses directions that make no sense, as a value", () => {
    expect(canConvert("chat", "dpo")).toBe(false);
    expect(canConvert("alpaca", "sharegpt")).toBe(true);
    expect(convert({ messages: [] }, "chat", "pairs")).toMatchObject({
      ok: false,
      issues: [{ code: "unsupported_conversion" }],
    });
    expect(convert({ chosen: "a", rejected: "b" }, "pairs", "dpo")).toMatchObject({
      ok: false,
      issues: [{ code: "unmapped_field", path: "" }],
    });
  });
});

const mixed = [
  { instruction: "Name a fruit that is yellow.", output: "A banana." },
  { id: 3, instruction: "Name a red fruit.", output: "A strawberry." },
  { prompt: "Roses are red,", completion: " violets are blue." },
  { text: "no format" },
];

describe("convertTo stage", () => {
  describeStageContract("convertTo", () => convertTo({ to: "chat" }), mixed);

  it("converts what it can and rejects the rest with the issues", async () => {
    const { kept, rejected } = await runStage(convertTo({ to: "chat" }), mixed);
    expect(kept.map((e: Envelope) => [e.source.line, e.meta?.format])).toEqual([
      [1, "chat"],
      [3, "chat"],
    ]);
    expect(rejected.map((r) => [r.item.source.line, r.reason.code])).toEqual([
      [2, "unmapped_field"],
      [4, "unknown_format"],
    ]);
    expect(rejected[0]?.reason.message).toMatch(
      /^cannot convert alpaca to chat without losing data: id: "id" has no place/,
    );
  });

  it("checks its options up front", () => {
    expect(() => convertTo({ to: "csv" as "chat" })).toThrow(/`to` must be one of chat, alpaca/);
    expect(() => convertTo({ to: "dpo", from: "chat" })).toThrow(/cannot convert chat to dpo/);
  });
});
