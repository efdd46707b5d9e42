import { readFileSync } from "node:fs";
import type { Issue } from "@curate/core";
import { describeStageContract, runStage } from "@curate/core/testing";
import { formats } from "@curate/formats";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { formatDiagnostic, rejectDiagnostics, warningDiagnostic } from "./diagnostics.js";
import { parseRuleSettings, resolveRules, rules, rulesMarkdown } from "./rules.js";
import { checkRecordAs, validate } from "./validate.js";

const user = (content: unknown) => ({ role: "user", content });
const assistant = (content: unknown, extra: Record<string, unknown> = {}) => ({ role: "assistant", content, ...extra });
const chat = (...messages: unknown[]) => ({ messages });

const goodChat = chat(user("How do I reverse a list in Python?"), assistant("Use `items[::-1]` or `items.reverse()`."));

/** Codes of the issues validate finds on one record read as `format`, with default settings. */
async function codesOf(record: unknown, format: "auto" | keyof typeof formats = "auto"): Promise<string[]> {
  const { rejected, warnings } = await runStage(validate({ format }), [record]);
  return [...(rejected[0]?.reason.issues ?? []).map((i: Issue) => i.code), ...warnings.map((w) => w.issue.code)];
}

const records = [
  goodChat,
  chat(user("Do a magic trick"), { role: "wizard", content: "Abracadabra" }, assistant("Ta-da!")),
  { instruction: "Translate 'thank you' into German.", input: "", output: "Danke." },
  { text: "a record no format fits" },
  chat(user("Hello\u0007"), assistant("Hi! How can I help?")),
];

