#!/usr/bin/env node
/**
 * Tokenizer benchmark: `node bench/tokens/run.mjs [--records 100k|1m] [--text-mb 64] [--text FILE] [--reference]`.
 * Run `bash scripts/build-dev.sh` first: it measures the built packages.
 *
 * Rows, each in its own child process (so peak RSS is that row's alone):
 * - engine rows (`o200k_base`, `llama3`; 1 and 2 threads): the string values of the benchmark corpus's records
 *   (up to --text-mb MB of text), loaded first, then counted once through a fresh TokenizerPool: "cold", every
 *   piece cache starts empty and no text is seen twice. Tokenizer loading is timed separately.
 * - `nocache`: the same with the piece cache off, to show what the cache buys.
 * - `longtail`: --text FILE (default: the Debian changelogs under /usr/share/doc, if any) in 500-character records:
 *   text from outside the corpus's 10,000-sentence pool, where far fewer pieces repeat.
 * - `reference` (with --reference): tiktoken (WASM) and @huggingface/tokenizers on the same text, 1 thread.
 * - stage rows: readInputs + countTokens over the corpus files (JSON parsing, chat templates, routing), MB/s of JSONL.
 */
import { spawnSync } from "node:child_process";
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gunzipSync } from "node:zlib";
import { parseArgs, parseCount } from "../lib/args.mjs";
import { ensureCorpus } from "../lib/corpus.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const dist = (pkg, file = "index.js") => pathToFileURL(join(root, "packages", pkg, "dist", file)).href;
const args = parseArgs(process.argv.slice(2), { booleans: ["json", "reference", "help"] });

if (args.child) await child(JSON.parse(args.child));
else await main();

async function main() {
  if (args.help) {
    process.stdout.write(
      "usage: node bench/tokens/run.mjs [--records 100k|1m] [--text-mb 64] [--text FILE] [--reference] [--only NAME]\n",
    );
    return;
  }
  const records = parseCount(args.records ?? "100k");
  const corpus = ensureCorpus({ records, seed: 1, root, log: (m) => process.stderr.write(`${m}\n`) });
  const files = corpus.files.map((f) => f.path);
  const textMb = Number(args["text-mb"] ?? 64);
  const longtail = args.text ?? "/usr/share/doc";
  const rows = [];
  for (const tokenizer of ["o200k_base", "llama3"]) {
    for (const threads of [1, 2])
      rows.push({ kind: "engine", name: `engine ${tokenizer} ${threads}t`, tokenizer, threads, files, textMb });
    rows.push({
      kind: "engine",
      name: `engine ${tokenizer} 1t nocache`,
      tokenizer,
      threads: 1,
      files,
      textMb,
      cacheEntries: 0,
    });
    if (existsSync(longtail))
      rows.push({ kind: "engine", name: `longtail ${tokenizer} 1t`, tokenizer, threads: 1, longtail, textMb });
    if (args.reference)
      rows.push({
        kind: "engine",
        name: `reference ${tokenizer} 1t`,
        tokenizer,
        threads: 1,
        files,
        textMb: Math.min(textMb, 16),
        engine: "reference",
      });
    for (const threads of [1, 2])
      rows.push({ kind: "stage", name: `stage ${tokenizer} ${threads}t`, tokenizer, threads, files });
  }
  const selected = args.only ? rows.filter((r) => r.name.includes(args.only)) : rows;
  process.stderr.write(
    `corpus: ${corpus.records.toLocaleString("en-US")} records, ${(corpus.bytes / 1e6).toFixed(0)} MB; machine: ${(await import("node:os")).cpus()[0]?.model} × ${(await import("node:os")).availableParallelism()}\n`,
  );
  const results = [];
  for (const row of selected) {
    const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--child", JSON.stringify(row)], {
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
    const line = run.stdout.trim().split("\n").at(-1);
    if (run.status !== 0 || !line) {
      process.stderr.write(`${row.name}: failed\n${run.stderr}\n`);
      continue;
    }
    const result = { name: row.name, ...JSON.parse(line) };
    results.push(result);
    process.stderr.write(`${format(result)}\n`);
  }
  if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

function format(r) {
  const mb = (x) => `${x.toFixed(2).padStart(6)} MB/s`;
  const parts = [r.name.padEnd(28)];
  if (r.textMBps !== undefined) parts.push(`text ${mb(r.textMBps)}`);
  if (r.fileMBps !== undefined) parts.push(`jsonl ${mb(r.fileMBps)}`);
  parts.push(`${Math.round(r.tokensPerSecond).toLocaleString("en-US").padStart(11)} tokens/s`);
  parts.push(`RSS ${Math.round(r.peakRssMB)} MB`);
  if (r.loadMs !== undefined) parts.push(`load ${Math.round(r.loadMs)} ms`);
  parts.push(
    `${(r.textBytes ?? r.fileBytes) / 1e6 > 0 ? ((r.textBytes ?? r.fileBytes) / 1e6).toFixed(0) : "?"} MB, ${r.seconds.toFixed(1)} s`,
  );
  return parts.join("  ");
}

function stringsOf(value, out) {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out);
  else if (typeof value === "object" && value !== null) for (const v of Object.values(value)) stringsOf(v, out);
}

