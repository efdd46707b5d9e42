/** Types of sketch-kernel.mjs (plain JavaScript so that worker threads can load it from src/ and dist/ alike). */

export type ShingleKind = "word" | "char";

/** Everything that decides a sketch; equal params give equal sketches on every thread. */
export interface SketchParams {
  readonly kind: ShingleKind;
  /** Words (or characters) per shingle. */
  readonly n: number;
  readonly numPerm: number;
  readonly bands: number;
  readonly rows: number;
  readonly seed: number;
  /** What to keep per record for verification: the shingle set (exact Jaccard) or the signature (estimate). */
  readonly payload: "shingles" | "signature";
}

/** Sketches of a batch of texts, as flat typed arrays (cheap to transfer between threads). */
export interface SketchBatch {
  readonly count: number;
  /** `bands` 32-bit band keys per text. */
  readonly bands: Uint32Array;
  /** Distinct shingles per text; 0 means the text has no shingles (and no band keys). */
  readonly sizes: Uint32Array;
  /** Text i's payload is `payload.subarray(offsets[i], offsets[i + 1])`. */
  readonly offsets: Uint32Array;
  readonly payload: Uint32Array;
}

export interface Sketcher {
  sketchBatch(texts: readonly string[]): SketchBatch;
}

export function fmix32(h: number): number;
export function splitmix32(seed: number): () => number;
export function words(text: string): string[];
export function charText(text: string): string;
export function shingleHashes(text: string, kind: ShingleKind, n: number): Uint32Array;
export function jaccardSorted(a: Uint32Array, b: Uint32Array): number;
export function signatureSimilarity(a: Uint32Array, b: Uint32Array): number;
export function shingleSet(values: Uint32Array, into?: Uint32Array): Uint32Array;
export function createSketcher(params: SketchParams, options?: { readonly simd?: boolean }): Sketcher;
