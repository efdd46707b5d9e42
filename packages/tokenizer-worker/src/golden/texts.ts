/**
 * Texts for the golden tests: the hand-written corpus, seeded random strings over an adversarial alphabet, and every
 * string in the repository's fixtures (so counts stay equal to the reference on the data the project ships).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export const corpus: string[] = JSON.parse(readFileSync(new URL("./corpus.json", import.meta.url), "utf8"));

/** Seeded random strings mixing the characters that pre-tokenizers treat specially. */
export function randomTexts(count: number, seed = 7): string[] {
  const alphabet = [..."aA1 \n\r\t'.,!?é日🙂\u0301\u00a0\u0085\ufeffsStTrRlLdDmMvVeE-_/\\\"€ß<|>ſ٣ǅ👨‍👩"];
  let state = seed;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    let s = "";
    const length = 1 + Math.floor(next() * 48);
    for (let i = 0; i < length; i++) s += alphabet[Math.floor(next() * alphabet.length)];
    out.push(s);
  }
  return out;
}

function stringsOf(value: unknown, out: string[]): void {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out);
  else if (typeof value === "object" && value !== null) for (const v of Object.values(value)) stringsOf(v, out);
}

/** Every string value in `fixtures/**\/*.jsonl` (lines that are not JSON are taken as text). */
export function fixtureTexts(root = new URL("../../../../fixtures/", import.meta.url)): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".jsonl") || name.endsWith(".json")) {
        for (const line of readFileSync(path, "utf8").split("\n")) {
          if (line.trim() === "") continue;
          try {
            stringsOf(JSON.parse(line), out);
          } catch {
            out.push(line);
          }
        }
      }
    }
  };
  walk(root.pathname);
  return out;
}
