export { DEFAULT_LEAKAGE_NGRAM, DEFAULT_SEED } from "./defaults.js";
export { contentHash, contentHashOf, normalizeText, stableJson, unitPosition } from "./hash.js";
export { forEachNgram, NgramHashes, NgramIndex, ngramHashes } from "./ngram.js";
export { type FieldPath, parseFieldPath, valueAt } from "./path.js";
export { roundTable } from "./rounding.js";
export { checkRatios, checkSizes, MAX_SPLITS, parseRatios, type SplitTarget } from "./spec.js";
export { Spill, type SpilledRecord, type SpillOptions } from "./spill.js";
export * from "./split.js";
