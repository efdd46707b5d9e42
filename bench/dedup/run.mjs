#!/usr/bin/env node
/**
 * Dedup benchmark: `node bench/dedup/run.mjs [--records 100k|1m|N] [--seed N] [--only read,exact,...]`.
 *
 * Uses the shared corpus (bench/lib/corpus.mjs: ~5% exact and ~5% near duplicates planted, counts known) and the
 * built packages (run `bash scripts/build-dev.sh` first). Each row runs in its own child process so that its peak
 * RSS is its own, and prints records/s, MB/s and peak RSS; below the table, exact dedup's overhead over read + parse,
 * near dedup's 2-thread speed-up and output equality, and the per-record memory of the indexes.
 *
 * Rows:
 *   read      readInputs → runPipeline with no stage (the baseline: read + parse)
 *   exact     + exactDedup()
 *   near-1t   + nearDedup({ threads: 1 })
 *   near-2t   + nearDedup({ threads: 2 })
 *   hash      the exact-dedup key path alone, in memory: trainingText + NFKC/whitespace + hash128 (MurmurHash3 x86_128)
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, parseCount, parseSeed } from "../lib/args.mjs";
import { ensureCorpus } from "../lib/corpus.mjs";

const here = fileURLToPath(import.meta.url);
const root = resolve(dirname(here), "../..");
const ROWS = ["read", "exact", "near-1t", "near-2t", "hash"];

/** Folds a number into a 32-bit digest, so that two rows can be seen to give the same output. */
function mix(digest, value) {
  return (Math.imul(digest ^ value, 0x9e3779b1) + 0x7f4a7c15) | 0;
}

/** One row, in this (child) process: prints one JSON line. */
async function runRow(row, manifestPath) {
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const files = manifest.files.map((f) => f.path);
  const { runPipeline } = await import("@curate/core");
  const { readInputs } = await import("@curate/read");
  const dedup = await import("@curate/dedup");

  if (row === "hash") {
    // Parse first (untimed), then time only the key path, so the figure is dedup's own cost per record.
    const { trainingText } = await import("@curate/formats");
    const records = [];
    for (const file of files) {
      for (const line of readFileSync(file, "utf8").split("\n")) {
        try {
          if (line) records.push(JSON.parse(line));
        } catch {}
      }
    }
    const normalize = dedup.normalizer(["nfkc", "whitespace"]);
    const out = new Uint32Array(4);
    const timings = {};
    let bytes = 0;
    let started = performance.now();
    const texts = records.map((r) => trainingText(r));
    timings.trainingText = performance.now() - started;
    for (const t of texts) bytes += t.length;
    started = performance.now();
    const keys = texts.map(normalize);
    timings.normalize = performance.now() - started;
    started = performance.now();
    for (const k of keys) dedup.hash128(k, out);
    timings.xxh128 = performance.now() - started;
    const index = new dedup.MemoryDedupIndex();
    const source = { file: "x", line: 1 };
    started = performance.now();
    for (const k of keys) index.firstSeen(dedup.hash128(k, out), source);
    timings.hashAndIndex = performance.now() - started;
    const ms = timings.trainingText + timings.normalize + timings.hashAndIndex;
    console.log(
      JSON.stringify({
        row,
        ms,
        records: records.length,
        timings,
        textChars: bytes,
        maxRssKiB: process.resourceUsage().maxRSS,
      }),
    );
    return;
  }

  const started = performance.now();
  const stage =
    row === "exact"
      ? dedup.exactDedup()
      : row === "near-1t"
        ? dedup.nearDedup({ threads: 1 })
        : row === "near-2t"
          ? dedup.nearDedup({ threads: 2 })
          : undefined;
  let kept = 0;
  let dups = 0;
  let currentFile;
  const run = runPipeline(readInputs(files), stage ? [stage] : [], {
    onDuplicate(d) {
      dups = mix(mix(dups, d.item.source.line), d.of.source.line);
    },
  });
  for await (const batch of run.batches) {
    for (const item of batch) {
      if (item.source.file !== currentFile) {
        currentFile = item.source.file;
        kept = mix(kept, -1);
      }
      kept = mix(kept, item.source.line);
    }
  }
  const ms = performance.now() - started;
  const counts = run.counts.map((c) => ({
    name: c.name,
    in: c.in,
    out: c.out,
    rejected: c.rejected,
    duplicates: c.duplicates,
  }));
  console.log(
    JSON.stringify({
      row,
      ms,
      counts,
      stats: stage?.stats,
      digest: `${(kept >>> 0).toString(16)}/${(dups >>> 0).toString(16)}`,
      maxRssKiB: process.resourceUsage().maxRSS,
    }),
  );
}

