#!/usr/bin/env node
/**
 * Generates the benchmark corpus: `node bench/gen-corpus.mjs --records 100k --seed 1 [--out DIR]`.
 * Deterministic for a seed (and the sentence pool, which comes from the fixtures and installed dependencies).
 * Writes alpaca.jsonl, chat.jsonl, small-10.jsonl and corpus.json; prints what it wrote on stderr, or the manifest
 * as JSON on stdout with --json.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, parseCount, parseSeed } from "./lib/args.mjs";
import { CORPUS_ROOT, ensureCorpus, generateCorpus } from "./lib/corpus.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const usage = `usage: node bench/gen-corpus.mjs [--records 100k|1m|N] [--seed N] [--out DIR] [--json]
  --records  number of JSONL lines in all (default 100k); ~500 bytes each
  --seed     PRNG seed (default 1); same seed and sentence pool, same bytes
  --out      folder to write (always regenerated); default: a folder under ${CORPUS_ROOT} named by size, seed,
             sentence pool and generator version, reused when it exists (as npm run bench does)
  --json     print the manifest (corpus.json) on stdout`;

const args = parseArgs(process.argv.slice(2), { booleans: ["json", "help"] });
if (args.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
let records;
let seed;
try {
  records = parseCount(args.records ?? "100k");
  seed = parseSeed(args.seed ?? "1");
} catch (error) {
  process.stderr.write(`gen-corpus: ${error.message}\n${usage}\n`);
  process.exit(2);
}
const manifest = args.out
  ? generateCorpus({ records, seed, dir: resolve(args.out), root })
  : ensureCorpus({ records, seed, root });

if (args.json) process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
else {
  const n = (x) => x.toLocaleString("en-US");
  const p = manifest.planted;
  const lines = [
    `${manifest.reused ? "reused" : "wrote"} ${n(manifest.records)} records, ${(manifest.bytes / 1e6).toFixed(1)} MB (${Math.round(manifest.bytes / manifest.records)} bytes/record)${manifest.reused ? ", already there" : ` in ${manifest.seconds.toFixed(1)} s`}`,
    ...manifest.files.map((f) => `  ${f.path}  ${f.format}  ${n(f.records)} records  ${(f.bytes / 1e6).toFixed(1)} MB`),
    `  planted: ${n(p.exact)} exact duplicates, ${n(p.near)} near duplicates, ${n(p.invalid)} invalid lines (${Object.entries(
      p.invalidByKind,
    )
      .map(([k, v]) => `${k} ${n(v)}`)
      .join(", ")})`,
    `  sentence pool: ${n(manifest.pool.sentences)} sentences from ${manifest.pool.sources} files (hash ${manifest.pool.hash}), seed ${seed}`,
  ];
  process.stderr.write(`${lines.join("\n")}\n`);
}
