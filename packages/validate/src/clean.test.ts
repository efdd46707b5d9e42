import { describeValue, type Envelope, formatPath } from "@curate/core";
import { runStage, seededRandom } from "@curate/core/testing";
import { detectFormat, type FormatName, formatNames } from "@curate/formats";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { cleanPath, isCleanAs, withFormat } from "./clean.js";
import { checkRecordAs, validate } from "./validate.js";

/**
 * Records of every format, most of them clean or one flaw away from clean: text with non-ASCII, white space runs
 * and every kind of blank, control characters (C0, DEL, C1), U+FFFD and lone surrogates; wrong types, missing and
 * unknown keys, roles out of order, weights, names, content parts, tool calls, inherited and `__proto__` keys.
 */
function generate(count: number, seed: number): unknown[] {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const chance = (p: number) => random() < p;
  let dirt = 0; // per record: 0 clean, 0.03 and 0.1 a flaw here and there, 1 adversarial
  const flaw = (p: number) => random() < p * dirt;
  const cleanText = [
    "Lima.",
    "Use `items[::-1]`",
    "Ünïcode ok",
    "日本語",
    "😀 fine",
    "a\tb",
    "line\nnext",
    "\u00a0lead",
    " x",
    "\u3000y",
  ];
  const dirtyText = [
    "",
    " ",
    "\n\t ",
    "\u3000",
    "\u00a0\u2028",
    "\ufeff",
    "x\u0000",
    "\u0001",
    "a\u0008",
    "\u000b",
    "\u000c",
    "a\u000e",
    "\u001f",
    "b\u007f",
    "\u0080",
    "c\u0085",
    "\u009f",
    "caf\ufffd",
    "\ud83d",
    "\u00a0x",
    "{}",
  ];
  const text = (): string => {
    let s = flaw(0.3) ? pick(dirtyText) : pick(cleanText);
    for (let i = Math.floor(random() * 3); i > 0; i--)
      s += flaw(0.1) ? pick(dirtyText) : pick([" word", " é", "\n", "\r\n", "  ", " 語", "\t"]);
    return s;
  };
  const weird = (): unknown => pick([1, 0, null, true, [], {}, [text()], { text: text() }, "x"]);
  const maybe = (value: unknown): unknown => (flaw(0.05) ? weird() : value);
  const parts = (): unknown[] =>
    Array.from({ length: Math.floor(random() * 3) + (flaw(0.2) ? 0 : 1) }, () =>
      flaw(0.1)
        ? weird()
        : { type: flaw(0.1) ? "image" : "text", text: maybe(text()), ...(flaw(0.05) ? { x: 1 } : {}) },
    );
  const content = (): unknown => (chance(0.1) ? parts() : flaw(0.05) ? null : maybe(text()));
  const toolCall = () => ({
    id: pick(["call_1", "call_2"]),
    type: "function",
    function: { name: pick(["f", "g"]), arguments: pick(["{}", "{bad"]) },
  });
  const message = (role: unknown): unknown => {
    const m: Record<string, unknown> = { role };
    if (!flaw(0.05)) m.content = content();
    if (role === "assistant" && (chance(0.08) || flaw(0.2))) m.weight = pick([0, 1, 1, -0, 2, "1"]);
    if (role === "assistant" && flaw(0.1)) m.tool_calls = pick([[], [toolCall()]]);
    if (role === "tool") m.tool_call_id = pick(["call_1", "call_2"]);
    if (chance(0.04)) m.name = maybe(pick(["kari", "k\u0001", "", " "]));
    if (flaw(0.04)) m[pick(["extra", "weight", "tool_call_id"])] = 1;
    if (flaw(0.02)) delete m.role;
    return flaw(0.02) ? weird() : m;
  };
  const conversation = (): unknown[] => {
    const list: unknown[] = [];
    if (chance(0.3)) list.push(message(pick(["system", "developer"])));
    let user = true;
    for (let n = 1 + Math.floor(random() * 4); n > 0; n--) {
      list.push(
        message(
          flaw(0.15)
            ? pick(["system", "developer", "user", "assistant", "tool", "wizard", "", 3])
            : user
              ? "user"
              : "assistant",
        ),
      );
      user = !user;
    }
    if (!user && !flaw(0.3)) list.push(message("assistant")); // ends with the assistant's reply
    return list;
  };
  const turns = (): unknown[] => {
    const list: unknown[] = chance(0.2) ? [{ from: "system", value: text() }] : [];
    let human = true;
    for (let n = 1 + Math.floor(random() * 4); n > 0; n--) {
      const from = flaw(0.15)
        ? pick(["system", "tool", "function_call", "observation", "wizard", 1])
        : human
          ? "human"
          : "gpt";
      const turn: Record<string, unknown> = { from, value: maybe(text()) };
      if (flaw(0.03)) turn.weight = 1;
      if (flaw(0.03)) delete turn.value;
      list.push(turn);
      human = !human;
    }
    if (!human && !flaw(0.3)) list.push({ from: "gpt", value: maybe(text()) });
    return list;
  };
  const makers: Record<string, () => Record<string, unknown>> = {
    chat: () => ({
      messages: flaw(0.03) ? weird() : conversation(),
      ...(chance(0.05) ? { parallel_tool_calls: maybe(true) } : {}),
    }),
    alpaca: () => {
      const rec: Record<string, unknown> = { instruction: maybe(text()), output: maybe(text()) };
      if (chance(0.6)) rec.input = maybe(chance(0.3) ? pick(["", " "]) : text());
      if (chance(0.2)) rec.system = maybe(text());
      if (chance(0.03) || flaw(0.1)) rec.history = pick([[], [[text(), text()]], [["a"]]]);
      if (flaw(0.05)) delete rec.instruction;
      if (flaw(0.05)) delete rec.output;
      return rec;
    },
    prompt_completion: () => {
      const rec: Record<string, unknown> = { prompt: maybe(chance(0.2) ? "" : text()), completion: maybe(text()) };
      if (flaw(0.05)) delete rec[pick(["prompt", "completion"])];
      return rec;
    },
    sharegpt: () => ({
      conversations: flaw(0.03) ? weird() : turns(),
      ...(chance(0.1) ? { system: maybe(text()) } : {}),
    }),
    dpo: () => ({
      input: { messages: conversation() },
      preferred_output: [message("assistant")],
      non_preferred_output: [message("assistant")],
    }),
    pairs: () => ({ prompt: text(), chosen: maybe(text()), rejected: maybe(text()) }),
  };
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) {
    dirt = pick([0, 0, 0.03, 0.1, 0.1, 1]);
    const record = makers[pick(formatNames)]!();
    if (chance(0.2))
      record[pick(["id", "source", "a b", "7", "ünï", "constructor"])] = pick([
        text(),
        7,
        null,
        [text(), 1],
        { at: [text()] },
      ]);
    if (flaw(0.05))
      record[pick(["id", "tools", "history", "messages", "instruction", "conversations", "chosen", "input"])] = text();
    if (flaw(0.03)) out.push(JSON.parse(JSON.stringify(record).replace(/^\{/, '{"__proto__":"x",')));
    else if (flaw(0.02)) out.push(Object.assign(Object.create({ inherited: "x" }), record));
    else out.push(record);
  }
  return out;
}

