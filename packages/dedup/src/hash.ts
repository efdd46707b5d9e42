import { xxh3 } from "@node-rs/xxhash";

/**
 * A 128-bit hash as four little-endian 32-bit words. Functions that fill one reuse the caller's array, so hashing
 * allocates nothing per record beyond the library's BigInt.
 */
export type Hash128 = Uint32Array;

const halves = new BigUint64Array(2);
const words = new Uint32Array(halves.buffer);

/**
 * xxh3-128 of `text` (its UTF-8 bytes) into `out`. The library returns a BigInt; storing it into a BigUint64Array
 * truncates to the low 64 bits for free, which measured cheaper than masking with BigInt arithmetic.
 * @example const h = new Uint32Array(4); hash128("hello", h);
 */
export function hash128(text: string, out: Hash128 = new Uint32Array(4)): Hash128 {
  const h = xxh3.xxh128(text);
  halves[0] = h;
  halves[1] = h >> 64n;
  out[0] = words[0]!;
  out[1] = words[1]!;
  out[2] = words[2]!;
  out[3] = words[3]!;
  return out;
}

/**
 * A hash as 32 hex digits, most significant first (for logs and external indexes keyed by string).
 * @example hashHex(hash128("hello")); // "b5e9c1ad071b3e7fc779cfaa5e523818"
 */
export function hashHex(hash: Hash128): string {
  let out = "";
  for (let i = 3; i >= 0; i--) out += hash[i]!.toString(16).padStart(8, "0");
  return out;
}
