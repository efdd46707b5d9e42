/**
 * The one definition of the text that word n-gram checks compare: decontamination (`--against`, @curate/dedup) and
 * split's leakage check (@curate/split) both read records through it, so that the manifest's leakage and
 * `--against` measure the same thing.
 * - role tags that `trainingText` puts between chat turns (`<|user|>`) are removed: they are not words of the
 *   conversation, and would make a chat and an alpaca record with the same words differ;
 * - Unicode NFKC (full-width letters, ligatures → plain), so compatibility forms never hide an overlap;
 * - words are maximal runs of Unicode letters and digits (`NGRAM_WORD`), lowercased.
 */

const ROLE_TAG = /<\|[^|>\s]*\|>/g;
const NON_ASCII = /[^\x00-\x7f]/;

/** A word of n-gram matching: a maximal run of Unicode letters and digits. */
export const NGRAM_WORD = /[\p{L}\p{N}]+/gu;

/**
 * The text n-gram checks split into words: role tags removed, NFKC. Lowercasing and splitting are the callers'
 * (split hashes words as it scans, without building them).
 * @example ngramText("<|user|>\nＨｉ there"); // " \nHi there"
 */
export function ngramText(text: string): string {
  const plain = text.includes("<|") ? text.replace(ROLE_TAG, " ") : text;
  // ASCII is NFKC-stable; the test is ~3× cheaper than normalize().
  return NON_ASCII.test(plain) ? plain.normalize("NFKC") : plain;
}

/**
 * The words n-gram matching compares: `ngramText`, lowercased, split into runs of letters and digits.
 * @example ngramWords("<|user|>\nWhat's 2+2?"); // ["what", "s", "2", "2"]
 */
export function ngramWords(text: string): string[] {
  return ngramText(text).toLowerCase().match(NGRAM_WORD) ?? [];
}