function fmt(n, digits = 0) {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main() {
  const args = parseArgs(process.argv.slice(2), { booleans: ["help"] });
  if (args.row) return runRow(args.row, args.corpus);
  if (args.help) {
    process.stdout.write(
      "usage: node bench/dedup/run.mjs [--records 100k|1m|N] [--seed N] [--only read,exact,near-1t,near-2t,hash]\n",
    );
    return;
  }
  const records = parseCount(args.records ?? "100k");
  const seed = parseSeed(args.seed ?? "1");
  const only = args.only ? String(args.only).split(",") : ROWS;
  const log = (text) => process.stderr.write(`${text}\n`);
  log(
    `machine: ${cpus()[0]?.model}, ${cpus().length} cores, Node ${process.version}; load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  const manifest = ensureCorpus({ records, seed, root, log });
  const manifestPath = resolve(manifest.files[0].path, "../corpus.json");
  const totalBytes = manifest.bytes;
  const totalRecords = manifest.records;
  log(
    `corpus: ${fmt(totalRecords)} lines, ${fmt(totalBytes / 1e6, 1)} MB; planted ${fmt(manifest.planted.exact)} exact, ${fmt(manifest.planted.near)} near duplicates`,
  );

  const results = {};
  for (const row of ROWS.filter((r) => only.includes(r))) {
    const child = spawnSync(process.execPath, [here, "--row", row, "--corpus", manifestPath], {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 1 << 24,
    });
    if (child.status !== 0) {
      log(`${row}: failed (exit ${child.status})\n${child.stderr}`);
      continue;
    }
    results[row] = JSON.parse(child.stdout.trim().split("\n").at(-1));
    const r = results[row];
    const n = r.records ?? totalRecords;
    log(
      `${row.padEnd(8)} ${fmt(n / (r.ms / 1000)).padStart(10)} records/s ${fmt(totalBytes / 1e6 / (r.ms / 1000), 1).padStart(7)} MB/s ${fmt(r.ms / 1000, 2).padStart(7)} s  peak RSS ${fmt(r.maxRssKiB / 1024).padStart(5)} MiB` +
        (r.stats
          ? `  duplicates ${fmt(r.stats.duplicates)}, clusters ${fmt(r.stats.clusters)}, largest ${r.stats.largestCluster}`
          : "") +
        (r.digest ? `  digest ${r.digest}` : ""),
    );
    if (row === "hash") {
      const t = r.timings;
      log(
        `         per record: trainingText ${fmt((t.trainingText * 1000) / n, 2)} µs, NFKC + whitespace ${fmt((t.normalize * 1000) / n, 2)} µs, hash128 ${fmt((t.xxh128 * 1000) / n, 2)} µs (${fmt(r.textChars / 1e3 / t.xxh128, 0)} MB/s of text), hash + index ${fmt((t.hashAndIndex * 1000) / n, 2)} µs`,
      );
    }
  }

  const { read, exact } = results;
  if (read && exact) {
    log(`exact dedup adds ${fmt(((exact.ms - read.ms) / read.ms) * 100, 1)}% to read + parse (target ≤ 25%)`);
    const distinct = exact.counts.at(-1).out;
    log(
      `exact index: ${fmt(exact.stats.indexBytes / distinct, 1)} bytes per distinct record (${fmt(distinct)} distinct; target < 32)`,
    );
  }
  for (const row of ["near-1t", "near-2t"]) {
    const r = results[row];
    if (!r) continue;
    const n = r.stats.records;
    log(
      `${row}: ${fmt(r.stats.indexBytes / n, 0)} bytes of RAM per record in the index (${r.stats.bands} bands × ${r.stats.rows} rows), ${fmt(r.stats.diskBytes / n, 0)} bytes per record on disk, ${fmt(r.stats.candidatePairs)} candidate pairs checked`,
    );
  }
  if (results["near-1t"] && results["near-2t"]) {
    const [a, b] = [results["near-1t"], results["near-2t"]];
    log(
      `near dedup, 2 threads: ${fmt(a.ms / b.ms, 2)}× the speed of 1 thread; outputs ${a.digest === b.digest ? "identical" : "DIFFER"}`,
    );
  }
  if (exact && results["near-1t"]) {
    log(
      `planted vs found: exact ${fmt(manifest.planted.exact)} planted / ${fmt(exact.stats.duplicates)} found; near (exact + near) ${fmt(manifest.planted.exact + manifest.planted.near)} planted / ${fmt(results["near-1t"].stats.duplicates)} found`,
    );
  }
}

await main();