const records = generate(6000, 1);

describe("isCleanAs (the clean path)", () => {
  it("answers only where the reference path finds no issue but unknown keys, and detection agrees", () => {
    const clean: Record<string, number> = {};
    let withKeys = 0;
    for (const record of records) {
      for (const format of formatNames) {
        const unknown = cleanPath(format, record);
        if (unknown === undefined) continue;
        clean[format] = (clean[format] ?? 0) + 1;
        if (unknown.length > 0) withKeys++;
        // What the reference path reports for an unknown key, written out here rather than taken from the code.
        const expected = unknown.map((key) => ({
          code: "unknown_key",
          severity: "warning",
          path: formatPath([key]),
          message: `unexpected key "${key}"`,
          found: describeValue((record as Record<string, unknown>)[key]),
        }));
        expect({ record, format, issues: checkRecordAs(format, record as Record<string, unknown>) }).toEqual({
          record,
          format,
          issues: expected,
        });
        expect(detectFormat(record)).toBe(format);
        expect(isCleanAs(format, record)).toBe(unknown.length === 0);
      }
    }
    // Not vacuous: the seeded records reach the clean path for every format it covers, with and without unknown keys.
    for (const format of ["chat", "alpaca", "prompt_completion", "sharegpt"])
      expect(clean[format]).toBeGreaterThan(200);
    expect(withKeys).toBeGreaterThan(200);
    expect(clean.dpo ?? 0).toBe(0);
    expect(clean.pairs ?? 0).toBe(0);
  });

  it("reports unknown top-level keys in the reference path's order, and leaves format keys to it", () => {
    const record = JSON.parse('{"instruction":"Do it","zeta":{"a":[1,"x"]},"output":"ok","2":null,"id":"r1"}');
    expect(cleanPath("alpaca", record)).toEqual(["2", "zeta", "id"]);
    expect(cleanPath("alpaca", { instruction: "Do it", output: "ok", id: "caf\ufffd" })).toBeUndefined();
    expect(cleanPath("alpaca", { instruction: "Do it", output: "ok", id: { deep: ["\u0007"] } })).toBeUndefined();
    expect(cleanPath("alpaca", { instruction: "Do it", output: "ok", history: [] })).toBeUndefined();
    expect(cleanPath("alpaca", { instruction: "Do it", output: "ok", messages: "x" })).toBeUndefined();
    expect(cleanPath("prompt_completion", { prompt: "p", completion: "c", instruction: "x" })).toBeUndefined();
    const proto = '{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"ok"}],"__proto__":1}';
    expect(cleanPath("chat", JSON.parse(proto))).toBeUndefined();
  });

  it("takes the common shapes: string and part content, names, weights, system prompts, empty input", () => {
    const clean: [FormatName, unknown][] = [
      [
        "chat",
        {
          messages: [
            { role: "user", content: "Hi" },
            { role: "assistant", content: "Hello!" },
          ],
        },
      ],
      [
        "chat",
        {
          messages: [
            { role: "developer", content: "Be brief.", name: "ops" },
            {
              role: "user",
              content: [
                { type: "text", text: " " },
                { type: "text", text: "Summarise: é" },
              ],
            },
            { role: "assistant", content: "Short.", weight: 0 },
            { role: "user", content: "Again\u00a0please" },
            { role: "assistant", content: "Shorter.", weight: 1 },
          ],
          parallel_tool_calls: false,
        },
      ],
      ["alpaca", { instruction: "Translate to Spanish.", input: "", output: "Buenos días", system: " " }],
      ["prompt_completion", { prompt: "", completion: " Eight." }],
      [
        "sharegpt",
        {
          system: "x",
          conversations: [
            { from: "system", value: "s" },
            { from: "human", value: "Hi" },
            { from: "gpt", value: "Hey" },
          ],
        },
      ],
    ];
    for (const [format, record] of clean) {
      expect(checkRecordAs(format, record as Record<string, unknown>)).toEqual([]);
      expect(isCleanAs(format, record)).toBe(true);
    }
  });

  it("sends a record with any rule firing to the reference path", () => {
    const notClean: [FormatName, unknown][] = [
      [
        "chat",
        {
          messages: [
            { role: "user", content: "Hi" },
            { role: "assistant", content: "\u0085" },
          ],
        },
      ],
      [
        "chat",
        {
          messages: [
            { role: "user", content: "Hi" },
            { role: "assistant", content: "\u3000\u2028\ufeff" },
          ],
        },
      ],
      [
        "chat",
        {
          messages: [
            { role: "user", content: "Hi" },
            { role: "system", content: "late" },
            { role: "assistant", content: "ok" },
          ],
        },
      ],
      [
        "chat",
        {
          messages: [
            { role: "user", content: "Hi" },
            { role: "assistant", content: "ok", weight: 0 },
          ],
        },
      ],
      [
        "chat",
        {
          messages: [
            { role: "user", content: "Hi" },
            { role: "assistant", content: [] },
          ],
        },
      ],
      [
        "chat",
        {
          messages: [
            { role: "user", content: "Hi", name: "a\ufffd" },
            { role: "assistant", content: "ok" },
          ],
        },
      ],
      [
        "chat",
        {
          messages: [
            { role: "user", content: "Hi", weight: 1 },
            { role: "assistant", content: "ok" },
          ],
        },
      ],
      [
        "chat",
        {
          messages: [
            { role: "user", content: "Hi" },
            { role: "assistant", content: "ok" },
          ],
          id: "1",
        },
      ],
      [
        "chat",
        {
          messages: [
            { role: "user", content: "Hi" },
            { role: "assistant", content: "a" },
            { role: "assistant", content: "b" },
          ],
        },
      ],
      [
        "chat",
        {
          messages: [
            { role: "user", content: "Hi" },
            { role: "user", content: "a" },
            { role: "assistant", content: "b" },
          ],
        },
      ],
      [
        "chat",
        {
          messages: [
            { role: "user", content: "Hi" },
            { role: "assistant", content: "ok" },
          ],
          parallel_tool_calls: 1,
        },
      ],
      ["alpaca", { instruction: "Do it", output: "\u00a0" }],
      ["alpaca", { instruction: "Do it", output: "ok", input: "\u0007" }],
      ["prompt_completion", { prompt: "p\u009f", completion: "c" }],
      [
        "sharegpt",
        {
          conversations: [
            { from: "human", value: "Hi" },
            { from: "gpt", value: "a" },
            { from: "gpt", value: "b" },
          ],
        },
      ],
    ];
    for (const [format, record] of notClean) {
      expect(checkRecordAs(format, record as Record<string, unknown>).length).toBeGreaterThan(0);
      expect(isCleanAs(format, record)).toBe(false);
    }
  });

  it("keeps the stage's routes, messages and severities: the same as the reference path on every record", async () => {
    // A user schema that accepts everything adds no issue but turns the clean path off, so the second stage is
    // the reference path alone.
    const accept = z.unknown();
    const files = ["a.jsonl", "b.jsonl", "c.jsonl"];
    const items: Envelope[] = records.slice(0, 1500).map((data, i) => ({
      data,
      source: { file: files[Math.floor(i / 500)]!, line: (i % 500) + 1 },
      meta: { bytes: i },
    }));
    const options = [
      { format: "auto" as const },
      { format: "auto" as const, strict: true, detectWindow: 3 },
      {
        format: "auto" as const,
        rules: { format_mismatch: "warn", control_characters: "off", system_not_first: "error" },
      },
      ...(["chat", "alpaca", "prompt_completion", "sharegpt"] as const).map((format) => ({ format })),
    ];
    for (const option of options) {
      const fast = await runStage(validate(option as Parameters<typeof validate>[0]), items);
      const reference = await runStage(
        validate({ ...option, schema: accept } as Parameters<typeof validate>[0]),
        items,
      );
      expect(fast.kept.length).toBeGreaterThan(150);
      expect(fast.kept).toEqual(reference.kept);
      expect(fast.rejected).toEqual(reference.rejected);
      expect(fast.warnings).toEqual(reference.warnings);
    }
  });
});

describe("withFormat", () => {
  it("gives what `{ ...meta, format }` gives: keys, order, values, symbols, prototype", () => {
    const symbol = Symbol("s");
    const metas: Record<string | symbol, unknown>[] = [
      {},
      { bytes: 12 },
      { format: "alpaca", bytes: 3 },
      { tokens: { total: 4 }, 2: "two", cluster: "c1" },
      { [symbol]: 1, bytes: 5 },
      JSON.parse('{"bytes":1,"__proto__":{"polluted":true}}'),
    ];
    for (const meta of metas) {
      const fast = withFormat(meta, "chat");
      const spread = { ...meta, format: "chat" };
      expect(Reflect.ownKeys(fast)).toEqual(Reflect.ownKeys(spread));
      for (const key of Reflect.ownKeys(spread)) expect(fast[key as string]).toBe(spread[key as keyof typeof spread]);
      expect(Object.getPrototypeOf(fast)).toBe(Object.prototype);
    }
  });
});
