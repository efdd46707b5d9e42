import { describe, expect, it } from "vitest";
import { MemoryDedupIndex } from "./dedup-index.js";
import { hash128, hashHex } from "./hash.js";
import { random } from "./testing.js";

describe("hash128", () => {
  it("is MurmurHash3 x86_128 of the UTF-8 bytes, most significant word first in hex", () => {
    // hash.test.ts checks it against a port of the reference C; short keys give equal h3 and h4 there too.
    expect(hashHex(hash128("hello"))).toBe("9adb31b69adb31b6db91def72b2444a0");
    expect(hashHex(hash128(""))).not.toBe(hashHex(hash128(" ")));
  });
});

describe("MemoryDedupIndex", () => {
  it("returns the first source for a hash and records new ones", () => {
    const index = new MemoryDedupIndex();
    expect(index.firstSeen(hash128("a"), { file: "x.jsonl", line: 1 })).toBeUndefined();
    expect(index.firstSeen(hash128("b"), { file: "y.jsonl", line: 2 })).toBeUndefined();
    expect(index.firstSeen(hash128("a"), { file: "y.jsonl", line: 9 })).toEqual({ file: "x.jsonl", line: 1 });
    expect(index.firstSeen(hash128("b"), { file: "z.jsonl", line: 3 })).toEqual({ file: "y.jsonl", line: 2 });
    expect(index.size).toBe(2);
  });

  it("keeps every entry and its source through many growths, files interleaved", () => {
    const index = new MemoryDedupIndex();
    const n = 50_000;
    const h = new Uint32Array(4);
    const files = ["a.jsonl", "b.jsonl", "c.jsonl"];
    let firsts = 0;
    for (let i = 0; i < n; i++) {
      if (
        index.firstSeen(hash128(`record ${i}`, h), { file: files[Math.floor(i / 7) % 3]!, line: i + 1 }) === undefined
      )
        firsts++;
    }
    expect(firsts).toBe(n);
    for (let i = 0; i < n; i += 997) {
      expect(index.firstSeen(hash128(`record ${i}`, h), { file: "late.jsonl", line: 1 })).toEqual({
        file: files[Math.floor(i / 7) % 3],
        line: i + 1,
      });
    }
    expect(index.size).toBe(n);
  });

  it("tells apart hashes that share the probe position and tag bits", () => {
    const index = new MemoryDedupIndex();
    // Same low words (slot and tag), different high words: only the full 128-bit comparison separates them.
    expect(index.firstSeen(Uint32Array.of(7, 9, 1, 1), { file: "f", line: 1 })).toBeUndefined();
    expect(index.firstSeen(Uint32Array.of(7, 9, 1, 2), { file: "f", line: 2 })).toBeUndefined();
    expect(index.firstSeen(Uint32Array.of(7, 9, 2, 1), { file: "f", line: 3 })).toBeUndefined();
    expect(index.firstSeen(Uint32Array.of(7, 9, 1, 2), { file: "f", line: 4 })).toEqual({ file: "f", line: 2 });
  });

  it("holds under 48 bytes per distinct record (hash and identity)", () => {
    const rand = random(1);
    for (const n of [100_000, 300_000]) {
      const index = new MemoryDedupIndex();
      const h = new Uint32Array(4);
      for (let i = 0; i < n; i++) {
        for (let w = 0; w < 4; w++) h[w] = Math.floor(rand() * 2 ** 32);
        index.firstSeen(h, { file: "data.jsonl", line: i + 1 });
      }
      expect(index.size).toBe(n);
      expect(index.bytes / n).toBeLessThan(48);
    }
  });
});
