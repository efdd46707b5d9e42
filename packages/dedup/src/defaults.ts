/**
 * The dedup stages' defaults, in one place: the stages use them, and the CLI's option table shows them. A module of
 * constants only, so that registering commands loads nothing else of this package.
 * @example import { DEFAULT_THRESHOLD } from "@curate/dedup/defaults";
 */

/** Near dedup: Jaccard similarity at or above which two records are near-duplicates. */
export const DEFAULT_THRESHOLD = 0.8;
/** Near dedup: shingles, `word:N` or `char:N`. */
export const DEFAULT_SHINGLE = "word:5";
/** Near dedup: MinHash permutations. */
export const DEFAULT_NUM_PERM = 128;
/** Decontamination: words per n-gram shared with an eval record. */
export const DEFAULT_NGRAM = 13;
/** Exact dedup: the steps applied to the key text before hashing. */
export const DEFAULT_NORMALIZATION = ["nfkc", "whitespace"] as const;
/** Dedup and decontamination: remove what they find, or flag it and keep it. */
export const DEFAULT_MODE = "remove";
