import { describe, expect, it } from "vitest";
import { fromZodIssues } from "./issues.js";
import { detectFormat, type FormatName, formatNames, formats, isFormatName } from "./registry.js";
import { chat } from "./schemas.js";

const issuesOf = (format: FormatName, record: unknown) => {
  const result = formats[format].schema.safeParse(record, { reportInput: true });
  return result.success ? [] : fromZodIssues(result.error.issues);
};

describe("formats registry", () => {
  it("has a valid example for every format, detected as that format", () => {
    expect(Object.keys(formats)).toEqual([...formatNames]);
    for (const name of formatNames) {
      expect(formats[name].schema.safeParse(formats[name].example).success, name).toBe(true);
      expect(detectFormat(formats[name].example), name).toBe(name);
    }
  });

  it("knows format names", () => {
    expect(isFormatName("sharegpt")).toBe(true);
    expect(isFormatName("jsonl")).toBe(false);
  });
});

describe("detectFormat", () => {
  it.each([
    [{ messages: [] }, "chat"],
    [{ conversations: [{ from: "human", value: "hi" }] }, "sharegpt"],
    [{ input: { messages: [] }, preferred_output: [], non_preferred_output: [] }, "dpo"],
    [{ prompt: "2+2=", chosen: "4", rejected: "5" }, "pairs"],
    [{ chosen: "Human: hi Assistant: hello", rejected: "Human: hi Assistant: go away" }, "pairs"],
    [{ instruction: "Sort the list", input: "3, 1, 2", output: "1, 2, 3" }, "alpaca"],
    [{ input: "3, 1, 2", output: "1, 2, 3" }, "alpaca"],
    [{ prompt: "Once upon a time", completion: " there was a fox." }, "prompt_completion"],
  ] as const)("detects %j as %s", (record, expected) => {
    expect(detectFormat(record)).toBe(expected);
  });

  it("returns undefined for records no format fits, and ignores prototype keys", () => {
    expect(detectFormat({ text: "hello" })).toBeUndefined();
    expect(detectFormat({})).toBeUndefined();
    expect(detectFormat([{ messages: [] }])).toBeUndefined();
    expect(detectFormat("messages")).toBeUndefined();
    expect(detectFormat(JSON.parse('{"__proto__": {"messages": []}, "constructor": 1}'))).toBeUndefined();
  });
});

describe("chat schema", () => {
  const valid = {
    messages: [
      { role: "developer", content: "Answer with the forecast tool when asked about weather." },
      { role: "user", content: [{ type: "text", text: "Weather in Oslo tomorrow?" }], name: "kari" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "forecast", arguments: '{"city":"Oslo","days":1}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: '{"high":4,"low":-2,"sky":"snow"}' },
      { role: "assistant", content: "Snow, between -2 and 4 °C.", weight: 1 },
    ],
    tools: [
      {
        type: "function",
        function: { name: "forecast", parameters: { type: "object", properties: { city: { type: "string" } } } },
      },
    ],
    parallel_tool_calls: false,
  };

  it("accepts tools, tool calls, tool messages, content parts, names and weights", () => {
    expect(chat.safeParse(valid).success).toBe(true);
  });

  it("maps a wrong role to unrecognized_role with path, expected and found", () => {
    expect(
      issuesOf("chat", {
        messages: [
          { role: "user", content: "hi" },
          { role: "wizard", content: "x" },
        ],
      }),
    ).toEqual([
      {
        code: "unrecognized_role",
        severity: "error",
        path: "messages[1].role",
        expected: "one of system|developer|user|assistant|tool",
        found: '"wizard"',
        message: 'expected one of system|developer|user|assistant|tool, found "wizard"',
      },
    ]);
  });

  it("reports every problem of a record, not the first", () => {
    const issues = issuesOf("chat", {
      messages: [
        { content: "no role" },
        { role: "user" },
        { role: "user", content: 42 },
        { role: "assistant", content: [{ type: "image", text: "x" }], weight: 2, mood: "happy" },
        { role: "tool", content: "ok" },
      ],
      temperature: 0.2,
    });
    expect(issues.map((i) => [i.code, i.path, i.severity])).toEqual([
      ["message_missing_key", "messages[0].role", "error"],
      ["message_missing_key", "messages[1].content", "error"],
      ["invalid_type", "messages[2].content", "error"],
      ["invalid_value", "messages[3].content[0].type", "error"],
      ["invalid_value", "messages[3].weight", "error"],
      ["message_unrecognized_key", "messages[3].mood", "warning"],
      ["message_missing_key", "messages[4].tool_call_id", "error"],
      ["unknown_key", "temperature", "warning"],
    ]);
    expect(issues[2]).toMatchObject({ expected: "string or array", found: "42" });
    expect(issues[4]).toMatchObject({ expected: "one of 0|1", found: "2" });
  });

  it("names missing, empty and mistyped message lists", () => {
    expect(issuesOf("chat", {})).toMatchObject([{ code: "missing_messages_list", path: "messages" }]);
    expect(issuesOf("chat", { messages: [] })).toMatchObject([
      { code: "missing_messages_list", path: "messages", found: "an empty list" },
    ]);
    expect(issuesOf("chat", { messages: "hi" })).toMatchObject([{ code: "invalid_type", path: "messages" }]);
    expect(issuesOf("chat", "hi")).toMatchObject([{ code: "data_type", path: "", found: '"hi"' }]);
  });

  it("checks tool calls field by field", () => {
    const issues = issuesOf("chat", {
      messages: [
        { role: "user", content: "Convert 3 miles to km" },
        {
          role: "assistant",
          tool_calls: [{ type: "function", function: { name: "convert", arguments: { miles: 3 } } }],
        },
      ],
    });
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ["missing_field", "messages[1].tool_calls[0].id"],
      ["invalid_type", "messages[1].tool_calls[0].function.arguments"],
    ]);
  });
});

