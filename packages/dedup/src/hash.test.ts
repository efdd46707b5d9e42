import { describe, expect, it } from "vitest";
import { hash128, hashBytes, hashHex, writeText, writeWtf8 } from "./hash.js";
import { random } from "./testing.js";

/**
 * MurmurHash3_x86_128 over bytes, ported line by line from the reference C (smhasher's MurmurHash3.cpp), written
 * independently of `hashUnits` (byte-wise reads, any length, any seed) so that the two check each other.
 */
function referenceMurmur(data: Uint8Array, seed: number): Uint32Array {
  const c1 = 0x239b961b;
  const c2 = 0xab0e9789;
  const c3 = 0x38b34ae5;
  const c4 = 0xa1e38b93;
  const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
  const mul = Math.imul;
  const fmix = (h: number) => {
    h ^= h >>> 16;
    h = mul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = mul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  };
  const word = (at: number) => data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24);
  let [h1, h2, h3, h4] = [seed, seed, seed, seed];
  const nblocks = Math.floor(data.length / 16);
  for (let b = 0; b < nblocks; b++) {
    let k1 = word(b * 16);
    let k2 = word(b * 16 + 4);
    let k3 = word(b * 16 + 8);
    let k4 = word(b * 16 + 12);
    k1 = mul(rotl(mul(k1, c1), 15), c2);
    h1 ^= k1;
    h1 = (mul((rotl(h1, 19) + h2) | 0, 5) + 0x561ccd1b) | 0;
    k2 = mul(rotl(mul(k2, c2), 16), c3);
    h2 ^= k2;
    h2 = (mul((rotl(h2, 17) + h3) | 0, 5) + 0x0bcaa747) | 0;
    k3 = mul(rotl(mul(k3, c3), 17), c4);
    h3 ^= k3;
    h3 = (mul((rotl(h3, 15) + h4) | 0, 5) + 0x96cd1c35) | 0;
    k4 = mul(rotl(mul(k4, c4), 18), c1);
    h4 ^= k4;
    h4 = (mul((rotl(h4, 13) + h1) | 0, 5) + 0x32ac3b17) | 0;
  }
  const tail = nblocks * 16;
  const rest = data.length & 15;
  let k1 = 0;
  let k2 = 0;
  let k3 = 0;
  let k4 = 0;
  // The reference's fall-through switch, one case per tail byte.
  for (let j = rest - 1; j >= 0; j--) {
    const byte = data[tail + j]!;
    if (j >= 12) k4 ^= byte << ((j - 12) * 8);
    else if (j >= 8) k3 ^= byte << ((j - 8) * 8);
    else if (j >= 4) k2 ^= byte << ((j - 4) * 8);
    else k1 ^= byte << (j * 8);
  }
  if (rest > 12) h4 ^= mul(rotl(mul(k4, c4), 18), c1);
  if (rest > 8) h3 ^= mul(rotl(mul(k3, c3), 17), c4);
  if (rest > 4) h2 ^= mul(rotl(mul(k2, c2), 16), c3);
  if (rest > 0) h1 ^= mul(rotl(mul(k1, c1), 15), c2);
  h1 ^= data.length;
  h2 ^= data.length;
  h3 ^= data.length;
  h4 ^= data.length;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  return Uint32Array.of(h1, h2 + h1, h3 + h1, h4 + h1);
}

/** WTF-8 by code point (`for…of` yields a lone surrogate on its own), written apart from `writeWtf8`. */
function referenceWtf8(text: string): Uint8Array {
  const out: number[] = [];
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return Uint8Array.from(out);
}

/** Strings of every kind the key path meets: ASCII, whitespace runs, accents, CJK, emoji, lone surrogates, NUL. */
function randomText(next: () => number): string {
  const alphabet = [
    "a",
    "Z",
    " ",
    "  ",
    "\t",
    "\n",
    "é",
    "ß",
    "中",
    "😀",
    "\ud800",
    "\udfff",
    "\u0000",
    "\u3000",
    "Ｔ",
    "7",
  ];
  const length = Math.floor(next() * 40);
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)];
  return out;
}

describe("hashBytes / hash128 (MurmurHash3 x86_128 of UTF-8)", () => {
  it("the byte-wise reference passes smhasher's verification value for MurmurHash3_x86_128 (0xB3ECE62A)", () => {
    // smhasher's VerificationTest: hash keys {}, {0}, {0,1}, … {0..254} with seed 256 − n, hash the 256 digests.
    const digests = new Uint8Array(256 * 16);
    for (let n = 0; n < 256; n++) {
      const key = Uint8Array.from({ length: n }, (_, i) => i);
      digests.set(new Uint8Array(referenceMurmur(key, 256 - n).buffer), n * 16);
    }
    expect(referenceMurmur(digests, 0)[0]).toBe(0xb3ece62a);
  });

  it("hashBytes equals the reference for every length from 0 to 300", () => {
    const bytes = new Uint8Array(300);
    const next = random(3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
    for (let n = 0; n <= bytes.length; n++) {
      expect(hashHex(hashBytes(bytes, n)), String(n)).toBe(hashHex(referenceMurmur(bytes.subarray(0, n), 0)));
    }
    expect(() => hashBytes(bytes.subarray(1), 3)).toThrow(/multiple of 4/);
  });

  it("hash128 hashes UTF-8 (WTF-8 for lone surrogates) of random strings of every kind", () => {
    const next = random(7);
    const scratch = new Uint8Array(200);
    for (let n = 0; n < 3000; n++) {
      const text = randomText(next);
      const wtf8 = referenceWtf8(text);
      expect(Array.from(scratch.subarray(0, writeWtf8(text, scratch, 0)))).toEqual(Array.from(wtf8));
      if (!/[\ud800-\udfff]/.test(text)) expect(Array.from(wtf8)).toEqual(Array.from(Buffer.from(text, "utf8")));
      const native = Buffer.alloc(200);
      expect(Array.from(native.subarray(0, writeText(text, native, 0)))).toEqual(Array.from(wtf8));
      expect(hashHex(hash128(text))).toBe(hashHex(referenceMurmur(wtf8, 0)));
    }
    // One-to-one where UTF-8 encoders are not: a lone surrogate is not U+FFFD.
    expect(hashHex(hash128("\ud800"))).not.toBe(hashHex(hash128("\ufffd")));
  });

  it("writes into the array it is given, low word first", () => {
    const out = new Uint32Array(4);
    expect(hash128("hello", out)).toBe(out);
    expect(hashHex(out)).toBe(hashHex(referenceMurmur(new TextEncoder().encode("hello"), 0)));
    expect(hashHex(hash128(""))).toBe("00000000000000000000000000000000");
    expect(hashHex(hash128(" "))).not.toBe(hashHex(hash128("")));
    // A long string grows the scratch buffer; the hash must not depend on what was there before.
    const long = "x".repeat(5000);
    expect(hashHex(hash128(long))).toBe(hashHex(referenceMurmur(new TextEncoder().encode(long), 0)));
    expect(hashHex(hash128("hello"))).toBe(hashHex(out));
  });
});
