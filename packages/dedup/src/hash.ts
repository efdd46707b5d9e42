/**
 * A 128-bit hash as four little-endian 32-bit words. Functions that fill one reuse the caller's array, so hashing
 * allocates nothing per record.
 */
export type Hash128 = Uint32Array;

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
/** Word views of the last buffer hashed: exact dedup hashes out of one reused buffer, so this saves a view a key. */
let viewed: ArrayBufferLike | undefined;
let view: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/** The buffer's bytes as little-endian words, from `bytes`' start (a multiple of 4) for `count` words. */
function wordsOf(bytes: Uint8Array, count: number): Uint32Array {
  if (bytes.byteOffset % 4 !== 0) throw new RangeError("hashBytes(): `bytes` must start at a multiple of 4");
  if (!LITTLE_ENDIAN) {
    // Big-endian hosts: the algorithm reads little-endian words.
    const words = new Uint32Array(count);
    for (let w = 0; w < count; w++) {
      const at = w * 4;
      words[w] = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
    }
    return words;
  }
  if (bytes.byteOffset !== 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, count);
  if (viewed !== bytes.buffer) {
    viewed = bytes.buffer;
    view = new Uint32Array(bytes.buffer, 0, bytes.buffer.byteLength >>> 2);
  }
  return view;
}

/**
 * MurmurHash3 x86_128 (seed 0) of `bytes[0..length)` into `out` as h1..h4 (so `out`'s bytes, little-endian, are
 * the reference's 16-byte digest). `bytes` must start at a multiple of 4 in its buffer (it is read in words).
 *
 * Hand-written rather than `@node-rs/xxhash`'s xxh3-128: exact dedup builds a record's key bytes in a buffer
 * itself (see `keyHasher`), and this hashes them in place, allocating nothing; the native hash must be given a
 * string (built, normalized, then UTF-8-encoded across the N-API boundary) and returns a BigInt. Measured (CPU
 * time, the 100k benchmark corpus's normalized keys, ~450 bytes each): `xxh3.xxh128(key)` with its BigInt split
 * 0.92 µs a key; this 0.27 µs on bytes just written (as exact dedup hashes them), 0.66 µs on bytes not in cache.
 * @example const h = new Uint32Array(4); hashBytes(new TextEncoder().encode("hi"), 2, h);
 */
export function hashBytes(bytes: Uint8Array, length: number, out: Hash128 = new Uint32Array(4)): Hash128 {
  murmur(bytes, length, out, false);
  return out;
}

/**
 * `hashBytes` that first makes sure the bytes are whitespace-folded text, checking four bytes at a time in the
 * same pass: returns false, leaving `out` alone, if they may not be (a byte below 0x20, two spaces in a row, or a
 * leading or trailing space: see `KeyBytes`). Never returns true for bytes that are not folded; may return false
 * for some that are (other control characters). Fused into the hash loop: a separate pass over the bytes measured
 * 0.15–0.4 µs a record, the check inside the loop ~0.14 µs (the hash alone ~0.27 µs on ~440 bytes).
 * @example const h = new Uint32Array(4); hashFolded(new TextEncoder().encode("a  b"), 4, h); // false
 */
export function hashFolded(bytes: Uint8Array, length: number, out: Hash128): boolean {
  return murmur(bytes, length, out, true);
}

