import { seededRandom } from "@curate/core/testing";
import { describe, expect, it } from "vitest";
import { contentText, textShape, trainingText, writeTrainingText } from "./text.js";

/** The implementation before `writeTrainingText` (joins of joins), kept as the reference the pieces must match. */
function referenceTrainingText(record: unknown): string {
  const isRec = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const messageText = (message: unknown): string => {
    if (!isRec(message)) return "";
    const role = typeof message.role === "string" ? message.role : typeof message.from === "string" ? message.from : "";
    let text = contentText(message.content ?? message.value);
    if (Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls) {
        if (isRec(call) && isRec(call.function))
          text += `\n${String(call.function.name)}(${String(call.function.arguments)})`;
      }
    }
    return `<|${role}|>\n${text}`;
  };
  const turnsText = (value: unknown): string => {
    if (typeof value === "string") return value;
    if (Array.isArray(value)) return value.map(messageText).join("\n");
    if (isRec(value) && Array.isArray(value.messages)) return turnsText(value.messages);
    return "";
  };
  if (!isRec(record)) return typeof record === "string" ? record : "";
  if (Array.isArray(record.messages)) return turnsText(record.messages);
  if (Array.isArray(record.conversations)) return turnsText(record.conversations);
  if (isRec(record.input) && ("preferred_output" in record || "non_preferred_output" in record)) {
    return [turnsText(record.input), turnsText(record.preferred_output), turnsText(record.non_preferred_output)].join(
      "\n\n",
    );
  }
  if ("chosen" in record || "rejected" in record) {
    return [turnsText(record.prompt), turnsText(record.chosen), turnsText(record.rejected)].join("\n\n");
  }
  if (typeof record.instruction === "string" && typeof record.output === "string") {
    return [record.system, record.instruction, record.input, record.output]
      .filter((part): part is string => typeof part === "string" && part !== "")
      .join("\n\n");
  }
  if (typeof record.prompt === "string" && typeof record.completion === "string") {
    return `${record.prompt}${record.completion}`;
  }
  return Object.values(record)
    .filter((v): v is string => typeof v === "string")
    .join("\n\n");
}

/** Records of every shape `trainingText` knows, with odd values where it must not care (or must). */
function randomRecord(next: () => number): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const text = () => pick(["", " ", "Hello  world", "a\n\nb", "ｆｕｌｌ", "e\u0301", "\t", "Zebra"]);
  const maybe = <T>(value: T): T | undefined => (next() < 0.3 ? undefined : value);
  const content = () =>
    pick<unknown>([text(), [{ type: "text", text: text() }, { type: "image" }, { text: text() }], 42, null, undefined]);
  const message = (): unknown =>
    pick<unknown>([
      { role: pick(["user", "assistant", "system"]), content: content() },
      { from: "human", value: text() },
      { role: 7, from: "gpt", content: content() },
      { role: "assistant", content: null, tool_calls: [{ function: { name: "f", arguments: '{"x":1}' } }, "junk"] },
      "not a message",
      null,
    ]);
  const turns = (): unknown =>
    pick<unknown>([Array.from({ length: Math.floor(next() * 4) }, message), text(), { messages: [message()] }, 3]);
  switch (Math.floor(next() * 10)) {
    case 0:
      return { messages: turns() };
    case 1:
      return { conversations: Array.from({ length: 3 }, message) };
    case 2:
      return { input: { messages: [message()] }, preferred_output: turns(), non_preferred_output: maybe(turns()) };
    case 3:
      return { prompt: turns(), chosen: turns(), rejected: maybe(turns()) };
    case 4:
      return { system: maybe(text()), instruction: text(), input: maybe(pick<unknown>([text(), 5])), output: text() };
    case 5:
      return { prompt: maybe(text()), completion: pick<unknown>([text(), 12, { a: 1 }, undefined]) };
    case 6:
      return { a: text(), b: 1, c: text(), d: [text()] };
    case 7:
      return pick<unknown>([text(), 3, null, undefined, [text()]]);
    case 8:
      return { messages: Array.from({ length: 3 }, message), conversations: "ignored" };
    default:
      return { instruction: 4, prompt: text() };
  }
}

describe("trainingText", () => {
  it("reads every format's text", () => {
    expect(trainingText({ instruction: "Add 2 and 2", input: "", output: "4", system: "Be terse." })).toBe(
      "Be terse.\n\nAdd 2 and 2\n\n4",
    );
    expect(
      trainingText({
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Hi " },
              { type: "text", text: "there" },
            ],
          },
          { role: "assistant", content: "Hello" },
        ],
      }),
    ).toBe("<|user|>\nHi there\n<|assistant|>\nHello");
    expect(trainingText({ prompt: "2+2=", completion: "4" })).toBe("2+2=4");
    expect(trainingText({ prompt: "Q", chosen: "good", rejected: "bad" })).toBe("Q\n\ngood\n\nbad");
    expect(trainingText({ id: 3, a: "x", b: "" })).toBe("x\n\n");
  });

  it("never leaves out the answer of a shape it does not know (GPTeacher's instruction/input/response)", () => {
    const record = { instruction: "Convert 3 km to miles.", input: "", response: "About 1.86 miles." };
    expect(textShape(record)).toBeUndefined();
    expect(trainingText(record)).toContain("About 1.86 miles.");
    expect(textShape({ instruction: "Convert 3 km to miles.", output: "1.86" })).toBe("alpaca");
    expect(textShape({ prompt: "Q", response: "A" })).toBeUndefined();
    expect(textShape({ text: "plain" })).toBe("text");
  });

  it("is the concatenation of the pieces writeTrainingText gives, and equals the join-based reference", () => {
    const next = seededRandom(11);
    const wrong: unknown[] = [];
    for (let i = 0; i < 5000; i++) {
      const record = randomRecord(next);
      const parts: string[] = [];
      writeTrainingText(record, { write: (part) => parts.push(part) });
      const expected = referenceTrainingText(record);
      if (parts.join("") !== expected || trainingText(record) !== expected) wrong.push(record);
    }
    expect(wrong).toEqual([]);
  });
});
