import { describe, expect, it } from "vitest";
import { PendingBytes } from "./bytes.js";
import { scanJson } from "./json-scan.js";

/** Where V8 itself puts the error, for the messages that say; the scanner must agree with it. */
function v8Offset(text: string): number | undefined {
  try {
    JSON.parse(text);
    return -1;
  } catch (error) {
    const match = /at position (\d+)/.exec((error as Error).message);
    return match ? Number(match[1]) : undefined;
  }
}

describe("scanJson", () => {
  it("accepts what JSON.parse accepts", () => {
    for (const text of ['{"a":[1,-2.5e+3,true,false,null,{"b":"\\u00e9\\n"}]}', " [ ] ", '"x"', "0", "{}"]) {
      expect(scanJson(text).errorOffset, text).toBe(-1);
    }
  });

  it("finds the same error offset as V8 where V8 reports one", () => {
    const bad = [
      '{"a":1,}',
      '{"a":1',
      '{"a":"x\ty"}',
      '{"a" 1}',
      '{"a":1} x',
      '{"a":"\\x"}',
      '{"a":01}',
      '{"a":1.}',
      "[1 2]",
    ];
    for (const text of bad) {
      const expected = v8Offset(text);
      expect(expected, text).toBeGreaterThanOrEqual(0);
      expect(scanJson(text).errorOffset, text).toBe(expected);
    }
  });

  it("finds the offending token where V8 reports none", () => {
    expect(scanJson('{"a":}').errorOffset).toBe(5);
    expect(scanJson("[1,]").errorOffset).toBe(3);
    expect(scanJson('{"a":nope}').errorOffset).toBe(6);
  });

  it("reports every duplicate key with its path, escapes decoded", () => {
    const { duplicates } = scanJson('{"a":1,"b":[{"c":1,"c":2},{"c":3}],"\\u0061":2,"a":3}', true);
    expect(duplicates).toEqual([
      { path: ["b", 0, "c"], key: "c" },
      { path: ["a"], key: "a" },
      { path: ["a"], key: "a" },
    ]);
  });

  it("does not overflow the stack on deep nesting", () => {
    const deep = `${"[".repeat(50_000)}${"]".repeat(50_000)}`;
    expect(scanJson(deep).errorOffset).toBe(-1);
  });
});

describe("PendingBytes", () => {
  it("never holds more than its limit, however many bytes arrive", () => {
    const pending = new PendingBytes(1000);
    const chunk = Buffer.alloc(300, 0x61);
    let maxHeld = 0;
    for (let i = 0; i < 10_000; i++) {
      pending.add(chunk, 0, chunk.length);
      maxHeld = Math.max(maxHeld, pending.heldBytes);
    }
    expect(maxHeld).toBe(900);
    expect(pending.total).toBe(3_000_000);
    expect(pending.overflow).toBe(true);
    expect(pending.head.length).toBe(1024);
  });
});
