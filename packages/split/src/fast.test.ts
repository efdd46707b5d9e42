import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Envelope, jsonOf } from "@curate/core";
import { seededRandom } from "@curate/core/testing";
import { afterEach, describe, expect, it } from "vitest";
import { normalizeText } from "./hash.js";
import { NgramHashes, NgramIndex, ngramHashes } from "./ngram.js";
import { Spill } from "./spill.js";

// Pieces chosen to hit every branch: ASCII words and digits, upper case, punctuation, whitespace runs of every
// kind, accented letters composed and decomposed (NFC matters), CJK, Greek with case, an astral letter and an
// astral non-letter (emoji), a lone surrogate, and the ASCII neighbours of the letter and digit ranges.
const PIECES = [
  "alpha",
  "Beta",
  "GAMMA",
  "x1",
  "42",
  " ",
  "  ",
  "\n",
  "\n\n",
  "\t",
  "\u00a0",
  "\u3000",
  ", ",
  "!",
  "—",
  "café",
  "cafe\u0301",
  "ÉCOLE",
  "東京",
  "Ωμέγα",
  "𝒜bc",
  "😀",
  "\ud800",
  "İstanbul",
  "ß",
  "@",
  "[",
  "`",
  "{",
  "/",
  ":",
  "_",
  "Z",
  "z",
  "0",
  "9",
];

function randomText(random: () => number, maxPieces: number): string {
  const count = Math.floor(random() * maxPieces);
  let text = "";
  for (let i = 0; i < count; i++) text += PIECES[Math.floor(random() * PIECES.length)];
  return text;
}

/**
 * The definition the fast hasher must match, written the slow obvious way: words are runs of Unicode letters and
 * digits (a regex), lowercased character by character; each word gets two FNV-1a-style hashes; an n-gram is the
 * polynomial of its n word hashes, recomputed from scratch (no rolling), then mixed.
 */
function referenceNgrams(text: string, n: number): string[] {
  const words: [number, number][] = [];
  for (const match of text.matchAll(/[\p{L}\p{N}]+/gu)) {
    let a = 0x811c9dc5 | 0;
    let b = 0x9747b28c | 0;
    for (const char of match[0]) {
      const lower = char.toLowerCase();
      for (let k = 0; k < lower.length; k++) {
        const unit = lower.charCodeAt(k);
        a = Math.imul(a ^ unit, 0x01000193);
        b = Math.imul(b ^ unit, 0x01000193) ^ (b >>> 15);
      }
    }
    words.push([a, b]);
  }
  const mix = (h: number) => {
    let x = h;
    x ^= x >>> 16;
    x = Math.imul(x, 0x85ebca6b);
    x ^= x >>> 13;
    x = Math.imul(x, 0xc2b2ae35);
    x ^= x >>> 16;
    return x | 0;
  };
  const out: string[] = [];
  for (let end = n; end <= words.length; end++) {
    let ha = 0;
    let hb = 0;
    for (let w = end - n; w < end; w++) {
      ha = (Math.imul(ha, 0x01000193) + words[w]![0]) | 0;
      hb = (Math.imul(hb, 0x5bd1e995) + words[w]![1]) | 0;
    }
    out.push(`${mix(ha)}:${mix(hb ^ 0x27d4eb2f)}`);
  }
  return out;
}

function fastNgrams(text: string, n: number, out = new NgramHashes()): string[] {
  ngramHashes(text, n, out);
  return Array.from({ length: out.length }, (_, k) => `${out.hi[k]}:${out.lo[k]}`);
}

describe("ngramHashes", () => {
  it("equals the slow reference on 3,000 seeded texts (non-ASCII, whitespace runs, empty), reusing one buffer", () => {
    const random = seededRandom(7);
    const buffer = new NgramHashes();
    let ngrams = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const text = randomText(random, trial % 10 === 0 ? 400 : 40);
      const n = 1 + Math.floor(random() * 6);
      const expected = referenceNgrams(text, n);
      expect(fastNgrams(text, n, buffer)).toEqual(expected);
      ngrams += expected.length;
    }
    expect(ngrams).toBeGreaterThan(10_000); // the buffer grew past its first 512 entries on the long texts
    expect(fastNgrams("", 3)).toEqual([]);
    expect(fastNgrams("one two", 3)).toEqual([]);
  });

  it("gives the same n-grams for a text and its normalizeText form (the leakage check skips the whitespace pass)", () => {
    const random = seededRandom(11);
    for (let trial = 0; trial < 2000; trial++) {
      const raw = randomText(random, 60);
      const nfc = /[^\x00-\x7f]/.test(raw) ? raw.normalize("NFC") : raw;
      expect(fastNgrams(nfc, 3)).toEqual(fastNgrams(normalizeText(raw), 3));
    }
  });
});

