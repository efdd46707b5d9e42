import { describe, expect, it } from "vitest";
import { canonicalJson, keyFunction, keyReader, normalizer, parseKey, parseNormalization } from "./key.js";

describe("normalization", () => {
  it("applies each step as documented, in canonical order", () => {
    expect(normalizer(["nfkc"])("ｆｕｌｌ ﬁ")).toBe("full fi");
    expect(normalizer(["lower"])("HeLLo")).toBe("hello");
    expect(normalizer(["punct"])("don't — stop!")).toBe("dont  stop");
    expect(normalizer(["whitespace"])("  a\t\tb \n c  ")).toBe("a b c");
    expect(normalizer(["whitespace", "punct", "lower"])("  Don't\n\nSTOP! ")).toBe("dont stop");
    expect(normalizer([])("  As Is ")).toBe("  As Is ");
  });

  it("parses comma lists and rejects unknown names with the valid ones", () => {
    expect(parseNormalization("nfkc, LOWER,whitespace")).toEqual(["nfkc", "lower", "whitespace"]);
    expect(parseNormalization("none")).toEqual([]);
    expect(() => parseNormalization("nfkc,stem")).toThrow(
      /unknown normalization "stem".*nfkc, lower, punct, whitespace/,
    );
  });
});

describe("keys", () => {
  it("parses --key values", () => {
    expect(parseKey(undefined)).toBe("text");
    expect(parseKey(["json"])).toBe("json");
    expect(parseKey(["instruction", "meta.id"])).toEqual(["instruction", "meta.id"]);
    expect(() => parseKey(["json", "instruction"])).toThrow(/cannot be combined/);
    expect(() => parseKey(["a..b"])).toThrow(/not a field path/);
  });

  it("writes canonical JSON with sorted keys at every level", () => {
    expect(canonicalJson({ b: [1, { d: 1, c: "x" }], a: null, u: undefined })).toBe(
      '{"a":null,"b":[1,{"c":"x","d":1}]}',
    );
  });

  it("reads the training text by default, normalized", () => {
    const key = keyFunction("text", ["nfkc", "whitespace"]);
    expect(key({ instruction: "Add  2 and 2", output: "4" })).toBe("Add 2 and 2 4");
    expect(key({ output: "4", instruction: "Add 2 and 2" })).toBe(key({ instruction: "Add 2 and 2", output: "4" }));
  });

  it("reads fields, telling a missing field from an empty one", () => {
    const key = keyReader(["instruction", "meta.lang"]);
    expect(key({ instruction: "Hi", meta: { lang: "en" } })).toBe("Hi\u001fen");
    expect(key({ instruction: "Hi" })).not.toBe(key({ instruction: "Hi", meta: { lang: "" } }));
    expect(keyReader(["tags"])({ tags: ["b", "a"] })).toBe('["b","a"]');
  });

  it("normalizes string values inside canonical JSON but not keys", () => {
    const key = keyFunction("json", ["lower"]);
    expect(key({ Q: "HELLO", a: 1 })).toBe('{"Q":"hello","a":1}');
  });
});
