import { ngramText, ngramWords } from "@curate/core";
import { trainingText } from "@curate/formats";
import { describe, expect, it } from "vitest";
import { ngramHashes } from "./ngram.js";

const hashesOf = (text: string, n: number) => {
  const h = ngramHashes(ngramText(text), n);
  return Array.from({ length: h.length }, (_, k) => `${h.hi[k]}:${h.lo[k]}`);
};

describe("leakage n-grams use the text decontamination uses (ngramText in @curate/core)", () => {
  // The same words as a chat (role tags between turns, full-width letters) and as alpaca.
  const chat = {
    messages: [
      { role: "user", content: "Ｗｒｉｔｅ a haiku about the first snow falling on a quiet mountain village" },
      { role: "assistant", content: "Soft flakes on rooftops, the village holds its breath, white hush on the pines." },
    ],
  };
  const alpaca = {
    instruction: "Write a haiku about the first snow falling on a quiet mountain village",
    output: "Soft flakes on rooftops, the village holds its breath, white hush on the pines.",
  };

  it("role words and compatibility forms never make two texts with the same words differ", () => {
    const a = trainingText(chat);
    const b = trainingText(alpaca);
    expect(ngramWords(a)).toEqual(ngramWords(b));
    expect(ngramWords(a)).not.toContain("user");
    // Every 5-gram split hashes (spanning the turn boundary too) is the same for both.
    expect(hashesOf(a, 5)).toEqual(hashesOf(b, 5));
    expect(hashesOf(a, 5)).toHaveLength(ngramWords(a).length - 4);
  });
});