describe("NgramIndex", () => {
  it("hands out the same documents, in the same order, as a plain Map of posting lists", () => {
    const random = seededRandom(3);
    const index = new NgramIndex(16); // small, so that it grows many times
    const reference = new Map<string, number[]>();
    const key = (hi: number, lo: number) => `${hi | 0}:${lo | 0}`;
    // 3,000 documents of 20 n-grams drawn from a small vocabulary: most n-grams are shared, some repeat in a doc.
    for (let doc = 0; doc < 3000; doc++) {
      const hashes = new NgramHashes();
      for (let g = 0; g < 20; g++) {
        const id = Math.floor(random() * 20_000);
        hashes.push(Math.imul(id, 0x9e3779b1), id);
      }
      index.addAll(hashes, doc);
      for (let k = 0; k < hashes.length; k++) {
        const docs = reference.get(key(hashes.hi[k]!, hashes.lo[k]!)) ?? [];
        if (docs.at(-1) !== doc) docs.push(doc);
        reference.set(key(hashes.hi[k]!, hashes.lo[k]!), docs);
      }
    }
    expect(index.size).toBe(reference.size);
    const taken = new Set<string>();
    for (let round = 0; round < 2000; round++) {
      const hashes = new NgramHashes();
      for (let g = 0; g < 30; g++) {
        const id = Math.floor(random() * 40_000); // half of these were never added
        hashes.push(Math.imul(id, 0x9e3779b1), id);
      }
      const seen: number[] = [];
      index.takeAll(hashes, (doc) => seen.push(doc));
      const expected: number[] = [];
      for (let k = 0; k < hashes.length; k++) {
        const k2 = key(hashes.hi[k]!, hashes.lo[k]!);
        if (taken.has(k2) || !reference.has(k2)) continue;
        taken.add(k2);
        expected.push(...reference.get(k2)!.slice().reverse()); // latest document first
      }
      expect(seen).toEqual(expected);
    }
    expect(index.bytes).toBeGreaterThan(0);
  });
});

describe("Spill", () => {
  const temps: string[] = [];
  afterEach(() => {
    for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const items: Envelope[] = [
    { data: { prompt: "héllo\twörld\n", completion: "東京 😀 \ud800" }, source: { file: "a.jsonl", line: 1 } },
    { data: { n: -0, big: 1e21, nested: [{ a: null }] }, source: { file: "b.jsonl", line: 7 }, meta: { bytes: 40 } },
    { data: { x: 1 }, source: { file: "a.jsonl", line: 2 }, meta: { split: "x", cluster: "c\t1" } },
    // A source with more than file and line is stored as JSON, and comes back whole.
    { data: { y: "\u2028" }, source: { file: "c\t.jsonl", line: 3, offset: 99 } as Envelope["source"] },
    { data: "a string record", source: { file: "a.jsonl", line: 9 }, meta: {} },
  ];

  const roundTrip = (spill: Spill) => {
    const many = Array.from({ length: 3000 }, (_, i) => items[i % items.length]!);
    many.forEach((item, i) => {
      spill.append(item, i % 2 === 0 ? `h${i}` : "");
    });
    const back = [...spill.records()];
    expect(back).toHaveLength(many.length);
    back.forEach((record, i) => {
      const item = JSON.parse(JSON.stringify(many[i])) as Envelope;
      expect(record).toEqual({
        index: i,
        data: item.data,
        source: item.source,
        meta: item.meta,
        json: jsonOf(item.data),
        note: i % 2 === 0 ? `h${i}` : "",
      });
    });
    const odd = [...spill.entries((i) => i % 2 === 1)];
    expect(odd.map(([i]) => i)).toEqual(many.map((_, i) => i).filter((i) => i % 2 === 1));
    expect(odd[0]![1]).toEqual(JSON.parse(JSON.stringify(many[1])));
    return back;
  };

  it("reads back every record as stored, from memory and from disk alike, and can be read twice", () => {
    const dir = mkdtempSync(join(tmpdir(), "split-spill-"));
    temps.push(dir);
    const inMemory = new Spill();
    const onDisk = new Spill({ memoryBytes: 10_000, dir });
    const a = roundTrip(inMemory);
    const b = roundTrip(onDisk);
    expect(inMemory.diskBytes).toBe(0);
    expect(onDisk.diskBytes).toBeGreaterThan(100_000);
    expect(b).toEqual(a);
    expect([...onDisk.records()]).toEqual(b); // a second pass over the file
    onDisk.dispose();
    onDisk.dispose();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("stores a line longer than its 4 MiB blocks", () => {
    const spill = new Spill();
    const long = { text: "ü".repeat(3_000_000) };
    spill.append({ data: { a: 1 }, source: { file: "f", line: 1 } });
    spill.append({ data: long, source: { file: "f", line: 2 } });
    spill.append({ data: { b: 2 }, source: { file: "f", line: 3 } });
    expect([...spill.records()].map((r) => r.data)).toEqual([{ a: 1 }, long, { b: 2 }]);
  });
});
