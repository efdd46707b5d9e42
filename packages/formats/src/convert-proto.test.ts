import { describe, expect, it } from "vitest";
import { convert } from "./convert.js";

describe("convert --extra keep", () => {
  it("keeps fields named __proto__ and constructor as plain data", () => {
    const record = JSON.parse('{"instruction":"Add 2 and 2","output":"4","__proto__":{"x":1},"constructor":"c"}');
    const result = convert(record, "alpaca", "chat", { extra: "keep" });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const json = JSON.parse(JSON.stringify(result.record));
    expect(Object.hasOwn(json, "__proto__")).toBe(true);
    expect(Object.getOwnPropertyDescriptor(json, "__proto__")?.value).toEqual({ x: 1 });
    expect(json.constructor).toBe("c");
    expect(Object.getPrototypeOf(result.record)).toBe(Object.prototype);
  });
});
