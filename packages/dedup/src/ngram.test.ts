import { describe, expect, it } from "vitest";
import { NgramIndex, ngramWords } from "./ngram.js";

const evalText =
  "Which river flows through Lisbon before reaching the Atlantic Ocean, and what is the name of the long bridge that crosses it?";

describe("NgramIndex", () => {
  it("normalizes words: role tags, case, punctuation and width do not matter", () => {
    expect(ngramWords("<|user|>\nWhat's the TIME?<|assistant|>\nＮｏｏｎ.")).toEqual([
      "what",
      "s",
      "the",
      "time",
      "noon",
    ]);
  });

  it("finds the first shared n-gram and names the document it came from", () => {
    const index = new NgramIndex(13);
    index.add(evalText, { file: "eval.jsonl", line: 4 });
    const match = index.find(
      "Quiz: which RIVER flows through Lisbon before reaching the Atlantic ocean and what is the name of the bridge?",
    );
    expect(match).toEqual({
      source: { file: "eval.jsonl", line: 4 },
      ngram: "which river flows through lisbon before reaching the atlantic ocean and what is",
      start: 1,
    });
    expect(
      index.find("Which river flows through Porto before reaching the Atlantic Ocean, and what is it?"),
    ).toBeUndefined();
  });

  it("matches documents shorter than n words as whole normalised texts, and counts them", () => {
    const index = new NgramIndex(5);
    index.add("Seven times eight?", { file: "e", line: 1 });
    index.add("one two three four five six", { file: "e", line: 2 });
    expect(index.skipped).toBe(1);
    expect(index.documentCount).toBe(2);
    expect(index.size).toBe(2);
    // No n-grams: a text equal to it word for word (case, punctuation and spacing aside) matches; one containing it does not.
    expect(index.find("SEVEN  times eight!")).toMatchObject({
      source: { line: 1 },
      exact: true,
      ngram: "seven times eight",
    });
    expect(index.find("what is seven times eight")).toBeUndefined();
    expect(index.find("zero one two three four five")?.source.line).toBe(2);
  });

  it("visits every match in text order and stops when asked", () => {
    const index = new NgramIndex(3);
    index.add("alpha beta gamma delta", { file: "a", line: 1 });
    index.add("one two three", { file: "b", line: 7 });
    const seen: string[] = [];
    index.forEachMatch(
      "x alpha beta gamma delta y one two three",
      (m) => void seen.push(`${m.source.file}:${m.ngram}`),
    );
    expect(seen).toEqual(["a:alpha beta gamma", "a:beta gamma delta", "b:one two three"]);
    let calls = 0;
    index.forEachMatch("alpha beta gamma delta", () => ++calls > 5);
    expect(calls).toBe(1);
  });

  it("keeps all n-grams through table growth", () => {
    const index = new NgramIndex(2);
    const words = Array.from({ length: 5000 }, (_, i) => `w${i}`);
    index.add(words.join(" "), { file: "big", line: 1 });
    expect(index.size).toBe(4999);
    expect(index.find("w4998 w4999")?.start).toBe(0);
    expect(index.find("w4999 w4998")).toBeUndefined();
  });
});
