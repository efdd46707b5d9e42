import { get_encoding } from "tiktoken";
import { describe, expect, it } from "vitest";
import { corpus, fixtureTexts, randomTexts } from "../golden/texts.js";
import { type OpenAiEncoding, tiktokenEngine } from "./tiktoken-data.js";

const texts = [...corpus, ...randomTexts(1500), ...fixtureTexts()];

describe.each(["o200k_base", "cl100k_base", "p50k_base", "r50k_base"] as OpenAiEncoding[])(
  "fast engine vs tiktoken, %s",
  (encoding) => {
    const fast = tiktokenEngine(encoding);
    const reference = get_encoding(encoding);

    it("gives byte-identical ids on the golden corpus, random strings and the fixtures", () => {
      const mismatches: string[] = [];
      for (const text of texts) {
        const want = Array.from(reference.encode_ordinary(text));
        const got = Array.from(fast.encode(text));
        if (want.join() !== got.join()) mismatches.push(JSON.stringify(text).slice(0, 80));
      }
      expect(mismatches).toEqual([]);
      expect(texts.length).toBeGreaterThan(1500);
    });

    it("counts what it encodes, with a warm cache and a cold one", () => {
      const cold = tiktokenEngine(encoding, { cacheEntries: 0 });
      for (const text of corpus) {
        const n = reference.encode_ordinary(text).length;
        expect(fast.count(text)).toBe(n);
        expect(cold.count(text)).toBe(n);
      }
    });

    it("decodes ids back to the text", () => {
      const decoder = new TextDecoder();
      for (const text of corpus.filter((t) => !/[\ud800-\udfff]/u.test(t))) {
        expect(decoder.decode(fast.decodeBytes(fast.encode(text)))).toBe(text);
      }
    });
  },
);

describe("fast engine details", () => {
  const o200k = tiktokenEngine("o200k_base");

  it("counts a literal special-token string as ordinary text", () => {
    // "<|endoftext|>" is one special token (199999) only when specials are allowed; curate never allows them.
    expect(Array.from(o200k.encode("<|endoftext|>"))).toEqual(
      Array.from(get_encoding("o200k_base").encode_ordinary("<|endoftext|>")),
    );
    expect(o200k.count("<|endoftext|>")).toBeGreaterThan(1);
  });

  it("merges long pieces with the heap exactly as tiktoken's linear scan does", () => {
    const reference = get_encoding("o200k_base");
    for (const word of ["ab".repeat(4000), "a".repeat(5000), "日本語".repeat(1000), `${"xyz".repeat(2000)}!`]) {
      expect(Array.from(o200k.encode(word))).toEqual(Array.from(reference.encode_ordinary(word)));
    }
  });

  it("handles a 100 kB word without quadratic blow-up", () => {
    // tiktoken itself is quadratic here (46 s for this word on the development machine); the heap keeps it O(n log n).
    const started = performance.now();
    expect(o200k.count("ab".repeat(50_000))).toBe(25_000);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
