/**
 * Checks of the corpus generator (node:test, not vitest: bench/ is plain Node and outside the vitest suite).
 * Run: node --test bench/lib/
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { generateCorpus } from "./corpus.mjs";
import { buildPool } from "./pool.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const RECORDS = 2000;

/** Word 5-gram set of a record's text values, as near-dedup sees it (lowercased words). */
function shingles(record) {
  const text = record.messages
    ? record.messages.map((m) => (typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join(" ")))
    : [record.instruction, record.input ?? "", record.output];
  const words = text.join(" ").toLowerCase().split(/\s+/).filter(Boolean);
  const set = new Set();
  for (let i = 0; i + 5 <= words.length; i++) set.add(words.slice(i, i + 5).join(" "));
  return set;
}

/**
 * Brute force over an inverted index: for each record, the highest exact Jaccard with any earlier record (counting
 * shared shingles through the postings of its own shingles, so only records that share something are compared).
 */
function bestEarlierJaccard(sets) {
  const postings = new Map();
  return sets.map((set, id) => {
    const shared = new Map();
    for (const shingle of set) {
      for (const other of postings.get(shingle) ?? []) shared.set(other, (shared.get(other) ?? 0) + 1);
    }
    let best = 0;
    for (const [other, n] of shared) best = Math.max(best, n / (set.size + sets[other].size - n));
    for (const shingle of set) {
      const list = postings.get(shingle);
      if (list) list.push(id);
      else postings.set(shingle, [id]);
    }
    return best;
  });
}

describe("generateCorpus", () => {
  const pool = buildPool(root);
  let dir;
  let manifest;
  let lines;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "curate-corpus-test-"));
    manifest = generateCorpus({ records: RECORDS, seed: 7, dir: join(dir, "a"), root, pool });
    lines = Object.fromEntries(
      manifest.files.map((f) => [f.format, readFileSync(f.path, "utf8").split("\n").slice(0, -1)]),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("builds its pool from real sentences", () => {
    assert.ok(pool.sentences.length > 1000, `only ${pool.sentences.length} sentences`);
    for (const s of pool.sentences.slice(0, 200)) assert.match(s, /^["'(]?[\p{Lu}\p{Lo}].*[.!?。！？]["')]?$/u);
  });

  it("writes the records it reports, at about 500 bytes each", () => {
    assert.equal(lines.alpaca.length + lines.chat.length, RECORDS);
    for (const f of manifest.files) assert.equal(lines[f.format].length, f.records);
    const perRecord = manifest.bytes / RECORDS;
    assert.ok(perRecord > 380 && perRecord < 650, `${perRecord} bytes/record`);
  });

  it("is deterministic for a seed and differs for another", () => {
    const again = generateCorpus({ records: RECORDS, seed: 7, dir: join(dir, "b"), root, pool });
    const other = generateCorpus({ records: RECORDS, seed: 8, dir: join(dir, "c"), root, pool });
    for (const [i, f] of manifest.files.entries()) {
      assert.ok(readFileSync(f.path).equals(readFileSync(again.files[i].path)), `${f.format} differs for seed 7`);
      assert.ok(!readFileSync(f.path).equals(readFileSync(other.files[i].path)), `${f.format} same for seed 8`);
    }
  });

  it("plants exactly the exact duplicates and invalid lines it reports", () => {
    let exact = 0;
    let broken = 0;
    let wrongRole = 0;
    let emptyAnswer = 0;
    for (const [format, file] of Object.entries(lines)) {
      const seen = new Set();
      for (const line of file) {
        if (seen.has(line)) exact++;
        seen.add(line);
        let record;
        try {
          record = JSON.parse(line);
        } catch {
          broken++;
          continue;
        }
        if (format === "chat") {
          if (record.messages.some((m) => !["system", "user", "assistant"].includes(m.role))) wrongRole++;
          else if (typeof record.messages.at(-1).content === "string" && record.messages.at(-1).content.trim() === "")
            emptyAnswer++;
        } else if (record.output.trim() === "") emptyAnswer++;
      }
    }
    const p = manifest.planted;
    assert.ok(p.exact > RECORDS * 0.03 && p.near > RECORDS * 0.03 && p.invalid > 0, JSON.stringify(p));
    assert.equal(exact, p.exact);
    assert.equal(broken, p.invalidByKind.broken_json);
    assert.equal(wrongRole, p.invalidByKind.wrong_role);
    assert.equal(emptyAnswer, p.invalidByKind.empty_assistant);
  });

  it("plants near duplicates above a 0.8 word 5-gram Jaccard, and no others", () => {
    let near = 0;
    for (const file of Object.values(lines)) {
      const sets = [];
      for (const line of new Set(file)) {
        // Exact duplicates and broken lines are counted by the test above.
        try {
          sets.push(shingles(JSON.parse(line)));
        } catch {}
      }
      near += bestEarlierJaccard(sets).filter((j) => j >= 0.8).length;
    }
    assert.equal(near, manifest.planted.near);
  });
});
