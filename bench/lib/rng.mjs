/**
 * A small seeded PRNG (sfc32, seeded through splitmix32). Hand-written rather than a dependency because the corpus
 * must be byte-identical for a seed on every machine and Node version, and Math.random cannot be seeded.
 * @example const rng = createRng(42); rng.int(10); rng.pick(["a", "b"]);
 */
export function createRng(seed) {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // Warm up: the first outputs of sfc32 are correlated with the seed words.
  for (let i = 0; i < 12; i++) next();
  const rng = {
    /** A float in [0, 1). */
    float: () => next() / 4294967296,
    /** An integer in [0, n). */
    int: (n) => Math.floor((next() / 4294967296) * n),
    /** An integer in [lo, hi] inclusive. */
    range: (lo, hi) => lo + Math.floor((next() / 4294967296) * (hi - lo + 1)),
    pick: (array) => array[Math.floor((next() / 4294967296) * array.length)],
    chance: (p) => next() / 4294967296 < p,
  };
  return rng;
}

/**
 * A 53-bit string hash (cyrb53): cheap enough to check 1M generated records for accidental collisions.
 * @example hash53("hello") !== hash53("hellp");
 */
export function hash53(text, seed = 0) {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
