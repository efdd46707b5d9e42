#!/usr/bin/env node
import { createReadStream } from "node:fs";
/**
 * GPU against CPU: `node bench/tokens/gpu.mjs [--records 100k] [--text-mb 4] [--encoding o200k_base]`.
 * Run `bash scripts/build-dev.sh` (or `npm run build`) first: it measures the built packages.
 *
 * The same text (the string values of the benchmark corpus's records, up to --text-mb MB) is counted once by the CPU
 * pool with every core (`TokenizerPool`, threads = cores, several 512-text batches in flight, as `curate tokens` keeps
 * them) and once by the WebGPU backend (`GpuTokenizer`, 4 MB per dispatch). Both are cold: a fresh pool, a fresh
 * GPU tokenizer, no text counted twice; loading is timed apart. Prints the device line, MB/s of text, the ratio, and
 * whether every count agreed. On a machine without a GPU the device is Mesa's llvmpipe: a correctness run, not a
 * speed figure (see bench/RESULTS.md).
 */
import { availableParallelism, cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs, parseCount } from "../lib/args.mjs";
import { ensureCorpus } from "../lib/corpus.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const dist = (pkg) => pathToFileURL(join(root, "packages", pkg, "dist", "index.js")).href;
const args = parseArgs(process.argv.slice(2), { booleans: ["json", "help"] });
if (args.help) {
  process.stdout.write("usage: node bench/tokens/gpu.mjs [--records 100k|1m] [--text-mb 4] [--encoding o200k_base]\n");
  process.exit(0);
}
const encoding = args.encoding ?? "o200k_base";
const limit = Number(args["text-mb"] ?? 4) * 1e6;
const corpus = ensureCorpus({
  records: parseCount(args.records ?? "100k"),
  seed: 1,
  root,
  log: (m) => console.error(m),
});

function stringsOf(value, out) {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out);
  else if (typeof value === "object" && value !== null) for (const v of Object.values(value)) stringsOf(v, out);
}

const texts = [];
let bytes = 0;
outer: for (const { path } of corpus.files) {
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY })) {
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
    if (bytes >= limit) break outer;
  }
}
const batches = [];
for (let i = 0; i < texts.length; i += 512) batches.push(texts.slice(i, i + 512));

async function timed(tokenizer, depth) {
  let started = performance.now();
  await tokenizer.info();
  const loadMs = performance.now() - started;
  started = performance.now();
  const counts = [];
  const inFlight = [];
  for (const batch of batches) {
    inFlight.push(tokenizer.count(batch));
    if (inFlight.length >= depth) counts.push(...(await inFlight.shift()));
  }
  while (inFlight.length > 0) counts.push(...(await inFlight.shift()));
  const ms = performance.now() - started;
  return { loadMs, ms, counts, mbps: bytes / 1e6 / (ms / 1000) };
}

const worker = await import(dist("tokenizer-worker"));
const gpuPackage = await import(dist("tokenizer-gpu"));
const spec = worker.resolveTokenizer(encoding);
const threads = availableParallelism();
const pool = new worker.TokenizerPool({ threads });
const cpu = await timed(pool.tokenizer(spec), threads * 8);
await pool.close();

const device = await gpuPackage.openGpu();
const gpuTokenizer = new gpuPackage.GpuTokenizer(device, {
  encoding,
  cpuFallback: worker.openTokenizer(spec, { threads: 1 }),
});
const gpu = await timed(gpuTokenizer, 2);
let mismatches = 0;
for (let i = 0; i < cpu.counts.length; i++) if (cpu.counts[i] !== gpu.counts[i]) mismatches++;
const tokens = cpu.counts.reduce((a, b) => a + b, 0);

const result = {
  encoding,
  texts: texts.length,
  textMB: +(bytes / 1e6).toFixed(2),
  tokens,
  cpu: {
    device: `${threads} threads, ${cpus()[0]?.model ?? "cpu"}`,
    mbps: +cpu.mbps.toFixed(2),
    loadMs: Math.round(cpu.loadMs),
  },
  gpu: {
    device: device.adapter,
    software: device.software,
    mbps: +gpu.mbps.toFixed(3),
    loadMs: Math.round(gpu.loadMs),
    cpuTails: gpuTokenizer.cpuTails,
  },
  gpuOverCpu: +(gpu.mbps / cpu.mbps).toFixed(3),
  mismatches,
};
if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else {
  console.log(`${encoding}: ${result.texts} texts, ${result.textMB} MB of text, ${tokens} tokens`);
  console.log(`cpu  ${result.cpu.device}: ${result.cpu.mbps} MB/s (load ${result.cpu.loadMs} ms)`);
  console.log(
    `gpu  ${result.gpu.device}${device.software ? " [software: correctness only, not a speed figure]" : ""}: ${result.gpu.mbps} MB/s (load ${result.gpu.loadMs} ms; ${result.gpu.cpuTails} texts finished on the CPU)`,
  );
  console.log(`gpu / cpu: ${result.gpuOverCpu}×; counts that differ: ${mismatches}`);
}
await gpuPackage.closeGpu();
if (mismatches > 0) process.exitCode = 1;
