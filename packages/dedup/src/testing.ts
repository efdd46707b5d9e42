/**
 * Test helpers for dedup (not built into dist): a brute-force exact-Jaccard reference written independently of the
 * MinHash kernel (string shingles, all pairs), and a generator of real-looking text with near-duplicates made by
 * small edits at known rates.
 */

import { seededRandom } from "@curate/core/testing";

/** The shared seeded PRNG, under the name dedup's tests use. */
export const random = seededRandom;

/** String shingles the obvious way: the reference the MinHash kernel is checked against. */
export function referenceShingles(text: string, kind: "word" | "char", n: number): Set<string> {
  const normalized = text.normalize("NFKC").toLowerCase();
  if (kind === "char") {
    const t = normalized.replace(/\s+/g, " ").trim();
    if (t.length === 0) return new Set();
    if (t.length <= n) return new Set([t]);
    const out = new Set<string>();
    for (let i = 0; i + n <= t.length; i++) out.add(t.slice(i, i + n));
    return out;
  }
  const words = normalized.match(/[\p{L}\p{N}]+/gu) ?? [];
  if (words.length === 0) return new Set();
  if (words.length <= n) return new Set([words.join(" ")]);
  const out = new Set<string>();
  for (let i = 0; i + n <= words.length; i++) out.add(words.slice(i, i + n).join(" "));
  return out;
}

export interface BruteForceResult {
  /** Every pair (i < j) with Jaccard ≥ threshold, and its similarity. */
  readonly pairs: readonly (readonly [number, number, number])[];
  /** Per text, the first text (smallest index) of its cluster under union-find over those pairs. */
  readonly root: readonly number[];
  /** Texts that are not the first of their cluster: what a perfect near dedup removes. */
  readonly duplicates: ReadonlySet<number>;
}

/**
 * All-pairs exact Jaccard over string shingle sets, then union-find: the ground truth for near dedup. Texts without
 * shingles never match. O(n²) pairs, so keep n in the low thousands.
 * @example bruteForce(["a b c", "a b c"], { kind: "word", n: 2, threshold: 0.8 }).duplicates; // Set {1}
 */
export function bruteForce(
  texts: readonly string[],
  options: { kind: "word" | "char"; n: number; threshold: number },
): BruteForceResult {
  // Shingle strings → integer ids → sorted arrays, so each pair is a merge instead of Set lookups.
  const ids = new Map<string, number>();
  const sets = texts.map((text) => {
    const out: number[] = [];
    for (const shingle of referenceShingles(text, options.kind, options.n)) {
      let id = ids.get(shingle);
      if (id === undefined) {
        id = ids.size;
        ids.set(shingle, id);
      }
      out.push(id);
    }
    return Int32Array.from(out).sort();
  });
  const parent = texts.map((_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) x = parent[x] = parent[parent[x]!]!;
    return x;
  };
  const pairs: [number, number, number][] = [];
  for (let i = 0; i < sets.length; i++) {
    const a = sets[i]!;
    if (a.length === 0) continue;
    for (let j = i + 1; j < sets.length; j++) {
      const b = sets[j]!;
      if (b.length === 0) continue;
      if (Math.min(a.length, b.length) < options.threshold * Math.max(a.length, b.length)) continue;
      let x = 0;
      let y = 0;
      let common = 0;
      while (x < a.length && y < b.length) {
        if (a[x] === b[y]) {
          common++;
          x++;
          y++;
        } else if (a[x]! < b[y]!) x++;
        else y++;
      }
      const similarity = common / (a.length + b.length - common);
      if (similarity >= options.threshold) {
        pairs.push([i, j, similarity]);
        const ri = find(i);
        const rj = find(j);
        if (ri !== rj) parent[Math.max(ri, rj)] = Math.min(ri, rj);
      }
    }
  }
  const root = texts.map((_, i) => find(i));
  const duplicates = new Set(root.flatMap((r, i) => (r === i ? [] : [i])));
  return { pairs, root, duplicates };
}

