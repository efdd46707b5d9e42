import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { convert } from "./convert.js";
import { chat, sharegpt } from "./schemas.js";

const read = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../../fixtures/unfamiliar/${name}`, import.meta.url)), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe("ShareGPT tool calls (LLaMA-Factory function_call / observation turns, top-level tools)", () => {
  const records = read("glaive-tools.jsonl");

  it("are part of the ShareGPT format", () => {
    for (const record of records) expect(sharegpt.safeParse(record).success).toBe(true);
  });

  it("convert to chat tool_calls, tool messages and tools, valid chat records", () => {
    const results = records.map((record) => convert(record, "sharegpt", "chat"));
    expect(results.every((r) => r.ok)).toBe(true);
    const first = results[0]!.ok ? results[0]!.record : {};
    expect(first).toEqual({
      messages: [
        { role: "system", content: "You are a helpful assistant with access to functions. Use them when they help." },
        { role: "user", content: "What's the weather like in Bergen right now?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_0",
              type: "function",
              function: { name: "get_current_weather", arguments: '{"city":"Bergen","unit":"celsius"}' },
            },
          ],
        },
        {
          role: "tool",
          tool_call_id: "call_0",
          content: '{"temperature": 9, "condition": "light rain", "wind_kmh": 22}',
        },
        { role: "assistant", content: "It is 9 °C in Bergen with light rain and a 22 km/h wind — bring an umbrella." },
      ],
      tools: [
        {
          type: "function",
          function: expect.objectContaining({ name: "get_current_weather", parameters: expect.any(Object) }),
        },
      ],
    });
    // Two calls in one conversation get two ids, each answered by its own observation.
    const second = results[1]!.ok ? (results[1]!.record.messages as Record<string, unknown>[]) : [];
    expect(second.filter((m) => m.role === "tool").map((m) => m.tool_call_id)).toEqual(["call_0", "call_1"]);
    for (const r of results) expect(r.ok && chat.safeParse(r.record).success).toBe(true);
  });

  it("convert back to ShareGPT: the same turns, tool calls as the same JSON, tools as LLaMA-Factory's string", () => {
    for (const record of records) {
      const chatRecord = convert(record, "sharegpt", "chat");
      const back = chatRecord.ok ? convert(chatRecord.record, "chat", "sharegpt") : chatRecord;
      expect(back.ok).toBe(true);
      const turns = (r: Record<string, unknown>) =>
        (r.conversations as { from: string; value: string }[]).map((t) =>
          t.from === "function_call" ? { ...t, value: JSON.parse(t.value) } : t,
        );
      const got = back.ok ? back.record : {};
      // A top-level `system` comes back as a first system turn: the same conversation.
      const system = typeof record.system === "string" ? [{ from: "system", value: record.system }] : [];
      expect(turns(got)).toEqual([...system, ...turns(record)]);
      expect(JSON.parse(String(got.tools))).toEqual(JSON.parse(String(record.tools)));
    }
  });

  it("chat tool call ids ShareGPT cannot keep are named (or dropped with extra: drop)", () => {
    const chatRecord = {
      messages: [
        { role: "user", content: "Weather in Oslo?" },
        {
          role: "assistant",
          tool_calls: [
            { id: "call_9xK2", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: "tool", tool_call_id: "call_9xK2", content: "3 °C" },
        { role: "assistant", content: "3 °C in Oslo." },
      ],
    };
    const strict = convert(chatRecord, "chat", "sharegpt");
    expect(strict.ok ? [] : strict.issues.map((i) => i.path)).toEqual(["messages[1].tool_calls[0].id"]);
    const dropped = convert(chatRecord, "chat", "sharegpt", { extra: "drop" });
    expect(dropped.ok && dropped.record.conversations).toEqual([
      { from: "human", value: "Weather in Oslo?" },
      { from: "function_call", value: '{"name":"get_weather","arguments":{"city":"Oslo"}}' },
      { from: "observation", value: "3 °C" },
      { from: "gpt", value: "3 °C in Oslo." },
    ]);
  });

  it("refuses, naming the turn, a function_call that is not JSON or an observation with no call", () => {
    const bad = convert(
      {
        conversations: [
          { from: "human", value: "Weather?" },
          { from: "observation", value: "{}" },
          { from: "function_call", value: "get_weather(Oslo)" },
          { from: "gpt", value: "Sunny." },
        ],
      },
      "sharegpt",
      "chat",
    );
    expect(bad.ok).toBe(false);
    expect(bad.ok ? [] : bad.issues.map((i) => i.path)).toEqual(["conversations[1].from", "conversations[2].value"]);
  });
});

describe("FastChat ShareGPT", () => {
  it("`id` is part of the format; converting to chat asks what to do with it (--extra keep|drop)", () => {
    const [record] = read("mixed/fastchat.jsonl");
    expect(sharegpt.safeParse(record).success).toBe(true);
    const strict = convert(record, "sharegpt", "chat");
    expect(strict.ok ? [] : strict.issues.map((i) => i.path)).toEqual(["id"]);
    const dropped = convert(record, "sharegpt", "chat", { extra: "drop" });
    expect(dropped.ok && Object.keys(dropped.record)).toEqual(["messages"]);
  });
});
