import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { describe, expect, it } from "vitest";
import { corpus, fixtureTexts, randomTexts } from "../golden/texts.js";
import { HfEngine, unsupportedReason } from "./hf-engine.js";

const golden = JSON.parse(readFileSync(new URL("../golden/lenml-ids.json", import.meta.url), "utf8")) as Record<
  string,
  (number[] | null)[]
>;
const require = createRequire(import.meta.url);

function load(name: string) {
  const dir = dirname(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`));
  const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
  const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  return { json, config };
}

describe.each(["llama3", "qwen3"])("fast Hugging Face engine, %s", (name) => {
  // Each tokenizer.json is loaded once per file (9-11 MB, seconds to build).
  const { json, config } = load(name);
  const fast = new HfEngine(json);
  const reference = new Tokenizer(json, config);
  const ids = (text: string) => Array.from(reference.encode(text, { add_special_tokens: false }).ids);

  it("is supported by the fast engine", () => {
    expect(unsupportedReason(json)).toBeUndefined();
  });

  it("matches the ids saved from @lenml/tokenizers, an independent implementation", () => {
    const want = golden[name]!;
    expect(want.length).toBe(corpus.length);
    let compared = 0;
    corpus.forEach((text, i) => {
      if (want[i] === null) return; // lone surrogates: not representable for the Rust reference
      expect(Array.from(fast.encode(text)), JSON.stringify(text).slice(0, 60)).toEqual(want[i]);
      compared++;
    });
    expect(compared).toBeGreaterThan(45);
  });

  it("matches @huggingface/tokenizers on the corpus, random strings and the fixtures", () => {
    const mismatches: string[] = [];
    for (const text of [...corpus, ...randomTexts(600, 11), ...fixtureTexts()]) {
      if (/[\ud800-\udfff]/u.test(text)) continue;
      if (Array.from(fast.encode(text)).join() !== ids(text).join()) mismatches.push(JSON.stringify(text).slice(0, 80));
    }
    expect(mismatches).toEqual([]);
  });

  it("recognises added tokens in text and counts what it encodes", () => {
    const text =
      name === "llama3" ? "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>" : "<|im_start|>user\nhi<|im_end|>";
    const encoded = Array.from(fast.encode(text));
    expect(encoded).toEqual(ids(text));
    expect(fast.count(text)).toBe(encoded.length);
    expect(encoded.length).toBeLessThan(8);
  });

  it("decodes ids back to the text", () => {
    for (const text of corpus.filter((t) => !/[\ud800-\udfff]/u.test(t))) {
      const normalized = name === "qwen3" ? text.normalize("NFC") : text;
      expect(fast.decode(fast.encode(text))).toBe(normalized);
    }
  });
});
