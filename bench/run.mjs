#!/usr/bin/env node
/**
 * The benchmark harness (`npm run bench`): generates or reuses the corpus, runs every row as its own child process,
 * and prints one table — records/s, MB/s, peak RSS and the ratio to the scan+parse ceiling measured in the same run
 * — followed by the issue's targets checked against it. See bench/README.md.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, parseCount, parseSeed } from "./lib/args.mjs";
import { CORPUS_ROOT, ensureCorpus } from "./lib/corpus.mjs";
import { GNU_TIME_HINT, hasGnuTime } from "./lib/measure.mjs";
import { checkTargets, comparePeers, renderPeers, renderTable, renderTargets, withRates } from "./lib/report.mjs";
import { probeCli, ROWS, runRow, selectRows, staleBuilds } from "./lib/rows.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const usage = `usage: npm run bench -- [options]     (or: node bench/run.mjs [options])
  --records 100k|1m|N   corpus size (default 100k)
  --seed N              corpus seed (default 1); the corpus is reused when size, seed and sentence pool match
  --corpus DIR          where the corpus lives (default: a folder under ${CORPUS_ROOT} per size, seed and pool)
  --only a,b            rows to run, by name or prefix (e.g. read+near,run:,baseline); the ceiling always runs
  --timeout S           per-row limit in seconds (default 900)
  --startup-runs N      runs per start-up row, after one warm-up (default 7)
  --build               run scripts/build-dev.sh first (rows measure packages/*/dist)
  --profile DIR         write a V8 CPU profile per in-process and curate-run row into DIR (slows the rows)
  --json                print everything as JSON on stdout instead of the table
  --save FILE           also write the JSON to FILE
  --list                list the rows and exit
Rows:
${ROWS.map((r) => `  ${r.name.padEnd(24)} ${r.about}`).join("\n")}`;

const args = parseArgs(process.argv.slice(2), { booleans: ["json", "help", "build", "list"] });
if (args.help || args.list) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

const log = (text) => process.stderr.write(`${text}\n`);
let options;
try {
  const records = parseCount(args.records ?? "100k");
  const seed = parseSeed(args.seed ?? "1");
  const timeout = Number(args.timeout ?? 900);
  const startupRuns = Number(args["startup-runs"] ?? 7);
  if (!(timeout > 0)) throw new Error(`--timeout: expected seconds > 0, found "${args.timeout}"`);
  if (!Number.isInteger(startupRuns) || startupRuns < 1) {
    throw new Error(`--startup-runs: expected a whole number ≥ 1, found "${args["startup-runs"]}"`);
  }
  options = { records, seed, timeoutMs: timeout * 1000, startupRuns, rows: selectRows(args.only) };
} catch (error) {
  log(`bench: ${error.message}\n(run with --help for usage)`);
  process.exit(2);
}

if (args.build) {
  log("building: bash scripts/build-dev.sh ...");
  spawnSync("bash", [join(root, "scripts/build-dev.sh")], { stdio: ["ignore", "inherit", "inherit"] });
}

const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  loadStart: loadavg().map((x) => x.toFixed(2)),
};
log(
  `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}; load ${machine.loadStart.join(" ")}`,
);
if (!hasGnuTime()) log(`warning: ${GNU_TIME_HINT} (Node rows report their own peak RSS)`);
const stale = staleBuilds(root);
if (stale.length > 0) {
  log(
    `warning: dist older than src for ${stale.join(", ")}: rows measure dist/ — run with --build or bash scripts/build-dev.sh`,
  );
}

const corpus = ensureCorpus({
  records: options.records,
  seed: options.seed,
  root,
  ...(args.corpus ? { dir: resolve(args.corpus) } : {}),
  log,
});
const p = corpus.planted;
log(
  `corpus: ${corpus.records.toLocaleString("en-US")} records, ${(corpus.bytes / 1e6).toFixed(1)} MB in ${corpus.files.length} files${corpus.reused ? " (reused)" : ` (generated in ${corpus.seconds.toFixed(1)} s)`}; planted ${p.exact} exact, ${p.near} near duplicates, ${p.invalid} invalid lines`,
);
const corpusJson = join(dirname(corpus.files[0].path), "corpus.json");

const cli = await probeCli(root);
// Profiles are what guide optimisation (open the .cpuprofile files in Chrome DevTools or speedscope).
const profileDir = typeof args.profile === "string" ? resolve(args.profile) : undefined;
if (profileDir) log(`profiling: CPU profiles go to ${profileDir}/<row>/ (timings include profiler overhead)`);
const ctx = {
  root,
  corpus,
  corpusJson,
  cli,
  profileDir,
  timeoutMs: options.timeoutMs,
  startupRuns: options.startupRuns,
};
const results = [];
for (const [i, row] of options.rows.entries()) {
  process.stderr.write(`[${i + 1}/${options.rows.length}] ${row.name} ... `);
  const result = { name: row.name, kind: row.kind, ...(await runRow(row, ctx)) };
  if (row.stages) result.stagesAlone = row.stages;
  if (row.vs) result.vs = row.vs;
  results.push(result);
  process.stderr.write(
    result.status === "ok"
      ? `${(result.ms / 1000).toFixed(2)} s\n`
      : `${result.status}${result.note ? `: ${result.note}` : ""}\n`,
  );
}

const rows = withRates(results, corpus);
const targets = checkTargets(rows, corpus);
const peers = comparePeers(rows, corpus);
// A peer that counts differently makes its ratio meaningless: say so where it cannot be missed, whatever the format.
for (const c of peers.filter((p) => p.agree === false)) log(`bench: COUNT MISMATCH ${c.peer} vs ${c.vs}: ${c.counts}`);
machine.loadEnd = loadavg().map((x) => x.toFixed(2));
const report = {
  date: new Date().toISOString(),
  machine,
  command: `node bench/run.mjs ${process.argv.slice(2).join(" ")}`.trim(),
  corpus,
  gnuTime: hasGnuTime(),
  staleBuilds: stale,
  profiled: profileDir !== undefined,
  rows,
  targets,
  peers,
};
if (args.save) writeFileSync(resolve(args.save), `${JSON.stringify(report, null, 2)}\n`);
if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
else {
  const head = `curate bench · ${report.date.slice(0, 10)} · ${machine.cpu} × ${machine.cores} · Node ${machine.node} · load ${machine.loadStart[0]} → ${machine.loadEnd[0]} · ${corpus.records.toLocaleString("en-US")} records, ${(corpus.bytes / 1e6).toFixed(1)} MB (seed ${corpus.seed}, pool ${corpus.pool.hash}); planted ${p.exact} exact and ${p.near} near duplicates, ${p.invalid} invalid lines`;
  const peerLines = peers.length > 0 ? `\npeers (same run; ratio of measured times):\n${renderPeers(peers)}\n` : "";
  process.stdout.write(`${head}\n\n${renderTable(rows)}\n\ntargets:\n${renderTargets(targets)}\n${peerLines}`);
}
// A row that failed or timed out is a result to look at, not a crash; the exit code says so for scripts.
if (rows.some((r) => r.status === "failed" || r.status === "timeout")) process.exitCode = 1;