/** The corpus's string values, up to `limit` bytes of text. */
async function corpusTexts(files, limit) {
  const texts = [];
  let bytes = 0;
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      let record;
      try {
        record = JSON.parse(line);
      } catch {
        continue;
      }
      const strings = [];
      stringsOf(record, strings);
      for (const s of strings) {
        texts.push(s);
        bytes += Buffer.byteLength(s);
      }
      if (bytes >= limit) return { texts, bytes };
    }
  }
  return { texts, bytes };
}

/** Text from files under `path` (plain or .gz), cut into 500-character records, up to `limit` bytes. */
function longtailTexts(path, limit) {
  const texts = [];
  let bytes = 0;
  const walk = (p) => {
    if (bytes >= limit) return;
    let names;
    try {
      names = readdirSync(p, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of names.sort((a, b) => a.name.localeCompare(b.name))) {
      if (bytes >= limit) return;
      const full = join(p, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/changelog|NEWS|README/i.test(entry.name)) {
        let text;
        try {
          const raw = readFileSync(full);
          text = (full.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
        } catch {
          continue;
        }
        for (let i = 0; i < text.length && bytes < limit; i += 500) {
          const piece = text.slice(i, i + 500);
          texts.push(piece);
          bytes += Buffer.byteLength(piece);
        }
      }
    }
  };
  if (statSync(path).isDirectory()) walk(path);
  else {
    const raw = readFileSync(path, "utf8");
    for (let i = 0; i < raw.length && bytes < limit; i += 500) {
      const piece = raw.slice(i, i + 500);
      texts.push(piece);
      bytes += Buffer.byteLength(piece);
    }
  }
  return { texts, bytes };
}

async function child(row) {
  const worker = await import(dist("tokenizer-worker"));
  const spec = worker.resolveTokenizer(row.tokenizer, row.engine ? { engine: row.engine } : {});
  if (row.kind === "engine") {
    const { texts, bytes } = row.longtail
      ? longtailTexts(row.longtail, row.textMb * 1e6)
      : await corpusTexts(row.files, row.textMb * 1e6);
    const pool = new worker.TokenizerPool({
      threads: row.threads,
      ...(row.cacheEntries === undefined ? {} : { cacheEntries: row.cacheEntries }),
    });
    const tokenizer = pool.tokenizer(spec);
    let started = performance.now();
    await tokenizer.info(); // loads the tokenizer in every thread
    const loadMs = performance.now() - started;
    const batches = [];
    for (let i = 0; i < texts.length; i += 512) batches.push(texts.slice(i, i + 512));
    started = performance.now();
    // Several batches in flight, as the stage keeps them, so both workers stay busy.
    let tokens = 0;
    const depth = row.threads * 2 + 1;
    const inFlight = [];
    for (const batch of batches) {
      inFlight.push(tokenizer.count(batch));
      if (inFlight.length >= depth) for (const n of await inFlight.shift()) tokens += n;
    }
    for (const p of inFlight) for (const n of await p) tokens += n;
    const seconds = (performance.now() - started) / 1000;
    await pool.close();
    report({
      textBytes: bytes,
      textMBps: bytes / 1e6 / seconds,
      tokens,
      tokensPerSecond: tokens / seconds,
      seconds,
      loadMs,
    });
    return;
  }
  // Stage row: the real pipeline, minus writing.
  const { runPipeline } = await import(dist("core"));
  const { readInputs } = await import(dist("read"));
  const { countTokens } = await import(dist("tokens"));
  const stage = countTokens({ tokenizer: spec, threads: row.threads });
  const started = performance.now();
  const run = runPipeline(readInputs(row.files), [stage], {});
  let kept = 0;
  for await (const _ of run.records) kept++;
  const seconds = (performance.now() - started) / 1000;
  await worker.closeSharedPool();
  const fileBytes = row.files.reduce((n, f) => n + readFileSync(f).length, 0);
  const summary = stage.stats.summary();
  report({
    fileBytes,
    fileMBps: fileBytes / 1e6 / seconds,
    tokens: summary.totalTokens,
    tokensPerSecond: summary.totalTokens / seconds,
    seconds,
    kept,
  });
}

function report(values) {
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ ...values, peakRssMB })}\n`);
}