describe("validate", () => {
  describeStageContract("validate", () => validate(), records);
  describeStageContract("validate (forced chat)", () => validate({ format: "chat" }), records);

  it("keeps valid records with meta.format and rejects the rest with file, line, code and path", async () => {
    const { kept, rejected, warnings } = await runStage(validate({ format: "chat" }), records, "chat.jsonl");
    expect(kept.map((e) => [e.source.line, e.meta?.format])).toEqual([
      [1, "chat"],
      [5, "chat"],
    ]);
    expect(rejected[0]).toMatchObject({
      stage: "validate",
      item: { source: { file: "chat.jsonl", line: 2 } },
      reason: {
        code: "unrecognized_role",
        message: 'messages[1].role: expected one of system|developer|user|assistant|tool, found "wizard"',
        issues: [{ code: "unrecognized_role", path: "messages[1].role", found: '"wizard"' }],
      },
    });
    expect(rejected.map((r) => [r.item.source.line, r.reason.code])).toEqual([
      [2, "unrecognized_role"],
      [3, "format_mismatch"],
      [4, "missing_messages_list"],
    ]);
    expect(warnings.map((w) => [w.item.source.line, w.issue.code, w.issue.path])).toEqual([
      [5, "control_characters", "messages[0].content"],
    ]);
  });

  it("reports every problem of a record: errors first, warnings too", async () => {
    const record = chat(
      { role: "system", content: "  " },
      user("Tell me a joke"),
      user("About cats"),
      { role: "system", content: "Be funny." },
      assistant("Why did the cat sit on the computer? To keep an eye on the mouse!", { mood: 1 }),
    );
    const { rejected } = await runStage(validate(), [record]);
    expect(rejected[0]?.reason.code).toBe("missing_content");
    expect(rejected[0]?.reason.issues?.map((i) => [i.code, i.severity, i.path])).toEqual([
      ["message_unrecognized_key", "warning", "messages[4].mood"],
      ["missing_content", "error", "messages[0].content"],
      ["non_alternating_turns", "warning", "messages[2].role"],
      ["system_not_first", "warning", "messages[3].role"],
    ]);
    expect(rejected[0]?.reason.message).toBe(
      "messages[0].content: system message content is whitespace only (and 3 more problems)",
    );
  });

  it("auto-detects each file's format by majority and rejects records of other formats", async () => {
    const alpaca = (n: number) => ({ instruction: `Add ${n} and ${n}.`, output: String(2 * n) });
    const input = [
      { data: chat(user("Hi"), assistant("Hello!")), source: { file: "a.jsonl", line: 1 } },
      { data: alpaca(1), source: { file: "a.jsonl", line: 2 } },
      { data: alpaca(2), source: { file: "a.jsonl", line: 3 } },
      { data: { prompt: "Say hi", completion: "hi" }, source: { file: "b.jsonl", line: 1 } },
      { data: { foo: 1 }, source: { file: "b.jsonl", line: 2 } },
    ];
    const { kept, rejected } = await runStage(validate(), input);
    expect(kept.map((e) => [e.source.file, e.source.line, e.meta?.format])).toEqual([
      ["a.jsonl", 2, "alpaca"],
      ["a.jsonl", 3, "alpaca"],
      ["b.jsonl", 1, "prompt_completion"],
    ]);
    expect(rejected.map((r) => [r.item.source.file, r.item.source.line, r.reason.code])).toEqual([
      ["a.jsonl", 1, "format_mismatch"],
      ["b.jsonl", 2, "unknown_format"],
    ]);
    expect(rejected[0]?.reason.message).toMatch(/fit chat, but a\.jsonl holds alpaca records \(2 of its first 3/);
    expect(rejected[1]?.reason.issues?.[0]).toMatchObject({
      expected: "the keys of a known format",
      found: "keys foo",
    });
  });

  it("decides a file's format after the detection window and keeps order", async () => {
    const input = Array.from({ length: 7 }, (_, i) =>
      i === 0 ? { text: "?" } : chat(user(`Question ${i}`), assistant(`Answer ${i}`)),
    );
    const { kept, rejected } = await runStage(validate({ detectWindow: 3 }), input);
    expect(kept.map((e) => e.source.line)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(rejected.map((r) => r.reason.code)).toEqual(["unknown_format"]);
  });

  it("allows mixed files with format_mismatch off", async () => {
    const input = [goodChat, { instruction: "Name a planet.", output: "Mars" }];
    const { kept } = await runStage(validate({ rules: { format_mismatch: "off" } }), input);
    expect(kept.map((e) => e.meta?.format)).toEqual(["chat", "alpaca"]);
  });

  it("applies rule settings and strict", async () => {
    const record = { ...goodChat, id: "conv-1" };
    expect((await runStage(validate(), [record])).kept).toHaveLength(1);
    const strict = await runStage(validate({ strict: true }), [record]);
    expect(strict.rejected[0]?.reason).toMatchObject({
      code: "unknown_key",
      issues: [{ path: "id", severity: "error" }],
    });
    const off = await runStage(validate({ rules: { unknown_key: "off" } }), [record]);
    expect(off.warnings).toEqual([]);
    const relaxed = await runStage(validate({ rules: { unrecognized_role: "warn" } }), [records[1]]);
    expect(relaxed.kept).toHaveLength(1);
    expect(relaxed.warnings[0]?.issue).toMatchObject({ code: "unrecognized_role", severity: "warning" });
  });

  it("checks a user schema, alone or with a format", async () => {
    const schema = z.object({ messages: z.array(z.unknown()).max(2) });
    const long = chat(user("a"), assistant("b"), user("c"), assistant("d"));
    const alone = await runStage(validate({ schema }), [goodChat, long, { messages: "x" }]);
    expect(alone.kept.map((e) => [e.source.line, e.meta?.format])).toEqual([[1, undefined]]);
    expect(alone.rejected.map((r) => [r.reason.code, r.reason.issues?.[0]?.path])).toEqual([
      ["invalid_value", "messages"],
      ["invalid_type", "messages"],
    ]);
    const both = await runStage(validate({ schema, format: "chat" }), [long, chat(user("a"))]);
    expect(both.rejected.map((r) => r.reason.issues?.map((i) => i.code))).toEqual([
      ["invalid_value"],
      ["example_missing_assistant_message"],
    ]);
  });

  it("rejects non-objects as data_type", async () => {
    const { rejected } = await runStage(validate(), [[1, 2], "text", null]);
    expect(rejected.map((r) => r.reason.code)).toEqual(["data_type", "data_type", "data_type"]);
  });

  it("checks its options up front", () => {
    expect(() => validate({ format: "csv" as "chat" })).toThrow(/`format` must be auto, none or one of chat/);
    expect(() => validate({ format: "none" })).toThrow(/pass `schema` too/);
    expect(() => validate({ rules: { no_such_rule: "error" } })).toThrow(
      /unknown rule "no_such_rule"; rules are: data_type/,
    );
    expect(() => validate({ rules: { system_not_first: "fatal" as "error" } })).toThrow(/expected error, warn or off/);
    expect(() => validate({ schema: 42 as never })).toThrow(/must be a zod schema/);
    expect(() => validate({ detectWindow: 0 })).toThrow(/detectWindow/);
  });
});

describe("rules", () => {
  // Each rule code: a real-looking record that triggers it (read as `format`), and the format's valid example
  // that does not. Shape codes are covered in @curate/formats; here they go through the stage.
  const cases: [string, string, unknown][] = [
    ["data_type", "chat", ["not", "an", "object"]],
    ["unknown_format", "auto", { question: "What is 2+2?", answer: "4" }],
    ["format_mismatch", "chat", { instruction: "Summarise the text.", input: "Long text", output: "Short." }],
    ["missing_messages_list", "chat", { messages: [] }],
    ["missing_field", "alpaca", { instruction: "Write a haiku about rain." }],
    ["message_missing_key", "chat", chat({ role: "user" }, assistant("Sure."))],
    ["unrecognized_role", "chat", chat({ role: "human", content: "Hi" }, assistant("Hello"))],
    ["invalid_type", "chat", chat(user(42), assistant("That's a number."))],
    ["invalid_value", "chat", chat(user("Hi"), assistant("Hello", { weight: 0.5 }))],
    ["message_unrecognized_key", "chat", chat({ ...user("Hi"), timestamp: 1718000000 }, assistant("Hello"))],
    ["unknown_key", "alpaca", { instruction: "Name a colour.", output: "Blue", source: "web" }],
    ["missing_content", "chat", chat(user("Can you help?"), assistant("   "))],
    ["missing_content", "alpaca", { instruction: "Describe autumn.", output: "" }],
    ["missing_content", "prompt_completion", { prompt: "Roses are red", completion: "" }],
    ["missing_content", "pairs", { prompt: "Best pizza topping?", chosen: "", rejected: "Pineapple" }],
    ["example_missing_assistant_message", "chat", chat({ role: "system", content: "Be kind." }, user("Hello?"))],
    ["missing_user_message", "chat", chat({ role: "system", content: "You are a pirate." }, assistant("Arr, matey!"))],
    ["missing_user_message", "sharegpt", { conversations: [{ from: "gpt", value: "Welcome aboard." }] }],
    ["example_missing_assistant_message", "sharegpt", { conversations: [{ from: "human", value: "Hello?" }] }],
    ["last_message_not_assistant", "chat", chat(user("Hi"), assistant("Hello!"), user("Bye"))],
    [
      "last_message_not_assistant",
      "sharegpt",
      {
        conversations: [
          { from: "human", value: "Hi" },
          { from: "gpt", value: "Hello!" },
          { from: "human", value: "Bye" },
        ],
      },
    ],
    ["no_trainable_message", "chat", chat(user("Hi"), assistant("Hello", { weight: 0 }))],
    [
      "identical_preference",
      "dpo",
      {
        input: { messages: [user("Name a bird.")] },
        preferred_output: [assistant("A robin.")],
        non_preferred_output: [assistant("A robin.")],
      },
    ],
    ["identical_preference", "pairs", { prompt: "Capital of Italy?", chosen: "Rome", rejected: "Rome" }],
    [
      "unmatched_tool_call_id",
      "chat",
      chat(
        user("Time in Tokyo?"),
        { role: "tool", tool_call_id: "call_9", content: "14:05" },
        assistant("It's 14:05."),
      ),
    ],
    [
      "unmatched_tool_call_id",
      "sharegpt",
      {
        conversations: [
          { from: "human", value: "Time in Tokyo?" },
          { from: "observation", value: '{"time":"14:05"}' },
          { from: "gpt", value: "It's 14:05." },
        ],
      },
    ],
    [
      "invalid_tool_arguments",
      "chat",
      chat(
        user("Book a table for two"),
        assistant(null, {
          tool_calls: [{ id: "c1", type: "function", function: { name: "book", arguments: "{people: 2}" } }],
        }),
        { role: "tool", tool_call_id: "c1", content: "booked" },
        assistant("Done: a table for two."),
      ),
    ],
    [
      "invalid_tool_arguments",
      "sharegpt",
      {
        conversations: [
          { from: "human", value: "Weather in Rome?" },
          { from: "function_call", value: "get_weather(Rome)" },
          { from: "observation", value: '{"temp":21}' },
          { from: "gpt", value: "21 °C." },
        ],
      },
    ],
    [
      "missing_tool_response",
      "chat",
      chat(
        user("Convert 10 USD to EUR"),
        assistant(null, {
          tool_calls: [{ id: "fx1", type: "function", function: { name: "fx", arguments: '{"amount":10}' } }],
        }),
        assistant("About 9.20 EUR."),
      ),
    ],
    [
      "duplicate_tool_call_id",
      "chat",
      chat(
        user("Weather in Oslo and Bergen?"),
        assistant(null, {
          tool_calls: [
            { id: "w", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } },
            { id: "w", type: "function", function: { name: "weather", arguments: '{"city":"Bergen"}' } },
          ],
        }),
        { role: "tool", tool_call_id: "w", content: "rain" },
        assistant("Rain in both."),
      ),
    ],
    [
      "undeclared_tool",
      "chat",
      {
        ...chat(
          user("Ring Anna"),
          assistant(null, { tool_calls: [{ id: "c", type: "function", function: { name: "call", arguments: "{}" } }] }),
          { role: "tool", tool_call_id: "c", content: "ringing" },
          assistant("Calling Anna."),
        ),
        tools: [{ type: "function", function: { name: "send_sms" } }],
      },
    ],
    ["system_not_first", "chat", chat(user("Hi"), { role: "system", content: "Be terse." }, assistant("Hi."))],
    ["non_alternating_turns", "chat", chat(user("Hi"), user("Are you there?"), assistant("Yes!"))],
    ["control_characters", "alpaca", { instruction: "Echo this\u001b[0m", output: "Echo this" }],
    ["replacement_character", "chat", chat(user("Caf\uFFFD au lait?"), assistant("A coffee with milk."))],
  ];

  it.each(cases)("%s triggers on a %s record", async (code, format, record) => {
    expect(await codesOf(record, format as "auto")).toContain(code);
  });

  it("every rule in the table has a triggering test case", () => {
    const tested = new Set(cases.map(([code]) => code));
    expect(rules.map((r) => r.code).filter((c) => !tested.has(c) && c !== "schema_mismatch")).toEqual([]);
  });

  it.each(Object.keys(formats))("no rule triggers on the valid %s example", async (format) => {
    expect(await codesOf(formats[format as keyof typeof formats].example, format as "chat")).toEqual([]);
  });

  it("tool calls with their answers, content parts and weights are clean", () => {
    const record = chat(
      { role: "developer", content: [{ type: "text", text: "Use tools for live data." }] },
      user("Price of AAPL?"),
      assistant("", {
        tool_calls: [{ id: "q1", type: "function", function: { name: "quote", arguments: '{"s":"AAPL"}' } }],
      }),
      { role: "tool", tool_call_id: "q1", content: '{"price":227.5}' },
      assistant("Apple trades at $227.50.", { weight: 1 }),
      user("Thanks"),
      assistant("You're welcome!", { weight: 0 }),
    );
    expect(checkRecordAs("chat", { ...record, tools: [{ type: "function", function: { name: "quote" } }] })).toEqual(
      [],
    );
  });

  it("the README's rule table is rulesMarkdown()'s", () => {
    // Compared cell by cell: the formatter pads Markdown tables.
    const cells = (table: string) =>
      table
        .split("\n")
        .filter((line) => line.startsWith("|") && !/^\|[\s|:-]+\|$/.test(line))
        .map((line) =>
          line
            .slice(1, -1)
            .split(/(?<!\\)\|/)
            .map((cell) => cell.trim()),
        );
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const table = /<!-- rules:start[^>]*-->\n([\s\S]*?)\n<!-- rules:end -->/.exec(readme)?.[1] ?? "";
    expect(cells(table)).toEqual(cells(rulesMarkdown()));
    expect(cells(table)).toHaveLength(rules.length + 1);
  });

  it("parses --rule settings and renders the table", () => {
    expect(parseRuleSettings(["system_not_first=error", " control_characters = off "])).toEqual({
      system_not_first: "error",
      control_characters: "off",
    });
    expect(() => parseRuleSettings(["system_not_first"])).toThrow(/code=error\|warn\|off/);
    expect(resolveRules({}, true).get("unknown_key")).toBe("error");
    expect(rulesMarkdown().split("\n")).toHaveLength(rules.length + 2);
    expect(rulesMarkdown()).toContain("| `unrecognized_role` | error |");
  });
});

describe("diagnostics", () => {
  it("formats file:line[:col] severity code path message", async () => {
    const { rejected, warnings } = await runStage(
      validate(),
      [records[1], chat(user("Hi\u0000"), assistant("Hello"))],
      "data/train.jsonl",
    );
    expect(rejectDiagnostics(rejected[0]!).map(formatDiagnostic)).toEqual([
      'data/train.jsonl:1 error unrecognized_role messages[1].role expected one of system|developer|user|assistant|tool, found "wizard"',
    ]);
    expect(formatDiagnostic(warningDiagnostic(warnings[0]!))).toBe(
      "data/train.jsonl:2 warning control_characters messages[0].content text contains control character U+0000 at offset 2",
    );
    const parse = rejectDiagnostics({
      stage: "read",
      item: { data: '{"a":', source: { file: "x.jsonl", line: 3 } },
      reason: { code: "invalid_json", message: "unexpected end of JSON input", column: 6, excerpt: '{"a":' },
    });
    expect(parse.map(formatDiagnostic)).toEqual([
      'x.jsonl:3:6 error invalid_json unexpected end of JSON input near "{\\"a\\":"',
    ]);
  });
});