describe("other schemas", () => {
  it("alpaca: instruction and output required, history as pairs", () => {
    expect(issuesOf("alpaca", { instruction: "Name a colour", output: "Teal", history: [["Hi", "Hello"]] })).toEqual(
      [],
    );
    expect(
      issuesOf("alpaca", { instruction: "Name a colour", history: [["Hi"]], id: 7 }).map((i) => [i.code, i.path]),
    ).toEqual([
      ["missing_field", "output"],
      ["invalid_value", "history[0]"],
      ["unknown_key", "id"],
    ]);
  });

  it("sharegpt: from must be a ShareGPT speaker", () => {
    expect(
      issuesOf("sharegpt", { conversations: [{ from: "user", value: "hi" }, { from: "gpt" }] }).map((i) => [
        i.code,
        i.path,
        i.expected,
      ]),
    ).toEqual([
      ["unrecognized_role", "conversations[0].from", "one of human|gpt|system|tool|function_call|observation"],
      ["message_missing_key", "conversations[1].value", 'key "value"'],
    ]);
  });

  it("dpo: outputs are assistant messages", () => {
    const issues = issuesOf("dpo", {
      input: { messages: [{ role: "user", content: "Pick a name for a cat" }] },
      preferred_output: [{ role: "user", content: "Miso" }],
      non_preferred_output: [],
    });
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ["unrecognized_role", "preferred_output[0].role"],
      ["invalid_value", "non_preferred_output"],
    ]);
  });

  it("pairs: strings or message lists, picking the branch that fits", () => {
    expect(issuesOf("pairs", { prompt: "2+2=", chosen: "4", rejected: "5" })).toEqual([]);
    const issues = issuesOf("pairs", {
      prompt: [{ role: "user", content: "2+2=" }],
      chosen: [{ role: "assistant", content: "4" }],
      rejected: [{ role: "robot", content: "5" }],
    });
    expect(issues.map((i) => [i.code, i.path])).toEqual([["unrecognized_role", "rejected[0].role"]]);
    expect(issuesOf("pairs", { chosen: 4, rejected: "5" })).toMatchObject([
      { code: "invalid_type", path: "chosen", expected: "string or array" },
    ]);
  });

  it("prompt_completion: both strings", () => {
    expect(issuesOf("prompt_completion", { prompt: "Hi", completion: null })).toMatchObject([
      { code: "invalid_type", path: "completion", expected: "string", found: "null" },
    ]);
  });
});