function murmur(bytes: Uint8Array, length: number, out: Hash128, folded: boolean): boolean {
  const blocks = length >>> 4;
  const words = wordsOf(bytes, blocks * 4);
  if (folded && length !== 0 && (bytes[0] === 32 || bytes[length - 1] === 32)) return false;
  let h1 = 0;
  let h2 = 0;
  let h3 = 0;
  let h4 = 0;
  let lastSpace = 0;
  const end = blocks * 4;
  for (let w = 0; w < end; w += 4) {
    // `| 0`: int32, not uint32, so that V8 keeps the arithmetic below in 32-bit registers.
    let k1 = words[w]! | 0;
    let k2 = words[w + 1]! | 0;
    let k3 = words[w + 2]! | 0;
    let k4 = words[w + 3]! | 0;
    if (folded) {
      // A byte below 0x20 in any of the four words (exact as an "any" test, whatever the other bytes).
      if (
        (((k1 - 0x20202020) & ~k1) |
          ((k2 - 0x20202020) & ~k2) |
          ((k3 - 0x20202020) & ~k3) |
          ((k4 - 0x20202020) & ~k4)) &
        0x80808080
      )
        return false;
      // 0x80 in each byte that is a space (exact per byte), then two in a row, within and across words.
      let z = k1 ^ 0x20202020;
      const s1 = ~(((z & 0x7f7f7f7f) + 0x7f7f7f7f) | z | 0x7f7f7f7f);
      z = k2 ^ 0x20202020;
      const s2 = ~(((z & 0x7f7f7f7f) + 0x7f7f7f7f) | z | 0x7f7f7f7f);
      z = k3 ^ 0x20202020;
      const s3 = ~(((z & 0x7f7f7f7f) + 0x7f7f7f7f) | z | 0x7f7f7f7f);
      z = k4 ^ 0x20202020;
      const s4 = ~(((z & 0x7f7f7f7f) + 0x7f7f7f7f) | z | 0x7f7f7f7f);
      if (
        ((s1 & (s1 >>> 8)) | (s2 & (s2 >>> 8)) | (s3 & (s3 >>> 8)) | (s4 & (s4 >>> 8))) !== 0 ||
        ((lastSpace & s1) | ((s1 >>> 24) & s2) | ((s2 >>> 24) & s3) | ((s3 >>> 24) & s4)) & 0x80
      ) {
        return false;
      }
      lastSpace = s4 >>> 24;
    }

    k1 = Math.imul(k1, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, C2);
    h1 = (h1 << 19) | (h1 >>> 13);
    h1 = (h1 + h2) | 0;
    h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;

    k2 = Math.imul(k2, C2);
    k2 = (k2 << 16) | (k2 >>> 16);
    h2 ^= Math.imul(k2, C3);
    h2 = (h2 << 17) | (h2 >>> 15);
    h2 = (h2 + h3) | 0;
    h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;

    k3 = Math.imul(k3, C3);
    k3 = (k3 << 17) | (k3 >>> 15);
    h3 ^= Math.imul(k3, C4);
    h3 = (h3 << 15) | (h3 >>> 17);
    h3 = (h3 + h4) | 0;
    h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;

    k4 = Math.imul(k4, C4);
    k4 = (k4 << 18) | (k4 >>> 14);
    h4 ^= Math.imul(k4, C1);
    h4 = (h4 << 13) | (h4 >>> 19);
    h4 = (h4 + h1) | 0;
    h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
  }

  // The tail: the last 0–15 bytes, little-endian, in up to four words.
  const tail = blocks * 16;
  const rest = length & 15;
  let k1 = 0;
  let k2 = 0;
  let k3 = 0;
  let k4 = 0;
  let previous = tail === 0 ? 0 : bytes[tail - 1]!;
  for (let j = 0; j < rest; j++) {
    const byte = bytes[tail + j]!;
    if (folded && (byte < 32 || (byte === 32 && previous === 32))) return false;
    previous = byte;
    if (j >= 12) k4 |= byte << ((j - 12) * 8);
    else if (j >= 8) k3 |= byte << ((j - 8) * 8);
    else if (j >= 4) k2 |= byte << ((j - 4) * 8);
    else k1 |= byte << (j * 8);
  }
  if (rest > 12) {
    k4 = Math.imul(k4, C4);
    k4 = (k4 << 18) | (k4 >>> 14);
    h4 ^= Math.imul(k4, C1);
  }
  if (rest > 8) {
    k3 = Math.imul(k3, C3);
    k3 = (k3 << 17) | (k3 >>> 15);
    h3 ^= Math.imul(k3, C4);
  }
  if (rest > 4) {
    k2 = Math.imul(k2, C2);
    k2 = (k2 << 16) | (k2 >>> 16);
    h2 ^= Math.imul(k2, C3);
  }
  if (rest > 0) {
    k1 = Math.imul(k1, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, C2);
  }

  h1 ^= length;
  h2 ^= length;
  h3 ^= length;
  h4 ^= length;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  out[0] = h1;
  out[1] = h2 + h1;
  out[2] = h3 + h1;
  out[3] = h4 + h1;
  return true;
}

