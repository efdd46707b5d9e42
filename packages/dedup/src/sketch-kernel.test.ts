import { describe, expect, it } from "vitest";
import {
  charText,
  createSketcher,
  jaccardSorted,
  shingleHashes,
  signatureSimilarity,
  words,
} from "../src/sketch-kernel.mjs";
import { random, referenceShingles } from "./testing.js";

const params = { kind: "word", n: 5, numPerm: 128, bands: 16, rows: 8, seed: 1, payload: "shingles" } as const;

describe("sketch kernel", () => {
  it("splits words like the docs say: NFKC, lowercase, letters and digits only", () => {
    expect(words("Ｈｅｌｌｏ, WORLD! It's 42°C.")).toEqual(["hello", "world", "it", "s", "42", "c"]);
    expect(charText("  Tab\there\n\nand  THERE ")).toBe("tab here and there");
  });

  it("hashes one shingle per word window, like the string reference, and dedupes repeats", () => {
    const text = "The cat sat on the mat. The cat sat on the mat again, and the dog watched the cat sat on the mat.";
    for (const [kind, n] of [
      ["word", 5],
      ["word", 2],
      ["char", 5],
      ["char", 3],
    ] as const) {
      const hashes = shingleHashes(text, kind, n);
      expect(hashes.length).toBe(referenceShingles(text, kind, n).size);
      expect([...hashes]).toEqual([...hashes].sort((a, b) => a - b));
    }
  });

  it("treats a text shorter than n as one shingle, and empty text as none", () => {
    expect(shingleHashes("just three words", "word", 5).length).toBe(1);
    expect(shingleHashes("  ...  ", "word", 5).length).toBe(0);
    expect(shingleHashes("", "char", 5).length).toBe(0);
    expect(shingleHashes("ab", "char", 5).length).toBe(1);
  });

  it("is order-sensitive: the same words in another order are other shingles", () => {
    expect(jaccardSorted(shingleHashes("a b c d e f", "word", 3), shingleHashes("f e d c b a", "word", 3))).toBe(0);
  });

  it("computes exact Jaccard on sorted sets", () => {
    expect(jaccardSorted(Uint32Array.of(1, 2, 3), Uint32Array.of(2, 3, 4))).toBe(0.5);
    expect(jaccardSorted(Uint32Array.of(), Uint32Array.of())).toBe(1);
    expect(jaccardSorted(Uint32Array.of(1), Uint32Array.of())).toBe(0);
  });

  it("gives equal sketches for equal texts and unbiased MinHash estimates", () => {
    const rand = random(3);
    const sketcher = createSketcher({ ...params, payload: "signature" });
    const vocabulary = Array.from({ length: 5000 }, (_, i) => `w${i}`);
    let squaredError = 0;
    const trials = 60;
    for (let t = 0; t < trials; t++) {
      const base = Array.from({ length: 120 }, () => vocabulary[Math.floor(rand() * vocabulary.length)]!);
      const copy = [...base];
      for (let e = 0; e < 6; e++) copy[Math.floor(rand() * copy.length)] = `x${t}-${e}`;
      const [a, b, again] = [base.join(" "), copy.join(" "), base.join(" ")];
      const batch = sketcher.sketchBatch([a, b, again]);
      const sig = (i: number) => batch.payload.subarray(batch.offsets[i]!, batch.offsets[i + 1]!);
      expect(signatureSimilarity(sig(0), sig(2))).toBe(1);
      expect([...batch.bands.subarray(0, 16)]).toEqual([...batch.bands.subarray(32, 48)]);
      const truth = jaccardSorted(shingleHashes(a, "word", 5), shingleHashes(b, "word", 5));
      squaredError += (signatureSimilarity(sig(0), sig(1)) - truth) ** 2;
    }
    // Standard error of a 128-permutation estimate near J ≈ 0.6–0.8 is ≈ 0.04; allow some slack.
    expect(Math.sqrt(squaredError / trials)).toBeLessThan(0.06);
  });

  it("reports no band keys and size 0 for texts without words", () => {
    const batch = createSketcher(params).sketchBatch(["", "hello there"]);
    expect([...batch.sizes]).toEqual([0, 1]);
    expect(batch.offsets[1]).toBe(0);
  });
});