const NAMES = [
  "Maria",
  "Kenji",
  "Amara",
  "Lukas",
  "Priya",
  "Tomás",
  "Ingrid",
  "Omar",
  "Chloé",
  "Dmitri",
  "Aiyana",
  "Wei",
];
const NOUNS = [
  "recipe",
  "database",
  "garden",
  "bridge",
  "contract",
  "telescope",
  "violin",
  "river",
  "spreadsheet",
  "bakery",
  "protein",
  "compiler",
  "harbor",
  "museum",
  "battery",
  "forest",
  "invoice",
  "satellite",
  "kitchen",
  "novel",
  "algorithm",
  "glacier",
  "tax return",
  "microscope",
  "playlist",
  "vaccine",
  "bicycle",
  "server",
  "orchard",
  "thesis",
];
const ADJECTIVES = [
  "old",
  "fragile",
  "expensive",
  "quiet",
  "noisy",
  "ancient",
  "modern",
  "broken",
  "efficient",
  "complicated",
  "colourful",
  "dusty",
  "remote",
  "reliable",
  "slow",
  "tiny",
  "enormous",
  "experimental",
  "seasonal",
  "overdue",
];
const VERBS = [
  "repaired",
  "described",
  "measured",
  "painted",
  "rewrote",
  "inspected",
  "photographed",
  "translated",
  "tested",
  "cleaned",
  "borrowed",
  "designed",
  "sold",
  "studied",
  "explained",
  "moved",
  "documented",
  "replaced",
  "tuned",
];
const PLACES = [
  "in Lisbon",
  "near the station",
  "at the university",
  "behind the library",
  "in a small village",
  "on the coast",
  "in the basement",
  "at the market",
  "in the north wing",
  "downtown",
  "in the lab",
  "at the old factory",
];
const TIMES = [
  "last spring",
  "every Tuesday",
  "before dawn",
  "during the storm",
  "in 1987",
  "after lunch",
  "twice a year",
  "on a rainy evening",
  "since the merger",
  "over the weekend",
  "at midnight",
  "in early autumn",
];
const TEMPLATES: readonly ((pick: <T>(list: readonly T[]) => T) => string)[] = [
  (p) => `${p(NAMES)} ${p(VERBS)} the ${p(ADJECTIVES)} ${p(NOUNS)} ${p(PLACES)} ${p(TIMES)}.`,
  (p) => `Why did ${p(NAMES)} say the ${p(NOUNS)} was ${p(ADJECTIVES)} ${p(TIMES)}?`,
  (p) => `The ${p(ADJECTIVES)} ${p(NOUNS)} ${p(PLACES)} needs to be ${p(VERBS)} before the ${p(NOUNS)} arrives.`,
  (p) =>
    `According to ${p(NAMES)}, a ${p(ADJECTIVES)} ${p(NOUNS)} is easier to explain than a ${p(ADJECTIVES)} ${p(NOUNS)}.`,
  (p) => `First, check the ${p(NOUNS)}; then ask ${p(NAMES)} whether it was ${p(VERBS)} ${p(TIMES)}.`,
  (p) =>
    `${p(NAMES)} and ${p(NAMES)} ${p(VERBS)} ${Math.floor(p([2, 3, 5, 7, 12, 40, 150]))} ${p(NOUNS)}s ${p(PLACES)}.`,
  (p) => `Nobody expected the ${p(NOUNS)} to be so ${p(ADJECTIVES)}, least of all ${p(NAMES)}.`,
  (p) => `In short: keep the ${p(NOUNS)} ${p(ADJECTIVES)}, and never leave it ${p(PLACES)} ${p(TIMES)}.`,
  (p) => `Can you summarise how the ${p(ADJECTIVES)} ${p(NOUNS)} was ${p(VERBS)} ${p(PLACES)}?`,
  (p) =>
    `It cost ${p(["12", "85", "240", "1,300", "9.99", "47"])} euros to have the ${p(NOUNS)} ${p(VERBS)} ${p(TIMES)}.`,
];

/**
 * A paragraph of `sentences` generated sentences: names, places, numbers and punctuation like real instructions.
 * @example paragraph(random(1), 5);
 */
export function paragraph(rand: () => number, sentences: number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const out: string[] = [];
  for (let i = 0; i < sentences; i++) out.push(pick(TEMPLATES)(pick));
  return out.join(" ");
}

/**
 * Edits about `rate` of the words of `text` (at least one edit): substitutions, deletions, insertions and swaps of
 * neighbours, as a careless copy-paste or a paraphrasing script would.
 * @example edit(random(1), "one two three four", 0.25);
 */
export function edit(rand: () => number, text: string, rate: number): string {
  const words = text.split(" ");
  const edits = Math.max(1, Math.round(rate * words.length));
  const vocabulary = [...NOUNS, ...ADJECTIVES, ...VERBS];
  for (let e = 0; e < edits && words.length > 2; e++) {
    const at = Math.floor(rand() * words.length);
    const op = Math.floor(rand() * 4);
    const word = vocabulary[Math.floor(rand() * vocabulary.length)]!;
    if (op === 0) words[at] = word;
    else if (op === 1) words.splice(at, 1);
    else if (op === 2) words.splice(at, 0, word);
    else if (at + 1 < words.length) [words[at], words[at + 1]] = [words[at + 1]!, words[at]!];
  }
  return words.join(" ");
}

export interface Corpus {
  /** Instruction/output records, in order. */
  readonly records: { instruction: string; output: string }[];
  /** Edit rate used for each record: 0 for originals. */
  readonly rates: number[];
}

/**
 * `originals` generated instruction records, plus edited copies of some of them at rates from 0.5% to 20% of the
 * words, shuffled in after their original so that the first occurrence comes first.
 * @example const { records } = corpus(7, 300);
 */
export function corpus(
  seed: number,
  originals: number,
  rates = [0, 0.005, 0.01, 0.02, 0.04, 0.07, 0.1, 0.15, 0.2],
): Corpus {
  const rand = seededRandom(seed);
  const entries: { at: number; record: { instruction: string; output: string }; rate: number }[] = [];
  for (let i = 0; i < originals; i++) {
    const record = {
      instruction: paragraph(rand, 1 + Math.floor(rand() * 3)),
      output: paragraph(rand, 2 + Math.floor(rand() * 5)),
    };
    entries.push({ at: i, record, rate: 0 });
    if (rand() < 0.35) {
      const copies = 1 + Math.floor(rand() * 3);
      for (let c = 0; c < copies; c++) {
        const rate = rates[Math.floor(rand() * rates.length)]!;
        const copy =
          rate === 0 ? { ...record } : { instruction: record.instruction, output: edit(rand, record.output, rate) };
        // Somewhere in the next 50 originals: always after its original, mixed with other records.
        entries.push({ at: i + 0.5 + rand() * 50, record: copy, rate });
      }
    }
  }
  entries.sort((a, b) => a.at - b.at);
  return { records: entries.map((e) => e.record), rates: entries.map((e) => e.rate) };
}
