import { describe, expect, it } from "vitest";
import {
  charText,
  createSketcher,
  fmix32,
  jaccardSorted,
  shingleHashes,
  shingleSet,
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

/** Shingle hashes the plain way (a string per word, then per window), as the kernel computed them before it scanned
 * code units directly: the fast path must give exactly these values. */
function referenceHashes(text: string, kind: "word" | "char", n: number): number[] {
  const fnv = (s: string) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return fmix32(h);
  };
  let out: number[];
  if (kind === "char") {
    const t = charText(text);
    if (t.length === 0) return [];
    out = t.length <= n ? [fnv(t)] : Array.from({ length: t.length - n + 1 }, (_, i) => fnv(t.slice(i, i + n)));
  } else {
    const list = words(text).map(fnv);
    if (list.length === 0) return [];
    const width = Math.min(n, list.length);
    out = [];
    for (let i = 0; i + width <= list.length; i++) {
      let h = Math.imul(width, 0x9e3779b1);
      for (let j = 0; j < width; j++) {
        h = Math.imul(h ^ list[i + j]!, 0x85ebca6b);
        h = (h << 13) | (h >>> 19);
      }
      out.push(fmix32(h));
    }
  }
  return [...new Set(out)].sort((a, b) => a - b);
}

/** Pieces that stress the word scanner: case, digits, punctuation, whitespace runs, NFKC and case mappings that change
 * length, final sigma, combining marks, other scripts' digits, astral letters and symbols, lone surrogates. */
const PIECES = [
  "The",
  "ZigZag",
  "A@Z[a`z{0/9:", // the neighbours of every ASCII range the scanner tests
  "cat",
  "SAT",
  "on",
  "mat",
  "42",
  "3.14",
  "don't",
  "e-mail",
  "  ",
  "\n\n",
  "\t",
  " \u00a0 ",
  "…",
  "Ｈｅｌｌｏ",
  "ﬁnal",
  "İstanbul",
  "ΣΟΦΙΑ",
  "όσος",
  "Straße",
  "e\u0301",
  "café",
  "٣٤",
  "日本語",
  "𝐀𝐁𝐂",
  "😀",
  "a😀b",
  "\ud800",
  "x\udc00y",
  "<|user|>",
  "²",
  "Ⅻ",
  "",
];

function randomText(rand: () => number): string {
  const length = Math.floor(rand() * 30);
  let text = "";
  for (let i = 0; i < length; i++) {
    text += PIECES[Math.floor(rand() * PIECES.length)]!;
    if (rand() < 0.7) text += " ";
  }
  return text;
}

describe("sketch kernel fast paths", () => {
  it("scans words and hashes shingles exactly like the string reference, on 3,000 seeded texts", () => {
    const rand = random(11);
    for (let t = 0; t < 3000; t++) {
      const text = randomText(rand);
      for (const [kind, n] of [
        ["word", 5],
        ["word", 1],
        ["word", 3],
        ["char", 4],
      ] as const) {
        expect([...shingleHashes(text, kind, n)], `${kind}:${n} ${JSON.stringify(text)}`).toEqual(
          referenceHashes(text, kind, n),
        );
      }
    }
    expect(shingleHashes("", "word", 5).length).toBe(0);
    expect(shingleHashes(" \n\t ... ", "word", 5).length).toBe(0);
  });

  it("gives the same band keys and payloads with WebAssembly SIMD as with the JavaScript loop", () => {
    const rand = random(5);
    const texts = Array.from({ length: 400 }, () => randomText(rand));
    // A text long enough to make the WebAssembly memory grow while a batch is being sketched.
    texts.push(Array.from({ length: 60_000 }, (_, i) => `w${i % 9973}`).join(" "));
    texts.push("", "one", "  ");
    for (const numPerm of [2, 7, 16, 128, 200]) {
      for (const payload of ["shingles", "signature"] as const) {
        const p = {
          ...params,
          numPerm,
          bands: Math.min(numPerm, 16),
          rows: Math.max(1, Math.floor(numPerm / 16)),
          payload,
        };
        const simd = createSketcher(p).sketchBatch(texts);
        const js = createSketcher(p, { simd: false }).sketchBatch(texts);
        expect([...simd.bands]).toEqual([...js.bands]);
        expect([...simd.sizes]).toEqual([...js.sizes]);
        expect([...simd.offsets]).toEqual([...js.offsets]);
        expect([...simd.payload]).toEqual([...js.payload]);
      }
    }
  });

  it("sends shingles in text order; their set is shingleHashes", () => {
    const rand = random(8);
    const texts = Array.from({ length: 200 }, () => randomText(rand));
    texts.push("a b c d e f a b c d e f"); // 8 shingles, 6 distinct: "a b c d e" and "b c d e f" repeat
    const batch = createSketcher(params).sketchBatch(texts);
    texts.forEach((text, i) => {
      const raw = batch.payload.subarray(batch.offsets[i]!, batch.offsets[i + 1]!);
      expect(raw.length).toBe(batch.sizes[i]);
      expect([...shingleSet(raw)]).toEqual([...shingleHashes(text, "word", 5)]);
    });
    const last = batch.sizes[texts.length - 1]!;
    expect(last).toBe(8);
    expect(shingleSet(batch.payload.subarray(batch.offsets[texts.length - 1]!)).length).toBe(6);
  });
});