/**
 * Writes `text` as WTF-8 (UTF-8 that also encodes a lone surrogate, as the 3 bytes of its code point) into
 * `bytes` from `at`, which must have room for 3 bytes a code unit; returns the end. Unlike UTF-8 encoders (`Buffer`,
 * `TextEncoder`), which turn every lone surrogate into U+FFFD, it is one-to-one: two different strings never get
 * the same bytes. `writeText` uses it only for text with lone surrogates.
 * @example const bytes = new Uint8Array(8); writeWtf8("é", bytes, 0); // 2: bytes 0xc3 0xa9
 */
export function writeWtf8(text: string, bytes: Uint8Array, at: number): number {
  let n = at;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) bytes[n++] = c;
    else if (c < 0x800) {
      bytes[n++] = 0xc0 | (c >>> 6);
      bytes[n++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
          i++;
          bytes[n++] = 0xf0 | (c >>> 18);
          bytes[n++] = 0x80 | ((c >>> 12) & 63);
          bytes[n++] = 0x80 | ((c >>> 6) & 63);
          bytes[n++] = 0x80 | (c & 63);
          continue;
        }
      }
      bytes[n++] = 0xe0 | (c >>> 12);
      bytes[n++] = 0x80 | ((c >>> 6) & 63);
      bytes[n++] = 0x80 | (c & 63);
    }
  }
  return n;
}

let scratch = Buffer.from(new ArrayBuffer(4096));

/**
 * The 128-bit hash of `text` into `out`: MurmurHash3 x86_128 of its UTF-8 bytes (WTF-8 for lone surrogates, see
 * `writeWtf8`). This is the hash exact dedup gives a key: `keyHasher(key, steps)(record)` equals
 * `hash128(keyFunction(key, steps)(record))`.
 * @example const h = new Uint32Array(4); hash128("hello", h);
 */
export function hash128(text: string, out: Hash128 = new Uint32Array(4)): Hash128 {
  if (scratch.length < text.length * 3) {
    scratch = Buffer.from(new ArrayBuffer(Math.max(text.length * 3, scratch.length * 2)));
  }
  return hashBytes(scratch, writeText(text, scratch, 0), out);
}

/**
 * Writes `text` as `hash128` hashes it (UTF-8, WTF-8 for lone surrogates) into `bytes` from `at`, which must have
 * room for 3 bytes a code unit; returns the end. Native `Buffer#write` (~1 ns a character here; the JS encoder ~4)
 * where the text is well-formed, since it writes U+FFFD for a lone surrogate.
 * @example const bytes = Buffer.alloc(8); writeText("é", bytes, 0); // 2
 */
export function writeText(text: string, bytes: Buffer, at: number): number {
  return (text as string & { isWellFormed(): boolean }).isWellFormed()
    ? at + bytes.write(text, at)
    : writeWtf8(text, bytes, at);
}

/**
 * A hash as 32 hex digits, most significant first (for logs and external indexes keyed by string).
 * @example hashHex(hash128("hello")); // "9adb31b69adb31b6db91def72b2444a0"
 */
export function hashHex(hash: Hash128): string {
  let out = "";
  for (let i = 3; i >= 0; i--) out += hash[i]!.toString(16).padStart(8, "0");
  return out;
}
