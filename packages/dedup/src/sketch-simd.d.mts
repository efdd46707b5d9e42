/** Types of sketch-simd.mjs (the WebAssembly SIMD signature loop). */

export interface SimdSigner {
  /** The signature of the last `sign` call: int32 with the sign bit flipped, as the JavaScript loop writes it. */
  readonly signature: Int32Array;
  /** A view into WebAssembly memory of at least `count` values, valid until the next call. */
  shingles(count: number): Uint32Array;
  sign(count: number): void;
}

export function createSimdSigner(mulA: Int32Array, addB: Int32Array): SimdSigner | undefined;
