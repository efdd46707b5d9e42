import { deserialize, serialize } from "node:v8";
import { seededRandom } from "@curate/core/testing";
import { describe, expect, it } from "vitest";
import { packChats, packCounts, unpackChats, unpackCounts } from "./protocol.js";
import type { ChatCount, ChatInput } from "./types.js";

const pieces = [
  "",
  " ",
  "  \t\n",
  "Hello",
  "wörld",
  "日本語",
  "🙂",
  "<|eot_id|>",
  "a\u0000b",
  "\ud800",
  "x".repeat(300),
];

function chatsFrom(seed: number, n: number): ChatInput[] {
  const next = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const text = () => Array.from({ length: Math.floor(next() * 4) }, () => pick(pieces)).join("");
  return Array.from({ length: n }, () => {
    const messages = Array.from({ length: Math.floor(next() * 5) }, () => {
      const role = pick(["system", "user", "assistant", "tool", ""]);
      const kind = next();
      // Mostly plain messages; the rest each break plainness in one way the packer must notice.
      if (kind < 0.7) return { role, content: text() };
      if (kind < 0.75) return { content: text(), role };
      if (kind < 0.8) return { role, content: text(), weight: 0 };
      if (kind < 0.85) return { role, content: [{ type: "text", text: text() }] };
      if (kind < 0.9) return { role, content: null, tool_calls: [{ id: "c1", type: "function" }] };
      if (kind < 0.95) return { role, name: "bob", content: text() };
      return { role };
    });
    return next() < 0.1 ? { messages, tools: [{ type: "function", function: { name: "f" } }] } : { messages };
  });
}

/** What a worker receives: the packed form after a structured clone. */
function overTheWire<T>(value: T): T {
  return deserialize(serialize(value)) as T;
}

describe("packChats / unpackChats", () => {
  it.each([1, 2, 3, 4, 5])("gives back chats deep-equal to the originals, key order included (seed %i)", (seed) => {
    const chats = chatsFrom(seed, 300);
    const back = unpackChats(overTheWire(packChats(chats)));
    expect(back).toEqual(chats);
    // toEqual ignores key order; templates may not.
    expect(back.map((c) => c.messages.map((m) => Object.keys(m)))).toEqual(
      chats.map((c) => c.messages.map((m) => Object.keys(m))),
    );
    expect(back.map((c) => Object.keys(c))).toEqual(chats.map((c) => Object.keys(c)));
  });

  it("sends plain chats as strings and only the others as objects", () => {
    const plain: ChatInput = {
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "" },
      ],
    };
    const weighted: ChatInput = { messages: [{ role: "assistant", content: "x", weight: 0 }] };
    const reordered: ChatInput = { messages: [{ content: "x", role: "user" }] };
    const withTools: ChatInput = { messages: [{ role: "user", content: "x" }], tools: [] };
    const empty: ChatInput = { messages: [] };
    const packed = packChats([plain, weighted, reordered, withTools, empty]);
    expect(Array.from(packed.layout)).toEqual([2, -1, -2, -3, 0]);
    expect(packed.strings).toEqual(["user", "hi", "assistant", ""]);
    expect(packed.other).toEqual([weighted, reordered, withTools]);
  });
});

describe("packCounts / unpackCounts", () => {
  it("gives back counts and errors in order", () => {
    const next = seededRandom(9);
    const counts: ChatCount[] = Array.from({ length: 500 }, (_, i) =>
      next() < 0.1
        ? { error: `template failed ${i}: ü` }
        : { total: Math.floor(next() * 2 ** 31), trainable: Math.floor(next() * 1000), exact: next() < 0.5 },
    );
    expect(unpackCounts(overTheWire(packCounts(counts)))).toEqual(counts);
    expect(unpackCounts(packCounts([]))).toEqual([]);
  });
});
