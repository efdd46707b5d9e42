/**
 * The split stage's defaults, in one place (a module of constants only: the CLI's option table loads it at
 * start-up).
 * @example import { DEFAULT_RATIOS } from "@curate/split/defaults";
 */

/** Split names and fractions, in order. */
export const DEFAULT_RATIOS = "train=0.9,validation=0.05,test=0.05";
/** The leakage check: words per n-gram shared between a held-out and a train record. */
export const DEFAULT_LEAKAGE_NGRAM = 13;
/** The split seed. */
export const DEFAULT_SEED = 0;
